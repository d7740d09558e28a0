"""Properties of hub.domain.metering over random sessions of meter values (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.metering import (
    EnergyMethod,
    MeterReading,
    periods,
    reading_from_ocpp16,
    reading_from_ocpp201,
    summarise,
)

T0 = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
ENERGY_CONTEXTS = [None, "Sample.Periodic", "Sample.Clock", "Transaction.Begin", "Transaction.End"]
ENCODINGS = ["16-Wh", "16-default", "16-kWh", "201-Wh", "201-kWh", "201-multiplier"]


@dataclass(frozen=True)
class Moment:
    """What the meter measured at one moment, independent of how a charger encodes it."""

    seconds: int
    context: str | None
    register_wh: Decimal | None
    power_w: Decimal | None
    current_a: tuple[Decimal, Decimal, Decimal] | None
    soc: Decimal | None


@dataclass(frozen=True)
class Truth:
    duration: int  # seconds
    moments: tuple[Moment, ...]
    meter_start_wh: Decimal | None
    meter_stop_wh: Decimal | None
    changes: tuple[tuple[int, bool], ...]

    @property
    def start(self) -> datetime:
        return T0

    @property
    def end(self) -> datetime:
        return T0 + timedelta(seconds=self.duration)


tenths_of_wh = st.integers(0, 10**9).map(lambda n: Decimal(n).scaleb(-1))


@st.composite
def truths(draw, *, resets: bool = True, always_register: bool = False) -> Truth:
    duration = draw(st.integers(0, 6 * 3600))
    seconds = sorted(draw(st.lists(st.integers(0, duration), max_size=10, unique=True)))
    register = draw(tenths_of_wh)
    meter_start = draw(st.none() | st.just(register))
    moments = []
    for second in seconds:
        if draw(st.integers(0, 9)) == 0 and resets:
            register = draw(st.integers(0, int(register)).map(Decimal))  # reset or rollover
        else:
            register += draw(st.integers(0, 50_000).map(lambda n: Decimal(n).scaleb(-1)))
        has_register = always_register or draw(st.booleans()) or draw(st.booleans())
        moments.append(
            Moment(
                seconds=second,
                context=draw(st.sampled_from(ENERGY_CONTEXTS)),
                register_wh=register if has_register else None,
                power_w=draw(st.none() | st.integers(0, 350_000).map(Decimal)),
                current_a=draw(
                    st.none()
                    | st.tuples(*[st.integers(0, 5000).map(lambda n: Decimal(n).scaleb(-1))] * 3)
                ),
                soc=draw(st.none() | st.integers(0, 100).map(Decimal)),
            )
        )
    meter_stop = draw(st.none() | st.just(register + draw(st.integers(0, 1000).map(Decimal))))
    changes = draw(
        st.lists(st.tuples(st.integers(-600, duration + 600), st.booleans()), max_size=5)
    )
    return Truth(duration, tuple(moments), meter_start, meter_stop, tuple(changes))


def _sampled(measurand: str, value: Decimal, unit: str, kilo: str, encoding: str, **extra):
    """One sampled value of ``value`` (in ``unit``, e.g. Wh) as ``encoding`` writes it."""
    version, form = encoding.split("-")
    item: dict = {"measurand": measurand, **extra}
    if version == "16":
        if form == "kWh":
            item.update(value=str(value.scaleb(-3)), unit=kilo)
        elif form == "Wh" or measurand != "Energy.Active.Import.Register":
            item.update(value=str(value), unit=unit)
        else:  # the default measurand and unit
            item.update(value=str(value))
            del item["measurand"]
        return item
    if form == "kWh":
        item.update(value=float(value.scaleb(-3)), unit_of_measure={"unit": kilo})
    elif form == "multiplier":
        item.update(value=float(value.scaleb(-3)), unit_of_measure={"unit": unit, "multiplier": 3})
    else:
        item.update(value=float(value), unit_of_measure={"unit": unit})
    return item


def encode(moment: Moment, encoding: str) -> dict:
    extra = {} if moment.context is None else {"context": moment.context}
    sampled = []
    if moment.register_wh is not None:
        sampled.append(
            _sampled(
                "Energy.Active.Import.Register", moment.register_wh, "Wh", "kWh", encoding, **extra
            )
        )
    if moment.power_w is not None:
        sampled.append(
            _sampled("Power.Active.Import", moment.power_w, "W", "kW", encoding, **extra)
        )
    if moment.current_a is not None:
        for phase, amps in zip(("L1", "L2", "L3"), moment.current_a, strict=True):
            sampled.append(
                {
                    "measurand": "Current.Import",
                    "phase": phase,
                    "value": str(amps) if encoding.startswith("16") else float(amps),
                    **extra,
                }
            )
    if moment.soc is not None:
        sampled.append(
            {
                "measurand": "SoC",
                "value": str(moment.soc) if encoding.startswith("16") else int(moment.soc),
                **extra,
            }
        )
    if not sampled:  # a reading of something this module does not use
        sampled.append({"measurand": "Voltage", "value": "230" if encoding[:2] == "16" else 230})
    stamp = (T0 + timedelta(seconds=moment.seconds)).isoformat().replace("+00:00", "Z")
    return {"timestamp": stamp, "sampled_value": sampled}


def readings_of(truth: Truth, encoding: str = "16-Wh") -> list[MeterReading]:
    parse = reading_from_ocpp16 if encoding.startswith("16") else reading_from_ocpp201
    readings = []
    for moment in truth.moments:
        parsed = parse(encode(moment, encoding))
        assert parsed.problems == ()
        assert parsed.reading is not None
        readings.append(parsed.reading)
    return readings


def kwh(wh: Decimal | None) -> Decimal | None:
    return None if wh is None else wh.scaleb(-3)


def summary_of(truth: Truth, readings: list[MeterReading]):
    return summarise(
        readings,
        meter_start_kwh=kwh(truth.meter_start_wh),
        meter_stop_kwh=kwh(truth.meter_stop_wh),
        start=truth.start,
        end=truth.end,
    )


def periods_of(truth: Truth, readings: list[MeterReading]):
    return periods(
        readings,
        start=truth.start,
        end=truth.end,
        meter_start_kwh=kwh(truth.meter_start_wh),
        meter_stop_kwh=kwh(truth.meter_stop_wh),
        charging_changes=[(T0 + timedelta(seconds=s), c) for s, c in truth.changes],
    )


def register_points(truth: Truth) -> list[Decimal]:
    points = [m.register_wh for m in truth.moments if m.register_wh is not None]
    if truth.meter_start_wh is not None:
        points.insert(0, truth.meter_start_wh)
    if truth.meter_stop_wh is not None:
        points.append(truth.meter_stop_wh)
    return points


def counted_kwh(points: list[Decimal]) -> Decimal:
    """What counts (module docstring): every step's increase; a step down counts zero."""
    return sum((max(b - a, Decimal(0)) for a, b in pairwise(points)), Decimal(0)) / 1000


