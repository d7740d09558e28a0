"""From a charger's meter values to a session's energy, peaks and priced periods.

This is the reference for how the hub reads meters when a bill is questioned. It is pure code
(standard library only): the OCPP bridge hands over the meter values as the ``ocpp`` package
decodes them (snake_case keys), this module turns them into numbers, and the pricing engine
(:mod:`hub.domain.pricing`) prices the :class:`~hub.domain.pricing.model.Period` list it builds.
Nothing here ever raises on what a charger sent: what can be used is used, and everything else is
reported as a :class:`MeterProblem` (a stable ``code`` plus a sentence for people).

Reading one meter value (:func:`reading_from_ocpp16`, :func:`reading_from_ocpp201`)
-------------------------------------------------------------------------------------
* OCPP 1.6 sends the value as a string (``"1234.5"``), OCPP 2.0.1 as a JSON number; both are read
  exactly with ``Decimal(str(value))``. NaN, infinities, booleans and anything unparseable are
  NOT_A_NUMBER; values of 10^15 or more in the normalised unit are VALUE_OUT_OF_RANGE.
* Units are normalised: Wh→kWh, W→kW, varh→kvarh, var→kvar, VAh→kVAh, VA→kVA (kilo-units are
  kept); A, V, Percent, Hz (1.6 spells it ``Hertz``), Celsius (1.6 also ``Celcius``), Fahrenheit,
  K and RPM are kept as they are. Unit names are matched ignoring case (``KWH`` is kWh). A 2.0.1
  ``unit_of_measure.multiplier`` (a power of ten, default 0) is applied first; one that is not a
  whole number between -24 and 24 is INVALID_MULTIPLIER.
* Defaults: the measurand is ``Energy.Active.Import.Register``, the context ``Sample.Periodic``,
  the location ``Outlet``. Both specifications say the unit defaults to Wh; the 2.0.1 schema says
  so "if the (default) measurand is an Energy type". For other measurands a Wh default is
  meaningless, so a missing unit means the measurand's own base unit: W for active power and
  Power.Offered, var, VA, A, V, Percent (SoC), Hz, Celsius, RPM, a plain ratio for Power.Factor.
* A unit that does not fit the measurand (a current in Wh) is UNIT_MISMATCH, an unknown unit
  UNKNOWN_UNIT, an unknown measurand UNKNOWN_MEASURAND, an unknown phase or location
  UNKNOWN_PHASE / UNKNOWN_LOCATION: such a sampled value is left out of every number. An unknown
  context is UNKNOWN_CONTEXT and is read as ``Other`` (it then counts for nothing, see below).
  The measurands of both versions are accepted from either (a 1.6 charger sending the 2.0.1
  ``Energy.Active.Net`` is out of its schema, but the value means the same thing).
* Sign: a register (``Energy.*.Import/Export.Register``, ``Energy.Apparent.Import/Export``) below
  zero is NEGATIVE_REGISTER; a negative interval energy, active import/export power, offered
  power, current or state of charge is NEGATIVE_VALUE; a state of charge above 100 % is
  VALUE_OUT_OF_RANGE. All are left out. Net registers may be negative (vehicle-to-grid).
* Signatures: a 1.6 sampled value with ``format`` ``SignedData`` carries the signed blob instead
  of a number; it is kept in :attr:`MeterReading.signed_values` (for the CDR's ``signed_data``)
  and is not a number. A 2.0.1 ``signed_meter_value`` accompanies a numeric value: the sample is
  kept (``signed=True``) and the signature is kept too. An unknown ``format`` is UNKNOWN_FORMAT.
* Timestamps are ISO 8601. An unparseable one (or a date without a time) is
  TIMESTAMP_UNPARSEABLE and the whole meter value is dropped, since it cannot be placed in time.
  One without a UTC offset is read as UTC and reported (TIMESTAMP_NAIVE). Others are converted to
  UTC. Datetimes handed to :func:`summarise` and :func:`periods` without an offset are read as
  UTC as well.

Which readings count
--------------------
* Readings are sorted by timestamp first: chargers deliver queued values late and out of order.
* Readings with the same timestamp are merged into one, and identical sampled values in them
  count once, so a meter value delivered twice never counts twice. If two sampled values of the
  same kind (measurand, location, phase) in one moment disagree, the larger one is used and the
  disagreement is reported (CONFLICTING_SAMPLES): for a register this is the later reading, and
  the result does not depend on the order in which the values arrived.
* A reading stamped before the session's start is READING_BEFORE_START, one stamped after its
  end (in the future as far as the session is concerned) READING_AFTER_END; both are left out
  of everything. Readings exactly at the start or the end count. An end before the start is
  END_BEFORE_START: the end is taken to be the start (a zero-length session, whose energy can
  only come from the meter start and stop values).
* Energy counts only from the contexts ``Transaction.Begin``, ``Sample.Periodic``,
  ``Transaction.End`` and ``Sample.Clock`` (and sampled values without a context, which are
  ``Sample.Periodic``). Peak power, peak current and state of charge also count from
  ``Trigger`` readings: a triggered reading is an ordinary measurement taken on request. Readings
  with ``Interruption.Begin`` / ``Interruption.End`` (taken around a supply interruption, when
  values are transients) or ``Other`` count for nothing.

Which value of a reading
------------------------
For each measurand, one series is chosen for the whole session, so that values from different
meters or phases are never subtracted from each other:

* Location: ``Outlet`` (what the vehicle received; also the default) if the session has any,
  else ``Inlet``, ``Cable``, ``EV``, ``Body`` in that order. Other locations are ignored.
* Phase: the un-phased value (OCPP: "an overall value") if the session has any; otherwise the sum
  of the phases L1, L2, L3. ``L1-N`` is the same quantity as ``L1`` measured against neutral:
  it stands in for ``L1`` in a reading that has no ``L1`` and is ignored in one that has both
  (the same for L2 and L3). ``N`` (the neutral conductor) and the line-to-line phases (``L1-L2``
  ...) are never summed. The phases summed are all of L1, L2, L3 that the session reports; a
  reading that lacks one of them is INCOMPLETE_PHASES and gives no value (a partial sum would
  look like a register going down).

Energy (:attr:`EnergySummary.kwh`, never negative), first method that has data:

1. REGISTER, ``Energy.Active.Import.Register``: the meter start (when given) at the session start,
   every reading, the meter stop (when given) at the end. Energy is the sum of the increases
   between consecutive values, so normally last minus first. A value lower than the one before is
   a reset, rollover or meter swap (REGISTER_DECREASED): the step across the decrease counts
   zero, and counting resumes from the lower value. What is lost is only the energy between the
   last value before the decrease and the first one after it, which the meter can no longer
   tell; the driver is never billed for a negative or guessed amount. Needs at least two values.
2. INTERVAL_SUM, ``Energy.Active.Import.Interval``: the sum of the interval energies. One
   sampling family is summed, since chargers that report both would otherwise count the same
   energy twice: ``Sample.Periodic`` (with ``Transaction.End``) if any periodic interval was
   sent, else ``Sample.Clock`` (with ``Transaction.End``); both present is reported as
   OVERLAPPING_INTERVALS. ``Transaction.Begin`` intervals are not counted: they end when the
   session starts, so they measure energy from before it. An interval belongs to the time since
   the previous interval reading (the first one to the time since the session start), as a
   whole.
3. NET, ``Energy.Active.Net``: as for the register (increases counted, decreases reported as
   REGISTER_DECREASED), without the meter start and stop, which are import registers. When the
   net register only goes up, this is last minus first; energy given back to the grid is never
   set off against the energy charged.
4. NONE: no usable energy data (NO_ENERGY_DATA); the energy is 0.

Peaks and state of charge
-------------------------
* ``max_power_kw``: the highest ``Power.Active.Import`` (the chosen series; phases summed).
* ``max_current_a``: the highest ``Current.Import`` summed over the phases L1+L2+L3 (or the
  un-phased value). OCPI 2.2.1 defines both the CDR dimension MAX_CURRENT and the tariff
  restrictions ``min_current``/``max_current`` as the "sum ... over all phases", so the sum is
  what the pricing engine compares, not the highest single phase.
* ``first_soc`` / ``last_soc``: the state of charge of the first and the last reading that has
  one (any location; the highest if a reading has several).

Periods for pricing (:func:`periods`)
-------------------------------------
* Cut at the session start and end, at every reading inside it and at every charging-state change
  inside it: the periods cover exactly [start, end], one after the other, without gaps or
  overlaps. A zero-length session is one zero-length period.
* The energy between two values belongs to the time between them. When that stretch is cut into
  several periods (by a reading of something else or a charging-state change), its energy is
  spread over them in proportion to their length, over the charging ones only when some of them
  are charging and some not: a vehicle that is not requesting power draws none, and the pricing
  engine bills no energy in such (parking) time, so energy put there would be delivered and
  never billed. Shares are rounded down to 10^-9 kWh
  (a microwatt-hour) and the last period gets the remainder, so the periods' energies add up
  exactly to :attr:`EnergySummary.kwh` for the same inputs. Energy at one instant (a meter start
  that differs from a register read at the same moment) goes to the period starting then (the
  last period for the end).
* A power or current value is an instantaneous reading, attributed like the energy delta of the
  same reading: to the stretch of time it closes, from the previous reading of that value (or the
  session start) to this one. A value read exactly at the start belongs to the first period.
  After the last reading of a value, periods have no value for it (``None``).
* ``charging`` is the latest charging-state change at or before the period's start (the
  charger's own Charging versus SuspendedEV/SuspendedEVSE/EVConnected/Idle). Before any known
  change a period counts as charging. It is never inferred from energy: a meter with 10 Wh
  resolution shows zero-energy intervals at low power, and billing parking time from that would
  make the price depend on the meter's resolution.

Arithmetic
----------
Every quantity is a ``Decimal``: exact, except the proportional shares above. Money is not
involved here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
from typing import TypeVar

from hub.domain.pricing.model import Period

__all__ = [
    "EnergyMethod",
    "EnergySummary",
    "Location",
    "Measurand",
    "MeterProblem",
    "MeterReading",
    "ParsedReading",
    "Phase",
    "ProblemCode",
    "ReadingContext",
    "Sample",
    "SignedMeterValue",
    "Unit",
    "periods",
    "reading_from_ocpp16",
    "reading_from_ocpp201",
    "summarise",
]


class Measurand(StrEnum):
    """The measurands of OCPP 1.6 and 2.0.1 together (values are the wire strings)."""

    CURRENT_EXPORT = "Current.Export"
    CURRENT_IMPORT = "Current.Import"
    CURRENT_OFFERED = "Current.Offered"
    ENERGY_ACTIVE_EXPORT_REGISTER = "Energy.Active.Export.Register"
    ENERGY_ACTIVE_IMPORT_REGISTER = "Energy.Active.Import.Register"
    ENERGY_REACTIVE_EXPORT_REGISTER = "Energy.Reactive.Export.Register"
    ENERGY_REACTIVE_IMPORT_REGISTER = "Energy.Reactive.Import.Register"
    ENERGY_ACTIVE_EXPORT_INTERVAL = "Energy.Active.Export.Interval"
    ENERGY_ACTIVE_IMPORT_INTERVAL = "Energy.Active.Import.Interval"
    ENERGY_ACTIVE_NET = "Energy.Active.Net"
    ENERGY_REACTIVE_EXPORT_INTERVAL = "Energy.Reactive.Export.Interval"
    ENERGY_REACTIVE_IMPORT_INTERVAL = "Energy.Reactive.Import.Interval"
    ENERGY_REACTIVE_NET = "Energy.Reactive.Net"
    ENERGY_APPARENT_NET = "Energy.Apparent.Net"
    ENERGY_APPARENT_IMPORT = "Energy.Apparent.Import"
    ENERGY_APPARENT_EXPORT = "Energy.Apparent.Export"
    FREQUENCY = "Frequency"
    POWER_ACTIVE_EXPORT = "Power.Active.Export"
    POWER_ACTIVE_IMPORT = "Power.Active.Import"
    POWER_FACTOR = "Power.Factor"
    POWER_OFFERED = "Power.Offered"
    POWER_REACTIVE_EXPORT = "Power.Reactive.Export"
    POWER_REACTIVE_IMPORT = "Power.Reactive.Import"
    RPM = "RPM"
    SOC = "SoC"
    TEMPERATURE = "Temperature"
    VOLTAGE = "Voltage"


class Unit(StrEnum):
    """The unit of a :class:`Sample` after normalisation (energy and power in kilo-units)."""

    KWH = "kWh"
    KVARH = "kvarh"
    KVAH = "kVAh"
    KW = "kW"
    KVAR = "kvar"
    KVA = "kVA"
    A = "A"
    V = "V"
    PERCENT = "Percent"
    HERTZ = "Hz"
    CELSIUS = "Celsius"
    FAHRENHEIT = "Fahrenheit"
    KELVIN = "K"
    RPM = "RPM"
    RATIO = "1"
    """Power.Factor, which has no unit."""


class ReadingContext(StrEnum):
    INTERRUPTION_BEGIN = "Interruption.Begin"
    INTERRUPTION_END = "Interruption.End"
    OTHER = "Other"
    SAMPLE_CLOCK = "Sample.Clock"
    SAMPLE_PERIODIC = "Sample.Periodic"
    TRANSACTION_BEGIN = "Transaction.Begin"
    TRANSACTION_END = "Transaction.End"
    TRIGGER = "Trigger"


class Phase(StrEnum):
    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    N = "N"
    L1_N = "L1-N"
    L2_N = "L2-N"
    L3_N = "L3-N"
    L1_L2 = "L1-L2"
    L2_L3 = "L2-L3"
    L3_L1 = "L3-L1"


class Location(StrEnum):
    BODY = "Body"
    CABLE = "Cable"
    EV = "EV"
    INLET = "Inlet"
    OUTLET = "Outlet"


class EnergyMethod(StrEnum):
    """Where :attr:`EnergySummary.kwh` came from (see the module docstring, "Energy")."""

    REGISTER = "REGISTER"
    INTERVAL_SUM = "INTERVAL_SUM"
    NET = "NET"
    NONE = "NONE"


class ProblemCode(StrEnum):
    """Why part of what a charger sent was not used, or was used in a particular way."""

    MALFORMED_READING = "MALFORMED_READING"
    """A meter value that is not an object or carries no sampled values."""
    MALFORMED_SAMPLE = "MALFORMED_SAMPLE"
    """A sampled value that is not an object, has no value, or has a broken signature."""
    TIMESTAMP_UNPARSEABLE = "TIMESTAMP_UNPARSEABLE"
    """The meter value is dropped: it cannot be placed in time."""
    TIMESTAMP_NAIVE = "TIMESTAMP_NAIVE"
    """No UTC offset: read as UTC."""
    UNKNOWN_MEASURAND = "UNKNOWN_MEASURAND"
    UNKNOWN_UNIT = "UNKNOWN_UNIT"
    UNIT_MISMATCH = "UNIT_MISMATCH"
    """A unit that does not fit the measurand (a current in Wh)."""
    INVALID_MULTIPLIER = "INVALID_MULTIPLIER"
    UNKNOWN_CONTEXT = "UNKNOWN_CONTEXT"
    """Read as ``Other``: counts for nothing."""
    UNKNOWN_PHASE = "UNKNOWN_PHASE"
    UNKNOWN_LOCATION = "UNKNOWN_LOCATION"
    UNKNOWN_FORMAT = "UNKNOWN_FORMAT"
    NOT_A_NUMBER = "NOT_A_NUMBER"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    NEGATIVE_REGISTER = "NEGATIVE_REGISTER"
    NEGATIVE_VALUE = "NEGATIVE_VALUE"
    READING_BEFORE_START = "READING_BEFORE_START"
    READING_AFTER_END = "READING_AFTER_END"
    END_BEFORE_START = "END_BEFORE_START"
    CONFLICTING_SAMPLES = "CONFLICTING_SAMPLES"
    """Two values of the same kind at the same moment: the larger one is used."""
    INCOMPLETE_PHASES = "INCOMPLETE_PHASES"
    REGISTER_DECREASED = "REGISTER_DECREASED"
    """A reset, rollover or meter swap: the step across it counts zero."""
    OVERLAPPING_INTERVALS = "OVERLAPPING_INTERVALS"
    """Interval energy both periodic and clock-aligned: only the periodic one is summed."""
    NO_ENERGY_DATA = "NO_ENERGY_DATA"


@dataclass(frozen=True, slots=True)
class MeterProblem:
    """Something in the meter data that was left out or interpreted; ``message`` is for people."""

    code: ProblemCode
    message: str
    timestamp: datetime | None = None
    """The moment of the reading concerned, when there is one."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampled value, in the normalised unit (kWh, kW, kvarh, A, Percent ...)."""

    measurand: Measurand
    value: Decimal
    unit: Unit
    context: ReadingContext = ReadingContext.SAMPLE_PERIODIC
    phase: Phase | None = None
    location: Location = Location.OUTLET
    signed: bool = False
    """The charger sent a signature with it (2.0.1 ``signed_meter_value``)."""


