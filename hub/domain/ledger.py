"""The uptime ledger's rules (23 CFR 680.116(b)): a port's outages derived from its status
history and its sessions, and the minutes they leave in a window. Pure functions; the service
(``hub.services.uptime``) feeds them rows and stores what they derive.

**Outages from the status history.** The history (``evse_status_history``) holds every status
change of a port. The port's history begins at its first change: before it the port was not
commissioned (an imported EVSE waits as UNKNOWN until its charger first reports), so that time
is neither up nor out. From then on:

=========================================  ======================================
OCPI status                                the port is
=========================================  ======================================
AVAILABLE, CHARGING, BLOCKED, RESERVED     up (it can charge, or is charging)
OUTOFORDER                                 out: ``OUT_OF_ORDER``
INOPERATIVE                                out: ``INOPERATIVE``
PLANNED, REMOVED (after commissioning)     out: ``INOPERATIVE`` (taken out of service)
UNKNOWN                                    out: ``STATION_OFFLINE``
=========================================  ======================================

The platform keeps no separate connection history: a station that goes offline turns its ports
UNKNOWN with the reason ``offline`` (after ``HUB_OCPP__OFFLINE_AFTER_SECONDS`` or the missed
heartbeats) and back with ``online``; those changes are the station's offline periods. Each run
of one out-status is one outage, [the change into it, the change out of it); a change from one
out-status to another starts a new outage with the new cause (end of one = start of the next).

**No energy.** A port that reports AVAILABLE can still fail to charge. With the rule
``NoEnergyRule(sessions=N, min_kwh=X)``: when N consecutive ended sessions of the port each
delivered less than X kWh, the port counts as out (``NO_ENERGY``) from the first of them's
start until the start of the next session that delivered at least X kWh (or until now, when
there is none yet). Sessions that are not charging attempts (reservations that were never
used, sessions refused or invalidated: ``INVALID``) and sessions still running are not judged.
Status outages win where both apply: the no-energy interval is cut around them, so no minute
counts twice.

**Minutes** are exact Decimals: a duration's microseconds over 60,000,000, rounded half-up to
the hundredth of a minute (EV-ChART's ``decimal(8,2)``) once per total, so that a report's mu
recomputes from the totals it prints.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hub.domain.assets import EvseStatus
from hub.domain.uptime import YEAR_MINUTES, OutageCause, PortUptime, uptime_percent

UP_STATUSES = frozenset(
    {EvseStatus.AVAILABLE, EvseStatus.CHARGING, EvseStatus.BLOCKED, EvseStatus.RESERVED}
)
_CAUSE_OF_STATUS = {
    EvseStatus.OUTOFORDER: OutageCause.OUT_OF_ORDER,
    EvseStatus.INOPERATIVE: OutageCause.INOPERATIVE,
    EvseStatus.PLANNED: OutageCause.INOPERATIVE,
    EvseStatus.REMOVED: OutageCause.INOPERATIVE,
    EvseStatus.UNKNOWN: OutageCause.STATION_OFFLINE,
}
BUDGET_MINUTES = YEAR_MINUTES * Decimal("0.03")
"""The outage a port may have in the rule's year and still be above 97%: 15,768 minutes."""
_HUNDREDTH = Decimal("0.01")
_MICROS_PER_MINUTE = Decimal(60_000_000)


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of a port's status history."""

    at: datetime
    status: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SessionAttempt:
    """An ended charging attempt at a port, as the no-energy detector judges it."""

    start: datetime
    kwh: Decimal


@dataclass(frozen=True, slots=True)
class NoEnergyRule:
    """``sessions`` consecutive sessions under ``min_kwh`` each make a no-energy outage
    (``sessions`` 0: the detector is off)."""

    sessions: int = 3
    min_kwh: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end) in aware UTC; ``end`` None: not over (yet)."""

    start: datetime
    end: datetime | None

    def clipped(self, start: datetime, end: datetime) -> timedelta:
        """The part of it inside [start, end)."""
        lo = max(self.start, start)
        hi = end if self.end is None else min(self.end, end)
        return max(hi - lo, timedelta(0))


@dataclass(frozen=True, slots=True)
class DerivedOutage:
    """An outage as the rules derive it: the ledger stores it keyed by (port, ``start``)."""

    start: datetime
    end: datetime | None
    cause: OutageCause

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


@dataclass(frozen=True, slots=True)
class WindowOutage:
    """An outage with the intervals of it that are excluded, as the window totals need it."""

    start: datetime
    end: datetime | None
    excluded: tuple[Interval, ...] = ()


def minutes(duration: timedelta) -> Decimal:
    """A duration in minutes, rounded half-up to the hundredth."""
    micros = Decimal(duration // timedelta(microseconds=1))
    return (micros / _MICROS_PER_MINUTE).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def as_duration(value: Decimal) -> timedelta:
    """``value`` minutes as a duration (to the microsecond)."""
    micros = (value * _MICROS_PER_MINUTE).to_integral_value(rounding=ROUND_HALF_UP)
    return timedelta(microseconds=int(micros))


def cause_of(status: str) -> OutageCause | None:
    """The outage cause of a status after commissioning (None: the port is up)."""
    try:
        known = EvseStatus(status)
    except ValueError:
        return OutageCause.STATION_OFFLINE  # a status we cannot read is not "up"
    if known in UP_STATUSES:
        return None
    return _CAUSE_OF_STATUS[known]


def commissioned_at(changes: Sequence[StatusChange]) -> datetime | None:
    """When the port's history begins (its first change); None: it never reported."""
    return min((c.at for c in changes), default=None)