@settings(max_examples=300, deadline=None)
@given(truths(), st.sampled_from(ENCODINGS))
def test_periods_add_up_to_the_summary_and_nothing_is_negative(truth, encoding):
    readings = readings_of(truth, encoding)
    summary = summary_of(truth, readings)
    result = periods_of(truth, readings)
    assert sum((p.energy_kwh for p in result), Decimal(0)) == summary.kwh
    assert summary.kwh >= 0
    assert all(p.energy_kwh >= 0 for p in result)


@settings(max_examples=300, deadline=None)
@given(truths())
def test_periods_are_contiguous_and_cover_the_session_exactly(truth):
    result = periods_of(truth, readings_of(truth))
    assert result[0].start == truth.start
    assert result[-1].end == truth.end
    assert all(a.end == b.start for a, b in pairwise(result))
    if truth.duration:
        assert all(p.start < p.end for p in result)
    else:
        assert len(result) == 1


@settings(max_examples=300, deadline=None)
@given(truths(), st.data())
def test_order_of_arrival_and_repeated_deliveries_change_nothing(truth, data):
    readings = readings_of(truth)
    repeated = data.draw(st.lists(st.sampled_from(readings), max_size=4)) if readings else []
    reparsed = readings_of(truth)  # equal readings, other objects
    delivered = data.draw(st.permutations(readings + repeated + reparsed[: len(repeated)]))
    assert summary_of(truth, delivered) == summary_of(truth, readings)
    assert periods_of(truth, delivered) == periods_of(truth, readings)


@settings(max_examples=300, deadline=None)
@given(truths(), st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS))
def test_the_same_measurements_in_other_units_give_the_same_results(truth, one, other):
    first, second = readings_of(truth, one), readings_of(truth, other)
    a, b = summary_of(truth, first), summary_of(truth, second)
    assert (a.kwh, a.method, a.max_power_kw, a.max_current_a, a.first_soc, a.last_soc) == (
        b.kwh,
        b.method,
        b.max_power_kw,
        b.max_current_a,
        b.first_soc,
        b.last_soc,
    )
    # Messages quote values as the charger wrote them; what happened, and when, is the same.
    assert [(p.code, p.timestamp) for p in a.problems] == [
        (p.code, p.timestamp) for p in b.problems
    ]
    assert periods_of(truth, first) == periods_of(truth, second)