@dataclass(frozen=True, slots=True)
class SignedMeterValue:
    """A signed meter value as the charger sent it, kept for the CDR's ``signed_data``."""

    data: str
    measurand: Measurand
    context: ReadingContext
    phase: Phase | None = None
    location: Location = Location.OUTLET
    signing_method: str | None = None
    encoding_method: str | None = None
    public_key: str | None = None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """The sampled values of one moment (one OCPP MeterValue)."""

    timestamp: datetime
    samples: tuple[Sample, ...] = ()
    signed_values: tuple[SignedMeterValue, ...] = ()
    problems: tuple[MeterProblem, ...] = ()
    """What was left out or interpreted while reading it; :func:`summarise` reports them too."""


@dataclass(frozen=True, slots=True)
class ParsedReading:
    """The outcome of reading one meter value: ``reading`` is None when its time is unknown."""

    reading: MeterReading | None
    problems: tuple[MeterProblem, ...] = ()


@dataclass(frozen=True, slots=True)
class EnergySummary:
    """What a session's meter values add up to (see the module docstring for every rule)."""

    kwh: Decimal
    method: EnergyMethod
    max_power_kw: Decimal | None = None
    max_current_a: Decimal | None = None
    """Summed over the phases, as OCPI's MAX_CURRENT and current restrictions are."""
    first_soc: Decimal | None = None
    last_soc: Decimal | None = None
    problems: tuple[MeterProblem, ...] = field(default_factory=tuple)


