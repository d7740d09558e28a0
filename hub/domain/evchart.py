"""EV-ChART quarterly exports (23 CFR 680.112(a)): the rows of Modules 2, 3 and 4 and the
validator that checks a file as the Joint Office's EV-ChART does before it is submitted.

The column names and order, types, precisions and rules are those of the EV-ChART module
definitions (``/work/shared/nevi/NOTES.md`` section 3): every module starts with
``station_id`` (our OCPI Location ``id``, at most 36 characters), ``network_provider`` (a value
of EV-ChART's provider list, at most 30) and ``port_id`` (our OCPI EVSE ``uid``, at most 36).
Datetimes are UTC, written ``YYYY-MM-DDTHH:MM:SSZ`` (EV-ChART refuses offsets such as
``+02:00``). Decimals are written with exactly their scale (``12.50``), rounded half-up.

A port with nothing to report in the quarter gets one "empty-period" row: for Module 2 every
column but station, provider and port empty ("no sessions this period"), for Module 4
``outage_id`` and ``outage_duration`` empty ("no outages this period"). Module 3 has none: its
reporting window is never empty.

The EV-ChART vocabularies of ``payment_method`` and ``session_error`` (its Data Guidance) are
data, not code: :class:`Vocabulary` maps our values onto them, and an operator replaces the
default with a JSON file (``HUB_NEVI__VOCABULARY_FILE``, README "EV-ChART exports").

Pure: the builders take values and return rows (``dict`` of column -> text, in column order);
the validator takes rows or the lines of a file; nothing here opens a file or a database.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from hub.domain.uptime import Outage, PortUptime

Row = dict[str, str]
"""One CSV row: column name -> cell text, in the module's column order."""


class EvchartError(ValueError):
    """A value that cannot be reported as EV-ChART asks (too long, too large, not UTC)."""


# --- columns ------------------------------------------------------------------------------------


class Kind(StrEnum):
    STRING = "string"
    DATETIME = "datetime"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"
    INTEGER = "integer"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a module. ``required``: the header must have it and, unless
    ``may_be_empty``, every row fills it. ``precision``/``scale``: decimal(p, s);
    ``minimum``: the least decimal or integer allowed; ``maximum``: the largest integer."""

    name: str
    kind: Kind = Kind.STRING
    required: bool = True
    may_be_empty: bool = False
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None


def _text(name: str, length: int, *, required: bool = True, empty: bool = False) -> Column:
    return Column(name, Kind.STRING, required, empty, max_length=length)


def _decimal(name: str, precision: int, minimum: str = "0", *, empty: bool = False) -> Column:
    return Column(
        name, Kind.DECIMAL, True, empty, precision=precision, scale=2, minimum=Decimal(minimum)
    )


_IDENTITY = (
    _text("station_id", 36),
    _text("network_provider", 30),
    _text("port_id", 36),
)
IDENTITY_COLUMNS = tuple(column.name for column in _IDENTITY)


@dataclass(frozen=True, slots=True)
class Module:
    """An EV-ChART module: its columns in file order, its unique key (enforced within a file
    and, by EV-ChART, against earlier submissions) and its both-or-neither pairs."""

    number: int
    title: str
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...] = ()
    empty_row_allowed: bool = False
    """A row empty but for the identity columns means "nothing this period" (Module 2)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