@settings(max_examples=300, deadline=None)
@given(truths())
def test_register_energy_counts_every_increase_and_nothing_across_a_reset(truth):
    points = register_points(truth)
    summary = summary_of(truth, readings_of(truth))
    if len(points) < 2:
        assert summary.method is not EnergyMethod.REGISTER
        return
    assert summary.method is EnergyMethod.REGISTER
    assert summary.kwh == counted_kwh(points)
    # Never less than what any stretch without a reset shows, never more than all increases.
    runs, run = [], [points[0]]
    for value in points[1:]:
        if value < run[-1]:
            runs.append(run)
            run = []
        run.append(value)
    runs.append(run)
    assert summary.kwh >= max((r[-1] - r[0]) / 1000 for r in runs)
    assert summary.kwh == sum(((r[-1] - r[0]) / 1000 for r in runs), Decimal(0))


@settings(max_examples=300, deadline=None)
@given(truths(always_register=True), st.data())
def test_missing_readings_never_increase_the_register_energy(truth, data):
    readings = readings_of(truth)
    if len(readings) < 3:
        return
    middle = list(range(1, len(readings) - 1))
    dropped = set(data.draw(st.lists(st.sampled_from(middle), unique=True)))
    kept = [r for i, r in enumerate(readings) if i not in dropped]
    assert summary_of(truth, kept).kwh <= summary_of(truth, readings).kwh


@settings(max_examples=200, deadline=None)
@given(truths(), st.data())
def test_readings_outside_the_session_change_no_number(truth, data):
    readings = readings_of(truth)
    outside = [
        replace_time(r, data.draw(st.sampled_from([-1, 1])) * (truth.duration + 1 + i))
        for i, r in enumerate(readings)
    ]
    with_outside = summary_of(truth, readings + outside)
    alone = summary_of(truth, readings)
    assert (with_outside.kwh, with_outside.max_power_kw, with_outside.last_soc) == (
        alone.kwh,
        alone.max_power_kw,
        alone.last_soc,
    )
    assert periods_of(truth, readings + outside) == periods_of(truth, readings)


def replace_time(reading: MeterReading, seconds: int) -> MeterReading:
    return MeterReading(
        T0 + timedelta(seconds=seconds), reading.samples, reading.signed_values, reading.problems
    )


@settings(max_examples=200, deadline=None)
@given(truths())
def test_period_peaks_are_the_session_peaks(truth):
    readings = readings_of(truth)
    summary = summary_of(truth, readings)
    result = periods_of(truth, readings)
    powers = [p.max_power_kw for p in result if p.max_power_kw is not None]
    currents = [p.max_current_a for p in result if p.max_current_a is not None]
    assert max(powers, default=None) == summary.max_power_kw
    assert max(currents, default=None) == summary.max_current_a
    measured = [m.power_w / 1000 for m in truth.moments if m.power_w is not None]
    assert summary.max_power_kw == max(measured, default=None)


# Whatever arrives, nothing raises.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["Wh", "kW", "SoC", "L1", "Sample.Clock", "SignedData", "2026-03-07T10:00Z"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
sampled_values = st.fixed_dictionaries(
    {},
    optional={
        "value": json_values,
        "measurand": st.sampled_from(
            ["Energy.Active.Import.Register", "Power.Active.Import", "SoC"]
        )
        | json_values,
        "unit": st.sampled_from(["Wh", "kWh", "W", "A"]) | json_values,
        "unit_of_measure": st.fixed_dictionaries(
            {}, optional={"unit": json_values, "multiplier": st.integers(-40, 40) | json_values}
        )
        | json_values,
        "context": json_values,
        "phase": st.sampled_from(["L1", "L2", "L3", "N", "L1-N"]) | json_values,
        "location": json_values,
        "format": st.sampled_from(["Raw", "SignedData"]) | json_values,
        "signed_meter_value": json_values,
    },
)
meter_values = st.fixed_dictionaries(
    {},
    optional={
        "timestamp": st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat)
        | json_values,
        "sampled_value": st.lists(sampled_values | json_values, max_size=5) | json_values,
    },
)


@settings(max_examples=500, deadline=None)
@given(st.lists(meter_values | json_values, max_size=6), st.booleans())
def test_nothing_a_charger_sends_makes_it_raise(payloads, ocpp16):
    parse = reading_from_ocpp16 if ocpp16 else reading_from_ocpp201
    readings = []
    for payload in payloads:
        parsed = parse(payload)
        assert all(problem.message for problem in parsed.problems)
        if parsed.reading is not None:
            assert parsed.reading.timestamp.tzinfo is UTC
            readings.append(parsed.reading)
    summary = summarise(readings, meter_start_kwh=Decimal(0))
    assert summary.kwh >= 0
    start = min((r.timestamp for r in readings), default=T0)
    end = max((r.timestamp for r in readings), default=T0)
    result = periods(readings, start=start, end=end, meter_start_kwh=Decimal(0))
    assert sum((p.energy_kwh for p in result), Decimal(0)) == summary.kwh