def status_outages(changes: Iterable[StatusChange]) -> list[DerivedOutage]:
    """The outages of a port's status history (see the module docstring)."""
    ordered = sorted(changes, key=lambda c: c.at)
    outages: list[DerivedOutage] = []
    open_start: datetime | None = None
    open_cause: OutageCause | None = None
    for change in ordered:
        cause = cause_of(change.status)
        if cause == open_cause:
            continue
        if open_start is not None and open_cause is not None and change.at > open_start:
            outages.append(DerivedOutage(open_start, change.at, open_cause))
        open_start, open_cause = (change.at, cause) if cause is not None else (None, None)
    if open_start is not None and open_cause is not None:
        outages.append(DerivedOutage(open_start, None, open_cause))
    return outages


def no_energy_intervals(attempts: Iterable[SessionAttempt], rule: NoEnergyRule) -> list[Interval]:
    """The intervals the no-energy detector marks out (before status outages are cut out)."""
    if rule.sessions <= 0:
        return []
    intervals: list[Interval] = []
    streak: list[SessionAttempt] = []
    for attempt in sorted(attempts, key=lambda a: a.start):
        if attempt.kwh < rule.min_kwh:
            streak.append(attempt)
            continue
        if len(streak) >= rule.sessions and attempt.start > streak[0].start:
            intervals.append(Interval(streak[0].start, attempt.start))
        streak = []
    if len(streak) >= rule.sessions:
        intervals.append(Interval(streak[0].start, None))
    return intervals


def _subtract(interval: Interval, cuts: Sequence[Interval]) -> list[Interval]:
    """``interval`` minus ``cuts`` (sorted by start, not overlapping each other)."""
    pieces: list[Interval] = []
    cursor: datetime | None = interval.start
    for cut in cuts:
        if cursor is None:
            break
        if interval.end is not None and cut.start >= interval.end:
            break
        if cut.end is not None and cut.end <= cursor:
            continue
        if cut.start > cursor:
            pieces.append(Interval(cursor, cut.start))
        cursor = None if cut.end is None else max(cursor, cut.end)
    if cursor is not None and (interval.end is None or cursor < interval.end):
        pieces.append(Interval(cursor, interval.end))
    return pieces


def port_outages(
    changes: Sequence[StatusChange],
    attempts: Iterable[SessionAttempt],
    rule: NoEnergyRule,
) -> list[DerivedOutage]:
    """Every outage of a port, status outages first and no-energy outages in the time left;
    sorted by start, never overlapping. Nothing before the port's commissioning."""
    begin = commissioned_at(changes)
    if begin is None:
        return []
    by_status = status_outages(changes)
    cuts = [o.interval for o in by_status]
    derived = list(by_status)
    judged = [a for a in attempts if a.start >= begin]  # no port before it
    for interval in no_energy_intervals(judged, rule):
        for piece in _subtract(interval, cuts):
            derived.append(DerivedOutage(piece.start, piece.end, OutageCause.NO_ENERGY))
    return sorted(derived, key=lambda o: o.start)


def add_months(moment: datetime, months: int) -> datetime:
    """The same instant ``months`` calendar months later (earlier when negative); a day the
    target month lacks becomes its last day (31 March - 1 month = 28/29 February)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def month_start(moment: datetime) -> datetime:
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def year_window(end: datetime) -> tuple[datetime, datetime]:
    """The rule's year ending at ``end``: the twelve calendar months before it."""
    return add_months(end, -12), end


def monthly_windows(as_of: datetime, count: int = 12) -> list[tuple[datetime, datetime]]:
    """The twelve-month windows of the last ``count`` completed months before ``as_of``, oldest
    first: the window of month M is [the first of M-11, the first of M+1) (UTC)."""
    last_end = month_start(as_of)
    ends = [add_months(last_end, -k) for k in range(count - 1, -1, -1)]
    return [year_window(end) for end in ends]