MODULE_2 = Module(
    2,
    "Charging Sessions",
    (
        *_IDENTITY,
        _text("charger_id", 36, required=False, empty=True),
        _text("session_id", 36, empty=True),
        _text("connector_id", 36, required=False, empty=True),
        Column("session_start", Kind.DATETIME, may_be_empty=True),
        Column("session_end", Kind.DATETIME, may_be_empty=True),
        _text("session_error", 255, empty=True),
        _text("error_other", 255, required=False, empty=True),
        _decimal("energy_kwh", 7, empty=True),
        _decimal("power_kw", 7, empty=True),
        _text("payment_method", 255, empty=True),
        _text("payment_other", 255, required=False, empty=True),
    ),
    unique_key=("port_id", "session_id"),
    empty_row_allowed=True,
)
MODULE_3 = Module(
    3,
    "Uptime",
    (
        *_IDENTITY,
        Column("uptime_reporting_start", Kind.DATETIME),
        Column("uptime_reporting_end", Kind.DATETIME),
        Column(
            "uptime",
            Kind.DECIMAL,
            may_be_empty=True,
            precision=5,
            scale=2,
            minimum=Decimal(0),
            maximum=Decimal(100),
        ),
        _decimal("total_outage", 8),
        _decimal("total_outage_excl", 8),
    ),
    unique_key=("port_id", "uptime_reporting_start", "uptime_reporting_end"),
)
MODULE_4 = Module(
    4,
    "Outages",
    (
        *_IDENTITY,
        Column("outage_id", Kind.DATETIME, may_be_empty=True),
        _decimal("outage_duration", 8, "0.01", empty=True),
        Column("excluded_outage", Kind.BOOLEAN, required=False, may_be_empty=True),
        Column(
            "excluded_outage_reason",
            Kind.INTEGER,
            required=False,
            may_be_empty=True,
            minimum=Decimal(1),
            maximum=Decimal(6),
        ),
        _text("excluded_outage_notes", 255, required=False, empty=True),
    ),
    unique_key=("outage_id", "port_id"),
    pairs=(("outage_id", "outage_duration"),),
)
MODULES: dict[int, Module] = {2: MODULE_2, 3: MODULE_3, 4: MODULE_4}


def module(number: int) -> Module:
    try:
        return MODULES[number]
    except KeyError:
        raise EvchartError(f"EV-ChART module {number} is not one we export (2, 3 or 4)") from None


# --- formats ------------------------------------------------------------------------------------


