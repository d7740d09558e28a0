"""Restrictions, step_size and bounds of the pricing engine, one rule at a time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from hub.domain.pricing import (
    Dimension,
    Element,
    Money,
    Period,
    PriceComponent,
    Reservation,
    Restrictions,
    Session,
    Tariff,
    price_session,
    tariff_in_effect,
)

D = Decimal
NY = "America/New_York"


def component(
    dimension: Dimension, price: str, step: int = 1, vat: str | None = "10"
) -> PriceComponent:
    return PriceComponent(dimension, D(price), step, D(vat) if vat is not None else None)


def tariff(*elements: Element, **extra) -> Tariff:
    return Tariff("T", "USD", elements, **extra)


def element(*components: PriceComponent, **restrictions) -> Element:
    return Element(components, Restrictions(**restrictions) if restrictions else None)


def local(text: str, zone: str = NY) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def charge(start: datetime, minutes: float, kwh: str = "0", **kwargs) -> Session:
    end = start + timedelta(minutes=minutes)
    return Session(start, end, (Period(start, end, D(kwh), **kwargs),))


def billed(result, dimension: Dimension) -> list[tuple[int, Decimal]]:
    return [(line.element, line.billed) for line in result.lines if line.dimension is dimension]


def test_time_window_crossing_midnight_in_local_time():
    night = element(component(Dimension.TIME, "1.00"), start_time=time(22), end_time=time(6))
    day = element(component(Dimension.TIME, "3.00"))
    # 21:00-23:00 local: one hour of day price, one of night price.
    result = price_session(tariff(night, day), charge(local("2026-06-10T21:00"), 120), NY)
    assert billed(result, Dimension.TIME) == [(1, D(1)), (0, D(1))]
    assert result.exact_total.excl_vat == D("4.00")


def test_end_time_midnight_means_end_of_day():
    evening = element(component(Dimension.TIME, "2.00"), start_time=time(20), end_time=time(0))
    other = element(component(Dimension.TIME, "1.00"))
    result = price_session(tariff(evening, other), charge(local("2026-06-10T23:00"), 120), NY)
    assert billed(result, Dimension.TIME) == [(0, D(1)), (1, D(1))]


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        # Only end_time: valid from 00:00 to 07:00. 23:00-24:00 at 3.00, 00:00-01:00 at 1.00.
        ({"end_time": time(7)}, [(1, D(1)), (0, D(1))]),
        # Only start_time: valid from 22:00 to the end of the day. 23:00-24:00 at 1.00,
        # 00:00-01:00 at 3.00.
        ({"start_time": time(22)}, [(0, D(1)), (1, D(1))]),
    ],
    ids=["end-only", "start-only"],
)
def test_one_sided_time_window_changes_at_local_midnight(window, expected):
    t = tariff(
        element(component(Dimension.TIME, "1.00"), **window),
        element(component(Dimension.TIME, "3.00")),
    )
    result = price_session(t, charge(local("2026-06-10T23:00"), 120), NY)
    assert billed(result, Dimension.TIME) == expected
    assert result.exact_total.excl_vat == D("4.00")


def test_dst_spring_forward_night_is_one_hour_shorter():
    night = element(component(Dimension.TIME, "1.00"), start_time=time(0), end_time=time(6))
    # 2026-03-08 in New York: 02:00 jumps to 03:00, so 00:00-06:00 local lasts 5 hours.
    start = local("2026-03-08T00:00")
    result = price_session(tariff(night), charge(start, 8 * 60), NY)
    assert sum(b for _, b in billed(result, Dimension.TIME)) == D(5)


def test_day_of_week_and_dates_in_local_time():
    weekend = element(component(Dimension.ENERGY, "0.30"), day_of_week=frozenset({"SATURDAY"}))
    promo = element(
        component(Dimension.ENERGY, "0.10"), start_date=date(2026, 7, 4), end_date=date(2026, 7, 5)
    )
    base = element(component(Dimension.ENERGY, "0.50"))
    # Friday 23:00 local (Saturday 03:00 UTC) to Saturday 01:00 local, 10 kWh evenly.
    result = price_session(tariff(weekend, base), charge(local("2026-07-03T23:00"), 120, "10"), NY)
    assert billed(result, Dimension.ENERGY) == [(1, D(5)), (0, D(5))]
    result = price_session(tariff(promo, base), charge(local("2026-07-04T23:00"), 120, "10"), NY)
    assert billed(result, Dimension.ENERGY) == [(0, D(5)), (1, D(5))]


def test_energy_thresholds_split_a_period():
    first = element(component(Dimension.ENERGY, "0.60"), max_kwh=D(20))
    after = element(component(Dimension.ENERGY, "0.40"), min_kwh=D(20))
    result = price_session(tariff(first, after), charge(local("2026-06-10T10:00"), 60, "50"), NY)
    assert billed(result, Dimension.ENERGY) == [(0, D(20)), (1, D(30))]
    assert result.exact_total.excl_vat == D("24.00")


def test_current_and_power_restrictions():
    slow = element(component(Dimension.TIME, "1.00"), max_power=D(50))
    fast = element(component(Dimension.TIME, "4.00"), min_power=D(50), min_current=D(100))
    start = local("2026-06-10T10:00")
    periods = (
        Period(start, start + timedelta(hours=1), D(30), max_power_kw=D(150), max_current_a=D(300)),
        Period(
            start + timedelta(hours=1),
            start + timedelta(hours=2),
            D(5),
            max_power_kw=D(20),
            max_current_a=D(40),
        ),
    )
    result = price_session(tariff(fast, slow), Session(start, periods[-1].end, periods), NY)
    assert billed(result, Dimension.TIME) == [(0, D(1)), (1, D(1))]


def test_duration_restrictions():
    first_hour = element(component(Dimension.TIME, "2.00"), max_duration=3600)
    later = element(component(Dimension.TIME, "6.00"), min_duration=3600)
    result = price_session(tariff(first_hour, later), charge(local("2026-06-10T10:00"), 90), NY)
    assert billed(result, Dimension.TIME) == [(0, D(1)), (1, D("0.5"))]


def test_flat_is_billed_once():
    fee = element(component(Dimension.FLAT, "1.50", vat="20"), component(Dimension.TIME, "1.00"))
    start = local("2026-06-10T10:00")
    periods = tuple(
        Period(start + timedelta(minutes=10 * i), start + timedelta(minutes=10 * (i + 1)), D(1))
        for i in range(6)
    )
    result = price_session(tariff(fee), Session(start, periods[-1].end, periods), NY)
    assert [line.dimension for line in result.lines].count(Dimension.FLAT) == 1
    assert result.total_fixed_cost == Money(D("1.50"), D("1.80"))


def test_step_size_applies_to_the_last_period_of_each_dimension():
    t = tariff(
        element(
            component(Dimension.ENERGY, "1.00", step=500),
            component(Dimension.TIME, "6.00", step=900),
        )
    )
    result = price_session(t, charge(local("2026-06-10T10:00"), 7, "1.2"), NY)
    # 1200 Wh -> 1500 Wh; 7 minutes -> 15 minutes.
    assert billed(result, Dimension.ENERGY) == [(0, D("1.5"))]
    assert billed(result, Dimension.TIME) == [(0, D("0.25"))]


def test_parking_is_time_not_requesting_power_and_free_without_component():
    start = local("2026-06-10T10:00")
    periods = (
        Period(start, start + timedelta(hours=1), D(40)),
        Period(start + timedelta(hours=1), start + timedelta(hours=2), D(0), charging=False),
    )
    session = Session(start, periods[-1].end, periods)
    no_parking = price_session(tariff(element(component(Dimension.TIME, "2.00"))), session, NY)
    assert no_parking.exact_total.excl_vat == D("2.00")
    assert no_parking.total_parking_time == D("1.000")
    assert no_parking.total_time == D("2.000")


def test_min_and_max_price_bound_excl_and_incl_separately():
    energy = element(component(Dimension.ENERGY, "0.50", vat="10"))
    low = tariff(energy, min_price=Money(D("5.00"), D("5.20")))
    result = price_session(low, charge(local("2026-06-10T10:00"), 30, "2"), NY)
    assert result.exact_total == Money(D("5.00"), D("5.20"))
    assert result.adjustments
    high = tariff(energy, max_price=Money(D("10.00"), D("10.50")))
    result = price_session(high, charge(local("2026-06-10T10:00"), 60, "30"), NY)
    assert result.exact_total == Money(D("10.00"), D("10.50"))


def test_reservation_time_and_expiry():
    reserve = element(component(Dimension.TIME, "5.00"), reservation="RESERVATION")
    expires = element(
        component(Dimension.FLAT, "2.00"),
        component(Dimension.TIME, "6.00"),
        reservation="RESERVATION_EXPIRES",
    )
    charging = element(component(Dimension.ENERGY, "0.50"))
    start = local("2026-06-10T10:00")
    session = Session(
        start + timedelta(minutes=30),
        start + timedelta(minutes=90),
        (Period(start + timedelta(minutes=30), start + timedelta(minutes=90), D(10)),),
        Reservation(start, start + timedelta(minutes=30)),
    )
    result = price_session(tariff(reserve, expires, charging), session, NY)
    assert result.total_reservation_cost == Money(D("2.50"), D("2.75"))
    assert result.total_energy_cost == Money(D("5.00"), D("5.50"))
    expired = Session(
        start + timedelta(minutes=30),
        start + timedelta(minutes=30),
        (),
        Reservation(start, start + timedelta(minutes=30), expired=True),
    )
    result = price_session(tariff(reserve, expires, charging), expired, NY)
    assert result.total_reservation_cost == Money(D("5.00"), D("5.50"))


def test_price_lock_uses_the_version_in_effect_at_the_start():
    old = Tariff(
        "T",
        "USD",
        (element(component(Dimension.ENERGY, "0.40")),),
        valid_from=local("2026-01-01T00:00"),
    )
    new = Tariff(
        "T",
        "USD",
        (element(component(Dimension.ENERGY, "0.70")),),
        valid_from=local("2026-06-10T10:30"),
    )
    session = charge(local("2026-06-10T10:00"), 60, "10")  # the price changed mid-session
    assert tariff_in_effect([new, old], session.start) is old
    assert price_session(
        tariff_in_effect([new, old], session.start), session, NY
    ).exact_total.excl_vat == D("4.00")
    with pytest.raises(ValueError, match="no tariff version"):
        tariff_in_effect([new], local("2026-01-02T00:00"))


def test_every_line_explains_itself():
    t = tariff(
        element(component(Dimension.TIME, "1.00"), start_time=time(22), end_time=time(6)),
        element(component(Dimension.TIME, "3.00")),
    )
    result = price_session(t, charge(local("2026-06-10T21:30"), 60), NY)
    first, second = result.lines
    assert (first.element, first.why) == (1, "no restrictions")
    assert second.element == 0
    assert "time 22:00:00-06:00:00" in second.why
