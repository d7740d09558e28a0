"""Reading asset files for ``hub locations import`` and ``hub tariffs import``.

Locations come as OCPI 2.2.1 JSON (a list of Location objects, or an OCPI response envelope whose
``data`` is one) or as CSV (layout below). Both are validated with the OCPI models, so a file the
importer accepts is something we can serve and push.

Two extension keys, ignored by OCPI peers, carry what OCPI has no field for:

* on a Location, ``"hub_visible_to": ["US*EMS", ...]``: partner parties that may see it while
  ``publish`` is false;
* on an EVSE, ``"hub_ocpp": {"charging_station_id": "CS-1", "evse_id": 1, "connector_id": null}``:
  the OCPP station serving it and the OCPP EVSE id (2.0.1) or connector id (1.6).

CSV layout: one row per connector, header row required, rows of one location/EVSE together::

    location_id,country_code,party_id,name,address,city,postal_code,state,country,latitude,
    longitude,time_zone,publish,evse_uid,evse_id,connector_id,standard,format,power_type,
    max_voltage,max_amperage,max_electric_power,tariff_ids,charging_station_id,ocpp_evse_id,
    ocpp_connector_id,parking_type,facilities,opening_times,is_green_energy,energy_sources,
    energy_supplier_name,energy_product_name,parking_restrictions

``publish`` and ``is_green_energy`` are true/false; ``tariff_ids``, ``facilities`` and
``parking_restrictions`` are ``;``-separated; empty cells mean absent. The location's columns
(``parking_type`` to ``energy_product_name``) are read from its first row, the EVSE's
(``parking_restrictions`` and the OCPP link) from the EVSE's first row. ``opening_times`` is
``24/7`` or ``;``-separated weekly periods ``WEEKDAYS HH:MM-HH:MM`` with ISO weekdays 1
(Monday) to 7, alone or as a range (``1-5 06:00-22:00;6-7 08:00-20:00``). ``energy_sources``
is ``;``-separated ``SOURCE:PERCENT`` (``SOLAR:60;WIND:40``); any energy column makes an
``energy_mix``, which needs ``is_green_energy``. New EVSEs from CSV start as UNKNOWN until their
charger reports.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hub.domain.assets import LocationSpec, StationLink, TariffSpec
from hub.errors import HubError
from hub.roaming import mappers
from ocpi.v221 import models as v221
from ocpi.v221.enums import Facility, ParkingRestriction, ParkingType

CSV_COLUMNS = (
    "location_id", "country_code", "party_id", "name", "address", "city", "postal_code", "state",
    "country", "latitude", "longitude", "time_zone", "publish", "evse_uid", "evse_id",
    "connector_id", "standard", "format", "power_type", "max_voltage", "max_amperage",
    "max_electric_power", "tariff_ids", "charging_station_id", "ocpp_evse_id", "ocpp_connector_id",
    "parking_type", "facilities", "opening_times", "is_green_energy", "energy_sources",
    "energy_supplier_name", "energy_product_name", "parking_restrictions",
)  # fmt: skip
REQUIRED_CSV_COLUMNS = {
    "location_id", "country_code", "party_id", "address", "city", "country", "latitude",
    "longitude", "time_zone", "evse_uid", "connector_id", "standard", "format", "power_type",
    "max_voltage", "max_amperage",
}  # fmt: skip


class InvalidImportFile(HubError):
    """The file cannot be imported; the message names the object and the field."""


class OcppLink(BaseModel):
    """The ``hub_ocpp`` extension of an EVSE."""

    model_config = ConfigDict(extra="ignore")

    charging_station_id: str = Field(min_length=1, max_length=64)
    evse_id: int | None = Field(default=None, ge=1)
    connector_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _addressable(self) -> OcppLink:
        if self.evse_id is None and self.connector_id is None:
            raise ValueError("needs evse_id (OCPP 2.0.1) or connector_id (OCPP 1.6)")
        return self


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in item['loc']) or '(object)'}: {item['msg']}"
        for item in error.errors()
    )


def _objects(text: str, what: str) -> list[Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidImportFile(f"not valid JSON: {exc}") from exc
    if isinstance(document, dict) and "data" in document:
        document = document["data"]
    if not isinstance(document, list):
        raise InvalidImportFile(f"expected a JSON list of {what} objects")
    return document


def parse_locations_json(text: str) -> list[LocationSpec]:
    """Location specs from OCPI JSON, validated. Raises InvalidImportFile naming the field."""
    specs = []
    for index, raw in enumerate(_objects(text, "Location")):
        label = f"location #{index}" + (f" ({raw.get('id')})" if isinstance(raw, dict) else "")
        if not isinstance(raw, dict):
            raise InvalidImportFile(f"{label}: not an object")
        try:
            location = v221.Location.model_validate(raw)
            stations = [
                _station(evse.get("hub_ocpp")) if isinstance(evse, dict) else None
                for evse in raw.get("evses") or []
            ]
        except ValidationError as exc:
            raise InvalidImportFile(f"{label}: {_describe(exc)}") from exc
        unknown = _not_in_ocpi_221(location)
        if unknown:
            raise InvalidImportFile(f"{label}: {unknown}")
        visible_to = raw.get("hub_visible_to") or []
        if not isinstance(visible_to, list) or not all(
            isinstance(p, str) and len(p.split("*")) == 2 for p in visible_to
        ):
            raise InvalidImportFile(f"{label}: hub_visible_to must be a list like ['US*EMS']")
        specs.append(mappers.location_spec(location, visible_to=visible_to, stations=stations))
    return specs


def _not_in_ocpi_221(location: v221.Location) -> str | None:
    """The first value of a 2.3.0-extensible enum that 2.2.1 does not know, described.

    The models accept such values from peers; a location we publish must not carry one, since
    a 2.2.1 receiver validating the closed lists would refuse the whole location.
    """
    checks: list[tuple[str, list[Any], type[StrEnum]]] = [
        ("parking_type", [location.parking_type] if location.parking_type else [], ParkingType),
        ("facilities", list(location.facilities or []), Facility),
    ]
    for index, evse in enumerate(location.evses or []):
        checks.append(
            (f"evses.{index}.parking_restrictions", list(evse.parking_restrictions or []),
             ParkingRestriction)
        )  # fmt: skip
    for field, values, enum in checks:
        for value in values:
            if str(value) not in {member.value for member in enum}:
                allowed = ", ".join(member.value for member in enum)
                return f"{field}: {str(value)!r} is not an OCPI 2.2.1 value ({allowed})"
    return None


def _station(raw: Any) -> StationLink | None:
    if raw is None:
        return None
    link = OcppLink.model_validate(raw)
    return StationLink(link.charging_station_id, link.evse_id, link.connector_id)


def parse_tariffs_json(text: str) -> list[TariffSpec]:
    """Tariff specs from OCPI JSON (a list of Tariff objects), validated."""
    specs = []
    for index, raw in enumerate(_objects(text, "Tariff")):
        try:
            specs.append(mappers.tariff_spec(v221.Tariff.model_validate(raw)))
        except ValidationError as exc:
            label = raw.get("id") if isinstance(raw, dict) else None
            raise InvalidImportFile(f"tariff #{index} ({label}): {_describe(exc)}") from exc
    return specs


def _cell(row: dict[str, str], column: str) -> str | None:
    value = (row.get(column) or "").strip()
    return value or None


def _listed(row: dict[str, str], column: str) -> list[str] | None:
    value = _cell(row, column)
    if value is None:
        return None
    return [item.strip() for item in value.split(";") if item.strip()]


_PERIOD = re.compile(r"^([1-7])(?:-([1-7]))?\s+(\d{2}:\d{2})-(\d{2}:\d{2})$")


def _opening_times(value: str) -> dict[str, Any]:
    """``24/7``, or weekly periods ``1-5 06:00-22:00;6 08:00-20:00`` (OCPI ``Hours``)."""
    if value.lower() in {"24/7", "twentyfourseven"}:
        return {"twentyfourseven": True}
    regular_hours = []
    for period in value.split(";"):
        match = _PERIOD.match(period.strip())
        if match is None:
            raise ValueError(
                f"opening_times: {period.strip()!r} is not '24/7' nor 'WEEKDAYS HH:MM-HH:MM'"
                " (e.g. '1-5 06:00-22:00')"
            )
        first, last, begin, end = match.groups()
        if last is not None and int(last) < int(first):
            raise ValueError(f"opening_times: weekdays {first}-{last} run backwards")
        for weekday in range(int(first), int(last or first) + 1):
            regular_hours.append({"weekday": weekday, "period_begin": begin, "period_end": end})
    return {"twentyfourseven": False, "regular_hours": regular_hours}


def _energy_mix(row: dict[str, str]) -> dict[str, Any] | None:
    columns = ("is_green_energy", "energy_sources", "energy_supplier_name", "energy_product_name")
    if not any(_cell(row, column) for column in columns):
        return None
    mix: dict[str, Any] = {}
    green = _cell(row, "is_green_energy")
    if green is not None:
        if green.lower() not in {"true", "false"}:
            raise ValueError(f"is_green_energy: {green!r} is not true or false")
        mix["is_green_energy"] = green.lower() == "true"
    sources = []
    for item in _listed(row, "energy_sources") or []:
        source, separator, percentage = item.partition(":")
        if not separator:
            raise ValueError(f"energy_sources: {item!r} is not SOURCE:PERCENT (e.g. SOLAR:60)")
        sources.append({"source": source.strip(), "percentage": percentage.strip()})
    if sources:
        mix["energy_sources"] = sources
    for column, key in (
        ("energy_supplier_name", "supplier_name"),
        ("energy_product_name", "energy_product_name"),
    ):
        if _cell(row, column):
            mix[key] = _cell(row, column)
    return mix


def _location_details(row: dict[str, str]) -> dict[str, Any]:
    """The optional location fields drivers and route planners look for."""
    details: dict[str, Any] = {}
    if _cell(row, "parking_type"):
        details["parking_type"] = _cell(row, "parking_type")
    facilities = _listed(row, "facilities")
    if facilities:
        details["facilities"] = facilities
    opening_times = _cell(row, "opening_times")
    if opening_times:
        details["opening_times"] = _opening_times(opening_times)
    energy_mix = _energy_mix(row)
    if energy_mix is not None:
        details["energy_mix"] = energy_mix
    return details


def locations_json_from_csv(text: str, *, now: datetime | None = None) -> str:
    """Turn the CSV layout into OCPI Location JSON (with the extension keys)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = REQUIRED_CSV_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise InvalidImportFile(f"CSV lacks columns: {', '.join(sorted(missing))}")
    stamp = (now or datetime.now(UTC)).isoformat()
    locations: dict[str, dict[str, Any]] = {}
    for line, row in enumerate(reader, start=2):
        try:
            location = locations.get(row["location_id"])
            if location is None:
                location = {
                    "country_code": _cell(row, "country_code"),
                    "party_id": _cell(row, "party_id"),
                    "id": _cell(row, "location_id"),
                    "publish": (_cell(row, "publish") or "true").lower() == "true",
                    "address": _cell(row, "address"),
                    "city": _cell(row, "city"),
                    "country": _cell(row, "country"),
                    "coordinates": {
                        "latitude": _cell(row, "latitude"),
                        "longitude": _cell(row, "longitude"),
                    },
                    "time_zone": _cell(row, "time_zone"),
                    "evses": [],
                    "last_updated": stamp,
                }
                for optional in ("name", "postal_code", "state"):
                    if _cell(row, optional):
                        location[optional] = _cell(row, optional)
                location.update(_location_details(row))
                locations[row["location_id"]] = location
            evses: list[dict[str, Any]] = location["evses"]
            if not evses or evses[-1]["uid"] != _cell(row, "evse_uid"):
                evse: dict[str, Any] = {
                    "uid": _cell(row, "evse_uid"),
                    "status": "UNKNOWN",
                    "connectors": [],
                    "last_updated": stamp,
                }
                if _cell(row, "evse_id"):
                    evse["evse_id"] = _cell(row, "evse_id")
                restrictions = _listed(row, "parking_restrictions")
                if restrictions:
                    evse["parking_restrictions"] = restrictions
                if _cell(row, "charging_station_id"):
                    evse["hub_ocpp"] = {
                        "charging_station_id": _cell(row, "charging_station_id"),
                        "evse_id": _cell(row, "ocpp_evse_id"),
                        "connector_id": _cell(row, "ocpp_connector_id"),
                    }
                evses.append(evse)
            connector: dict[str, Any] = {
                "id": _cell(row, "connector_id"),
                "standard": _cell(row, "standard"),
                "format": _cell(row, "format"),
                "power_type": _cell(row, "power_type"),
                "max_voltage": _cell(row, "max_voltage"),
                "max_amperage": _cell(row, "max_amperage"),
                "last_updated": stamp,
            }
            if _cell(row, "max_electric_power"):
                connector["max_electric_power"] = _cell(row, "max_electric_power")
            if _cell(row, "tariff_ids"):
                connector["tariff_ids"] = (_cell(row, "tariff_ids") or "").split(";")
            evses[-1]["connectors"].append(connector)
        except KeyError as exc:
            raise InvalidImportFile(f"CSV line {line}: missing {exc}") from exc
        except ValueError as exc:
            raise InvalidImportFile(f"CSV line {line}: {exc}") from exc
    return json.dumps(list(locations.values()))


def read_locations(path: Path) -> list[LocationSpec]:
    """Location specs from a ``.json`` or ``.csv`` file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        text = locations_json_from_csv(text)
    return parse_locations_json(text)


def read_tariffs(path: Path) -> Sequence[TariffSpec]:
    return parse_tariffs_json(path.read_text(encoding="utf-8"))