# --- reading meter values -------------------------------------------------------------------

_UNITS: dict[str, tuple[Unit, int]] = {
    # lower-cased wire name -> (normalised unit, power of ten to apply)
    "wh": (Unit.KWH, -3),
    "kwh": (Unit.KWH, 0),
    "varh": (Unit.KVARH, -3),
    "kvarh": (Unit.KVARH, 0),
    "vah": (Unit.KVAH, -3),
    "kvah": (Unit.KVAH, 0),
    "w": (Unit.KW, -3),
    "kw": (Unit.KW, 0),
    "var": (Unit.KVAR, -3),
    "kvar": (Unit.KVAR, 0),
    "va": (Unit.KVA, -3),
    "kva": (Unit.KVA, 0),
    "a": (Unit.A, 0),
    "v": (Unit.V, 0),
    "percent": (Unit.PERCENT, 0),
    "hz": (Unit.HERTZ, 0),
    "hertz": (Unit.HERTZ, 0),  # OCPP 1.6 schema
    "celsius": (Unit.CELSIUS, 0),
    "celcius": (Unit.CELSIUS, 0),  # OCPP 1.6 schema spelling
    "fahrenheit": (Unit.FAHRENHEIT, 0),
    "k": (Unit.KELVIN, 0),
    "rpm": (Unit.RPM, 0),
}

