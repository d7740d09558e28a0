"""Examples for hub.domain.metering: reading OCPP meter values, session energy and periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.domain.metering import (
    EnergyMethod,
    Location,
    Measurand,
    MeterReading,
    Phase,
    ProblemCode,
    ReadingContext,
    Sample,
    Unit,
    periods,
    reading_from_ocpp16,
    reading_from_ocpp201,
    summarise,
)

T0 = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
REGISTER = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return at(minutes).isoformat().replace("+00:00", "Z")


def v16(minutes: float, *sampled: dict) -> MeterReading:
    parsed = reading_from_ocpp16({"timestamp": stamp(minutes), "sampled_value": list(sampled)})
    assert parsed.reading is not None
    return parsed.reading


def v201(minutes: float, *sampled: dict) -> MeterReading:
    parsed = reading_from_ocpp201({"timestamp": stamp(minutes), "sampled_value": list(sampled)})
    assert parsed.reading is not None
    return parsed.reading


def wh(value: str, **extra) -> dict:
    return {"value": value, **extra}


def codes(problems) -> set[ProblemCode]:
    return {problem.code for problem in problems}


# --- reading OCPP 1.6 ---------------------------------------------------------------------------


def test_ocpp16_defaults_are_an_import_register_in_wh_sampled_periodically_at_the_outlet():
    parsed = reading_from_ocpp16(
        {"timestamp": "2026-03-07T10:00:00Z", "sampled_value": [wh("1234.5")]}
    )
    assert parsed.problems == ()
    assert parsed.reading is not None
    assert parsed.reading.timestamp == T0
    assert parsed.reading.samples == (
        Sample(
            REGISTER,
            Decimal("1.2345"),
            Unit.KWH,
            ReadingContext.SAMPLE_PERIODIC,
            None,
            Location.OUTLET,
            signed=False,
        ),
    )


@pytest.mark.parametrize(
    ("measurand", "unit", "value", "expected", "normalised"),
    [
        ("Energy.Active.Import.Register", "Wh", "1500", "1.5", Unit.KWH),
        ("Energy.Active.Import.Register", "kWh", "1.5", "1.5", Unit.KWH),
        ("Energy.Active.Import.Register", "KWH", "1.5", "1.5", Unit.KWH),  # case is ignored
        ("Energy.Reactive.Import.Register", "varh", "250", "0.25", Unit.KVARH),
        ("Power.Active.Import", "W", "7400", "7.4", Unit.KW),
        ("Power.Active.Import", "kW", "7.4", "7.4", Unit.KW),
        ("Power.Active.Import", None, "7400", "7.4", Unit.KW),  # a power without unit is in W
        ("Power.Reactive.Import", "var", "300", "0.3", Unit.KVAR),
        ("Power.Offered", "kVA", "11", "11", Unit.KVA),
        ("Current.Import", "A", "16", "16", Unit.A),
        ("Current.Import", None, "16", "16", Unit.A),
        ("Voltage", "V", "230.1", "230.1", Unit.V),
        ("SoC", "Percent", "55", "55", Unit.PERCENT),
        ("SoC", None, "55", "55", Unit.PERCENT),
        ("Temperature", "Celcius", "21", "21", Unit.CELSIUS),  # the 1.6 schema's spelling
        ("Temperature", "K", "294", "294", Unit.KELVIN),
        ("Frequency", "Hertz", "50", "50", Unit.HERTZ),
        ("Power.Factor", None, "0.98", "0.98", Unit.RATIO),
    ],
)
def test_ocpp16_units_are_normalised(measurand, unit, value, expected, normalised):
    sampled = {"value": value, "measurand": measurand}
    if unit is not None:
        sampled["unit"] = unit
    reading = v16(0, sampled)
    assert reading.problems == ()
    (sample,) = reading.samples
    assert sample.measurand == measurand
    assert sample.value == Decimal(expected)
    assert sample.unit is normalised


def test_ocpp16_keeps_context_phase_and_location():
    reading = v16(
        0,
        wh("10", context="Transaction.End", phase="L2", location="Inlet"),
    )
    (sample,) = reading.samples
    assert sample.context is ReadingContext.TRANSACTION_END
    assert sample.phase is Phase.L2
    assert sample.location is Location.INLET


def test_ocpp16_signed_data_is_kept_as_a_signature_and_not_read_as_a_number():
    reading = v16(
        0,
        wh("1000", context="Transaction.End"),
        {"value": "OCMF|{...}|{...}", "format": "SignedData", "context": "Transaction.End"},
    )
    assert reading.problems == ()
    assert [s.value for s in reading.samples] == [Decimal(1)]
    (signed,) = reading.signed_values
    assert signed.data == "OCMF|{...}|{...}"
    assert signed.measurand is REGISTER
    assert signed.context is ReadingContext.TRANSACTION_END


def test_an_offset_timestamp_is_converted_to_utc():
    parsed = reading_from_ocpp16(
        {"timestamp": "2026-03-07T11:00:00+01:00", "sampled_value": [wh("1")]}
    )
    assert parsed.reading is not None
    assert parsed.reading.timestamp == T0
    assert parsed.reading.timestamp.tzinfo is UTC


def test_camel_case_keys_of_a_raw_payload_read_the_same():
    raw = reading_from_ocpp201(
        {
            "timestamp": "2026-03-07T10:00:00Z",
            "sampledValue": [{"value": 1.5, "unitOfMeasure": {"unit": "kWh"}}],
        }
    )
    snake = reading_from_ocpp201(
        {
            "timestamp": "2026-03-07T10:00:00Z",
            "sampled_value": [{"value": 1.5, "unit_of_measure": {"unit": "kWh"}}],
        }
    )
    assert raw == snake


# --- reading OCPP 2.0.1 -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit_of_measure", "expected", "normalised"),
    [
        (1234.5, None, "1.2345", Unit.KWH),  # default Wh
        (1234.5, {}, "1.2345", Unit.KWH),
        (1.2345, {"unit": "Wh", "multiplier": 3}, "1.2345", Unit.KWH),
        (12345, {"unit": "Wh", "multiplier": -1}, "1.2345", Unit.KWH),
        (1.2345, {"unit": "kWh"}, "1.2345", Unit.KWH),
        (0.1, {"unit": "kWh"}, "0.1", Unit.KWH),  # read as the decimal the charger wrote
        (7, {"unit": "kW", "multiplier": 1}, "70", Unit.KW),
    ],
)
def test_ocpp201_values_are_numbers_with_unit_and_multiplier(
    value, unit_of_measure, expected, normalised
):
    measurand = "Power.Active.Import" if normalised is Unit.KW else None
    sampled: dict = {"value": value}
    if measurand:
        sampled["measurand"] = measurand
    if unit_of_measure is not None:
        sampled["unit_of_measure"] = unit_of_measure
    reading = v201(0, sampled)
    assert reading.problems == ()
    (sample,) = reading.samples
    assert sample.value == Decimal(expected)
    assert sample.unit is normalised


def test_ocpp201_signed_meter_value_keeps_the_number_and_the_signature():
    reading = v201(
        0,
        {
            "value": 1000,
            "context": "Transaction.End",
            "signed_meter_value": {
                "signed_meter_data": "b64data",
                "signing_method": "ECDSA-secp256r1-SHA256",
                "encoding_method": "OCMF",
                "public_key": "b64key",
            },
        },
    )
    assert reading.problems == ()
    (sample,) = reading.samples
    assert sample.signed is True
    assert sample.value == Decimal(1)
    (signed,) = reading.signed_values
    assert (signed.data, signed.signing_method, signed.encoding_method, signed.public_key) == (
        "b64data",
        "ECDSA-secp256r1-SHA256",
        "OCMF",
        "b64key",
    )


# --- every problem code -------------------------------------------------------------------------


def _parse16(payload):
    return reading_from_ocpp16(payload).problems


def _parse201(payload):
    return reading_from_ocpp201(payload).problems


def _sample16(**sampled):
    return _parse16({"timestamp": "2026-03-07T10:00:00Z", "sampled_value": [sampled]})


def _sample201(**sampled):
    return _parse201({"timestamp": "2026-03-07T10:00:00Z", "sampled_value": [sampled]})


def _summary_problems(readings, **kwargs):
    return summarise(readings, **kwargs).problems


PARSE_CASES = [
    (ProblemCode.MALFORMED_READING, lambda: _parse16(["not", "an", "object"])),
    (ProblemCode.MALFORMED_READING, lambda: _parse16({"timestamp": "2026-03-07T10:00:00Z"})),
    (
        ProblemCode.MALFORMED_READING,
        lambda: _parse201({"timestamp": "2026-03-07T10:00:00Z", "sampled_value": []}),
    ),
    (
        ProblemCode.MALFORMED_SAMPLE,
        lambda: _parse16({"timestamp": "2026-03-07T10:00:00Z", "sampled_value": ["1234"]}),
    ),
    (ProblemCode.MALFORMED_SAMPLE, lambda: _sample16(measurand="Voltage")),
    (ProblemCode.MALFORMED_SAMPLE, lambda: _sample201(value=1, signed_meter_value={"x": 1})),
    (ProblemCode.TIMESTAMP_UNPARSEABLE, lambda: _parse16({"sampled_value": [wh("1")]})),
    (
        ProblemCode.TIMESTAMP_UNPARSEABLE,
        lambda: _parse16({"timestamp": "yesterday", "sampled_value": [wh("1")]}),
    ),
    (
        ProblemCode.TIMESTAMP_UNPARSEABLE,
        lambda: _parse16({"timestamp": "2026-03-07", "sampled_value": [wh("1")]}),
    ),
    (
        ProblemCode.TIMESTAMP_UNPARSEABLE,
        lambda: _parse201({"timestamp": 1772877600, "sampled_value": [{"value": 1}]}),
    ),
    (
        ProblemCode.TIMESTAMP_NAIVE,
        lambda: _parse16({"timestamp": "2026-03-07T10:00:00", "sampled_value": [wh("1")]}),
    ),
    (ProblemCode.UNKNOWN_MEASURAND, lambda: _sample16(value="1", measurand="Energy.Magic")),
    (ProblemCode.UNKNOWN_MEASURAND, lambda: _sample201(value=1, measurand=42)),
    (ProblemCode.UNKNOWN_UNIT, lambda: _sample16(value="1", unit="MWh")),
    (ProblemCode.UNKNOWN_UNIT, lambda: _sample201(value=1, unit_of_measure={"unit": "mWh"})),
    (ProblemCode.UNKNOWN_UNIT, lambda: _sample201(value=1, unit_of_measure="Wh")),
    (
        ProblemCode.UNIT_MISMATCH,
        lambda: _sample16(value="16", measurand="Current.Import", unit="Wh"),
    ),
    (ProblemCode.UNIT_MISMATCH, lambda: _sample16(value="1", unit="A")),
    (ProblemCode.UNIT_MISMATCH, lambda: _sample16(value="50", measurand="SoC", unit="Wh")),
    (
        ProblemCode.INVALID_MULTIPLIER,
        lambda: _sample201(value=1, unit_of_measure={"unit": "Wh", "multiplier": 1.5}),
    ),
    (
        ProblemCode.INVALID_MULTIPLIER,
        lambda: _sample201(value=1, unit_of_measure={"unit": "Wh", "multiplier": True}),
    ),
    (
        ProblemCode.INVALID_MULTIPLIER,
        lambda: _sample201(value=1, unit_of_measure={"multiplier": 999_999_999}),
    ),
    (ProblemCode.UNKNOWN_CONTEXT, lambda: _sample16(value="1", context="Sample.Sometimes")),
    (ProblemCode.UNKNOWN_PHASE, lambda: _sample16(value="1", phase="L4")),
    (ProblemCode.UNKNOWN_LOCATION, lambda: _sample201(value=1, location="Roof")),
    (ProblemCode.UNKNOWN_FORMAT, lambda: _sample16(value="1", format="Hex")),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample16(value="1,5")),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample16(value="NaN")),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample16(value="Infinity")),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample16(value="")),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample201(value=True)),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample201(value=None)),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample201(value=[1])),
    (ProblemCode.NOT_A_NUMBER, lambda: _sample201(value=float("nan"))),
    (ProblemCode.VALUE_OUT_OF_RANGE, lambda: _sample16(value="1e30")),
    (ProblemCode.VALUE_OUT_OF_RANGE, lambda: _sample16(value="1E+999999")),
    (
        ProblemCode.VALUE_OUT_OF_RANGE,
        lambda: _sample201(value=1, unit_of_measure={"unit": "kWh", "multiplier": 20}),
    ),
    (ProblemCode.VALUE_OUT_OF_RANGE, lambda: _sample16(value="101", measurand="SoC")),
    (ProblemCode.NEGATIVE_REGISTER, lambda: _sample16(value="-5")),
    (
        ProblemCode.NEGATIVE_REGISTER,
        lambda: _summary_problems([], meter_start_kwh=Decimal(-1), meter_stop_kwh=Decimal(1)),
    ),
    (
        ProblemCode.NEGATIVE_VALUE,
        lambda: _sample16(value="-5", measurand="Energy.Active.Import.Interval"),
    ),
    (
        ProblemCode.NEGATIVE_VALUE,
        lambda: _sample201(value=-100, measurand="Power.Active.Import"),
    ),
    (ProblemCode.NEGATIVE_VALUE, lambda: _sample201(value=-1, measurand="Current.Import")),
]

SUMMARY_CASES = [
    (
        ProblemCode.READING_BEFORE_START,
        lambda: _summary_problems([v16(-1, wh("1000"))], start=at(0)),
    ),
    (
        ProblemCode.READING_AFTER_END,
        lambda: _summary_problems([v16(61, wh("1000"))], start=at(0), end=at(60)),
    ),
    (ProblemCode.END_BEFORE_START, lambda: _summary_problems([], start=at(10), end=at(0))),
    (
        ProblemCode.CONFLICTING_SAMPLES,
        lambda: _summary_problems([v16(0, wh("1000")), v16(0, wh("1001"))]),
    ),
    (
        ProblemCode.INCOMPLETE_PHASES,
        lambda: _summary_problems(
            [
                v16(0, wh("100", phase="L1"), wh("100", phase="L2")),
                v16(1, wh("200", phase="L1")),
            ]
        ),
    ),
    (
        ProblemCode.REGISTER_DECREASED,
        lambda: _summary_problems([v16(0, wh("1000")), v16(1, wh("500"))]),
    ),
    (
        ProblemCode.OVERLAPPING_INTERVALS,
        lambda: _summary_problems(
            [
                v16(1, wh("100", measurand="Energy.Active.Import.Interval")),
                v16(
                    2, wh("100", measurand="Energy.Active.Import.Interval", context="Sample.Clock")
                ),
            ]
        ),
    ),
    (ProblemCode.NO_ENERGY_DATA, lambda: _summary_problems([v16(0, wh("50", measurand="SoC"))])),
    (ProblemCode.NOT_A_NUMBER, lambda: _summary_problems([], meter_start_kwh=Decimal("NaN"))),
]


@pytest.mark.parametrize(("code", "case"), PARSE_CASES + SUMMARY_CASES)
def test_each_problem_is_reported_with_its_code(code, case):
    problems = case()
    assert code in codes(problems)
    assert all(problem.message for problem in problems)


def test_every_problem_code_has_an_example():
    assert {code for code, _ in PARSE_CASES + SUMMARY_CASES} == set(ProblemCode)


def test_bad_sampled_values_are_left_out_and_the_rest_of_the_reading_is_kept():
    parsed = reading_from_ocpp16(
        {
            "timestamp": "2026-03-07T10:00:00Z",
            "sampled_value": [wh("abc"), wh("12", measurand="Nope"), wh("1000")],
        }
    )
    assert parsed.reading is not None
    assert [s.value for s in parsed.reading.samples] == [Decimal(1)]
    assert codes(parsed.problems) == {ProblemCode.NOT_A_NUMBER, ProblemCode.UNKNOWN_MEASURAND}
    assert parsed.reading.problems == parsed.problems


def test_an_unknown_context_is_read_as_other_and_counts_for_nothing():
    odd = v16(30, wh("5000", context="Sample.Sometimes"))
    assert odd.samples[0].context is ReadingContext.OTHER
    summary = summarise([v16(0, wh("1000")), odd])
    assert summary.method is EnergyMethod.NONE  # only one register value counts
    assert summary.kwh == 0


def test_a_naive_timestamp_is_read_as_utc():
    parsed = reading_from_ocpp16({"timestamp": "2026-03-07T10:00:00", "sampled_value": [wh("1")]})
    assert parsed.reading is not None
    assert parsed.reading.timestamp == T0


def test_reading_problems_reach_the_summary():
    readings = [v16(0, wh("1000"), wh("x", measurand="Voltage")), v16(10, wh("2000"))]
    summary = summarise(readings)
    assert summary.kwh == 1
    assert codes(summary.problems) == {ProblemCode.NOT_A_NUMBER}
    assert summary.problems[0].timestamp == T0


# --- energy -------------------------------------------------------------------------------------


def test_register_energy_is_last_minus_first():
    readings = [v16(0, wh("1000")), v16(30, wh("12500")), v16(60, wh("20000"))]
    summary = summarise(readings)
    assert (summary.kwh, summary.method, summary.problems) == (
        Decimal(19),
        EnergyMethod.REGISTER,
        (),
    )


def test_meter_start_and_stop_are_the_first_and_last_register_values():
    readings = [v16(10, wh("2000")), v16(50, wh("9000"))]
    summary = summarise(
        readings, meter_start_kwh=Decimal("1.5"), meter_stop_kwh=Decimal("9.5"), start=at(0)
    )
    assert summary.kwh == Decimal(8)
    assert summary.method is EnergyMethod.REGISTER


def test_meter_start_and_stop_alone_give_the_energy():
    summary = summarise([], meter_start_kwh=Decimal("100.25"), meter_stop_kwh=Decimal("130"))
    assert (summary.kwh, summary.method) == (Decimal("29.75"), EnergyMethod.REGISTER)


def test_readings_are_sorted_by_time_before_use():
    readings = [v16(60, wh("20000")), v16(0, wh("1000")), v16(30, wh("12500"))]
    summary = summarise(readings)
    assert summary.kwh == Decimal(19)
    assert summary.problems == ()


def test_a_reading_delivered_twice_counts_once():
    first, again = v16(30, wh("12500")), v16(30, wh("12500"))
    summary = summarise([v16(0, wh("1000")), first, again, v16(60, wh("20000"))])
    assert summary.kwh == Decimal(19)
    assert summary.problems == ()


def test_a_register_reset_counts_the_increases_on_both_sides():
    readings = [
        v16(0, wh("100000")),
        v16(10, wh("110000")),
        v16(20, wh("2000")),  # reset
        v16(30, wh("5000")),
    ]
    summary = summarise(readings)
    assert summary.kwh == Decimal(13)  # 10 before the reset, 3 after it
    (problem,) = summary.problems
    assert problem.code is ProblemCode.REGISTER_DECREASED
    assert problem.timestamp == at(20)


def test_a_meter_stop_below_the_last_reading_counts_zero_for_that_step():
    summary = summarise(
        [v16(0, wh("1000")), v16(30, wh("5000"))], meter_stop_kwh=Decimal(4), end=at(60)
    )
    assert summary.kwh == Decimal(4)
    assert codes(summary.problems) == {ProblemCode.REGISTER_DECREASED}


def test_the_unphased_register_is_preferred_over_the_phases():
    readings = [
        v16(0, wh("1000"), wh("300", phase="L1"), wh("300", phase="L2"), wh("300", phase="L3")),
        v16(60, wh("4000"), wh("1300", phase="L1"), wh("1300", phase="L2"), wh("1300", phase="L3")),
    ]
    assert summarise(readings).kwh == Decimal(3)


def test_without_an_unphased_register_the_phases_are_summed():
    readings = [
        v16(0, wh("300", phase="L1"), wh("300", phase="L2"), wh("300", phase="L3")),
        v16(60, wh("1300", phase="L1"), wh("1300", phase="L2"), wh("1400", phase="L3")),
    ]
    assert summarise(readings).kwh == Decimal("3.1")


def test_l1_n_duplicates_of_l1_are_ignored_and_stand_in_when_alone():
    both = [
        v16(0, wh("100", phase="L1"), wh("100", phase="L1-N"), wh("50", phase="N")),
        v16(60, wh("600", phase="L1"), wh("600", phase="L1-N"), wh("90", phase="N")),
    ]
    assert summarise(both).kwh == Decimal("0.5")
    alone = [v16(0, wh("100", phase="L1-N")), v16(60, wh("600", phase="L1-N"))]
    assert summarise(alone).kwh == Decimal("0.5")


def test_the_outlet_is_preferred_over_the_inlet_which_is_used_when_alone():
    readings = [
        v16(0, wh("1000", location="Inlet"), wh("1000")),
        v16(60, wh("3100", location="Inlet"), wh("3000")),
    ]
    assert summarise(readings).kwh == Decimal(2)
    inlet = [v16(0, wh("1000", location="Inlet")), v16(60, wh("3100", location="Inlet"))]
    assert summarise(inlet).kwh == Decimal("2.1")


@pytest.mark.parametrize(
    ("context", "counts"),
    [
        (None, True),
        ("Sample.Periodic", True),
        ("Sample.Clock", True),
        ("Transaction.Begin", True),
        ("Transaction.End", True),
        ("Trigger", False),
        ("Interruption.Begin", False),
        ("Interruption.End", False),
        ("Other", False),
    ],
)
def test_only_transaction_and_sample_contexts_count_for_energy(context, counts):
    middle = wh("9000") if context is None else wh("9000", context=context)
    readings = [v16(0, wh("1000")), v16(30, middle), v16(60, wh("5000"))]
    summary = summarise(readings)
    # Counting the 9 kWh reading makes the register go down to 5: 8 kWh and a decrease.
    assert summary.kwh == (Decimal(8) if counts else Decimal(4))


def test_trigger_readings_count_for_peaks_and_interruptions_do_not():
    power = "Power.Active.Import"
    readings = [
        v16(0, wh("1000"), wh("10", measurand=power, unit="kW")),
        v16(20, wh("50", measurand=power, unit="kW", context="Trigger")),
        v16(40, wh("90", measurand=power, unit="kW", context="Interruption.Begin")),
        v16(60, wh("2000")),
    ]
    assert summarise(readings).max_power_kw == Decimal(50)


def test_fallback_interval_energy_is_summed():
    interval = "Energy.Active.Import.Interval"
    readings = [
        v16(0, wh("777", measurand=interval, context="Transaction.Begin")),  # before the session
        v16(15, wh("1000", measurand=interval)),
        v16(30, wh("1500", measurand=interval)),
        v16(45, wh("500", measurand=interval, context="Transaction.End")),
    ]
    summary = summarise(readings, meter_start_kwh=Decimal(10), start=at(0))
    assert (summary.kwh, summary.method) == (Decimal(3), EnergyMethod.INTERVAL_SUM)


def test_clock_aligned_intervals_are_used_when_there_are_no_periodic_ones():
    interval = "Energy.Active.Import.Interval"
    readings = [
        v16(15, wh("1000", measurand=interval, context="Sample.Clock")),
        v16(30, wh("2000", measurand=interval, context="Sample.Clock")),
    ]
    assert summarise(readings).kwh == Decimal(3)


def test_periodic_and_clock_intervals_together_count_the_periodic_ones_only():
    interval = "Energy.Active.Import.Interval"
    readings = [
        v16(5, wh("100", measurand=interval)),
        v16(10, wh("100", measurand=interval)),
        v16(15, wh("100", measurand=interval)),
        v16(15, wh("300", measurand=interval, context="Sample.Clock")),
    ]
    summary = summarise(readings)
    assert summary.kwh == Decimal("0.3")
    assert codes(summary.problems) == {ProblemCode.OVERLAPPING_INTERVALS}


def test_fallback_net_register_is_last_minus_first():
    net = "Energy.Active.Net"
    readings = [
        v201(0, {"value": 5000, "measurand": net}),
        v201(30, {"value": 6000, "measurand": net}),
        v201(60, {"value": 8500, "measurand": net}),
    ]
    summary = summarise(readings)
    assert (summary.kwh, summary.method) == (Decimal("3.5"), EnergyMethod.NET)


def test_a_net_register_going_down_is_not_set_off_against_the_energy_charged():
    net = "Energy.Active.Net"
    readings = [
        v201(0, {"value": 5000, "measurand": net}),
        v201(30, {"value": 4000, "measurand": net}),  # fed back to the grid
        v201(60, {"value": 6000, "measurand": net}),
    ]
    summary = summarise(readings)
    assert summary.kwh == Decimal(2)
    assert codes(summary.problems) == {ProblemCode.REGISTER_DECREASED}


def test_without_energy_data_the_energy_is_zero():
    summary = summarise([v16(0, wh("50", measurand="SoC"))], meter_start_kwh=Decimal(10))
    assert (summary.kwh, summary.method) == (Decimal(0), EnergyMethod.NONE)
    assert codes(summary.problems) == {ProblemCode.NO_ENERGY_DATA}


def test_the_register_wins_over_interval_and_net_values():
    readings = [
        v16(0, wh("1000"), wh("999", measurand="Energy.Active.Import.Interval")),
        v16(60, wh("2000"), wh("999", measurand="Energy.Active.Import.Interval")),
    ]
    summary = summarise(readings)
    assert (summary.kwh, summary.method) == (Decimal(1), EnergyMethod.REGISTER)


def test_readings_outside_the_session_are_left_out():
    readings = [
        v16(-5, wh("500")),
        v16(0, wh("1000")),
        v16(60, wh("3000")),
        v16(65, wh("9000")),
    ]
    summary = summarise(readings, start=at(0), end=at(60))
    assert summary.kwh == Decimal(2)
    assert codes(summary.problems) == {
        ProblemCode.READING_BEFORE_START,
        ProblemCode.READING_AFTER_END,
    }


def test_an_end_before_the_start_keeps_the_meter_start_and_stop_energy():
    summary = summarise(
        [v16(5, wh("1500"))],
        meter_start_kwh=Decimal(1),
        meter_stop_kwh=Decimal(3),
        start=at(10),
        end=at(0),
    )
    assert summary.kwh == Decimal(2)
    assert codes(summary.problems) == {
        ProblemCode.END_BEFORE_START,
        ProblemCode.READING_BEFORE_START,
    }


def test_conflicting_registers_at_one_moment_use_the_larger_one():
    summary = summarise([v16(0, wh("1000")), v16(30, wh("2000")), v16(30, wh("2500"))])
    assert summary.kwh == Decimal("1.5")
    assert codes(summary.problems) == {ProblemCode.CONFLICTING_SAMPLES}


# --- peaks and state of charge ------------------------------------------------------------------


def test_peak_power_sums_the_phases_when_there_is_no_overall_value():
    power = "Power.Active.Import"
    readings = [
        v16(0, wh("3000", measurand=power, phase="L1"), wh("3000", measurand=power, phase="L2")),
        v16(10, wh("3500", measurand=power, phase="L1"), wh("3700", measurand=power, phase="L2")),
    ]
    assert summarise(readings).max_power_kw == Decimal("7.2")


def test_peak_current_is_summed_over_the_phases_as_ocpi_defines_it():
    current = "Current.Import"
    readings = [
        v16(0, *(wh("16", measurand=current, unit="A", phase=p) for p in ("L1", "L2", "L3"))),
        v16(
            10,
            wh("31", measurand=current, unit="A", phase="L1"),
            wh("30", measurand=current, unit="A", phase="L2"),
            wh("29", measurand=current, unit="A", phase="L3"),
            wh("2", measurand=current, unit="A", phase="N"),  # never summed
        ),
    ]
    assert summarise(readings).max_current_a == Decimal(90)


def test_first_and_last_state_of_charge():
    readings = [
        v16(5, wh("20", measurand="SoC", unit="Percent", location="EV")),
        v16(30, wh("55", measurand="SoC", unit="Percent", location="EV")),
        v16(60, wh("80", measurand="SoC", unit="Percent", context="Transaction.End")),
    ]
    summary = summarise(readings)
    assert (summary.first_soc, summary.last_soc) == (Decimal(20), Decimal(80))


def test_without_peak_values_the_peaks_are_unknown():
    summary = summarise([v16(0, wh("1000")), v16(60, wh("2000"))])
    assert (summary.max_power_kw, summary.max_current_a, summary.first_soc) == (None, None, None)


# --- periods ------------------------------------------------------------------------------------


def test_periods_cut_at_readings_and_charging_changes_and_spread_energy_over_charging_time():
    readings = [v16(0, wh("0")), v16(30, wh("6000")), v16(60, wh("9000"))]
    result = periods(
        readings,
        start=at(0),
        end=at(60),
        charging_changes=[(at(-1), True), (at(40), False), (at(50), True)],
    )
    assert [(p.start, p.end, p.energy_kwh, p.charging) for p in result] == [
        (at(0), at(30), Decimal(6), True),
        # The 3 kWh of 30-60 were drawn while charging: none in the parking 40-50.
        (at(30), at(40), Decimal("1.5"), True),
        (at(40), at(50), Decimal(0), False),
        (at(50), at(60), Decimal("1.5"), True),
    ]
    assert sum(p.energy_kwh for p in result) == summarise(readings).kwh


def test_periods_cover_the_session_even_beyond_the_readings():
    readings = [v16(10, wh("1000")), v16(20, wh("2000"))]
    result = periods(readings, start=at(0), end=at(30))
    assert [(p.start, p.end, p.energy_kwh) for p in result] == [
        (at(0), at(10), Decimal(0)),
        (at(10), at(20), Decimal(1)),
        (at(20), at(30), Decimal(0)),
    ]


def test_meter_start_and_stop_without_readings_make_one_period():
    result = periods(
        [], start=at(0), end=at(45), meter_start_kwh=Decimal(100), meter_stop_kwh=Decimal(112)
    )
    assert result == (periods_of(at(0), at(45), Decimal(12)),)


def periods_of(start, end, energy):
    from hub.domain.pricing.model import Period

    return Period(start, end, energy, None, None, True)


def test_energy_at_an_instant_goes_to_the_period_starting_then():
    # The meter start differs from the Transaction.Begin register read at the same moment.
    readings = [v16(0, wh("1200", context="Transaction.Begin")), v16(30, wh("3200"))]
    result = periods(readings, start=at(0), end=at(30), meter_start_kwh=Decimal(1))
    assert [p.energy_kwh for p in result] == [Decimal("2.2")]
    ended = periods(
        [v16(0, wh("1000")), v16(30, wh("3000"))],
        start=at(0),
        end=at(30),
        meter_stop_kwh=Decimal("3.5"),
    )
    assert [p.energy_kwh for p in ended] == [Decimal("2.5")]


def test_a_zero_length_session_is_one_zero_length_period():
    result = periods(
        [v16(0, wh("1000"))],
        start=at(0),
        end=at(0),
        meter_start_kwh=Decimal(1),
        meter_stop_kwh=Decimal(2),
    )
    assert [(p.start, p.end, p.energy_kwh) for p in result] == [(at(0), at(0), Decimal(1))]


def test_power_and_current_belong_to_the_stretch_their_reading_closes():
    power, current = "Power.Active.Import", "Current.Import"
    readings = [
        v16(0, wh("0"), wh("5", measurand=power, unit="kW")),
        v16(10, wh("1000"), wh("11", measurand=power, unit="kW"), wh("16", measurand=current)),
        v16(20, wh("3000")),
        v16(30, wh("5000"), wh("22", measurand=power, unit="kW"), wh("32", measurand=current)),
    ]
    result = periods(readings, start=at(0), end=at(40), charging_changes=[(at(25), True)])
    assert [(p.start, p.max_power_kw, p.max_current_a) for p in result] == [
        (at(0), Decimal(11), Decimal(16)),  # the start's 5 kW and the 11 kW closing it
        (at(10), Decimal(22), Decimal(32)),  # no power read at 20: the 30 reading closes it
        (at(20), Decimal(22), Decimal(32)),
        (at(25), Decimal(22), Decimal(32)),
        (at(30), None, None),  # nothing read after 30
    ]


def test_charging_state_defaults_to_charging_and_follows_the_latest_change():
    readings = [v16(0, wh("0")), v16(20, wh("1000"))]
    result = periods(
        readings,
        start=at(0),
        end=at(40),
        charging_changes=[(at(20), False), (at(30), True), (at(30), False)],
    )
    assert [(p.start, p.charging) for p in result] == [
        (at(0), True),  # nothing known before
        (at(20), False),  # a change at the period's start counts
        (at(30), False),  # of two changes at once, the later one given
    ]


def test_a_charging_change_before_the_start_sets_the_first_period():
    result = periods([], start=at(0), end=at(10), charging_changes=[(at(-5), False)])
    assert [(p.charging, p.energy_kwh) for p in result] == [(False, Decimal(0))]


def test_interval_energy_belongs_to_the_time_since_the_previous_interval():
    interval = "Energy.Active.Import.Interval"
    readings = [v16(10, wh("1000", measurand=interval)), v16(30, wh("4000", measurand=interval))]
    result = periods(readings, start=at(0), end=at(40), charging_changes=[(at(20), True)])
    assert [(p.start, p.energy_kwh) for p in result] == [
        (at(0), Decimal(1)),
        (at(10), Decimal(2)),
        (at(20), Decimal(2)),
        (at(30), Decimal(0)),
    ]


def test_uneven_shares_add_up_exactly():
    readings = [v16(0, wh("0")), v16(3, wh("1000"))]
    result = periods(
        readings, start=at(0), end=at(3), charging_changes=[(at(1), True), (at(2), True)]
    )
    shares = [p.energy_kwh for p in result]
    assert shares == [Decimal("0.333333333"), Decimal("0.333333333"), Decimal("0.333333334")]
    assert sum(shares) == Decimal(1)


def test_energy_across_a_change_to_not_charging_goes_to_the_charging_part():
    readings = [v16(0, wh("0")), v16(10, wh("10000")), v16(20, wh("20000"))]
    # The car stops requesting power at 15 min, on an event without a meter value.
    result = periods(readings, start=at(0), end=at(20), charging_changes=[(at(15), False)])
    assert [(p.energy_kwh, p.charging) for p in result] == [
        (Decimal(10), True),
        (Decimal(10), True),
        (Decimal(0), False),
    ]
    assert sum(p.energy_kwh for p in result) == summarise(readings).kwh
