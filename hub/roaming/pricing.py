"""OCPI 2.2.1 Tariff models <-> the pricing engine's domain types."""

from __future__ import annotations

from datetime import date, time

from hub.domain.pricing import (
    Dimension,
    Element,
    Money,
    PriceComponent,
    PricingResult,
    Restrictions,
    Tariff,
)
from ocpi.types import Price
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


def cdr_fields(result: PricingResult) -> dict[str, object]:
    """The priced fields of an OCPI CDR, in wire form."""
    fields: dict[str, object] = {
        "currency": result.currency,
        "charging_periods": [
            {
                "start_date_time": p.start,
                "dimensions": [{"type": t, "volume": v} for t, v in p.dimensions],
                "tariff_id": p.tariff_id,
            }
            for p in result.charging_periods
        ],
        "total_cost": price_to_ocpi(result.total_cost),
        "total_energy": result.total_energy,
        "total_time": result.total_time,
    }
    optional = {
        "total_fixed_cost": result.total_fixed_cost,
        "total_energy_cost": result.total_energy_cost,
        "total_time_cost": result.total_time_cost,
        "total_parking_cost": result.total_parking_cost,
        "total_reservation_cost": result.total_reservation_cost,
    }
    for key, value in optional.items():
        if value is not None:
            fields[key] = price_to_ocpi(value)
    if result.total_parking_time:
        fields["total_parking_time"] = result.total_parking_time
    return fields
