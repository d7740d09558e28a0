"""EV-ChART rows (Modules 2, 3, 4) field by field, and every rule of the validator with rows
that pass and rows that fail (the rules of the EV-ChART module definitions)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hub.domain import evchart
from hub.domain.evchart import (
    DEFAULT_VOCABULARY,
    EvchartError,
    Problem,
    Quarter,
    SessionFacts,
    Translation,
    Vocabulary,
    check,
    empty_row,
    outage_row,
    session_row,
    uptime_row,
)
from hub.domain.uptime import ExclusionReason, Outage, OutageCause, PortUptime

Q3 = Quarter(2026, 3)
START = datetime(2026, 7, 1, tzinfo=UTC)
END = datetime(2026, 10, 1, tzinfo=UTC)


def facts(**changes) -> SessionFacts:
    values = {
        "session_id": "SESSION-1",
        "station_id": "LOC-1",
        "port_id": "EVSE-1",
        "charger_id": "CS-1",
        "connector_id": "1",
        "start": datetime(2026, 7, 14, 10, 0, 12, 750_000, tzinfo=UTC),
        "end": datetime(2026, 7, 14, 10, 30, 12, 750_000, tzinfo=UTC),
        "kwh": Decimal("41.235"),
        "max_power_kw": Decimal("148.004"),
        "session_error": None,
        "payment_method": "APP",
    }
    values.update(changes)
    return SessionFacts(**values)


def outage(**changes) -> Outage:
    values = {
        "outage_id": 7,
        "station_id": "LOC-1",
        "port_id": "EVSE-1",
        "start": datetime(2026, 8, 3, 4, 0, tzinfo=UTC),
        "end": datetime(2026, 8, 3, 5, 30, 30, tzinfo=UTC),
        "cause": OutageCause.OUT_OF_ORDER,
    }
    values.update(changes)
    return Outage(**values)


def uptime(**changes) -> PortUptime:
    values = {
        "station_id": "LOC-1",
        "port_id": "EVSE-1",
        "window_start": datetime(2025, 8, 1, tzinfo=UTC),
        "window_end": datetime(2026, 8, 1, tzinfo=UTC),
        "outage_minutes": Decimal("1234.5"),
        "excluded_minutes": Decimal("200.004"),
        "uptime": Decimal("99.80"),
    }
    values.update(changes)
    return PortUptime(**values)


# --- quarters and formats -----------------------------------------------------------------------


def test_a_quarter_is_three_calendar_months_at_utc_midnight():
    assert (Q3.start, Q3.end) == (START, END)
    assert Q3.month_ends == (
        datetime(2026, 8, 1, tzinfo=UTC),
        datetime(2026, 9, 1, tzinfo=UTC),
        datetime(2026, 10, 1, tzinfo=UTC),
    )
    q4 = Quarter.parse("2026q4")
    assert (q4.start, q4.end) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert q4.month_ends[-1] == datetime(2027, 1, 1, tzinfo=UTC)
    assert str(Quarter.parse(" 2026Q1 ")) == "2026Q1"


@pytest.mark.parametrize(
    "text", ["2026Q5", "2026Q0", "2026-Q3", "Q3 2026", "garbage", "", "1999Q4"]
)
def test_quarters_that_do_not_exist_are_refused(text):
    with pytest.raises(EvchartError):
        Quarter.parse(text)


def test_datetimes_are_utc_with_z_to_the_second():
    eastern = timezone(timedelta(hours=-4))
    assert evchart.format_datetime(datetime(2026, 7, 1, 8, 0, 59, 999_999, tzinfo=eastern)) == (
        "2026-07-01T12:00:59Z"
    )
    with pytest.raises(EvchartError, match="no time zone"):
        evchart.format_datetime(datetime(2026, 7, 1))  # noqa: DTZ001 - the case refused


@pytest.mark.parametrize(
    ("value", "column", "text"),
    [
        (Decimal("2.005"), "energy_kwh", "2.01"),  # half-up, not banker's
        (Decimal("2.004"), "energy_kwh", "2.00"),
        (Decimal(7), "energy_kwh", "7.00"),
        (Decimal("99999.994"), "energy_kwh", "99999.99"),
        (Decimal("0"), "energy_kwh", "0.00"),
    ],
)
def test_decimals_have_exactly_their_scale(value, column, text):
    assert evchart.format_decimal(value, evchart.MODULE_2.column(column)) == text


@pytest.mark.parametrize(
    ("value", "column", "message"),
    [
        (Decimal("99999.995"), "energy_kwh", r"does not fit decimal\(7,2\)"),
        (Decimal("-0.01"), "energy_kwh", "below 0"),
    ],
)
def test_decimals_that_do_not_fit_are_refused(value, column, message):
    with pytest.raises(EvchartError, match=message):
        evchart.format_decimal(value, evchart.MODULE_2.column(column))


# --- Module 2 -----------------------------------------------------------------------------------


def test_a_session_row_field_by_field():
    row = session_row(facts(), "ACME Network", DEFAULT_VOCABULARY)
    assert list(row) == list(evchart.MODULE_2.names)
    assert row == {
        "station_id": "LOC-1",
        "network_provider": "ACME Network",
        "port_id": "EVSE-1",
        "charger_id": "CS-1",
        "session_id": "SESSION-1",
        "connector_id": "1",
        "session_start": "2026-07-14T10:00:12Z",
        "session_end": "2026-07-14T10:30:12Z",
        "session_error": "none",
        "error_other": "",
        "energy_kwh": "41.24",
        "power_kw": "148.00",
        "payment_method": "APP",
        "payment_other": "",
    }
    assert list(evchart.MODULE_2.names) == [
        "station_id", "network_provider", "port_id", "charger_id", "session_id", "connector_id",
        "session_start", "session_end", "session_error", "error_other", "energy_kwh",
        "power_kw", "payment_method", "payment_other",
    ]  # fmt: skip


def test_a_session_without_power_readings_reports_its_average_power():
    row = session_row(facts(max_power_kw=None, kwh=Decimal(50)), "ACME", DEFAULT_VOCABULARY)
    assert row["power_kw"] == "100.00"  # 50 kWh in half an hour
    assert evchart.peak_power(facts(max_power_kw=None)) == (Decimal("82.47"), False)
    zero = facts(max_power_kw=None, end=facts().start)
    assert session_row(zero, "ACME", DEFAULT_VOCABULARY)["power_kw"] == "0.00"


@pytest.mark.parametrize(
    ("ours", "vocabulary", "written"),
    [
        (None, DEFAULT_VOCABULARY, ("none", "")),
        ("GroundFault", DEFAULT_VOCABULARY, ("CX002", "")),
        ("OvercurrentFault", DEFAULT_VOCABULARY, ("CX004", "")),
        ("NO_ENERGY_DELIVERED", DEFAULT_VOCABULARY, ("NO_ENERGY_DELIVERED", "")),
        (
            "NO_ENERGY_DELIVERED",
            Vocabulary(session_error=Translation({}, "OTHER")),
            ("OTHER", "NO_ENERGY_DELIVERED"),
        ),
        (None, Vocabulary(no_error="0"), ("0", "")),
    ],
)
def test_session_errors_are_written_in_the_vocabulary(ours, vocabulary, written):
    row = session_row(facts(session_error=ours), "ACME", vocabulary)
    assert (row["session_error"], row["error_other"]) == written


@pytest.mark.parametrize(
    ("ours", "vocabulary", "written"),
    [
        ("APP", DEFAULT_VOCABULARY, ("APP", "")),
        ("PLUG_AND_CHARGE", DEFAULT_VOCABULARY, ("PLUG_AND_CHARGE", "")),
        (None, DEFAULT_VOCABULARY, ("NONE", "")),
        ("APP", Vocabulary(payment_method=Translation({"APP": "mobile_app"})), ("mobile_app", "")),
        ("AD_HOC", Vocabulary(payment_method=Translation({}, "other")), ("other", "AD_HOC")),
    ],
)
def test_payment_methods_are_written_in_the_vocabulary(ours, vocabulary, written):
    row = session_row(facts(payment_method=ours), "ACME", vocabulary)
    assert (row["payment_method"], row["payment_other"]) == written


def test_the_vocabulary_is_data_read_from_json():
    vocabulary = Vocabulary.from_data(
        {"payment_method": {"values": {"APP": "app"}, "unmapped": "other"}, "no_error": "0"}
    )
    assert vocabulary.payment_method.translate("APP") == ("app", "")
    assert vocabulary.payment_method.translate("AD_HOC") == ("other", "AD_HOC")
    assert vocabulary.session_error == DEFAULT_VOCABULARY.session_error  # left as it was
    assert vocabulary.no_error == "0"


@pytest.mark.parametrize(
    "data",
    [
        {"payment": {}},
        {"payment_method": {"values": {"APP": ""}}},
        {"payment_method": {"values": {"APP": "x" * 256}}},
        {"payment_method": {"vals": {}}},
        {"session_error": {"unmapped": " "}},
        {"no_error": ""},
    ],
)
def test_a_malformed_vocabulary_is_refused(data):
    with pytest.raises(EvchartError):
        Vocabulary.from_data(data)


@pytest.mark.parametrize(
    ("changes", "provider", "message"),
    [
        ({"station_id": "L" * 37}, "ACME", "station_id .* 37 characters; .* at most 36"),
        ({"port_id": "E" * 37}, "ACME", "port_id"),
        ({"charger_id": "C" * 37}, "ACME", "charger_id"),
        ({}, "N" * 31, "network_provider .* at most 30"),
        ({}, "  ", "network_provider is empty"),
        ({"end": datetime(2026, 7, 14, 9, tzinfo=UTC)}, "ACME", "ends before it starts"),
    ],
)
def test_values_ev_chart_cannot_take_are_refused_never_cut(changes, provider, message):
    with pytest.raises(EvchartError, match=message):
        session_row(facts(**changes), provider, DEFAULT_VOCABULARY)


def test_optional_identifiers_may_be_absent():
    row = session_row(facts(charger_id=None, connector_id=None), "ACME", DEFAULT_VOCABULARY)
    assert (row["charger_id"], row["connector_id"]) == ("", "")


def test_empty_period_rows():
    assert empty_row(2, "LOC-1", "ACME", "EVSE-2") == {
        **dict.fromkeys(evchart.MODULE_2.names, ""),
        "station_id": "LOC-1",
        "network_provider": "ACME",
        "port_id": "EVSE-2",
    }
    four = empty_row(4, "LOC-1", "ACME", "EVSE-2")
    assert list(four) == list(evchart.MODULE_4.names)
    assert [four[name] for name in ("outage_id", "outage_duration", "excluded_outage")] == [""] * 3
    with pytest.raises(EvchartError, match="Module 3 has no empty-period row"):
        empty_row(3, "LOC-1", "ACME", "EVSE-2")
    with pytest.raises(EvchartError, match="station_id"):
        empty_row(2, "L" * 37, "ACME", "EVSE-2")


# --- Module 3 -----------------------------------------------------------------------------------


def test_an_uptime_row_field_by_field():
    row = uptime_row(uptime(), "ACME")
    assert list(row) == [
        "station_id", "network_provider", "port_id", "uptime_reporting_start",
        "uptime_reporting_end", "uptime", "total_outage", "total_outage_excl",
    ]  # fmt: skip
    assert row == {
        "station_id": "LOC-1",
        "network_provider": "ACME",
        "port_id": "EVSE-1",
        "uptime_reporting_start": "2025-08-01T00:00:00Z",
        "uptime_reporting_end": "2026-08-01T00:00:00Z",
        "uptime": "99.80",
        "total_outage": "1234.50",
        "total_outage_excl": "200.00",
    }
    assert uptime_row(uptime(uptime=None), "ACME")["uptime"] == ""  # the port's first year


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"excluded_minutes": Decimal(2000)}, "excluded minutes exceed"),
        ({"window_end": datetime(2025, 8, 1, tzinfo=UTC)}, "ends before it starts"),
        ({"outage_minutes": Decimal(1_000_000)}, r"decimal\(8,2\)"),
    ],
)
def test_uptime_values_that_cannot_be_reported_are_refused(changes, message):
    with pytest.raises(EvchartError, match=message):
        uptime_row(uptime(**changes), "ACME")


# --- Module 4 -----------------------------------------------------------------------------------


def test_an_outage_row_field_by_field():
    row = outage_row(outage(), "ACME", START, END)
    assert row == {
        "station_id": "LOC-1",
        "network_provider": "ACME",
        "port_id": "EVSE-1",
        "outage_id": "2026-08-03T04:00:00Z",
        "outage_duration": "90.50",
        "excluded_outage": "false",
        "excluded_outage_reason": "",
        "excluded_outage_notes": "",
    }


def test_an_excluded_outage_carries_its_reason_code_and_notes():
    excluded = outage(
        excluded=True, reason=ExclusionReason.UTILITY_INTERRUPTION, notes="  Utility ticket 42 "
    )
    row = outage_row(excluded, "ACME", START, END)
    assert row is not None
    assert (row["excluded_outage"], row["excluded_outage_reason"]) == ("true", "1")
    assert row["excluded_outage_notes"] == "Utility ticket 42"
    with pytest.raises(EvchartError, match="without a reason code"):
        outage_row(outage(excluded=True), "ACME", START, END)
    with pytest.raises(EvchartError, match="excluded_outage_notes has 256"):
        outage_row(
            outage(excluded=True, reason=ExclusionReason.VANDALISM, notes="n" * 256),
            "ACME",
            START,
            END,
        )


@pytest.mark.parametrize(
    ("start", "end", "outage_id", "duration"),
    [
        # began in the previous quarter: the part in this one, keyed at the quarter's start
        (datetime(2026, 6, 30, 23, 0, tzinfo=UTC), START + timedelta(minutes=15), START, "15.00"),
        # goes on after the quarter: cut at its end
        (END - timedelta(minutes=1), END + timedelta(days=1), END - timedelta(minutes=1), "1.00"),
        # still going on: runs to the end of the window
        (END - timedelta(seconds=90), None, END - timedelta(seconds=90), "1.50"),
        # a fraction of a second is still an outage: at least 0.01 minute
        (START, START + timedelta(milliseconds=100), START, "0.01"),
    ],
)
def test_an_outage_is_cut_to_the_quarter(start, end, outage_id, duration):
    row = outage_row(outage(start=start, end=end), "ACME", START, END)
    assert row is not None
    assert (row["outage_id"], row["outage_duration"]) == (
        evchart.format_datetime(outage_id),
        duration,
    )


def test_an_outage_outside_the_quarter_has_no_row():
    before = outage(start=START - timedelta(hours=2), end=START)
    after = outage(start=END, end=END + timedelta(hours=1))
    assert outage_row(before, "ACME", START, END) is None
    assert outage_row(after, "ACME", START, END) is None


# --- the validator ------------------------------------------------------------------------------

M2_HEADER = ",".join(evchart.MODULE_2.names)
M3_HEADER = ",".join(evchart.MODULE_3.names)
M4_HEADER = ",".join(evchart.MODULE_4.names)
M2_SESSION = (
    "LOC-1,ACME,EVSE-1,CS-1,S-1,1,2026-07-14T10:00:00Z,2026-07-14T10:30:00Z,none,,41.24,148.00,APP,"
)
M2_EMPTY = "LOC-1,ACME,EVSE-2,,,,,,,,,,,"
M3_ROW = "LOC-1,ACME,EVSE-1,2025-08-01T00:00:00Z,2026-08-01T00:00:00Z,99.80,1234.50,200.00"
M4_ROW = "LOC-1,ACME,EVSE-1,2026-08-03T04:00:00Z,90.50,true,3,planned"
M4_EMPTY = "LOC-1,ACME,EVSE-2,,,,,"


def lines(*rows: str) -> io.StringIO:
    return io.StringIO("".join(f"{row}\r\n" for row in rows))


def problems(number: int, *rows: str) -> list[str]:
    return [str(problem) for problem in check(number, lines(*rows))]


def replace(row: str, header: str, **cells: str) -> str:
    names = header.split(",")
    values = next(csv.reader([row]))
    for name, value in cells.items():
        values[names.index(name)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


@pytest.mark.parametrize(
    ("number", "rows"),
    [
        (2, (M2_HEADER, M2_SESSION, M2_EMPTY)),
        (3, (M3_HEADER, M3_ROW, replace(M3_ROW, M3_HEADER, uptime="", port_id="EVSE-2"))),
        (4, (M4_HEADER, M4_ROW, M4_EMPTY)),
    ],
)
def test_good_files_pass(number, rows):
    assert problems(number, *rows) == []


def test_the_header_row_is_required_and_checked():
    assert problems(2) == ["the file is empty: it needs a header row"]
    assert problems(2, M2_HEADER) == ["no data rows"]
    assert problems(2, ",,,", M2_SESSION) == ["row 1: the first row must be the header"]
    no_port = M2_HEADER.replace(",port_id", "")
    assert problems(2, no_port) == ["row 1, port_id: required column missing from the header"]
    assert problems(2, M2_HEADER + ",kwh") == ["row 1, kwh: not a Module 2 column"]
    assert problems(2, M2_HEADER + ",power_kw") == [
        "row 1, power_kw: the column appears more than once"
    ]


def test_optional_columns_may_be_left_out_and_columns_are_matched_by_name():
    optional = {"charger_id", "connector_id", "error_other", "payment_other"}
    names = [n for n in evchart.MODULE_2.names if n not in optional]
    header = ",".join(reversed(names))
    session = next(csv.DictReader(io.StringIO(f"{M2_HEADER}\n{M2_SESSION}\n")))
    row = ",".join(session[name] for name in reversed(names))
    assert problems(2, header, row) == []


def test_a_leading_bom_is_tolerated_and_blank_rows_are_dropped():
    assert problems(2, "\ufeff" + M2_HEADER, "", M2_SESSION, ",,,,,,,,,,,,,", M2_EMPTY) == []
    records = [["\ufeff" + M2_HEADER.split(",")[0], *M2_HEADER.split(",")[1:]]]
    records.append(M2_SESSION.split(","))
    assert check(2, records) == []
    # rows keep their numbers in the file: the blank ones count
    bad = replace(M2_SESSION, M2_HEADER, energy_kwh="x")
    assert problems(2, M2_HEADER, "", bad) == ["row 3, energy_kwh: 'x' is not a decimal number"]


def test_a_row_with_too_many_or_too_few_values():
    assert problems(2, M2_HEADER, M2_SESSION + ",extra") == ["row 2: 15 values for 14 columns"]
    assert problems(2, M2_HEADER, "LOC-1,ACME,EVSE-1") == ["row 2: 3 values for 14 columns"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("2026-07-14T10:00:00Z", None),
        ("2026-07-14T10:00:00", None),
        ("2026-07-14T10:00:00.123Z", None),
        ("2026-07-14T10:00:00+02:00", "is not YYYY-MM-DDTHH:MM:SS[.fff][Z] (UTC, no offset)"),
        ("2026-07-14T10:00:00+00:00", "is not YYYY-MM-DDTHH:MM:SS[.fff][Z] (UTC, no offset)"),
        ("2026-07-14 10:00:00Z", "is not YYYY-MM-DDTHH:MM:SS"),
        ("2026-07-14T10:00Z", "is not YYYY-MM-DDTHH:MM:SS"),
        ("2026-07-14T10:00:00.1Z", "is not YYYY-MM-DDTHH:MM:SS"),
        ("2026-07-14", "is not YYYY-MM-DDTHH:MM:SS"),
        ("2026-02-30T10:00:00Z", "is not a real date and time"),
        ("2026-07-14T25:00:00Z", "is not a real date and time"),
    ],
)
def test_datetimes(value, problem):
    row = replace(M2_SESSION, M2_HEADER, session_start=value, session_end="2026-07-14T11:00:00Z")
    found = problems(2, M2_HEADER, row)
    if problem is None:
        assert found == []
    else:
        (only,) = found
        assert only.startswith(f"row 2, session_start: {value!r} ")
        assert problem in only


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("energy_kwh", "12345.67", None),
        ("energy_kwh", "00012345.67", None),
        ("energy_kwh", "0", None),
        ("energy_kwh", "1.5", None),
        ("energy_kwh", "123456.78", "123456.78 does not fit decimal(7,2)"),
        ("energy_kwh", "1.234", "1.234 has 3 decimals; at most 2"),
        ("energy_kwh", "-1.00", "-1.00 is below the minimum 0"),
        ("energy_kwh", "1e3", "'1e3' is not a decimal number"),
        ("energy_kwh", "1,5", "'1,5' is not a decimal number"),
        ("energy_kwh", " 1.5", "' 1.5' is not a decimal number"),
        ("power_kw", "abc", "'abc' is not a decimal number"),
        ("power_kw", "99999.99", None),
    ],
)
def test_decimal_precision_and_scale(column, value, problem):
    found = problems(2, M2_HEADER, replace(M2_SESSION, M2_HEADER, **{column: value}))
    assert found == ([] if problem is None else [f"row 2, {column}: {problem}"])


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"total_outage": "999999.99"}, None),
        ({"total_outage": "1000000.00"}, "total_outage: 1000000.00 does not fit decimal(8,2)"),
        ({"uptime": "100.00"}, None),
        ({"uptime": "100.01"}, "uptime: 100.01 is above the maximum 100"),
        ({"uptime": "1000.00"}, "uptime: 1000.00 does not fit decimal(5,2)"),
        ({"total_outage_excl": ""}, "total_outage_excl: required value missing"),
        ({"uptime_reporting_start": ""}, "uptime_reporting_start: required value missing"),
        ({"total_outage_excl": "1234.51"}, "total_outage_excl: exceeds total_outage"),
        ({"uptime_reporting_end": "2025-08-01T00:00:00Z"}, "uptime_reporting_end: not after"),
    ],
)
def test_module_3_values(cells, problem):
    found = problems(3, M3_HEADER, replace(M3_ROW, M3_HEADER, **cells))
    if problem is None:
        assert found == []
    else:
        (only,) = found
        assert only.startswith(f"row 2, {problem}")


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"outage_duration": "0.01"}, None),
        ({"outage_duration": "0.00"}, "outage_duration: 0.00 is below the minimum 0.01"),
        ({"excluded_outage": "FALSE", "excluded_outage_reason": ""}, None),
        ({"excluded_outage": "True"}, None),
        ({"excluded_outage": "yes"}, "excluded_outage: 'yes' is not a boolean (true or false)"),
        ({"excluded_outage": "1"}, "excluded_outage: '1' is not a boolean (true or false)"),
        ({"excluded_outage_reason": "6"}, None),
        ({"excluded_outage_reason": "0"}, "excluded_outage_reason: 0 is outside 1-6"),
        ({"excluded_outage_reason": "7"}, "excluded_outage_reason: 7 is outside 1-6"),
        ({"excluded_outage_reason": "2.0"}, "excluded_outage_reason: '2.0' is not an integer"),
        ({"excluded_outage_reason": "x"}, "excluded_outage_reason: 'x' is not an integer"),
        ({"excluded_outage_notes": "n" * 255}, None),
        (
            {"excluded_outage_notes": "n" * 256},
            "excluded_outage_notes: 256 characters; at most 255",
        ),
        ({"excluded_outage_notes": "   "}, "excluded_outage_notes: only whitespace"),
    ],
)
def test_module_4_values(cells, problem):
    found = problems(4, M4_HEADER, replace(M4_ROW, M4_HEADER, **cells))
    assert found == ([] if problem is None else [f"row 2, {problem}"])


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"port_id": "E" * 36}, None),
        ({"port_id": "E" * 37}, "port_id: 37 characters; at most 36"),
        ({"station_id": "S" * 37}, "station_id: 37 characters; at most 36"),
        ({"network_provider": "N" * 31}, "network_provider: 31 characters; at most 30"),
        ({"session_error": "e" * 256}, "session_error: 256 characters; at most 255"),
        ({"payment_method": "\t "}, "payment_method: only whitespace"),
        ({"port_id": " "}, "port_id: only whitespace"),
        ({"station_id": ""}, "station_id: required value missing"),
    ],
)
def test_string_lengths_and_whitespace(cells, problem):
    found = problems(2, M2_HEADER, replace(M2_SESSION, M2_HEADER, **cells))
    assert found == ([] if problem is None else [f"row 2, {problem}"])


@pytest.mark.parametrize(
    "column",
    ["session_id", "session_start", "session_end", "session_error", "energy_kwh", "power_kw",
     "payment_method"],
)  # fmt: skip
def test_a_session_row_fills_every_required_column(column):
    (only,) = problems(2, M2_HEADER, replace(M2_SESSION, M2_HEADER, **{column: ""}))
    assert only.startswith(f"row 2, {column}: required value missing (only a row of a port")


@pytest.mark.parametrize("column", ["charger_id", "connector_id", "error_other", "payment_other"])
def test_a_session_row_may_leave_optional_columns_empty(column):
    assert problems(2, M2_HEADER, replace(M2_SESSION, M2_HEADER, **{column: ""})) == []


def test_a_row_that_is_neither_a_session_nor_empty_fails():
    half = replace(M2_EMPTY, M2_HEADER, connector_id="1")
    found = problems(2, M2_HEADER, half)
    assert len(found) == 7  # every required column of a session but the identity
    assert all("required value missing" in problem for problem in found)


@pytest.mark.parametrize(
    ("cells", "problem"),
    [
        ({"outage_duration": ""}, "outage_duration: outage_id and outage_duration must both"),
        ({"outage_id": ""}, "outage_id: outage_id and outage_duration must both"),
    ],
)
def test_outage_id_and_duration_are_both_present_or_both_empty(cells, problem):
    (only,) = problems(4, M4_HEADER, replace(M4_ROW, M4_HEADER, **cells))
    assert only.startswith(f"row 2, {problem}")


def test_a_row_without_an_outage_says_nothing_about_one():
    row = replace(M4_EMPTY, M4_HEADER, excluded_outage="true")
    assert problems(4, M4_HEADER, row) == [
        "row 2, excluded_outage: given for a row without an outage"
    ]


@pytest.mark.parametrize(
    ("number", "header", "first", "second"),
    [
        (2, M2_HEADER, M2_SESSION, replace(M2_SESSION, M2_HEADER, energy_kwh="1.00")),
        (2, M2_HEADER, M2_EMPTY, M2_EMPTY),  # one "no sessions" row per port
        (3, M3_HEADER, M3_ROW, replace(M3_ROW, M3_HEADER, uptime="98.00")),
        (4, M4_HEADER, M4_ROW, replace(M4_ROW, M4_HEADER, outage_duration="1.00")),
        (4, M4_HEADER, M4_EMPTY, M4_EMPTY),
    ],
)
def test_unique_keys_within_the_file(number, header, first, second):
    key = " and ".join(evchart.MODULES[number].unique_key)
    assert problems(number, header, first, second) == [f"row 3: same {key} as row 2"]


@pytest.mark.parametrize(
    ("number", "header", "first", "second"),
    [
        (2, M2_HEADER, M2_SESSION, replace(M2_SESSION, M2_HEADER, port_id="EVSE-9")),
        (2, M2_HEADER, M2_SESSION, replace(M2_SESSION, M2_HEADER, session_id="S-2")),
        (
            3,
            M3_HEADER,
            M3_ROW,
            replace(M3_ROW, M3_HEADER, uptime_reporting_end="2026-09-01T00:00:00Z"),
        ),
        (4, M4_HEADER, M4_ROW, replace(M4_ROW, M4_HEADER, outage_id="2026-08-04T04:00:00Z")),
    ],
)
def test_rows_differing_in_their_key_are_not_duplicates(number, header, first, second):
    assert problems(number, header, first, second) == []


def test_a_session_does_not_end_before_it_starts():
    row = replace(M2_SESSION, M2_HEADER, session_end="2026-07-14T09:59:59Z")
    assert problems(2, M2_HEADER, row) == ["row 2, session_end: before session_start"]


def test_the_module_is_recognised_from_its_header():
    assert evchart.detect_module(M2_HEADER.split(",")) == 2
    assert evchart.detect_module(("\ufeff" + M3_HEADER).split(",")) == 3
    assert evchart.detect_module(M4_HEADER.split(",")[:5]) == 4  # optional columns left out
    assert evchart.detect_module(["station_id", "network_provider", "port_id"]) is None
    assert evchart.detect_module([*M4_HEADER.split(","), "kwh"]) is None


def test_problems_name_their_row_and_column():
    assert str(Problem(3, "uptime", "bad")) == "row 3, uptime: bad"
    assert str(Problem(3, None, "bad")) == "row 3: bad"
    assert str(Problem(None, None, "bad")) == "bad"
    with pytest.raises(EvchartError, match="module 5"):
        check(5, [])


# --- round trip ---------------------------------------------------------------------------------


def test_what_we_build_passes_the_validator_as_rows_and_as_a_file():
    m2 = [
        session_row(facts(), "ACME", DEFAULT_VOCABULARY),
        session_row(
            facts(session_id="S-2", session_error="GroundFault"), "ACME", DEFAULT_VOCABULARY
        ),
        session_row(facts(session_id="S-3", max_power_kw=None), "ACME", DEFAULT_VOCABULARY),
        empty_row(2, "LOC-1", "ACME", "EVSE-2"),
    ]
    m3 = [
        uptime_row(uptime(), "ACME"),
        uptime_row(uptime(window_end=datetime(2026, 9, 1, tzinfo=UTC), uptime=None), "ACME"),
    ]
    excluded = outage(
        outage_id=8,
        start=datetime(2026, 9, 1, tzinfo=UTC),
        end=None,
        excluded=True,
        reason=ExclusionReason.NATURAL_DISASTER,
        notes='Hurricane, "category 3", per NOAA',
    )
    m4 = [
        outage_row(outage(start=START - timedelta(hours=1)), "ACME", START, END),
        outage_row(excluded, "ACME", START, END),
        empty_row(4, "LOC-1", "ACME", "EVSE-2"),
    ]
    for number, rows in ((2, m2), (3, m3), (4, m4)):
        assert check(number, rows) == []
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=evchart.MODULES[number].names)
        writer.writeheader()
        writer.writerows(row for row in rows if row is not None)
        text.seek(0)
        assert check(number, text) == []


def test_rows_given_as_dicts_with_unknown_keys_fail():
    row = {**session_row(facts(), "ACME", DEFAULT_VOCABULARY), "kwh": "1"}
    assert [str(p) for p in check(2, [row])] == ["row 2: 15 values for 14 columns"]
