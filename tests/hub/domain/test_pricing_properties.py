"""Properties of the pricing engine over random tariffs and sessions (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

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

ZONE = "America/New_York"
TOLERANCE = Decimal("1e-18")
prices = st.decimals(min_value=0, max_value=10, places=2)
steps = st.sampled_from([1, 60, 300, 900, 1800, 500])
components = st.builds(
    PriceComponent,
    type=st.sampled_from(list(Dimension)),
    price=prices,
    step_size=steps,
    vat=st.sampled_from([None, Decimal(0), Decimal(10), Decimal("7.5")]),
)
restrictions = st.builds(
    Restrictions,
    start_time=st.none() | st.sampled_from([time(0), time(7), time(17), time(22)]),
    end_time=st.none() | st.sampled_from([time(0), time(6), time(18), time(23)]),
    min_kwh=st.none() | st.decimals(min_value=0, max_value=40, places=1),
    max_kwh=st.none() | st.decimals(min_value=10, max_value=80, places=1),
    max_power=st.none() | st.decimals(min_value=20, max_value=200, places=0),
    min_duration=st.none() | st.integers(min_value=0, max_value=7200),
    day_of_week=st.sampled_from(
        [frozenset(), frozenset({"SATURDAY", "SUNDAY"}), frozenset({"MONDAY"})]
    ),
)
elements = st.builds(
    Element,
    components=st.lists(components, min_size=1, max_size=3).map(tuple),
    restrictions=st.none() | restrictions,
)
tariffs = st.builds(
    Tariff,
    id=st.just("T"),
    currency=st.just("USD"),
    elements=st.lists(elements, min_size=1, max_size=4).map(tuple),
)


@st.composite
def sessions(draw) -> Session:
    start = datetime(2026, 3, 7, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    periods, moment = [], start
    for _ in range(draw(st.integers(1, 4))):
        minutes = draw(st.integers(1, 240))
        charging = draw(st.booleans())
        energy = draw(st.decimals(min_value=0, max_value=60, places=3)) if charging else Decimal(0)
        end = moment + timedelta(minutes=minutes)
        power = draw(st.decimals(min_value=0, max_value=350, places=0))
        periods.append(
            Period(
                moment, end, energy, max_power_kw=power, max_current_a=power * 2, charging=charging
            )
        )
        moment = end
    return Session(start, moment, tuple(periods))


def split(session: Session, index: int, share: Decimal) -> Session:
    """The same session with period ``index`` cut in two at ``share`` of its length."""
    period = session.periods[index]
    length = (period.end - period.start) // timedelta(microseconds=1)
    cut = period.start + timedelta(microseconds=int(share * length))
    if not period.start < cut < period.end:
        return session
    first_share = Decimal((cut - period.start) // timedelta(microseconds=1)) / Decimal(length)
    first_energy = period.energy_kwh * first_share
    halves = (
        Period(
            period.start,
            cut,
            first_energy,
            period.max_power_kw,
            period.max_current_a,
            period.charging,
        ),
        Period(
            cut,
            period.end,
            period.energy_kwh - first_energy,
            period.max_power_kw,
            period.max_current_a,
            period.charging,
        ),
    )
    periods = session.periods[:index] + halves + session.periods[index + 1 :]
    return Session(session.start, session.end, periods)


@settings(max_examples=200, deadline=None)
@given(tariffs, sessions(), st.data())
def test_splitting_a_period_never_changes_the_total(tariff, session, data):
    index = data.draw(st.integers(0, len(session.periods) - 1))
    share = data.draw(st.decimals(min_value=Decimal("0.05"), max_value=Decimal("0.95"), places=2))
    whole = price_session(tariff, session, ZONE).exact_total
    parts = price_session(tariff, split(session, index, share), ZONE).exact_total
    assert abs(whole.excl_vat - parts.excl_vat) < TOLERANCE
    assert whole.incl_vat is not None
    assert parts.incl_vat is not None
    assert abs(whole.incl_vat - parts.incl_vat) < TOLERANCE


@settings(max_examples=200, deadline=None)
@given(tariffs, sessions())
def test_costs_are_never_negative_and_totals_are_the_sum_of_their_parts(tariff, session):
    result = price_session(tariff, session, ZONE)
    assert all(line.cost.excl_vat >= 0 for line in result.lines)
    # No VAT (omitted) or a rate >= 0: incl. VAT is always known and never below excl. VAT.
    assert all(
        line.cost.incl_vat is not None and line.cost.incl_vat >= line.cost.excl_vat
        for line in result.lines
    )
    assert all(line.billed >= line.quantity >= 0 for line in result.lines)
    assert result.total_cost.excl_vat >= 0
    parts = [
        result.total_energy_cost,
        result.total_time_cost,
        result.total_parking_cost,
        result.total_fixed_cost,
        result.total_reservation_cost,
    ]
    exact_parts = sum((line.cost.excl_vat for line in result.lines), Decimal(0))
    assert result.exact_total.excl_vat == exact_parts
    rounded_parts = sum((p.excl_vat for p in parts if p is not None), Decimal(0))
    # Each part is rounded to cents once; the parts can differ from the total by their rounding.
    assert abs(rounded_parts - result.total_cost.excl_vat) <= Decimal("0.01") * len(parts)


# Around the US and Canadian DST changes of 2026 (2026-03-08 and 2026-11-01, at local 02:00, i.e.
# between 06:00Z in Halifax and 10:00Z in Los Angeles), with restriction times in and around the
# skipped and the repeated hour.
DST_ZONES = st.sampled_from(
    [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "America/Phoenix",
        "America/Toronto",
        "America/Halifax",
    ]
)
DST_TIMES = [time(0), time(1), time(1, 30), time(2), time(2, 30), time(3), time(23)]
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
dst_restrictions = st.builds(
    Restrictions,
    start_time=st.sampled_from([None, *DST_TIMES]),
    end_time=st.sampled_from([None, *DST_TIMES]),
    day_of_week=st.sampled_from([frozenset(), frozenset({"SUNDAY"}), frozenset({"MONDAY"})]),
)


def dst_tariff_of(components_strategy) -> st.SearchStrategy[Tariff]:
    """1-3 elements with time/day restrictions, then maybe an unrestricted fallback (a fallback
    first would hide every restriction behind it)."""
    restricted = st.builds(Element, components=components_strategy, restrictions=dst_restrictions)
    fallback = st.builds(Element, components=components_strategy)
    return st.builds(
        lambda head, tail: Tariff("T", "USD", (*head, *tail)),
        st.lists(restricted, min_size=1, max_size=3),
        st.lists(fallback, max_size=1),
    )


time_tariffs = dst_tariff_of(
    st.builds(lambda price: (PriceComponent(Dimension.TIME, price),), prices)
)
dst_tariffs = dst_tariff_of(st.lists(components, min_size=1, max_size=3).map(tuple))


@st.composite
def dst_sessions(draw, charging_only: bool = False) -> tuple[str, Session]:
    """A zone and minute-aligned periods starting in the zone's local 23:00-03:59 around either
    DST change, so that most sessions live through the skipped or the repeated hour."""
    zone = draw(DST_ZONES)
    day = datetime.fromisoformat(draw(st.sampled_from(["2026-03-07T23:00", "2026-10-31T23:00"])))
    wall = day + timedelta(minutes=draw(st.integers(0, 5 * 60 - 1)))
    fold = draw(st.sampled_from([0, 1]))  # either occurrence of a repeated time
    start = wall.replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)
    periods, moment = [], start
    for _ in range(draw(st.integers(1, 4))):
        end = moment + timedelta(minutes=draw(st.integers(1, 150)))
        charging = True if charging_only else draw(st.booleans())
        energy = draw(st.decimals(min_value=0, max_value=60, places=3)) if charging else Decimal(0)
        periods.append(Period(moment, end, energy, max_power_kw=Decimal(50), charging=charging))
        moment = end
    return zone, Session(start, moment, tuple(periods))


def _in_force(restrictions: Restrictions | None, clock: datetime) -> bool:
    """Whether a time/day restriction holds at local ``clock`` (an independent reading)."""
    if restrictions is None:
        return True
    if restrictions.day_of_week and WEEKDAYS[clock.weekday()] not in restrictions.day_of_week:
        return False
    now = clock.time()
    start = restrictions.start_time or time(0)
    end = restrictions.end_time
    if end is None or end == time(0):  # no end, or 00:00 = the end of the day
        return now >= start
    if end < start:  # wraps past midnight
        return now >= start or now < end
    return start <= now < end


@settings(max_examples=300, deadline=None)
@given(time_tariffs, dst_sessions(charging_only=True))
def test_every_minute_is_priced_by_its_own_local_time_across_dst(tariff, zoned):
    # All boundaries fall on whole minutes (restriction times, DST changes, the session), so
    # pricing minute by minute at each minute's local time is exact.
    zone, session = zoned
    local = ZoneInfo(zone)
    minutes: dict[Decimal, int] = {}
    moment = session.start
    while moment < session.end:
        clock = moment.astimezone(local)
        for element in tariff.elements:
            if _in_force(element.restrictions, clock):
                price = element.components[0].price
                minutes[price] = minutes.get(price, 0) + 1
                break
        moment += timedelta(minutes=1)
    expected = sum((price * count / 60 for price, count in minutes.items()), Decimal(0))
    assert abs(price_session(tariff, session, zone).exact_total.excl_vat - expected) < TOLERANCE


@settings(max_examples=300, deadline=None)
@given(dst_tariffs, dst_sessions(), st.data())
def test_splitting_a_session_across_dst_never_changes_the_total(tariff, zoned, data):
    zone, session = zoned
    index = data.draw(st.integers(0, len(session.periods) - 1))
    share = data.draw(st.decimals(min_value=Decimal("0.05"), max_value=Decimal("0.95"), places=2))
    whole = price_session(tariff, session, zone).exact_total
    parts = price_session(tariff, split(session, index, share), zone).exact_total
    assert abs(whole.excl_vat - parts.excl_vat) < TOLERANCE
    assert whole.incl_vat is not None
    assert parts.incl_vat is not None
    assert abs(whole.incl_vat - parts.incl_vat) < TOLERANCE