def format_datetime(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, to the second (truncated: EV-ChART's seconds)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EvchartError(f"{moment!r} has no time zone; EV-ChART datetimes are UTC")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_decimal(value: Decimal, column: Column) -> str:
    """``value`` at the column's scale (half-up), refused when it does not fit decimal(p, s)
    or is below the column's minimum."""
    precision, scale = _precision(column)
    quantum = Decimal(1).scaleb(-scale)
    rounded = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if column.minimum is not None and rounded < column.minimum:
        raise EvchartError(f"{column.name} {value} is below {column.minimum}")
    if column.maximum is not None and rounded > column.maximum:
        raise EvchartError(f"{column.name} {value} is above {column.maximum}")
    if _integer_digits(rounded) > precision - scale:
        raise EvchartError(f"{column.name} {value} does not fit decimal({precision},{scale})")
    return f"{rounded:f}"


def _precision(column: Column) -> tuple[int, int]:
    if column.precision is None or column.scale is None:
        raise EvchartError(f"{column.name} is not a decimal column")
    return column.precision, column.scale


def _integer_digits(value: Decimal) -> int:
    whole = abs(value).to_integral_value(rounding="ROUND_DOWN")
    return 0 if whole == 0 else len(str(whole))


def identifier(column: str, value: str, length: int = 36) -> str:
    """An identifier as EV-ChART takes it: not blank, at most ``length`` characters (never cut:
    the ids must equal those we publish over OCPI)."""
    if not value.strip():
        raise EvchartError(f"{column} is empty")
    if len(value) > length:
        raise EvchartError(
            f"{column} {value!r} has {len(value)} characters; EV-ChART allows at most {length}"
        )
    return value


def minutes(span: timedelta) -> Decimal:
    """A duration in minutes, exact (microseconds included): rounding is the format's job."""
    micros = (span.days * 86_400 + span.seconds) * 1_000_000 + span.microseconds
    return Decimal(micros) / Decimal(60_000_000)


# --- the quarter --------------------------------------------------------------------------------

_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    """A calendar quarter, [start, end) at UTC midnight (EV-ChART's ``year`` and ``quarter``)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2026Q3`` (also ``2026q3``); anything else, or Q0/Q5, is refused."""
        match = _QUARTER.match(text.strip())
        if match is None:
            raise EvchartError(f"{text!r} is not a quarter: write YEARQn with n from 1 to 4")
        year = int(match.group(1))
        if year < 2000:
            raise EvchartError(f"{text!r}: EV-ChART has no quarter before 2000")
        return cls(year, int(match.group(2)))

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        if self.number == 4:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, 3 * self.number + 1, 1, tzinfo=UTC)

    @property
    def month_ends(self) -> tuple[datetime, datetime, datetime]:
        """The ends (exclusive) of the quarter's three months: the ends of the three Module 3
        windows (the rule's monthly uptime over the previous twelve months)."""
        first = 3 * self.number - 2

        def first_of(month: int) -> datetime:
            year, month = self.year + (month - 1) // 12, (month - 1) % 12 + 1
            return datetime(year, month, 1, tzinfo=UTC)

        return (first_of(first + 1), first_of(first + 2), first_of(first + 3))

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


# --- vocabularies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Translation:
    """Our values -> EV-ChART's: ``values`` maps one of ours to theirs; a value not in it is
    written as ``unmapped`` with ours in the ``*_other`` column, or as ours when ``unmapped``
    is None."""

    values: Mapping[str, str] = field(default_factory=dict)
    unmapped: str | None = None

    def translate(self, ours: str) -> tuple[str, str]:
        if ours in self.values:
            return self.values[ours], ""
        if self.unmapped is not None:
            return self.unmapped, ours
        return ours, ""


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """How our ``payment_method`` (``hub.domain.sessions.PaymentMethod``) and ``session_error``
    codes (OCPP stop reasons, close reasons, ``NO_ENERGY_DELIVERED``, ``AUTHORIZATION_REFUSED``)
    are written in Module 2. ``no_error`` fills ``session_error`` of a successful session:
    EV-ChART requires a value in every column of a session row."""

    payment_method: Translation = field(default_factory=Translation)
    session_error: Translation = field(default_factory=Translation)
    no_error: str = "none"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Vocabulary:
        """From the JSON of ``HUB_NEVI__VOCABULARY_FILE``::

            {"payment_method": {"values": {"APP": "..."}, "unmapped": "other"},
             "session_error": {"values": {"GroundFault": "CX002"}},
             "no_error": "none"}

        Keys left out keep the default (:data:`DEFAULT_VOCABULARY`)."""
        unknown = set(data) - {"payment_method", "session_error", "no_error"}
        if unknown:
            raise EvchartError(f"unknown vocabulary keys: {', '.join(sorted(unknown))}")

        def mapping(key: str, default: Translation) -> Translation:
            part = data.get(key)
            if part is None:
                return default
            if not isinstance(part, Mapping) or set(part) - {"values", "unmapped"}:
                raise EvchartError(f"vocabulary {key}: an object with 'values' and 'unmapped'")
            values = part.get("values", default.values)
            if not isinstance(values, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() and len(v) <= 255
                for k, v in values.items()
            ):
                raise EvchartError(f"vocabulary {key}.values: texts of 1 to 255 characters")
            unmapped = part.get("unmapped", default.unmapped)
            if unmapped is not None and (not isinstance(unmapped, str) or not unmapped.strip()):
                raise EvchartError(f"vocabulary {key}.unmapped: a text or null")
            return Translation(dict(values), unmapped)

        no_error = data.get("no_error", DEFAULT_VOCABULARY.no_error)
        if not isinstance(no_error, str) or not no_error.strip() or len(no_error) > 255:
            raise EvchartError("vocabulary no_error: a text of 1 to 255 characters")
        return cls(
            mapping("payment_method", DEFAULT_VOCABULARY.payment_method),
            mapping("session_error", DEFAULT_VOCABULARY.session_error),
            no_error,
        )


# The EV-ChART Data Guidance is not available to us: our payment methods are written as they are
# (configurable), and of the errors only those with a ChargeX Minimum Required Error Code (INL)
# equivalent are translated; the others are written as our code.
DEFAULT_VOCABULARY = Vocabulary(
    payment_method=Translation(
        {
            "APP": "APP",
            "RFID_ROAMING": "RFID_ROAMING",
            "PLUG_AND_CHARGE": "PLUG_AND_CHARGE",
            "AD_HOC": "AD_HOC",
            "NONE": "NONE",
        }
    ),
    session_error=Translation({"GroundFault": "CX002", "OvercurrentFault": "CX004"}),
    no_error="none",
)


# --- Module 2 -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What Module 2 needs of one ended charging session (``ChargingSession``): ``station_id``
    its location, ``port_id`` its EVSE uid, ``charger_id`` the OCPP station, ``session_error``
    our code (None: it succeeded), ``payment_method`` a ``PaymentMethod`` value."""

    session_id: str
    station_id: str
    port_id: str
    charger_id: str | None
    connector_id: str | None
    start: datetime
    end: datetime
    kwh: Decimal
    max_power_kw: Decimal | None
    session_error: str | None
    payment_method: str | None


def peak_power(facts: SessionFacts) -> tuple[Decimal, bool]:
    """The session's peak kW, and whether it is the charger's: a charger that reported no power
    gets the session's average power (energy / duration), a floor of its peak, flagged."""
    if facts.max_power_kw is not None:
        return max(facts.max_power_kw, Decimal(0)), True
    hours = minutes(facts.end - facts.start) / 60
    if hours <= 0:
        return Decimal(0), False
    return max(facts.kwh, Decimal(0)) / hours, False


def session_row(facts: SessionFacts, network_provider: str, vocabulary: Vocabulary) -> Row:
    """One Module 2 row (columns of :data:`MODULE_2`, in order)."""
    if facts.end < facts.start:
        raise EvchartError(f"session {facts.session_id} ends before it starts")
    error, error_other = (
        vocabulary.session_error.translate(facts.session_error)
        if facts.session_error
        else (vocabulary.no_error, "")
    )
    payment, payment_other = vocabulary.payment_method.translate(facts.payment_method or "NONE")
    power, _ = peak_power(facts)
    row = {
        **_identity(facts.station_id, network_provider, facts.port_id),
        "charger_id": identifier("charger_id", facts.charger_id) if facts.charger_id else "",
        "session_id": identifier("session_id", facts.session_id),
        "connector_id": identifier("connector_id", facts.connector_id)
        if facts.connector_id
        else "",
        "session_start": format_datetime(facts.start),
        "session_end": format_datetime(facts.end),
        "session_error": _limited("session_error", error),
        "error_other": _limited("error_other", error_other),
        "energy_kwh": format_decimal(max(facts.kwh, Decimal(0)), MODULE_2.column("energy_kwh")),
        "power_kw": format_decimal(power, MODULE_2.column("power_kw")),
        "payment_method": _limited("payment_method", payment),
        "payment_other": _limited("payment_other", payment_other),
    }
    return row


def empty_row(number: int, station_id: str, network_provider: str, port_id: str) -> Row:
    """The row of a port with nothing this period (Module 2: no sessions, 4: no outages)."""
    if number == 3:
        raise EvchartError("Module 3 has no empty-period row: every port reports its window")
    row = dict.fromkeys(module(number).names, "")
    row.update(_identity(station_id, network_provider, port_id))
    return row


def _identity(station_id: str, network_provider: str, port_id: str) -> Row:
    return {
        "station_id": identifier("station_id", station_id),
        "network_provider": identifier("network_provider", network_provider, 30),
        "port_id": identifier("port_id", port_id),
    }


def _limited(column: str, text: str, length: int = 255) -> str:
    if len(text) > length:
        raise EvchartError(f"{column} has {len(text)} characters; EV-ChART allows {length}")
    if text and not text.strip():
        raise EvchartError(f"{column} is only whitespace")
    return text


# --- Module 3 -----------------------------------------------------------------------------------


def uptime_row(uptime: PortUptime, network_provider: str) -> Row:
    """One Module 3 row: the port's window, mu (empty in its first year), T_outage and
    T_excluded in minutes."""
    if uptime.window_end <= uptime.window_start:
        raise EvchartError(f"port {uptime.port_id}: its uptime window ends before it starts")
    if uptime.excluded_minutes > uptime.outage_minutes:
        raise EvchartError(
            f"port {uptime.port_id}: excluded minutes exceed the outage minutes of its window"
        )
    return {
        **_identity(uptime.station_id, network_provider, uptime.port_id),
        "uptime_reporting_start": format_datetime(uptime.window_start),
        "uptime_reporting_end": format_datetime(uptime.window_end),
        "uptime": ""
        if uptime.uptime is None
        else format_decimal(uptime.uptime, MODULE_3.column("uptime")),
        "total_outage": format_decimal(uptime.outage_minutes, MODULE_3.column("total_outage")),
        "total_outage_excl": format_decimal(
            uptime.excluded_minutes, MODULE_3.column("total_outage_excl")
        ),
    }


# --- Module 4 -----------------------------------------------------------------------------------

_MINIMUM_DURATION = Decimal("0.01")


def outage_row(outage: Outage, network_provider: str, start: datetime, end: datetime) -> Row | None:
    """The Module 4 row of ``outage`` within [start, end) (the quarter), or None when it does
    not overlap it. An outage crossing the window's edge is cut to it: ``outage_id`` is then
    the window's start (EV-ChART keys outages by (outage_id, port_id) across submissions, so
    the part reported in each quarter must have its own instant) and its duration the minutes
    inside. One still going on (``end`` None) runs to the window's end. A part shorter than
    0.01 minute is written as 0.01: every outage stays visible, never rounded away."""
    begins = max(outage.start, start)
    ends = end if outage.end is None else min(outage.end, end)
    if ends <= begins:
        return None
    duration = max(minutes(ends - begins), _MINIMUM_DURATION)
    reason = "" if outage.reason is None else str(int(outage.reason))
    if outage.excluded and outage.reason is None:
        raise EvchartError(f"outage {outage.outage_id} is excluded without a reason code")
    return {
        **_identity(outage.station_id, network_provider, outage.port_id),
        "outage_id": format_datetime(begins),
        "outage_duration": format_decimal(duration, MODULE_4.column("outage_duration")),
        "excluded_outage": "true" if outage.excluded else "false",
        "excluded_outage_reason": reason if outage.excluded else "",
        "excluded_outage_notes": _limited(
            "excluded_outage_notes", (outage.notes or "").strip() if outage.excluded else ""
        ),
    }


# --- the validator ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """What EV-ChART would reject: ``row`` is the file's record number (the header is row 1;
    None: the file as a whole), ``column`` the column (None: the row as a whole)."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"row {self.row}"] if self.row is not None else []
        if self.column is not None:
            where.append(self.column)
        return f"{', '.join(where)}: {self.message}" if where else self.message


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z?$")
_DECIMAL = re.compile(r"^-?(\d+)(?:\.(\d+))?$")
_INTEGER = re.compile(r"^-?\d+$")
_BOOLEANS = {"true", "false"}


