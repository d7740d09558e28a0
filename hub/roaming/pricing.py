"""OCPI 2.2.1 Tariff models <-> the pricing engine's domain types."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from hub.domain.pricing import (
    Dimension,
    Element,
    Money,
    Period,
    PriceComponent,
    PricingResult,
    Reservation,
    Restrictions,
    Session,
    Tariff,
)
from ocpi.types import Number, OcpiModel, Price
from ocpi.v221 import models as v221


def _clock(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def _money(price: Price | None) -> Money | None:
    if price is None:
        return None
    return Money(price.excl_vat, price.incl_vat)


def tariff_from_ocpi(tariff: v221.Tariff) -> Tariff:
    elements = []
    for element in tariff.elements:
        r = element.restrictions
        restrictions = None
        if r is not None:
            restrictions = Restrictions(
                start_time=_clock(r.start_time),
                end_time=_clock(r.end_time),
                start_date=date.fromisoformat(r.start_date) if r.start_date else None,
                end_date=date.fromisoformat(r.end_date) if r.end_date else None,
                min_kwh=r.min_kwh,
                max_kwh=r.max_kwh,
                min_current=r.min_current,
                max_current=r.max_current,
                min_power=r.min_power,
                max_power=r.max_power,
                min_duration=r.min_duration,
                max_duration=r.max_duration,
                day_of_week=frozenset(str(d) for d in r.day_of_week or []),
                reservation=str(r.reservation) if r.reservation else None,
            )
        elements.append(
            Element(
                components=tuple(
                    PriceComponent(
                        type=Dimension(str(c.type)), price=c.price, step_size=c.step_size, vat=c.vat
                    )
                    for c in element.price_components
                ),
                restrictions=restrictions,
            )
        )
    return Tariff(
        id=tariff.id,
        currency=tariff.currency,
        elements=tuple(elements),
        min_price=_money(tariff.min_price),
        max_price=_money(tariff.max_price),
        valid_from=tariff.last_updated,
    )


def price_to_ocpi(money: Money | None) -> Price | None:
    if money is None:
        return None
    return Price(excl_vat=money.excl_vat, incl_vat=money.incl_vat)


class PricedCdr(OcpiModel):
    """The priced fields of an OCPI 2.2.1 CDR (``mod_cdrs.asciidoc``)."""

    currency: str
    charging_periods: list[v221.ChargingPeriod]
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None


def cdr_fields(result: PricingResult) -> dict[str, Any]:
    """The priced fields of an OCPI CDR, in wire form.

    Every Price carries ``incl_vat``: a price component without ``vat`` has no VAT (incl. =
    excl., so a US tariff's CDR has both). The one exception is a total raised or capped by a
    ``min_price``/``max_price`` stated without ``incl_vat`` in a tariff that charges VAT: that
    total incl. VAT is unknown and omitted (``incl_vat`` is optional in OCPI's Price).
    """
    return PricedCdr(
        currency=result.currency,
        charging_periods=[
            v221.ChargingPeriod.model_validate(
                {
                    "start_date_time": p.start,
                    "dimensions": [{"type": t, "volume": v} for t, v in p.dimensions],
                    "tariff_id": p.tariff_id,
                }
            )
            for p in result.charging_periods
        ],
        total_cost=_price(result.total_cost),
        total_fixed_cost=price_to_ocpi(result.total_fixed_cost),
        total_energy=result.total_energy,
        total_energy_cost=price_to_ocpi(result.total_energy_cost),
        total_time=result.total_time,
        total_time_cost=price_to_ocpi(result.total_time_cost),
        total_parking_time=result.total_parking_time or None,
        total_parking_cost=price_to_ocpi(result.total_parking_cost),
        total_reservation_cost=price_to_ocpi(result.total_reservation_cost),
    ).to_wire()


def _price(money: Money) -> Price:
    return Price(excl_vat=money.excl_vat, incl_vat=money.incl_vat)


class PeriodInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    energy_kwh: Decimal = Decimal(0)
    max_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None
    charging: bool = True


class ReservationInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime
    expired: bool = False


class SessionInput(BaseModel):
    """The session timeline file of ``hub tariffs price`` (see ``hub/domain/pricing/README.md``)."""

    model_config = ConfigDict(extra="forbid")

    time_zone: str | None = None
    periods: list[PeriodInput]
    reservation: ReservationInput | None = None

    def to_session(self) -> Session:
        periods = tuple(
            Period(p.start, p.end, p.energy_kwh, p.max_power_kw, p.max_current_a, p.charging)
            for p in sorted(self.periods, key=lambda p: p.start)
        )
        reservation = (
            Reservation(self.reservation.start, self.reservation.end, self.reservation.expired)
            if self.reservation
            else None
        )
        if periods:
            start, end = periods[0].start, periods[-1].end
        elif reservation is not None:
            start = end = reservation.end
        else:
            raise ValueError("a session needs periods or a reservation")
        return Session(start, end, periods, reservation)


def _where(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location in words: ("periods", 0, "end") -> "period #1 end"."""
    words: list[str] = []
    for part in loc:
        if isinstance(part, int) and words:
            words[-1] = f"{words[-1].removesuffix('s')} #{part + 1}"
        else:
            words.append(str(part))
    return " ".join(words) or "the file"


_PROBLEMS = {
    "missing": "is missing",
    "extra_forbidden": "is not a known field",
    "timezone_aware": "needs a UTC offset, e.g. 2026-06-11T00:30:00Z",
    "datetime_parsing": "must be a date and time, e.g. 2026-06-11T00:30:00Z",
    "datetime_from_date_parsing": "must be a date and time, e.g. 2026-06-11T00:30:00Z",
    "datetime_type": "must be a date and time, e.g. 2026-06-11T00:30:00Z",
    "decimal_parsing": "must be a number",
    "decimal_type": "must be a number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "string_type": "must be a string",
}


def describe_errors(error: ValidationError) -> str:
    """A validation error as sentences naming each field, e.g. "reservation start must be a
    date and time, e.g. 2026-06-11T00:30:00Z (got '...')"."""
    problems = []
    for item in error.errors():
        if item["type"] == "json_invalid":
            problems.append(f"not valid JSON ({item.get('ctx', {}).get('error', item['msg'])})")
            continue
        what = _PROBLEMS.get(item["type"], item["msg"][:1].lower() + item["msg"][1:])
        got = item.get("input")
        shown = (
            "" if item["type"] == "missing" or isinstance(got, dict | list) else f" (got {got!r})"
        )
        problems.append(f"{_where(item['loc'])} {what}{shown}")
    return "; ".join(problems)


def session_from_json(text: str) -> SessionInput:
    """The session timeline file, validated.

    Raises:
        ValueError: the file is not a session timeline; the message names each bad field.
    """
    try:
        return SessionInput.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError(f"session file: {describe_errors(exc)}") from exc


def tariff_versions_from_json(document: object, tariff_id: str | None = None) -> list[Tariff]:
    """One OCPI Tariff, or a list of versions of one tariff (same id; the price lock picks one
    by session start). A list of different tariffs is refused unless ``tariff_id`` picks one:
    pricing with the wrong one would go unnoticed.

    Raises:
        ValueError: an invalid tariff, several tariffs and no ``tariff_id``, or no tariff
            ``tariff_id`` in the document.
    """
    items = document if isinstance(document, list) else [document]
    if not items:
        raise ValueError("the tariff file holds no tariff")
    tariffs = []
    for index, item in enumerate(items):
        try:
            tariffs.append(v221.Tariff.model_validate(item))
        except ValidationError as exc:
            label = item.get("id") if isinstance(item, dict) else None
            raise ValueError(f"tariff #{index + 1} ({label}): {describe_errors(exc)}") from exc
    ids = list(dict.fromkeys(t.id for t in tariffs))
    if tariff_id is not None:
        tariffs = [t for t in tariffs if t.id == tariff_id]
        if not tariffs:
            raise ValueError(f"the tariff file has no tariff {tariff_id} (it has {', '.join(ids)})")
    elif len(ids) > 1:
        raise ValueError(
            f"the tariff file holds {len(ids)} different tariffs ({', '.join(ids)}); "
            "pick one with --tariff ID (a list of versions of one tariff shares its id)"
        )
    return [tariff_from_ocpi(t) for t in tariffs]


class OcpiTariffCodec:
    """``hub.services.sessions.TariffCodec`` over the OCPI 2.2.1 models: a locked tariff
    snapshot (wire form) to the engine, the engine's result to a CDR's priced fields."""

    def tariff(self, snapshot: Mapping[str, Any]) -> Tariff:
        return tariff_from_ocpi(v221.Tariff.model_validate(snapshot))

    def priced_fields(self, result: PricingResult) -> dict[str, Any]:
        return cdr_fields(result)