M = Measurand
_ENERGY_KINDS: dict[Unit, tuple[Measurand, ...]] = {
    Unit.KWH: (
        M.ENERGY_ACTIVE_EXPORT_REGISTER,
        M.ENERGY_ACTIVE_IMPORT_REGISTER,
        M.ENERGY_ACTIVE_EXPORT_INTERVAL,
        M.ENERGY_ACTIVE_IMPORT_INTERVAL,
        M.ENERGY_ACTIVE_NET,
    ),
    Unit.KVARH: (
        M.ENERGY_REACTIVE_EXPORT_REGISTER,
        M.ENERGY_REACTIVE_IMPORT_REGISTER,
        M.ENERGY_REACTIVE_EXPORT_INTERVAL,
        M.ENERGY_REACTIVE_IMPORT_INTERVAL,
        M.ENERGY_REACTIVE_NET,
    ),
    Unit.KVAH: (M.ENERGY_APPARENT_NET, M.ENERGY_APPARENT_IMPORT, M.ENERGY_APPARENT_EXPORT),
}
# measurand -> (units it may be given in, the unit assumed when none is given)
_MEASURAND_UNITS: dict[Measurand, tuple[frozenset[Unit], tuple[Unit, int]]] = {
    **{m: (frozenset({Unit.KWH}), (Unit.KWH, -3)) for m in _ENERGY_KINDS[Unit.KWH]},
    **{m: (frozenset({Unit.KVARH}), (Unit.KVARH, -3)) for m in _ENERGY_KINDS[Unit.KVARH]},
    **{m: (frozenset({Unit.KVAH}), (Unit.KVAH, -3)) for m in _ENERGY_KINDS[Unit.KVAH]},
    M.POWER_ACTIVE_EXPORT: (frozenset({Unit.KW}), (Unit.KW, -3)),
    M.POWER_ACTIVE_IMPORT: (frozenset({Unit.KW}), (Unit.KW, -3)),
    # Power.Offered is the maximum power the charger offers: active power, though some send VA.
    M.POWER_OFFERED: (frozenset({Unit.KW, Unit.KVA}), (Unit.KW, -3)),
    M.POWER_REACTIVE_EXPORT: (frozenset({Unit.KVAR}), (Unit.KVAR, -3)),
    M.POWER_REACTIVE_IMPORT: (frozenset({Unit.KVAR}), (Unit.KVAR, -3)),
    M.POWER_FACTOR: (frozenset({Unit.RATIO}), (Unit.RATIO, 0)),
    M.CURRENT_EXPORT: (frozenset({Unit.A}), (Unit.A, 0)),
    M.CURRENT_IMPORT: (frozenset({Unit.A}), (Unit.A, 0)),
    M.CURRENT_OFFERED: (frozenset({Unit.A}), (Unit.A, 0)),
    M.VOLTAGE: (frozenset({Unit.V}), (Unit.V, 0)),
    M.FREQUENCY: (frozenset({Unit.HERTZ}), (Unit.HERTZ, 0)),
    M.TEMPERATURE: (
        frozenset({Unit.CELSIUS, Unit.FAHRENHEIT, Unit.KELVIN}),
        (Unit.CELSIUS, 0),
    ),
    M.RPM: (frozenset({Unit.RPM}), (Unit.RPM, 0)),
    M.SOC: (frozenset({Unit.PERCENT}), (Unit.PERCENT, 0)),
}
_REGISTERS = frozenset(
    {
        M.ENERGY_ACTIVE_EXPORT_REGISTER,
        M.ENERGY_ACTIVE_IMPORT_REGISTER,
        M.ENERGY_REACTIVE_EXPORT_REGISTER,
        M.ENERGY_REACTIVE_IMPORT_REGISTER,
        M.ENERGY_APPARENT_IMPORT,
        M.ENERGY_APPARENT_EXPORT,
    }
)
_NEVER_NEGATIVE = frozenset(
    {
        M.ENERGY_ACTIVE_EXPORT_INTERVAL,
        M.ENERGY_ACTIVE_IMPORT_INTERVAL,
        M.ENERGY_REACTIVE_EXPORT_INTERVAL,
        M.ENERGY_REACTIVE_IMPORT_INTERVAL,
        M.POWER_ACTIVE_EXPORT,
        M.POWER_ACTIVE_IMPORT,
        M.POWER_OFFERED,
        M.CURRENT_EXPORT,
        M.CURRENT_IMPORT,
        M.CURRENT_OFFERED,
        M.SOC,
    }
)
del M

_MAX_MAGNITUDE = 15  # values are below 10^15 in the normalised unit (a petawatt-hour is absurd)
_MAX_MULTIPLIER = 24
_HUNDRED = Decimal(100)

_Member = TypeVar("_Member", bound=StrEnum)


def reading_from_ocpp16(meter_value: Mapping[str, object]) -> ParsedReading:
    """Read one OCPP 1.6 ``MeterValue`` (``MeterValues.req`` or ``StopTransaction``'s
    ``transaction_data``), as the ``ocpp`` package hands it over: ``timestamp`` and
    ``sampled_value`` items with a string ``value`` and optional ``context``, ``format``,
    ``measurand``, ``phase``, ``location``, ``unit``. Never raises."""
    return _parse_reading(meter_value, ocpp16=True)


def reading_from_ocpp201(meter_value: Mapping[str, object]) -> ParsedReading:
    """Read one OCPP 2.0.1 ``MeterValueType`` (``MeterValuesRequest`` or ``TransactionEvent``),
    as the ``ocpp`` package hands it over: ``timestamp`` and ``sampled_value`` items with a
    numeric ``value`` and optional ``context``, ``measurand``, ``phase``, ``location``,
    ``unit_of_measure`` (``unit``, ``multiplier``) and ``signed_meter_value``. Never raises."""
    return _parse_reading(meter_value, ocpp16=False)


def _parse_reading(meter_value: object, *, ocpp16: bool) -> ParsedReading:
    if not isinstance(meter_value, Mapping):
        problem = MeterProblem(ProblemCode.MALFORMED_READING, "a meter value is not an object")
        return ParsedReading(None, (problem,))
    problems: list[MeterProblem] = []
    timestamp = _parse_timestamp(_field(meter_value, "timestamp"), problems)
    if timestamp is None:
        return ParsedReading(None, tuple(problems))
    samples: list[Sample] = []
    signed: list[SignedMeterValue] = []
    raw_samples = _field(meter_value, "sampled_value", "sampledValue")
    if (
        not isinstance(raw_samples, Sequence)
        or isinstance(raw_samples, str | bytes)
        or not raw_samples
    ):
        problems.append(
            MeterProblem(
                ProblemCode.MALFORMED_READING, "the meter value has no sampled values", timestamp
            )
        )
    else:
        for raw in raw_samples:
            sample, signature = _parse_sample(raw, timestamp, ocpp16=ocpp16, problems=problems)
            if sample is not None:
                samples.append(sample)
            if signature is not None:
                signed.append(signature)
    reading = MeterReading(timestamp, tuple(samples), tuple(signed), tuple(problems))
    return ParsedReading(reading, tuple(problems))