def check(
    number: int, source: Iterable[str] | Iterable[Sequence[str]] | Iterable[Row]
) -> list[Problem]:
    """Every problem EV-ChART's validator would find in a Module ``number`` file.

    ``source``: the file's lines (an open text file), its parsed records (the header first),
    or rows as the builders make them (the header is then the module's columns). A leading
    byte-order mark is tolerated and blank rows dropped, as EV-ChART does; the unique key is
    checked within the file (EV-ChART also checks it against earlier submissions).

    Beyond EV-ChART's rules two of ours, that a correct report never breaks: a Module 2
    session does not end before it starts, a Module 3 window does not, and its excluded
    minutes never exceed its outage minutes.
    """
    spec = module(number)
    records = _records(source, spec)
    problems: list[Problem] = []
    try:
        header = next(records)
    except StopIteration:
        return [Problem(None, None, "the file is empty: it needs a header row")]
    columns = _check_header(spec, header[1], problems)
    if columns is None:
        return problems
    seen: dict[tuple[str, ...], int] = {}
    rows = 0
    for number_in_file, cells in records:
        if all(not cell for cell in cells):
            continue  # blank rows are dropped
        rows += 1
        if len(cells) != len(columns):
            problems.append(
                Problem(
                    number_in_file,
                    None,
                    f"{len(cells)} values for {len(columns)} columns",
                )
            )
            continue
        values = dict(zip(columns, cells, strict=True))
        _check_row(spec, number_in_file, values, problems)
        key = tuple(values.get(name, "") for name in spec.unique_key)
        first = seen.setdefault(key, number_in_file)
        if first != number_in_file:
            problems.append(
                Problem(
                    number_in_file,
                    None,
                    f"same {' and '.join(spec.unique_key)} as row {first}",
                )
            )
    if rows == 0:
        problems.append(Problem(None, None, "no data rows"))
    return problems


