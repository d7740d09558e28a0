"""Inputs and outputs of the pricing engine, protocol-neutral.

Rounding rule (OCPI leaves it to the parties): every quantity and amount is computed with exact
``Decimal`` arithmetic; only the amounts reported as ``Money`` in a result are rounded, once, at
the end, half-up to the currency's minor unit (2 decimals for USD, CAD and EUR), because that is
what the driver is charged and what the partner invoices. Volumes (hours, kWh) are reported with
3 decimals, as the spec's CDR examples do. The exact values stay in the explanation lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
MILLI = Decimal("0.001")


class Dimension(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


@dataclass(slots=True)  # a value, but built for every line: frozen init costs too much
class Money:
    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def __add__(self, other: Money) -> Money:
        """An unknown incl. VAT stays unknown in any sum. Costs always know it (a component
        without ``vat`` has no VAT: incl. = excl.); only a tariff's ``min_price``/``max_price``
        may lack it."""
        incl = None
        if self.incl_vat is not None and other.incl_vat is not None:
            incl = self.incl_vat + other.incl_vat
        return Money(self.excl_vat + other.excl_vat, incl)

    def rounded(self) -> Money:
        """Half-up to cents: the one rounding the engine applies (see module docstring)."""
        incl = self.incl_vat.quantize(CENT, ROUND_HALF_UP) if self.incl_vat is not None else None
        return Money(self.excl_vat.quantize(CENT, ROUND_HALF_UP), incl)


ZERO = Money(Decimal(0), Decimal(0))


@dataclass(frozen=True, slots=True)
class PriceComponent:
    type: Dimension
    price: Decimal
    step_size: int = 1
    vat: Decimal | None = None

    def cost(self, quantity: Decimal) -> Money:
        """``quantity`` in the dimension's unit: hours, kWh, or 1 for FLAT.

        Without ``vat`` no VAT is applicable (PriceComponent, ``mod_tariffs``: "If omitted, no
        VAT is applicable"), so the cost incl. VAT is the cost excl. VAT.
        """
        excl = self.price * quantity
        incl = excl * (1 + self.vat / 100) if self.vat is not None else excl
        return Money(excl, incl)


@dataclass(frozen=True, slots=True)
class Restrictions:
    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: frozenset[str] = frozenset()
    reservation: str | None = None  # RESERVATION or RESERVATION_EXPIRES


@dataclass(frozen=True, slots=True)
class Element:
    components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None

    def component(self, dimension: Dimension) -> PriceComponent | None:
        return next((c for c in self.components if c.type is dimension), None)


@dataclass(frozen=True, slots=True)
class Tariff:
    id: str
    currency: str
    elements: tuple[Element, ...]
    min_price: Money | None = None
    max_price: Money | None = None
    valid_from: datetime | None = None
    """When this version of the tariff took effect (its ``last_updated``), for the price lock."""


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of the session with uniform conditions, as the charger measured it.

    ``charging`` is whether the vehicle was requesting power (OCPI errata: PARKING_TIME is the
    time the vehicle is not requesting power). Energy is spread evenly over the period.
    """

    start: datetime
    end: datetime
    energy_kwh: Decimal = Decimal(0)
    max_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None
    charging: bool = True


@dataclass(frozen=True, slots=True)
class Reservation:
    start: datetime
    end: datetime
    expired: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    start: datetime
    end: datetime
    periods: tuple[Period, ...]
    reservation: Reservation | None = None


@dataclass(slots=True)
class Line:
    """One billed piece of the session and how it arose."""

    dimension: Dimension
    start: datetime
    end: datetime
    element: int
    why: str
    quantity: Decimal
    billed: Decimal
    component: PriceComponent
    cost: Money
    reservation: bool = False


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    start: datetime
    dimensions: tuple[tuple[str, Decimal], ...]
    tariff_id: str


@dataclass(frozen=True)
class PricingResult:
    tariff_id: str
    currency: str
    charging_periods: tuple[ChargingPeriod, ...]
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_cost: Money
    total_energy_cost: Money | None
    total_time_cost: Money | None
    total_parking_cost: Money | None
    total_fixed_cost: Money | None
    total_reservation_cost: Money | None
    lines: tuple[Line, ...] = ()
    adjustments: tuple[str, ...] = field(default_factory=tuple)
    exact_total: Money = field(default_factory=lambda: Money(Decimal(0), Decimal(0)))


def tariff_in_effect(versions: Sequence[Tariff], session_start: datetime) -> Tariff:
    """The price lock: the version in effect when the session started (the latest version whose
    ``valid_from`` is not after the start), whatever changed during the session.

    Raises:
        ValueError: no version was in effect at the start.
    """
    eligible = [v for v in versions if v.valid_from is None or v.valid_from <= session_start]
    if not eligible:
        raise ValueError(f"no tariff version in effect at {session_start.isoformat()}")
    return max(
        eligible, key=lambda v: v.valid_from or datetime.min.replace(tzinfo=session_start.tzinfo)
    )