def _parse_timestamp(raw: object, problems: list[MeterProblem]) -> datetime | None:
    moment: datetime | None = None
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str) and len(raw.strip()) > len("2026-01-01"):  # a date is no moment
        try:
            moment = datetime.fromisoformat(raw.strip())
        except ValueError:
            moment = None
    if moment is None:
        problems.append(
            MeterProblem(
                ProblemCode.TIMESTAMP_UNPARSEABLE,
                f"timestamp {raw!r} is not an ISO 8601 date and time: the meter value is dropped",
            )
        )
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
        problems.append(
            MeterProblem(
                ProblemCode.TIMESTAMP_NAIVE,
                f"timestamp {raw!r} has no UTC offset: read as UTC",
                moment,
            )
        )
    return moment.astimezone(UTC)


def _parse_sample(
    raw: object, timestamp: datetime, *, ocpp16: bool, problems: list[MeterProblem]
) -> tuple[Sample | None, SignedMeterValue | None]:
    def report(code: ProblemCode, message: str) -> tuple[None, None]:
        problems.append(MeterProblem(code, message, timestamp))
        return None, None

    if not isinstance(raw, Mapping):
        return report(ProblemCode.MALFORMED_SAMPLE, f"sampled value {raw!r} is not an object")
    raw_measurand = raw.get("measurand")
    measurand = (
        Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
        if raw_measurand is None
        else _member(Measurand, raw_measurand)
    )
    if measurand is None:
        return report(
            ProblemCode.UNKNOWN_MEASURAND,
            f"unknown measurand {raw_measurand!r}: its value is left out",
        )
    raw_context = raw.get("context")
    context = (
        ReadingContext.SAMPLE_PERIODIC
        if raw_context is None
        else _member(ReadingContext, raw_context)
    )
    if context is None:
        problems.append(
            MeterProblem(
                ProblemCode.UNKNOWN_CONTEXT,
                f"unknown context {raw_context!r} of {measurand}: read as Other, "
                "which counts for nothing",
                timestamp,
            )
        )
        context = ReadingContext.OTHER
    raw_phase = raw.get("phase")
    phase = None if raw_phase is None else _member(Phase, raw_phase)
    if raw_phase is not None and phase is None:
        return report(
            ProblemCode.UNKNOWN_PHASE, f"unknown phase {raw_phase!r} of {measurand}: left out"
        )
    raw_location = raw.get("location")
    location = Location.OUTLET if raw_location is None else _member(Location, raw_location)
    if location is None:
        return report(
            ProblemCode.UNKNOWN_LOCATION,
            f"unknown location {raw_location!r} of {measurand}: left out",
        )
    if "value" not in raw:
        return report(ProblemCode.MALFORMED_SAMPLE, f"a sampled value of {measurand} has no value")
    value = raw["value"]

    signature: SignedMeterValue | None = None
    multiplier: object = 0
    if ocpp16:
        raw_format = raw.get("format")
        if raw_format == "SignedData":
            data = value if isinstance(value, str) else str(value)
            return None, SignedMeterValue(data, measurand, context, phase, location)
        if raw_format not in (None, "Raw"):
            return report(
                ProblemCode.UNKNOWN_FORMAT,
                f"unknown format {raw_format!r} of {measurand}: its value is left out",
            )
        raw_unit = raw.get("unit")
    else:
        unit_of_measure = _field(raw, "unit_of_measure", "unitOfMeasure")
        raw_unit = None
        if unit_of_measure is not None:
            if not isinstance(unit_of_measure, Mapping):
                return report(
                    ProblemCode.UNKNOWN_UNIT,
                    f"unit_of_measure {unit_of_measure!r} of {measurand} is not an object",
                )
            raw_unit = unit_of_measure.get("unit")
            multiplier = unit_of_measure.get("multiplier")
            multiplier = 0 if multiplier is None else multiplier
        signature = _parse_signature(raw, measurand, context, phase, location, timestamp, problems)

    if isinstance(multiplier, bool) or not isinstance(multiplier, int):
        return report(
            ProblemCode.INVALID_MULTIPLIER,
            f"multiplier {multiplier!r} of {measurand} is not a whole power of ten",
        )
    if abs(multiplier) > _MAX_MULTIPLIER:
        return report(
            ProblemCode.INVALID_MULTIPLIER,
            f"multiplier {multiplier!r} of {measurand} is beyond 10^±{_MAX_MULTIPLIER}",
        )
    sample = _numeric_sample(
        measurand,
        value,
        raw_unit,
        multiplier,
        context=context,
        phase=phase,
        location=location,
        signed=signature is not None,
        timestamp=timestamp,
        problems=problems,
    )
    return sample, signature


def _parse_signature(
    raw: Mapping[object, object],
    measurand: Measurand,
    context: ReadingContext,
    phase: Phase | None,
    location: Location,
    timestamp: datetime,
    problems: list[MeterProblem],
) -> SignedMeterValue | None:
    signed = _field(raw, "signed_meter_value", "signedMeterValue")
    if signed is None:
        return None
    data = _field(signed, "signed_meter_data", "signedMeterData") if _is_map(signed) else None
    if not _is_map(signed) or not isinstance(data, str):
        problems.append(
            MeterProblem(
                ProblemCode.MALFORMED_SAMPLE,
                f"the signature of {measurand} has no signed_meter_data: "
                "the value is kept, unsigned",
                timestamp,
            )
        )
        return None

    def text(*keys: str) -> str | None:
        found = _field(signed, *keys)
        return found if isinstance(found, str) else None

    return SignedMeterValue(
        data,
        measurand,
        context,
        phase,
        location,
        signing_method=text("signing_method", "signingMethod"),
        encoding_method=text("encoding_method", "encodingMethod"),
        public_key=text("public_key", "publicKey"),
    )


