"""The simulator's charges without a hub: the meter timeline of a charge, the fast-forward clock
(driven by hand: no sleeps) and the timetable of many charges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sim.chargers import (
    ChargePlan,
    FastForwardClock,
    PointKind,
    SimulatedCharger,
    SimulatedStation,
    charge_schedule,
    charge_slots,
    charge_timeline,
    meter_value_16,
    meter_value_201,
    reading_context,
    replay_clock,
)

START = datetime(2026, 6, 11, 20, 47, 13, tzinfo=UTC)

plans = st.builds(
    ChargePlan,
    ocpp_id=st.just(1),
    token_uid=st.just("CARD"),
    charging_seconds=st.integers(min_value=1, max_value=4 * 3600),
    energy_wh=st.integers(min_value=0, max_value=150_000),
    idle_seconds=st.sampled_from([0, 0, 1, 59, 600, 1800]),
    meter_interval_seconds=st.sampled_from([1, 10, 60, 300, 900]),
    start_soc=st.integers(min_value=0, max_value=100),
)
starts = st.integers(
    min_value=int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()),
).map(lambda second: datetime.fromtimestamp(second, UTC))


@settings(max_examples=200, deadline=None)
@given(plan=plans, start=starts, meter_start=st.integers(min_value=0, max_value=10**9))
def test_a_timeline_is_ordered_aligned_and_delivers_exactly_the_planned_energy(
    plan, start, meter_start
):
    points = charge_timeline(plan, start, meter_start)
    first, *middle, last = points
    full = start + timedelta(seconds=plan.charging_seconds)
    assert (first.kind, first.at, first.register_wh) == (PointKind.START, start, meter_start)
    assert last.kind is PointKind.STOP
    assert last.at == full + timedelta(seconds=plan.idle_seconds)
    assert last.register_wh == meter_start + plan.energy_wh
    moments = [p.at for p in points]
    assert moments == sorted(set(moments))  # strictly increasing: one point per moment
    registers = [p.register_wh for p in points]
    assert registers == sorted(registers)
    for point in middle:
        assert start < point.at < last.at
        if point.kind is PointKind.READING:
            assert point.aligned
            assert int(point.at.timestamp()) % plan.meter_interval_seconds == 0
        assert point.charging == (point.at < full)
        assert point.power_w == (plan.power_w if point.charging else 0)
        assert 0 <= point.soc <= 100
    # Every aligned moment inside the charge has its reading: hour marks fall on readings.
    interval = plan.meter_interval_seconds
    aligned = {p.at for p in middle if p.aligned}
    second = (int(start.timestamp()) // interval + 1) * interval
    expected = set()
    while second < last.at.timestamp():
        expected.add(datetime.fromtimestamp(second, UTC))
        second += interval
    assert aligned == expected
    suspended = [p for p in middle if p.kind is PointKind.SUSPENDED]
    assert [p.at for p in suspended] == ([full] if plan.idle_seconds else [])


def test_the_meter_values_say_what_a_charger_says():
    plan = ChargePlan(1, "CARD", charging_seconds=1200, energy_wh=20_000, idle_seconds=300)
    points = charge_timeline(plan, START, 5000)
    reading = next(p for p in points if p.kind is PointKind.READING)
    assert reading.at == datetime(2026, 6, 11, 20, 48, tzinfo=UTC)
    assert reading.register_wh == 5000 + 20_000 * 47 // 1200
    assert [reading_context(p) for p in (points[0], reading, points[-1])] == [
        "Transaction.Begin",
        "Sample.Clock",
        "Transaction.End",
    ]
    suspended = next(p for p in points if p.kind is PointKind.SUSPENDED)
    assert reading_context(suspended) == "Sample.Periodic"  # 21:07:13 is not on the minute
    v16 = meter_value_16(reading)
    assert v16["timestamp"] == "2026-06-11T20:48:00Z"
    assert [(s["measurand"], s["value"], s["unit"]) for s in v16["sampled_value"]] == [
        ("Energy.Active.Import.Register", str(reading.register_wh), "Wh"),
        ("Power.Active.Import", "60000", "W"),
        ("SoC", str(reading.soc), "Percent"),
    ]
    v201 = meter_value_201(reading)
    assert v201["sampled_value"][0] == {
        "value": reading.register_wh,
        "context": "Sample.Clock",
        "measurand": "Energy.Active.Import.Register",
        "unit_of_measure": {"unit": "Wh"},
    }


@pytest.mark.parametrize(
    "start",
    [
        START.replace(microsecond=5),
        START.astimezone(timezone(timedelta(hours=-4))),
        START.replace(tzinfo=None),
    ],
)
def test_a_timeline_starts_on_a_whole_utc_second(start):
    with pytest.raises(ValueError, match="whole second, in UTC"):
        charge_timeline(ChargePlan(1, "CARD", 60, 100), start, 0)


def test_a_plan_needs_a_length_and_an_interval():
    with pytest.raises(ValueError, match="must be > 0"):
        ChargePlan(1, "CARD", charging_seconds=0, energy_wh=1)
    with pytest.raises(ValueError, match=">= 0"):
        ChargePlan(1, "CARD", charging_seconds=60, energy_wh=-1)


class ManualTime:
    """Real time that moves only when the clock under test sleeps."""

    def __init__(self) -> None:
        self.wall = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        self.elapsed = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return self.wall + timedelta(seconds=self.elapsed)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.elapsed += seconds


def clock_on(time: ManualTime, speed: float, lead: float) -> FastForwardClock:
    return FastForwardClock(
        speed=speed, lead_seconds=lead, wall=time.now, monotonic=time.monotonic, sleep=time.sleep
    )


async def test_the_clock_runs_fast_from_the_past_then_keeps_to_the_wall_clock():
    time = ManualTime()
    clock = clock_on(time, speed=600, lead=3600)
    assert clock.now() == time.wall - timedelta(hours=1)
    await clock.wait_until(time.wall - timedelta(minutes=30))
    assert time.slept == [3.0]  # half an hour of charger time in 3 real seconds
    assert clock.now() == time.wall - timedelta(minutes=30)
    # It reaches the wall clock after 3600 / 599 s, and is never ahead of it after that.
    await clock.wait_until(time.wall + timedelta(seconds=60))
    assert clock.now() == time.now() == time.wall + timedelta(seconds=60)
    time.elapsed += 0.5
    assert clock.now() == time.now()


@settings(max_examples=100, deadline=None)
@given(
    speed=st.floats(min_value=1, max_value=1e6),
    lead=st.floats(min_value=0, max_value=86400),
    steps=st.lists(st.floats(min_value=0, max_value=100), max_size=20),
)
def test_the_clock_is_monotonic_and_never_ahead_of_the_wall_clock(speed, lead, steps):
    time = ManualTime()
    clock = clock_on(time, speed, lead)
    seen = [clock.now()]
    for step in steps:
        time.elapsed += step
        seen.append(clock.now())
        assert seen[-1] <= time.now()
    assert seen == sorted(seen)


async def test_waiting_for_a_moment_already_reached_does_not_sleep():
    time = ManualTime()
    clock = clock_on(time, speed=10, lead=100)
    await clock.wait_until(time.wall - timedelta(hours=1))
    assert time.slept == []


def test_a_clock_never_runs_slower_than_time():
    with pytest.raises(ValueError, match="at least 1"):
        FastForwardClock(speed=0.5)


def charger(station_id: str, ids: tuple[int, ...] = (1, 2)) -> SimulatedCharger:
    uids = tuple(f"{station_id}-E{i}" for i in ids)
    return SimulatedCharger(SimulatedStation(station_id, "pw", "2.0.1", ids, uids), "ws://x")


def test_charges_go_to_the_first_evse_of_every_station_before_the_second():
    a, b = charger("A"), charger("B")
    assert [(c.station.station_id, i) for c, i in charge_slots([a, b])] == [
        ("A", 1),
        ("B", 1),
        ("A", 2),
        ("B", 2),
    ]


@settings(max_examples=200, deadline=None)
@given(
    choices=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from([1, 2]), st.integers(60, 7200)),
        min_size=1,
        max_size=25,
    ),
    concurrent=st.integers(min_value=1, max_value=6),
    stagger=st.none() | st.floats(min_value=0, max_value=3600),
)
def test_the_timetable_keeps_to_the_concurrency_and_one_charge_per_evse(
    choices, concurrent, stagger
):
    chargers = [charger(name) for name in "ABC"]
    assignments = [
        (chargers[station], ChargePlan(ocpp_id, "CARD", seconds, 1000))
        for station, ocpp_id, seconds in choices
    ]
    starts = charge_schedule(assignments, concurrent=concurrent, stagger_seconds=stagger)
    intervals = [
        (start, start + plan.seconds, (c.station.station_id, plan.ocpp_id))
        for start, (c, plan) in zip(starts, assignments, strict=True)
    ]
    longest = max(plan.seconds for _, plan in assignments)
    gap = longest / concurrent if stagger is None else stagger
    for index, (start, end, evse) in enumerate(intervals):
        assert start >= index * gap - 1e-6
        assert start >= (intervals[index - 1][0] if index else 0)
        running = [i for i in intervals if i[0] <= start < i[1]]
        assert len(running) <= concurrent
        assert [i for i in running if i[2] == evse] == [(start, end, evse)]
    # The replay's clock starts far enough back that every charge ends before "now".
    clock = replay_clock(assignments, starts, speed=600)
    span = max(end for _, end, _ in intervals)
    assert clock.lead == timedelta(seconds=span + 60)
    assert replay_clock(assignments, starts, speed=1).lead == timedelta(0)