def _records(
    source: Iterable[str] | Iterable[Sequence[str]] | Iterable[Row], spec: Module
) -> Iterator[tuple[int, list[str]]]:
    iterator = iter(source)
    try:
        first = next(iterator)
    except StopIteration:
        return
    items = _chain(first, iterator)
    if isinstance(first, Mapping):
        yield 1, list(spec.names)
        for number, row in enumerate(items, start=2):
            # a key the module does not have becomes a cell too many: reported, not dropped
            extra = [str(row[name]) for name in row if name not in spec.names]
            yield number, [str(row.get(name, "")) for name in spec.names] + extra
    elif isinstance(first, str):
        yield from enumerate(csv.reader(_unbom(items)), start=1)
    else:
        for number, cells in enumerate(items, start=1):
            texts = [str(cell) for cell in cells]
            if number == 1 and texts:
                texts[0] = texts[0].removeprefix("\ufeff")
            yield number, texts


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _unbom(lines: Iterator[str]) -> Iterator[str]:
    first = True
    for line in lines:
        yield line.removeprefix("\ufeff") if first else line
        first = False


def _check_header(spec: Module, header: list[str], problems: list[Problem]) -> list[str] | None:
    names = [name.strip() for name in header]
    if not any(names):
        problems.append(Problem(1, None, "the first row must be the header"))
        return None
    known = set(spec.names)
    for name in names:
        if name not in known:
            problems.append(Problem(1, name or None, f"not a Module {spec.number} column"))
    duplicates = sorted({name for name in names if names.count(name) > 1})
    for name in duplicates:
        problems.append(Problem(1, name, "the column appears more than once"))
    for column in spec.columns:
        if column.required and column.name not in names:
            problems.append(Problem(1, column.name, "required column missing from the header"))
    return None if problems else names


