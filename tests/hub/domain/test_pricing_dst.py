"""Sessions across the US and Canadian DST changes of 2026, priced by each instant's local time.

2026-03-08 (spring forward): at 02:00 local the clock jumps to 03:00, so 02:00-03:00 never
happens. 2026-11-01 (fall back): at 02:00 daylight time the clock goes back to 01:00, so
01:00-02:00 happens twice. All the zones below change at their own local 02:00, except
America/Phoenix, which keeps MST (UTC-7) all year. The expected amounts are worked out by hand
in each test from the local clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from hub.domain.pricing import (
    Dimension,
    Element,
    Period,
    PriceComponent,
    Restrictions,
    Session,
    Tariff,
    price_session,
)

D = Decimal
DST_ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Halifax",
]
NO_DST = "America/Phoenix"


def time_price(price: str, **restrictions) -> Element:
    return Element(
        (PriceComponent(Dimension.TIME, D(price)),),
        Restrictions(**restrictions) if restrictions else None,
    )


def charging(zone: str, wall: str, hours: int, fold: int = 0) -> Session:
    """Charging from local time ``wall`` (``fold`` picks the occurrence of a repeated time) for
    ``hours`` real hours."""
    start = datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)
    end = start + timedelta(hours=hours)
    return Session(start, end, (Period(start, end, D(0)),))


def billed(result) -> list[tuple[int, Decimal]]:
    return [(line.element, line.billed) for line in result.lines]


# Spring forward, a window that starts in the skipped hour: 6.00/h from 02:30 to 04:00, else
# 1.20/h. Three real hours from 01:00 local.
# DST zones: 01:00-02:00 standard time (1 h, 1.20), 03:00-04:00 daylight time (1 h: the clock
# is past 02:30 as soon as it jumps, 6.00), 04:00-05:00 (1 h, 1.20): 1.20 + 6.00 + 1.20 = 8.40.
# Phoenix: 01:00-02:30 (1.5 h, 1.20), 02:30-04:00 (1.5 h, 6.00): 1.80 + 9.00 = 10.80.
SPRING_START_IN_GAP = (time_price("6.00", start_time=time(2, 30), end_time=time(4)),)
# Spring forward, a window that ends in the skipped hour: 6.00/h from 01:00 to 02:30, else 1.20/h.
# Three real hours from 00:30 local.
# DST zones: 00:30-01:00 (0.5 h, 1.20), 01:00-02:00 (1 h, 6.00), 03:00-04:30 daylight time
# (1.5 h: the clock is past 02:30 as soon as it jumps, 1.20): 0.60 + 6.00 + 1.80 = 8.40.
# Phoenix: 00:30-01:00 (0.5 h, 1.20), 01:00-02:30 (1.5 h, 6.00), 02:30-03:30 (1 h, 1.20):
# 0.60 + 9.00 + 1.20 = 10.80.
SPRING_END_IN_GAP = (time_price("6.00", start_time=time(1), end_time=time(2, 30)),)


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize(
    ("window", "wall", "lines"),
    [
        (SPRING_START_IN_GAP, "2026-03-08T01:00", [(1, D(1)), (0, D(1)), (1, D(1))]),
        (
            SPRING_END_IN_GAP,
            "2026-03-08T00:30",
            [(1, D("0.5")), (0, D(1)), (1, D("1.5"))],
        ),
    ],
    ids=["start-in-gap", "end-in-gap"],
)
def test_spring_forward_a_skipped_restriction_time_switches_at_the_jump(zone, window, wall, lines):
    t = Tariff("T", "USD", (*window, time_price("1.20")))
    result = price_session(t, charging(zone, wall, 3), zone)
    assert billed(result) == lines
    assert result.exact_total.excl_vat == D("8.40")
    assert result.total_time == D("3.000")


@pytest.mark.parametrize(
    ("window", "wall", "lines"),
    [
        (SPRING_START_IN_GAP, "2026-03-08T01:00", [(1, D("1.5")), (0, D("1.5"))]),
        (
            SPRING_END_IN_GAP,
            "2026-03-08T00:30",
            [(1, D("0.5")), (0, D("1.5")), (1, D(1))],
        ),
    ],
    ids=["start-in-gap", "end-in-gap"],
)
def test_spring_forward_in_a_zone_without_dst(window, wall, lines):
    t = Tariff("T", "USD", (*window, time_price("1.20")))
    result = price_session(t, charging(NO_DST, wall, 3), NO_DST)
    assert billed(result) == lines
    assert result.exact_total.excl_vat == D("10.80")


# Fall back, a window that ends in the repeated hour: night 1.20/h from 22:00 to 01:30, day
# 3.00/h. Four real hours from 00:00 local (daylight time).
# DST zones: 00:00-01:30 daylight (1.5 h night), 01:30-02:00 daylight (0.5 h day), clock back to
# 01:00: 01:00-01:30 standard (0.5 h night again), 01:30-03:00 standard (1.5 h day):
# 2 h x 1.20 + 2 h x 3.00 = 2.40 + 6.00 = 8.40.
# Phoenix: 00:00-01:30 (1.5 h night), 01:30-04:00 (2.5 h day): 1.80 + 7.50 = 9.30.
FALL_END_IN_REPEAT = (
    time_price("1.20", start_time=time(22), end_time=time(1, 30)),
    time_price("3.00"),
)
# Fall back, a window that starts in the repeated hour: 6.00/h from 01:30 to 02:00, else 1.20/h.
# Two real hours from the first 01:00 local (daylight time).
# DST zones: 01:00-01:30 daylight (0.5 h, 1.20), 01:30-02:00 daylight (0.5 h, 6.00), clock back
# to 01:00: 01:00-01:30 standard (0.5 h, 1.20), 01:30-02:00 standard (0.5 h, 6.00):
# 1 h x 6.00 + 1 h x 1.20 = 7.20.
# Phoenix: 01:00-01:30 (0.5 h, 1.20), 01:30-02:00 (0.5 h, 6.00), 02:00-03:00 (1 h, 1.20):
# 3.00 + 1.80 = 4.80.
FALL_START_IN_REPEAT = (
    time_price("6.00", start_time=time(1, 30), end_time=time(2)),
    time_price("1.20"),
)


@pytest.mark.parametrize("zone", DST_ZONES)
@pytest.mark.parametrize(
    ("tariff_elements", "wall", "hours", "lines", "total"),
    [
        (
            FALL_END_IN_REPEAT,
            "2026-11-01T00:00",
            4,
            [(0, D("1.5")), (1, D("0.5")), (0, D("0.5")), (1, D("1.5"))],
            D("8.40"),
        ),
        (
            FALL_START_IN_REPEAT,
            "2026-11-01T01:00",
            2,
            [(1, D("0.5")), (0, D("0.5")), (1, D("0.5")), (0, D("0.5"))],
            D("7.20"),
        ),
    ],
    ids=["end-in-repeat", "start-in-repeat"],
)
def test_fall_back_the_repeated_hour_is_judged_by_its_own_clock(
    zone, tariff_elements, wall, hours, lines, total
):
    result = price_session(Tariff("T", "USD", tariff_elements), charging(zone, wall, hours), zone)
    assert billed(result) == lines
    assert result.exact_total.excl_vat == total
    assert result.total_time == D(hours).quantize(D("0.001"))


@pytest.mark.parametrize(
    ("tariff_elements", "wall", "hours", "lines", "total"),
    [
        (
            FALL_END_IN_REPEAT,
            "2026-11-01T00:00",
            4,
            [(0, D("1.5")), (1, D("2.5"))],
            D("9.30"),
        ),
        (
            FALL_START_IN_REPEAT,
            "2026-11-01T01:00",
            2,
            [(1, D("0.5")), (0, D("0.5")), (1, D(1))],
            D("4.80"),
        ),
    ],
    ids=["end-in-repeat", "start-in-repeat"],
)
def test_fall_back_in_a_zone_without_dst(tariff_elements, wall, hours, lines, total):
    result = price_session(
        Tariff("T", "USD", tariff_elements), charging(NO_DST, wall, hours), NO_DST
    )
    assert billed(result) == lines
    assert result.exact_total.excl_vat == total


@pytest.mark.parametrize("zone", DST_ZONES)
def test_fall_back_session_starting_in_the_second_occurrence(zone):
    # From the second 01:15 (standard time) for 1 real hour: 01:15-01:30 (0.25 h, 1.20),
    # 01:30-02:00 (0.5 h, 6.00), 02:00-02:15 (0.25 h, 1.20): 0.30 + 3.00 + 0.30 = 3.60.
    t = Tariff("T", "USD", FALL_START_IN_REPEAT)
    result = price_session(t, charging(zone, "2026-11-01T01:15", 1, fold=1), zone)
    assert billed(result) == [(1, D("0.25")), (0, D("0.5")), (1, D("0.25"))]
    assert result.exact_total.excl_vat == D("3.60")


@pytest.mark.parametrize("zone", DST_ZONES)
def test_sunday_and_dates_follow_the_local_clock_through_both_changes(zone):
    # A Sunday price (2026-03-08 and 2026-11-01 are Sundays) and a night window that covers the
    # changed hours: both days are priced from the local clock, the short day for 23 real hours
    # and the long day for 25.
    sunday = Element(
        (PriceComponent(Dimension.TIME, D("2.00")),),
        Restrictions(day_of_week=frozenset({"SUNDAY"})),
    )
    other = time_price("1.00")
    t = Tariff("T", "USD", (sunday, other))
    short_day = charging(zone, "2026-03-07T23:00", 25)  # Sat 23:00 -> Mon 01:00
    result = price_session(t, short_day, zone)
    assert hours_by_element(result) == {0: D(23), 1: D(2)}
    assert result.exact_total.excl_vat == D("48.00")
    assert [p.dimensions for p in result.charging_periods] == [
        (("TIME", D("1.000")),),
        (("TIME", D("23.000")),),
        (("TIME", D("1.000")),),
    ]
    long_day = charging(zone, "2026-10-31T23:00", 27)  # Sat 23:00 -> Mon 01:00
    result = price_session(t, long_day, zone)
    assert hours_by_element(result) == {0: D(25), 1: D(2)}
    assert result.exact_total.excl_vat == D("52.00")


def hours_by_element(result) -> dict[int, Decimal]:
    hours: dict[int, Decimal] = {}
    for line in result.lines:
        hours[line.element] = hours.get(line.element, D(0)) + line.billed
    return hours
