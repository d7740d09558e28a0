"""The network's assets as the platform sees them: locations, EVSEs, connectors and tariffs.

Protocol-neutral. Fields the platform reasons about (keys, status, visibility, time zone, the
OCPP link) are typed; the descriptive rest of each object travels as an opaque ``attributes``
mapping that only the roaming adapter interprets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

NACS_STANDARD = "SAE_J3400"
"""The NACS connector standard (OCPI 2.3.0 value; OCPI 2.2.1 has none)."""


class EvseStatus(StrEnum):
    """EVSE status values (OCPI ``Status``)."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class NacsMode(StrEnum):
    """How NACS connectors are sent to a partner that speaks OCPI 2.2.1.

    ``OMIT`` leaves them out (an EVSE left without connectors is left out too), because 2.2.1
    receivers validate ``standard`` against a closed list; ``SAE_J3400`` sends the 2.3.0 value to
    partners that asked for it. ``TESLA_S`` is never used: it names a different connector.
    """

    OMIT = "omit"
    SAE_J3400 = "SAE_J3400"


@dataclass(frozen=True, slots=True)
class StationLink:
    """Where an EVSE lives on the OCPP side: station identity plus OCPP EVSE/connector ids.

    OCPP 2.0.1 stations address an EVSE by ``evse_id``; an OCPP 1.6 connector is its own OCPI EVSE
    and is addressed by ``connector_id``.
    """

    charging_station_id: str
    evse_id: int | None = None
    connector_id: int | None = None


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    connector_id: str
    standard: str
    attributes: dict[str, Any]
    tariff_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EvseSpec:
    uid: str
    status: str
    connectors: tuple[ConnectorSpec, ...]
    attributes: dict[str, Any]
    evse_id: str | None = None
    station: StationLink | None = None


@dataclass(frozen=True, slots=True)
class LocationSpec:
    """A location as imported: the desired state of the location and its EVSEs."""

    country_code: str
    party_id: str
    location_id: str
    publish: bool
    time_zone: str
    name: str | None
    city: str
    attributes: dict[str, Any]
    evses: tuple[EvseSpec, ...]
    visible_to: tuple[str, ...] = ()
    """Partner parties (``US*EMS``) that may see the location when ``publish`` is false."""


@dataclass(frozen=True, slots=True)
class TariffSpec:
    country_code: str
    party_id: str
    tariff_id: str
    currency: str
    attributes: dict[str, Any]


class ImportKind(StrEnum):
    LOCATIONS = "locations"
    TARIFFS = "tariffs"


@dataclass
class ImportReport:
    """What an import changed; objects with identical content are left untouched.

    Objects are named as the operator names them elsewhere, ``US*HPC ID`` (see
    :func:`object_label`); ``evses_removed`` (EVSE uids, unique on the platform) applies to
    location imports only.
    """

    kind: ImportKind = ImportKind.LOCATIONS
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    evses_removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.evses_removed)


def object_label(country_code: str, party_id: str, object_id: str) -> str:
    """``US*HPC T-DC``: a location or tariff named with its party, as reports print it."""
    return f"{party_key(country_code, party_id)} {object_id}"


def party_key(country_code: str, party_id: str) -> str:
    """``US*HPC``: the display and lookup form of a party."""
    return f"{country_code.upper()}*{party_id.upper()}"