def _numeric_sample(
    measurand: Measurand,
    raw_value: object,
    raw_unit: object,
    multiplier: int,
    *,
    context: ReadingContext,
    phase: Phase | None,
    location: Location,
    signed: bool,
    timestamp: datetime,
    problems: list[MeterProblem],
) -> Sample | None:
    def report(code: ProblemCode, message: str) -> None:
        problems.append(MeterProblem(code, message, timestamp))

    number = _decimal(raw_value)
    if number is None:
        report(ProblemCode.NOT_A_NUMBER, f"{measurand} value {raw_value!r} is not a number")
        return None
    allowed, default = _MEASURAND_UNITS[measurand]
    if raw_unit is None:
        unit, shift = default
    elif isinstance(raw_unit, str) and raw_unit.strip().lower() in _UNITS:
        unit, shift = _UNITS[raw_unit.strip().lower()]
    else:
        report(ProblemCode.UNKNOWN_UNIT, f"unknown unit {raw_unit!r} of {measurand}: left out")
        return None
    if unit not in allowed:
        report(
            ProblemCode.UNIT_MISMATCH,
            f"{measurand} cannot be measured in {raw_unit!r}: its value is left out",
        )
        return None
    shift += multiplier
    if number and number.adjusted() + shift >= _MAX_MAGNITUDE:
        report(
            ProblemCode.VALUE_OUT_OF_RANGE,
            f"{measurand} value {raw_value!r} (x10^{multiplier}) is implausibly large",
        )
        return None
    value = number.scaleb(shift)
    if value < 0 and measurand in _REGISTERS:
        report(ProblemCode.NEGATIVE_REGISTER, f"{measurand} register {value} {unit} is negative")
        return None
    if value < 0 and measurand in _NEVER_NEGATIVE:
        report(ProblemCode.NEGATIVE_VALUE, f"{measurand} value {value} {unit} is negative")
        return None
    if measurand is Measurand.SOC and value > _HUNDRED:
        report(ProblemCode.VALUE_OUT_OF_RANGE, f"state of charge {value} % is above 100 %")
        return None
    return Sample(measurand, value, unit, context, phase, location, signed)