def _check_row(spec: Module, row: int, values: dict[str, str], problems: list[Problem]) -> None:
    before = len(problems)
    for name, value in values.items():
        problem = _check_value(spec.column(name), value)
        if problem is not None:
            problems.append(Problem(row, name, problem))
    filled = {name for name, value in values.items() if value != ""}
    others = filled - set(IDENTITY_COLUMNS)
    for column in spec.columns:
        if column.name not in filled and column.name in IDENTITY_COLUMNS:
            problems.append(Problem(row, column.name, "required value missing"))
    empty_period = spec.empty_row_allowed and not others
    for column in spec.columns:
        if column.name in IDENTITY_COLUMNS or column.name in filled or empty_period:
            continue
        if column.required and not column.may_be_empty:
            problems.append(Problem(row, column.name, "required value missing"))
        elif spec.empty_row_allowed and column.required:
            problems.append(
                Problem(
                    row,
                    column.name,
                    "required value missing (only a row of a port with no sessions, empty "
                    "but for station_id, network_provider and port_id, may leave it empty)",
                )
            )
    for one, other in spec.pairs:
        if (one in filled) != (other in filled):
            missing = other if one in filled else one
            problems.append(
                Problem(row, missing, f"{one} and {other} must both be present or both empty")
            )
    if spec.pairs and not any(one in filled or other in filled for one, other in spec.pairs):
        # "no outages this period": nothing else may be said about an outage
        for name in sorted(others - {n for pair in spec.pairs for n in pair}):
            problems.append(Problem(row, name, "given for a row without an outage"))
    if len(problems) == before:
        _check_consistency(spec, row, values, problems)


