"""An eMSP's check of a CDR: its total recomputed from what the CDR itself carries.

``hub demo`` uses it on every CDR its eMSP receives. The tariff is the CDR's own
``tariffs[0]`` (the version locked when the session started), read with the roaming adapter's
OCPI-to-engine conversion; the session is rebuilt from the CDR's ``charging_periods`` as OCPI
defines them (``mod_cdrs.asciidoc``, ChargingPeriod: a period lasts until the next one starts,
the last one until ``end_date_time``):

* a period's ENERGY volume is the energy delivered in it, MAX_POWER/MAX_CURRENT its peaks;
* a period with PARKING_TIME and neither ENERGY nor TIME is time the vehicle did not charge;
  any other period is charging time.

The time zone is the Location's (a CdrLocation has none: the eMSP knows it from the Locations
module). The rebuilt session is priced with :func:`hub.domain.pricing.price_session`.

This is exact when every period of the CDR starts where the hub's metering cut the session,
which is the case for the simulator's charges (clock-aligned readings, a reading at every
charging-state change, idle time after the tariff's parking grace). It is not a general proof:
a CDR leaves out the stretches nobody pays for (parking within a grace period), and a period
read as lasting across such a stretch spreads its energy over it, which under a time-of-day
price may move energy to another price.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from hub.domain.pricing import Money, Period, PricingResult, Session, price_session
from hub.roaming.pricing import describe_errors, tariff_from_ocpi
from ocpi.v221 import models as v221

_CHARGING = {"ENERGY", "TIME"}


@dataclass(frozen=True, slots=True)
class CdrCheck:
    """A CDR as received and as recomputed."""

    cdr_id: str
    currency: str
    total_energy: Decimal
    received: Money
    recomputed: Money | None
    problem: str | None = None
    """Why it could not be recomputed, or how it differs; None: it matches."""

    @property
    def matches(self) -> bool:
        return self.problem is None


def session_from_cdr(cdr: v221.CDR) -> Session:
    """The session timeline a CDR describes (module docstring)."""
    ordered = sorted(cdr.charging_periods, key=lambda p: p.start_date_time)
    ends = [p.start_date_time for p in ordered[1:]] + [cdr.end_date_time]
    periods = []
    for period, end in zip(ordered, ends, strict=True):
        volumes: dict[str, Decimal] = {}
        for dimension in period.dimensions:
            key = str(dimension.type)
            volumes[key] = volumes.get(key, Decimal(0)) + Decimal(str(dimension.volume))
        charging = bool(_CHARGING & volumes.keys()) or "PARKING_TIME" not in volumes
        periods.append(
            Period(
                start=period.start_date_time,
                end=max(end, period.start_date_time),
                energy_kwh=volumes.get("ENERGY", Decimal(0)),
                max_power_kw=volumes.get("MAX_POWER"),
                max_current_a=volumes.get("MAX_CURRENT"),
                charging=charging,
            )
        )
    return Session(cdr.start_date_time, cdr.end_date_time, tuple(periods))


def recompute(cdr: v221.CDR, time_zone: str) -> PricingResult:
    """The CDR priced again from its own tariff and charging periods.

    Raises:
        ValueError: the CDR carries no tariff.
    """
    if not cdr.tariffs:
        raise ValueError("the CDR carries no tariff")
    return price_session(tariff_from_ocpi(cdr.tariffs[0]), session_from_cdr(cdr), time_zone)


def check_cdr(body: Mapping[str, Any], time_zone: str | None) -> CdrCheck:
    """Whether a CDR's ``total_cost`` is what its tariff and charging periods give (excl. and
    incl. VAT), and its ``total_energy`` the sum of its periods' ENERGY."""
    cdr_id = str(body.get("id", "?"))
    try:
        cdr = v221.CDR.model_validate(body)
    except ValidationError as exc:
        zero = Money(Decimal(0))
        return CdrCheck(cdr_id, "", Decimal(0), zero, None, f"not a CDR: {describe_errors(exc)}")
    received = Money(cdr.total_cost.excl_vat, cdr.total_cost.incl_vat)
    energy = Decimal(str(cdr.total_energy))

    def failed(problem: str, recomputed: Money | None = None) -> CdrCheck:
        return CdrCheck(cdr.id, cdr.currency, energy, received, recomputed, problem)

    if time_zone is None:
        return failed(f"the time zone of location {cdr.cdr_location.id} is unknown")
    try:
        result = recompute(cdr, time_zone)
    except ValueError as exc:
        return failed(str(exc))
    recomputed = result.total_cost
    if (recomputed.excl_vat, recomputed.incl_vat) != (received.excl_vat, received.incl_vat):
        return failed(
            f"total_cost {_money(received)} but its tariff and periods give {_money(recomputed)}",
            recomputed,
        )
    periods_energy = sum(
        (
            Decimal(str(d.volume))
            for p in cdr.charging_periods
            for d in p.dimensions
            if str(d.type) == "ENERGY"
        ),
        Decimal(0),
    )
    if periods_energy != energy:
        return failed(
            f"total_energy {energy} kWh but its periods add up to {periods_energy} kWh", recomputed
        )
    return CdrCheck(cdr.id, cdr.currency, energy, received, recomputed)


def _money(money: Money) -> str:
    incl = f" / {money.incl_vat} incl. VAT" if money.incl_vat != money.excl_vat else ""
    return f"{money.excl_vat} excl. VAT{incl}"
