"""Properties of the pricing engine over random tariffs and sessions (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

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
    vat=st.sampled_from([Decimal(0), Decimal(10), Decimal("7.5")]),
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
    if whole.incl_vat is not None and parts.incl_vat is not None:
        assert abs(whole.incl_vat - parts.incl_vat) < TOLERANCE


@settings(max_examples=200, deadline=None)
@given(tariffs, sessions())
def test_costs_are_never_negative_and_totals_are_the_sum_of_their_parts(tariff, session):
    result = price_session(tariff, session, ZONE)
    assert all(line.cost.excl_vat >= 0 for line in result.lines)
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