def _check_value(column: Column, value: str) -> str | None:
    if value == "":
        return None
    if not value.strip():
        return "only whitespace"
    match column.kind:
        case Kind.STRING:
            if column.max_length is not None and len(value) > column.max_length:
                return f"{len(value)} characters; at most {column.max_length}"
        case Kind.DATETIME:
            return _check_datetime(value)
        case Kind.DECIMAL:
            return _check_decimal(column, value)
        case Kind.BOOLEAN:
            if value.lower() not in _BOOLEANS:
                return f"{value!r} is not a boolean (true or false)"
        case Kind.INTEGER:
            if not _INTEGER.match(value):
                return f"{value!r} is not an integer"
            number = int(value)
            low, high = column.minimum, column.maximum
            if (low is not None and number < low) or (high is not None and number > high):
                return f"{number} is outside {low}-{high}"
    return None


def _check_datetime(value: str) -> str | None:
    if not _DATETIME.match(value):
        return f"{value!r} is not YYYY-MM-DDTHH:MM:SS[.fff][Z] (UTC, no offset)"
    try:
        datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        return f"{value!r} is not a real date and time"
    return None


def _check_decimal(column: Column, value: str) -> str | None:
    match = _DECIMAL.match(value)
    if match is None:
        return f"{value!r} is not a decimal number"
    precision, scale = _precision(column)
    whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
    if len(fraction) > scale:
        return f"{value} has {len(fraction)} decimals; at most {scale}"
    if len(whole) > precision - scale:
        return f"{value} does not fit decimal({precision},{scale})"
    number = Decimal(value)
    if column.minimum is not None and number < column.minimum:
        return f"{value} is below the minimum {column.minimum}"
    if column.maximum is not None and number > column.maximum:
        return f"{value} is above the maximum {column.maximum}"
    return None


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.removesuffix("Z"))


def _check_consistency(spec: Module, row: int, values: dict[str, str], out: list[Problem]) -> None:
    try:
        start, end = values.get("session_start"), values.get("session_end")
        if spec.number == 2 and start and end and _moment(end) < _moment(start):
            out.append(Problem(row, "session_end", "before session_start"))
        if spec.number == 3:
            if _moment(values["uptime_reporting_end"]) <= _moment(values["uptime_reporting_start"]):
                out.append(Problem(row, "uptime_reporting_end", "not after its start"))
            if Decimal(values["total_outage_excl"]) > Decimal(values["total_outage"]):
                out.append(Problem(row, "total_outage_excl", "exceeds total_outage"))
    except (KeyError, ValueError, InvalidOperation):
        return  # a missing or malformed value has been reported already


def detect_module(header: Sequence[str]) -> int | None:
    """The module whose required columns a header has (None: none, or more than one)."""
    names = {name.strip().removeprefix("\ufeff") for name in header}
    matches = [
        spec.number
        for spec in MODULES.values()
        if {c.name for c in spec.columns if c.required} <= names and names <= set(spec.names)
    ]
    return matches[0] if len(matches) == 1 else None