def calendar_months(as_of: datetime, count: int = 12) -> list[tuple[datetime, datetime]]:
    """The last ``count`` calendar months up to ``as_of``, oldest first, each [start, end): the
    current month up to ``as_of`` is the last of them, unless ``as_of`` is the first instant
    of a month (then the ``count`` whole months before it)."""
    current = month_start(as_of)
    if current == as_of:
        return [(add_months(current, -k), add_months(current, -k + 1)) for k in range(count, 0, -1)]
    whole = [
        (add_months(current, -k), add_months(current, -k + 1)) for k in range(count - 1, 0, -1)
    ]
    return [*whole, (current, as_of)]


def window_totals(
    outages: Iterable[WindowOutage], start: datetime, end: datetime
) -> tuple[timedelta, timedelta]:
    """(outage, excluded) durations of ``outages`` inside [start, end). An excluded interval
    counts only where it lies inside its outage and the window."""
    total = timedelta(0)
    excluded = timedelta(0)
    for outage in outages:
        whole = Interval(outage.start, outage.end)
        total += whole.clipped(start, end)
        for part in outage.excluded:
            lo = max(part.start, outage.start)
            hi_parts = [h for h in (part.end, outage.end) if h is not None]
            hi = min(hi_parts) if hi_parts else None
            excluded += Interval(lo, hi).clipped(start, end)
    return total, min(excluded, total)


@dataclass(frozen=True, slots=True)
class PortHistory:
    """What the window rules need to know about a port besides its outages."""

    station_id: str
    port_id: str
    commissioned_at: datetime | None


def port_uptime(
    port: PortHistory,
    outages: Iterable[WindowOutage],
    window_start: datetime,
    window_end: datetime,
    *,
    as_of: datetime,
    history_since: datetime | None = None,
) -> PortUptime:
    """A port's T_outage, T_excluded and mu over [window_start, window_end) (README "NEVI
    uptime" has the rules in words):

    - only the time from the port's commissioning counts (before it there was no port);
    - mu is None when the port was commissioned after ``window_start`` (its first year:
      EV-ChART allows the uptime empty then), and when the history is missing;
    - the history is missing when the port never reported, when the window ends after
      ``as_of`` (the ledger knows nothing after it) or starts before ``history_since`` (the
      platform's records are complete only from then): ``missing_history`` is set, mu None;
    - the rule's 525,600 minutes are the denominator whatever the window's length (a window
      over 29 February has 527,040 minutes): the rule's constant, as written.
    """
    begin = port.commissioned_at
    missing = (
        begin is None
        or window_end > as_of
        or (history_since is not None and window_start < history_since)
    )
    counted_start = window_start if begin is None else max(window_start, begin)
    counted_end = min(window_end, as_of)
    if begin is None or counted_end <= counted_start:
        outage, excluded = timedelta(0), timedelta(0)
    else:
        outage, excluded = window_totals(outages, counted_start, counted_end)
    outage_minutes, excluded_minutes = minutes(outage), minutes(excluded)
    first_year = begin is not None and begin > window_start
    uptime = None if missing or first_year else uptime_percent(outage_minutes, excluded_minutes)
    return PortUptime(
        station_id=port.station_id,
        port_id=port.port_id,
        window_start=window_start,
        window_end=window_end,
        outage_minutes=outage_minutes,
        excluded_minutes=excluded_minutes,
        uptime=uptime,
        missing_history=missing,
    )


def operated_minutes(port: PortHistory, window_start: datetime, window_end: datetime) -> Decimal:
    """The minutes of [window_start, window_end) after the port's commissioning."""
    if port.commissioned_at is None:
        return Decimal(0)
    return minutes(Interval(port.commissioned_at, None).clipped(window_start, window_end))


def share_up(net_outage: Decimal, operated: Decimal) -> Decimal | None:
    """(operated - net outage) / operated x 100, rounded half-up to the hundredth: a month's
    availability, or a port's provisional figure in its first year (None: it did not operate).
    Not the rule's mu, whose denominator is always 525,600."""
    if operated <= 0:
        return None
    value = (operated - net_outage) / operated * 100
    return max(value, Decimal(0)).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)


def budget_left(uptime: PortUptime) -> Decimal:
    """The outage minutes the port may still have in the window's year and stay at 97%:
    15,768 minus the net outage (negative: over budget)."""
    return BUDGET_MINUTES - (uptime.outage_minutes - uptime.excluded_minutes)