def _decimal(raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _member(kind: type[_Member], raw: object) -> _Member | None:
    if not isinstance(raw, str):
        return None
    try:
        return kind(raw)
    except ValueError:
        return None


def _field(mapping: object, *keys: str) -> object:
    """The first of ``keys`` present (snake_case as the ``ocpp`` package hands it over, then the
    wire's camelCase, so that a raw payload reads the same)."""
    if not isinstance(mapping, Mapping):
        return None
    for key in keys:
        if key in mapping:
            return mapping[key]
    return None


def _is_map(raw: object) -> bool:
    return isinstance(raw, Mapping)


# --- which readings and which values count -------------------------------------------------

_ENERGY_CONTEXTS = frozenset(
    {
        ReadingContext.TRANSACTION_BEGIN,
        ReadingContext.SAMPLE_PERIODIC,
        ReadingContext.TRANSACTION_END,
        ReadingContext.SAMPLE_CLOCK,
    }
)
_PEAK_CONTEXTS = _ENERGY_CONTEXTS | {ReadingContext.TRIGGER}
_PERIODIC_INTERVALS = frozenset({ReadingContext.SAMPLE_PERIODIC, ReadingContext.TRANSACTION_END})
_CLOCK_INTERVALS = frozenset({ReadingContext.SAMPLE_CLOCK, ReadingContext.TRANSACTION_END})
_LOCATIONS_BY_PREFERENCE = (
    Location.OUTLET,
    Location.INLET,
    Location.CABLE,
    Location.EV,
    Location.BODY,
)
_SUMMED_PHASES = {
    # the phase a sampled value stands for -> whether it is the preferred spelling
    Phase.L1: (Phase.L1, True),
    Phase.L2: (Phase.L2, True),
    Phase.L3: (Phase.L3, True),
    Phase.L1_N: (Phase.L1, False),
    Phase.L2_N: (Phase.L2, False),
    Phase.L3_N: (Phase.L3, False),
}
_SPLIT_RESOLUTION = Decimal("1E-9")  # kWh: a microwatt-hour
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_Key = tuple[Location, Phase | None]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _sample_order(sample: Sample) -> tuple[str, str, str, str, str, Decimal, bool]:
    return (
        sample.measurand,
        sample.location,
        sample.phase or "",
        sample.context,
        sample.unit,
        sample.value,
        sample.signed,
    )


def _signed_order(signed: SignedMeterValue) -> tuple[str, ...]:
    return (
        signed.measurand,
        signed.context,
        signed.location,
        signed.phase or "",
        signed.data,
        signed.signing_method or "",
        signed.encoding_method or "",
        signed.public_key or "",
    )


def _problem_order(problem: MeterProblem) -> tuple[datetime, str, str]:
    return (problem.timestamp or _EARLIEST, problem.code, problem.message)


def _merge(timestamp: datetime, group: list[MeterReading]) -> MeterReading:
    samples = sorted({s for r in group for s in r.samples}, key=_sample_order)
    signed = sorted({s for r in group for s in r.signed_values}, key=_signed_order)
    problems = sorted({p for r in group for p in r.problems}, key=_problem_order)
    return MeterReading(timestamp, tuple(samples), tuple(signed), tuple(problems))


def _values(
    reading: MeterReading,
    measurand: Measurand,
    contexts: frozenset[ReadingContext],
    problems: list[MeterProblem],
) -> dict[_Key, Decimal]:
    """The reading's values of ``measurand`` per (location, phase), phase None or L1/L2/L3."""
    found: dict[tuple[Location, Phase | None], dict[bool, set[Decimal]]] = {}
    for sample in reading.samples:
        if sample.measurand is not measurand or sample.context not in contexts:
            continue
        if sample.phase is None:
            phase, preferred = None, True
        elif sample.phase in _SUMMED_PHASES:
            phase, preferred = _SUMMED_PHASES[sample.phase]
        else:
            continue  # N and line-to-line values are never summed
        found.setdefault((sample.location, phase), {}).setdefault(preferred, set()).add(
            sample.value
        )
    values: dict[_Key, Decimal] = {}
    for key, spellings in found.items():
        candidates = spellings.get(True) or spellings[False]
        if len(candidates) > 1:
            location, phase = key
            problems.append(
                MeterProblem(
                    ProblemCode.CONFLICTING_SAMPLES,
                    f"{measurand}{' ' + phase if phase else ''} at {location} has several values "
                    f"({', '.join(str(v) for v in sorted(candidates))}): the largest is used",
                    reading.timestamp,
                )
            )
        values[key] = max(candidates)
    return values


@dataclass(frozen=True, slots=True)
class _Series:
    """One measurand read the same way through the whole session."""

    measurand: Measurand
    contexts: frozenset[ReadingContext]
    location: Location
    phases: tuple[Phase, ...] | None  # None: the un-phased value

    def points(
        self, readings: Sequence[MeterReading], problems: list[MeterProblem]
    ) -> list[tuple[datetime, Decimal]]:
        points = []
        for reading in readings:
            values = _values(reading, self.measurand, self.contexts, problems)
            if self.phases is None:
                value = values.get((self.location, None))
            else:
                parts = [values.get((self.location, phase)) for phase in self.phases]
                present = [part for part in parts if part is not None]
                if not present:
                    continue
                if len(present) < len(parts):
                    missing = [
                        p for p, part in zip(self.phases, parts, strict=True) if part is None
                    ]
                    problems.append(
                        MeterProblem(
                            ProblemCode.INCOMPLETE_PHASES,
                            f"{self.measurand} at {self.location} lacks phase "
                            f"{', '.join(missing)}: this reading gives no value for it",
                            reading.timestamp,
                        )
                    )
                    continue
                value = sum(present, Decimal(0))
            if value is not None:
                points.append((reading.timestamp, value))
        return points


def _series(
    readings: Sequence[MeterReading],
    measurand: Measurand,
    contexts: frozenset[ReadingContext],
) -> _Series | None:
    """The location and phases to read ``measurand`` from (module docstring, "Which value")."""
    ignored: list[MeterProblem] = []  # conflicts are reported when the values are read
    seen: dict[Location, set[Phase | None]] = {}
    for reading in readings:
        for location, phase in _values(reading, measurand, contexts, ignored):
            seen.setdefault(location, set()).add(phase)
    for location in _LOCATIONS_BY_PREFERENCE:
        if location not in seen:
            continue
        phases = seen[location]
        if None in phases:
            return _Series(measurand, contexts, location, None)
        return _Series(measurand, contexts, location, tuple(sorted(p for p in phases if p)))
    return None


# --- energy -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Segment:
    """Energy that belongs to [start, end] (one instant when they are equal or one is None)."""

    start: datetime | None
    end: datetime | None
    kwh: Decimal


@dataclass(frozen=True, slots=True)
class _Analysis:
    readings: tuple[MeterReading, ...]  # merged, sorted, inside the window
    start: datetime | None
    end: datetime | None
    method: EnergyMethod
    segments: tuple[_Segment, ...]
    power: tuple[tuple[datetime, Decimal], ...]
    current: tuple[tuple[datetime, Decimal], ...]
    soc: tuple[tuple[datetime, Decimal], ...]
    problems: tuple[MeterProblem, ...]

    @property
    def kwh(self) -> Decimal:
        return sum((segment.kwh for segment in self.segments), Decimal(0))


def _register_segments(
    points: Sequence[tuple[datetime | None, Decimal]],
    measurand: Measurand,
    problems: list[MeterProblem],
) -> tuple[_Segment, ...]:
    segments = []
    for (before, earlier), (after, later) in pairwise(points):
        increase = later - earlier
        if increase < 0:
            problems.append(
                MeterProblem(
                    ProblemCode.REGISTER_DECREASED,
                    f"{measurand} went down from {earlier} to {later} kWh (reset, rollover or "
                    f"meter swap): that step counts zero, counting resumes from {later} kWh",
                    after or before,
                )
            )
            increase = Decimal(0)
        segments.append(_Segment(before, after, increase))
    return tuple(segments)


def _register_energy(
    readings: Sequence[MeterReading],
    meter_start: Decimal | None,
    meter_stop: Decimal | None,
    start: datetime | None,
    end: datetime | None,
    problems: list[MeterProblem],
) -> tuple[_Segment, ...] | None:
    register = Measurand.ENERGY_ACTIVE_IMPORT_REGISTER
    series = _series(readings, register, _ENERGY_CONTEXTS)
    found = series.points(readings, problems) if series else []
    points: list[tuple[datetime | None, Decimal]] = list(found)
    if meter_start is not None:
        points.insert(0, (start, meter_start))
    if meter_stop is not None:
        points.append((end, meter_stop))
    if len(points) < 2:
        return None
    return _register_segments(points, register, problems)


def _interval_energy(
    readings: Sequence[MeterReading], start: datetime | None, problems: list[MeterProblem]
) -> tuple[_Segment, ...] | None:
    interval = Measurand.ENERGY_ACTIVE_IMPORT_INTERVAL
    contexts = {s.context for r in readings for s in r.samples if s.measurand is interval}
    families = ReadingContext.SAMPLE_PERIODIC in contexts, ReadingContext.SAMPLE_CLOCK in contexts
    if all(families):
        problems.append(
            MeterProblem(
                ProblemCode.OVERLAPPING_INTERVALS,
                "interval energy was sent both periodic and clock-aligned: only the periodic "
                "intervals are summed, so that no energy counts twice",
            )
        )
    family = _CLOCK_INTERVALS if families == (False, True) else _PERIODIC_INTERVALS
    series = _series(readings, interval, family)
    if series is None:
        return None
    segments = []
    previous = start
    for moment, kwh in series.points(readings, problems):
        segments.append(_Segment(previous or moment, moment, kwh))
        previous = moment
    return tuple(segments) or None


def _net_energy(
    readings: Sequence[MeterReading], problems: list[MeterProblem]
) -> tuple[_Segment, ...] | None:
    net = Measurand.ENERGY_ACTIVE_NET
    series = _series(readings, net, _ENERGY_CONTEXTS)
    points = series.points(readings, problems) if series else []
    if len(points) < 2:
        return None
    return _register_segments(list(points), net, problems)


def _meter_value(
    raw: Decimal | None, name: str, moment: datetime | None, problems: list[MeterProblem]
) -> Decimal | None:
    if raw is None:
        return None
    value = _decimal(raw)
    if value is None:
        problems.append(
            MeterProblem(ProblemCode.NOT_A_NUMBER, f"{name} {raw!r} is not a number", moment)
        )
        return None
    if value < 0:
        problems.append(
            MeterProblem(
                ProblemCode.NEGATIVE_REGISTER, f"{name} {value} kWh is negative: ignored", moment
            )
        )
        return None
    return value


def _analyse(
    readings: Iterable[MeterReading],
    *,
    meter_start_kwh: Decimal | None,
    meter_stop_kwh: Decimal | None,
    start: datetime | None,
    end: datetime | None,
) -> _Analysis:
    problems: list[MeterProblem] = []
    start = _utc(start) if start is not None else None
    end = _utc(end) if end is not None else None
    if start is not None and end is not None and end < start:
        problems.append(
            MeterProblem(
                ProblemCode.END_BEFORE_START,
                f"the session ends ({end.isoformat()}) before it starts ({start.isoformat()}): "
                "it is taken to end when it starts",
                end,
            )
        )
        end = start

    groups: dict[datetime, list[MeterReading]] = {}
    for reading in readings:
        groups.setdefault(_utc(reading.timestamp), []).append(reading)
    inside: list[MeterReading] = []
    for moment in sorted(groups):
        merged = _merge(moment, groups[moment])
        problems.extend(merged.problems)
        if start is not None and moment < start:
            problems.append(
                MeterProblem(
                    ProblemCode.READING_BEFORE_START,
                    f"reading at {moment.isoformat()} is before the session start "
                    f"{start.isoformat()}: left out",
                    moment,
                )
            )
        elif end is not None and moment > end:
            problems.append(
                MeterProblem(
                    ProblemCode.READING_AFTER_END,
                    f"reading at {moment.isoformat()} is after the session end "
                    f"{end.isoformat()}: left out",
                    moment,
                )
            )
        else:
            inside.append(merged)

    meter_start = _meter_value(meter_start_kwh, "meter start", start, problems)
    meter_stop = _meter_value(meter_stop_kwh, "meter stop", end, problems)
    method = EnergyMethod.REGISTER
    segments = _register_energy(inside, meter_start, meter_stop, start, end, problems)
    if segments is None:
        method, segments = EnergyMethod.INTERVAL_SUM, _interval_energy(inside, start, problems)
    if segments is None:
        method, segments = EnergyMethod.NET, _net_energy(inside, problems)
    if segments is None:
        method, segments = EnergyMethod.NONE, ()
        problems.append(
            MeterProblem(
                ProblemCode.NO_ENERGY_DATA,
                "no usable energy register, interval or net value (nor meter start and stop): "
                "the energy is 0",
            )
        )

    def peak_points(measurand: Measurand) -> tuple[tuple[datetime, Decimal], ...]:
        series = _series(inside, measurand, _PEAK_CONTEXTS)
        return tuple(series.points(inside, problems)) if series else ()

    soc = []
    for reading in inside:
        values = _values(reading, Measurand.SOC, _PEAK_CONTEXTS, problems)
        if values:
            soc.append((reading.timestamp, max(values.values())))

    return _Analysis(
        readings=tuple(inside),
        start=start,
        end=end,
        method=method,
        segments=segments,
        power=peak_points(Measurand.POWER_ACTIVE_IMPORT),
        current=peak_points(Measurand.CURRENT_IMPORT),
        soc=tuple(soc),
        problems=tuple(sorted(set(problems), key=_problem_order)),
    )


def summarise(
    readings: Iterable[MeterReading],
    *,
    meter_start_kwh: Decimal | None = None,
    meter_stop_kwh: Decimal | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> EnergySummary:
    """The energy, peaks and state of charge of one session (rules: module docstring).

    ``meter_start_kwh``/``meter_stop_kwh`` are the import register at the start and the stop
    (OCPP 1.6 ``meterStart``/``meterStop`` are Wh: divide by 1000). ``start``/``end`` bound the
    readings that count; without them every reading counts. For a session still running, pass
    ``end`` = now, so that readings from a charger whose clock runs ahead are left out.
    """
    analysis = _analyse(
        readings,
        meter_start_kwh=meter_start_kwh,
        meter_stop_kwh=meter_stop_kwh,
        start=start,
        end=end,
    )
    return EnergySummary(
        kwh=analysis.kwh,
        method=analysis.method,
        max_power_kw=max((v for _, v in analysis.power), default=None),
        max_current_a=max((v for _, v in analysis.current), default=None),
        first_soc=analysis.soc[0][1] if analysis.soc else None,
        last_soc=analysis.soc[-1][1] if analysis.soc else None,
        problems=analysis.problems,
    )


# --- periods ----------------------------------------------------------------------------------


def periods(
    readings: Iterable[MeterReading],
    *,
    start: datetime,
    end: datetime,
    meter_start_kwh: Decimal | None = None,
    meter_stop_kwh: Decimal | None = None,
    charging_changes: Iterable[tuple[datetime, bool]] = (),
) -> tuple[Period, ...]:
    """The session cut into periods for the pricing engine (rules: module docstring).

    ``charging_changes`` are the charger's own state changes ``(moment, charging)``, in the order
    they happened. The periods cover exactly [start, end], and their energies add up to
    :func:`summarise`'s ``kwh`` for the same arguments.
    """
    analysis = _analyse(
        readings,
        meter_start_kwh=meter_start_kwh,
        meter_stop_kwh=meter_stop_kwh,
        start=start,
        end=end,
    )
    first = _utc(start)
    last = max(_utc(end), first)  # as _analyse: an end before the start is the start
    changes = sorted(
        ((_utc(moment), charging) for moment, charging in charging_changes),
        key=lambda change: change[0],  # stable: simultaneous changes keep their order
    )
    cuts = sorted(
        {first, last}
        | {reading.timestamp for reading in analysis.readings}
        | {moment for moment, _ in changes if first < moment < last}
    )
    spans = list(pairwise(cuts)) or [(first, last)]
    position = {moment: index for index, moment in enumerate(cuts)}
    moments = [moment for moment, _ in changes]
    charging = []
    for begin, _ in spans:
        latest = bisect_right(moments, begin) - 1  # the last change at or before ``begin``
        charging.append(changes[latest][1] if latest >= 0 else True)
    energy = [Decimal(0)] * len(spans)
    for segment in analysis.segments:
        # Every segment lies inside [first, last] and starts and ends on cuts: register values
        # and interval readings are readings inside the window, meter start/stop sit on the ends.
        begin = segment.start or segment.end or first
        finish = segment.end or begin
        if begin == finish:
            energy[min(position[begin], len(spans) - 1)] += segment.kwh
            continue
        covered = range(position[begin], position[finish])
        # Energy measured across a change of charging state went to the part where the vehicle
        # drew power: a part that was not charging is parking, which draws none (and which the
        # pricing engine does not bill energy in).
        indices = [i for i in covered if charging[i]] or list(covered)
        weights = [(spans[i][1] - spans[i][0]) // _MICROSECOND for i in indices]
        for index, share in zip(indices, _spread(segment.kwh, weights), strict=True):
            energy[index] += share

    power = _attributed(analysis.power, spans)
    current = _attributed(analysis.current, spans)
    return tuple(
        Period(begin, finish, energy[index], power[index], current[index], charging[index])
        for index, (begin, finish) in enumerate(spans)
    )


def _spread(kwh: Decimal, weights: Sequence[int]) -> list[Decimal]:
    """``kwh`` in proportion to ``weights``: cumulative shares rounded down, so every part is
    non-negative and the parts add up to exactly ``kwh``."""
    if not kwh:
        return [Decimal(0)] * len(weights)
    total = sum(weights)
    parts, before, elapsed = [], Decimal(0), 0
    for weight in weights[:-1]:
        elapsed += weight
        upto = (kwh * elapsed / total).quantize(_SPLIT_RESOLUTION, rounding=ROUND_FLOOR)
        parts.append(upto - before)
        before = upto
    parts.append(kwh - before)
    return parts


def _attributed(
    points: Sequence[tuple[datetime, Decimal]], spans: Sequence[tuple[datetime, datetime]]
) -> list[Decimal | None]:
    """Per period, the highest value of the readings whose sampling interval covers it: the first
    reading at or after the period's end, plus, for the first period, those at its start."""
    moments = [moment for moment, _ in points]
    found: list[Decimal | None] = []
    for index, (begin, finish) in enumerate(spans):
        candidates = []
        closing = bisect_left(moments, finish)
        if closing < len(points):
            candidates.append(points[closing][1])
        if index == 0:
            candidates.extend(value for moment, value in points if moment == begin)
        found.append(max(candidates) if candidates else None)
    return found
