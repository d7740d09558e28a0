"""The OCPI 2.2.1 pricing engine (``mod_tariffs.asciidoc`` at v2.2.1-d2 with the errata of
``release-2.2.1-bugfixes``; ``mod_cdrs.asciidoc`` for ``step_size``).

1. The session is cut into segments at every instant where a restriction could change its
   verdict: period boundaries, every occurrence of the local start/end times and midnights of
   every day touched and every UTC-offset change (in the Location's time zone: DST days are as
   long as they really are, and each instant is judged by its own local time, also in the hour
   repeated or skipped at a DST change), the instants the session reaches
   ``min_duration``/``max_duration``, and the instants the delivered energy crosses
   ``min_kwh``/``max_kwh`` (energy is spread evenly over a period).
2. In each segment, each dimension is priced by the first Tariff Element, in list order, that
   has a Price Component for that dimension and whose restrictions all match (logical AND).
   Segments where the vehicle requests power bill TIME and ENERGY; the others PARKING_TIME.
   Reservation segments are priced only by elements with a ``reservation`` restriction
   (``RESERVATION_EXPIRES`` ones win when the reservation expired).
3. FLAT is billed once per session (and once per reservation).
4. ``step_size`` applies to the last billed period of each dimension: the dimension's total is
   rounded up to a multiple of that period's step and the difference is billed in that period.
   TIME and PARKING_TIME count together as "time-based": only the last time-based period is
   rounded (a charging period followed by parking is not).
5. ``min_price``/``max_price`` bound the total, excl. and incl. VAT separately. A component
   without ``vat`` has no VAT (incl. = excl.); a bound without ``incl_vat`` in a tariff that
   charges no VAT anywhere bounds the total incl. VAT by its excl. VAT amount; in a tariff with
   VAT, such a bound that binds leaves the total incl. VAT unknown.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from hub.domain.pricing.model import (
    MILLI,
    ZERO,
    ChargingPeriod,
    Dimension,
    Element,
    Line,
    Money,
    Period,
    PriceComponent,
    PricingResult,
    Session,
    Tariff,
)

HOUR = Decimal(3600)
WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


@dataclass(slots=True)  # not frozen: built for every segment of every session (speed)
class Segment:
    start: datetime
    end: datetime
    energy_before: Decimal  # kWh delivered in the session before this segment
    energy: Decimal  # kWh delivered in this segment
    period: Period | None  # None for reservation time
    reservation: bool = False

    seconds: Decimal = Decimal(0)
    local: datetime | None = None  # start in the Location's time zone, computed once

    def __post_init__(self) -> None:
        self.seconds = Decimal((self.end - self.start) // timedelta(microseconds=1)) / 1_000_000


@lru_cache(maxsize=4096)
def _day_cuts(zone: ZoneInfo, day: date, times: frozenset[time]) -> tuple[datetime, ...]:
    """The UTC instants at which the local clock of ``day`` shows one of ``times``: both
    occurrences of a time repeated when the clock goes back, none for a time skipped when it
    jumps forward (there the verdict changes at the jump, an offset change)."""
    cuts = set()
    for moment in times:
        wall = datetime.combine(day, moment)
        for fold in (0, 1):
            instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
            if instant.astimezone(zone).replace(tzinfo=None) == wall:
                cuts.add(instant)
    return tuple(sorted(cuts))


@lru_cache(maxsize=4096)
def _offset_changes(zone: ZoneInfo, day: date) -> tuple[datetime, ...]:
    """The instants of UTC ``day`` (midnight to midnight, both included) where the zone's UTC
    offset changes, to the second (the tz database puts its transitions on whole seconds).

    zoneinfo has no public list of transitions: the offset is probed every hour and each change
    found is bisected. Two changes less than an hour apart that cancel out would be missed; the
    tz database has none.
    """
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    changes = []
    before = midnight.astimezone(zone).utcoffset()
    for hour in range(1, 25):
        after = (midnight + timedelta(hours=hour)).astimezone(zone).utcoffset()
        if after == before:
            continue
        low, high = (hour - 1) * 3600, hour * 3600  # seconds: low has `before`, high does not
        while high - low > 1:
            middle = (low + high) // 2
            if (midnight + timedelta(seconds=middle)).astimezone(zone).utcoffset() == before:
                low = middle
            else:
                high = middle
        changes.append(midnight + timedelta(seconds=high))
        before = after
    return tuple(changes)


def _local_cuts(
    elements: Iterable[Element], start: datetime, end: datetime, zone: ZoneInfo
) -> list[datetime]:
    """Sorted instants in [start, end] where a local-time restriction can change its verdict.

    Every instant is judged by its own local time, so the cuts are: each occurrence of the
    restriction start/end times on every local day touched, of local midnight when a
    restriction depends on the day (day_of_week, start_date, end_date) or has only one of
    start_time/end_time (then the window runs from, or up to, midnight), and every change of
    the zone's UTC offset (DST), where the local clock jumps. Between two cuts the local clock
    runs without a jump and crosses none of those times, so no verdict changes.
    """
    restrictions = [e.restrictions for e in elements if e.restrictions]
    times = {t for r in restrictions for t in (r.start_time, r.end_time) if t is not None}
    if any(
        r.day_of_week
        or r.start_date
        or r.end_date
        or (r.start_time is None) != (r.end_time is None)
        for r in restrictions
    ):
        times.add(time(0))
    if not times:
        return []
    key = frozenset(times)
    cuts: set[datetime] = set()
    # One day more on each side: when the clock goes back across midnight, the local date of
    # an instant inside the session can be before the start's (or after the end's).
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        cuts.update(_day_cuts(zone, day, key))
        day += timedelta(days=1)
    day, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    while day <= last:
        cuts.update(_offset_changes(zone, day))
        day += timedelta(days=1)
    return sorted(c for c in cuts if start <= c <= end)


def _inside(cuts: list[datetime], start: datetime, end: datetime) -> list[datetime]:
    return cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, end)]


def _segments(session: Session, tariff: Tariff, zone: ZoneInfo) -> list[Segment]:
    segments: list[Segment] = []
    first = session.reservation.start if session.reservation else session.start
    local_cuts = _local_cuts(tariff.elements, min(first, session.start), session.end, zone)
    if session.reservation is not None:
        r = session.reservation
        bounds = sorted({r.start, r.end, *_inside(local_cuts, r.start, r.end)})
        segments += [
            Segment(a, b, Decimal(0), Decimal(0), None, reservation=True)
            for a, b in itertools.pairwise(bounds)
            if b > a
        ]
    restrictions = [e.restrictions for e in tariff.elements if e.restrictions]
    durations = {
        session.start + timedelta(seconds=s)
        for r in restrictions
        for s in (r.min_duration, r.max_duration)
        if s is not None
    }
    thresholds = sorted({k for r in restrictions for k in (r.min_kwh, r.max_kwh) if k is not None})
    energy = Decimal(0)
    plain = not local_cuts and not durations and not thresholds
    for period in sorted(session.periods, key=lambda p: p.start):
        if plain:  # nothing can change inside a period: one segment each (the common case)
            if period.end > period.start:
                segments.append(
                    Segment(period.start, period.end, energy, period.energy_kwh, period)
                )
            energy += period.energy_kwh
            continue
        length = Decimal((period.end - period.start) // timedelta(microseconds=1))
        cuts = {period.start, period.end, *_inside(local_cuts, period.start, period.end)}
        cuts |= {d for d in durations if period.start < d < period.end}
        # Energy delivered at each cut, from the period's start. Threshold crossings get the
        # threshold itself: their instant is rounded to the microsecond, their energy must not be.
        exact: dict[datetime, Decimal] = {}
        if period.energy_kwh > 0 and length > 0:
            for threshold in thresholds:
                if energy < threshold < energy + period.energy_kwh:
                    share = (threshold - energy) / period.energy_kwh
                    moment = period.start + timedelta(microseconds=int(share * length))
                    if period.start < moment < period.end:
                        cuts.add(moment)
                        exact[moment] = threshold - energy

        ordered = sorted(cuts)
        for a, b in itertools.pairwise(ordered):
            if b <= a:
                continue
            before = _delivered_at(a, period, length, exact)
            after = _delivered_at(b, period, length, exact)
            segments.append(Segment(a, b, energy + before, after - before, period))
        energy += period.energy_kwh
    return segments


def _delivered_at(
    moment: datetime, period: Period, length: Decimal, exact: dict[datetime, Decimal]
) -> Decimal:
    """Energy delivered in ``period`` up to ``moment``, spread evenly over the period."""
    if moment in exact:
        return exact[moment]
    if moment >= period.end:
        return period.energy_kwh
    if not length:
        return Decimal(0)
    offset = Decimal((moment - period.start) // timedelta(microseconds=1))
    return period.energy_kwh * offset / length


def _matches(
    element: Element, segment: Segment, session: Session, zone: ZoneInfo, expired: bool
) -> tuple[bool, str]:
    r = element.restrictions
    if r is None:
        return (not segment.reservation), "no restrictions"
    if segment.reservation:
        allowed = {"RESERVATION", "RESERVATION_EXPIRES"} if expired else {"RESERVATION"}
        if r.reservation not in allowed:
            return False, ""
    elif r.reservation is not None:
        return False, ""
    if segment.local is None:
        segment.local = segment.start.astimezone(zone)
    local = segment.local
    why = []
    clock = local.time()
    if r.start_time is not None or r.end_time is not None:
        start = r.start_time
        end = r.end_time if r.end_time is not None and r.end_time != datetime.min.time() else None
        if start is not None and end is not None and end < start:
            inside = clock >= start or clock < end
        else:
            inside = (start is None or clock >= start) and (end is None or clock < end)
        if not inside:
            return False, ""
        why.append(f"time {r.start_time or ''}-{r.end_time or ''}")
    if r.start_date is not None and local.date() < r.start_date:
        return False, ""
    if r.end_date is not None and local.date() >= r.end_date:
        return False, ""
    if r.start_date or r.end_date:
        why.append(f"dates {r.start_date or ''}..{r.end_date or ''}")
    if r.day_of_week:
        if WEEKDAYS[local.weekday()] not in r.day_of_week:
            return False, ""
        why.append(WEEKDAYS[local.weekday()].lower())
    if r.min_kwh is not None and segment.energy_before < r.min_kwh:
        return False, ""
    if r.max_kwh is not None and segment.energy_before >= r.max_kwh:
        return False, ""
    if r.min_kwh is not None or r.max_kwh is not None:
        why.append(f"{segment.energy_before:.3f} kWh in [{r.min_kwh or 0}, {r.max_kwh or '∞'})")
    period = segment.period
    for low, high, value, unit in (
        (r.min_current, r.max_current, period.max_current_a if period else None, "A"),
        (r.min_power, r.max_power, period.max_power_kw if period else None, "kW"),
    ):
        if low is None and high is None:
            continue
        if (
            value is None
            or (low is not None and value < low)
            or (high is not None and value >= high)
        ):
            return False, ""
        why.append(f"{value} {unit} in [{low or 0}, {high or '∞'})")
    elapsed = Decimal((segment.start - session.start) // timedelta(microseconds=1)) / 1_000_000
    if r.min_duration is not None and elapsed < r.min_duration:
        return False, ""
    if r.max_duration is not None and elapsed >= r.max_duration:
        return False, ""
    if r.min_duration is not None or r.max_duration is not None:
        why.append(f"{elapsed:.0f} s into the session")
    if r.reservation:
        why.append(r.reservation.lower())
    return True, ", ".join(why) or "no restrictions"


Candidates = dict[tuple[Dimension, bool], list[tuple[int, Element, PriceComponent]]]


def _candidates(tariff: Tariff, expired: bool) -> Candidates:
    """Per (dimension, reservation segment?): the elements that can price it, in list order.

    For an expired reservation, ``RESERVATION_EXPIRES`` elements replace the ``RESERVATION``
    ones for every dimension they price (spec note on ReservationRestrictionType).
    """
    found: Candidates = {}
    for dimension in Dimension:
        priced = [(i, e, c) for i, e in enumerate(tariff.elements) if (c := e.component(dimension))]
        found[(dimension, False)] = priced
        reserving = [
            (i, e, c) for i, e, c in priced if e.restrictions and e.restrictions.reservation
        ]
        expiring = [
            t
            for t in reserving
            if t[1].restrictions and t[1].restrictions.reservation == "RESERVATION_EXPIRES"
        ]
        found[(dimension, True)] = expiring if expired and expiring else reserving
    return found


_CANDIDATES: OrderedDict[tuple[int, bool], tuple[Tariff, Candidates]] = OrderedDict()


def _cached_candidates(tariff: Tariff, expired: bool) -> Candidates:
    """:func:`_candidates`, remembered for the last few hundred tariff objects: pricing a batch
    of sessions reuses one parsed tariff version. Keyed by identity (hashing a whole tariff
    costs as much as the work saved) and checked against the object itself."""
    key = (id(tariff), expired)
    hit = _CANDIDATES.get(key)
    if hit is not None and hit[0] is tariff:
        return hit[1]
    found = _candidates(tariff, expired)
    _CANDIDATES[key] = (tariff, found)
    if len(_CANDIDATES) > 512:
        _CANDIDATES.popitem(last=False)
    return found


def _active(
    candidates: Candidates,
    dimension: Dimension,
    segment: Segment,
    session: Session,
    zone: ZoneInfo,
    expired: bool,
) -> tuple[int, PriceComponent, str] | None:
    for index, element, component in candidates[(dimension, segment.reservation)]:
        ok, why = _matches(element, segment, session, zone, expired)
        if ok:
            return index, component, why
    return None


def _quantity(dimension: Dimension, segment: Segment) -> Decimal:
    """Internally time is counted in seconds (exact to the microsecond) and energy in kWh."""
    if dimension is Dimension.ENERGY:
        return segment.energy
    return segment.seconds


def _step(dimension: Dimension, component: PriceComponent, total: Decimal) -> Decimal:
    """``total`` (seconds or kWh) rounded up to a multiple of the component's step.

    The ceiling is taken on the total at measurement resolution (1 microsecond, 1 mWh), so
    that spreading energy over segments cannot turn 1200 Wh into 1200.000...01 Wh and bill a
    whole extra step.
    """
    step = Decimal(max(component.step_size, 1))
    if dimension is Dimension.ENERGY:
        wh = (total * 1000).quantize(Decimal("0.001"))
        return Decimal(math.ceil(wh / step)) * step / 1000
    seconds = total.quantize(Decimal("0.000001"))
    return Decimal(math.ceil(seconds / step)) * step


@dataclass(slots=True)
class _Billed:
    segment: Segment
    dimension: Dimension
    element: int
    component: PriceComponent
    why: str
    quantity: Decimal
    billed: Decimal


def price_session(tariff: Tariff, session: Session, time_zone: str) -> PricingResult:
    """Price ``session`` with ``tariff`` at a Location in IANA ``time_zone``."""
    zone = ZoneInfo(time_zone)
    segments = _segments(session, tariff, zone)
    expired = bool(session.reservation and session.reservation.expired)
    candidates = _cached_candidates(tariff, expired)
    raw: list[_Billed] = []
    flat_billed = {False: False, True: False}
    for segment in segments:
        if segment.reservation:
            dimensions = [Dimension.FLAT, Dimension.TIME]
        elif segment.period is not None and segment.period.charging:
            dimensions = [Dimension.FLAT, Dimension.TIME, Dimension.ENERGY]
        else:
            dimensions = [Dimension.FLAT, Dimension.PARKING_TIME]
        for dimension in dimensions:
            if dimension is Dimension.FLAT and flat_billed[segment.reservation]:
                continue
            found = _active(candidates, dimension, segment, session, zone, expired)
            if found is None:
                continue
            index, component, why = found
            quantity = Decimal(1) if dimension is Dimension.FLAT else _quantity(dimension, segment)
            if dimension is Dimension.FLAT:
                flat_billed[segment.reservation] = True
            raw.append(_Billed(segment, dimension, index, component, why, quantity, quantity))

    # step_size on the last billed period of each dimension (time-based ones counted together).
    for reservation in (False, True):
        for group in ({Dimension.TIME, Dimension.PARKING_TIME}, {Dimension.ENERGY}):
            items = [
                r for r in raw if r.dimension in group and r.segment.reservation is reservation
            ]
            if not items:
                continue
            last = items[-1]
            total = sum((r.quantity for r in items if r.dimension is last.dimension), Decimal(0))
            last.billed = last.quantity + (_step(last.dimension, last.component, total) - total)

    lines = []
    for r in raw:
        timed = r.dimension is Dimension.TIME or r.dimension is Dimension.PARKING_TIME
        billed = r.billed / HOUR if timed else r.billed
        lines.append(
            Line(
                r.dimension,
                r.segment.start,
                r.segment.end,
                r.element,
                r.why,
                r.quantity / HOUR if timed else r.quantity,
                billed,
                r.component,
                r.component.cost(billed),
                r.segment.reservation,
            )
        )
    return _result(tariff, segments, tuple(lines))


def _result(tariff: Tariff, segments: list[Segment], lines: tuple[Line, ...]) -> PricingResult:
    by: dict[Dimension, Money] = {}
    reservation_cost: Money | None = None
    exact = ZERO
    for line in lines:
        exact = exact + line.cost
        if line.reservation:
            reservation_cost = (
                line.cost if reservation_cost is None else reservation_cost + line.cost
            )
        else:
            held = by.get(line.dimension)
            by[line.dimension] = line.cost if held is None else held + line.cost
    total, adjustments = exact, []
    vat_free = _vat_free(tariff)
    if tariff.min_price is not None:
        total, note = _bound(total, _bound_of(tariff.min_price, vat_free), max, "min_price")
        adjustments += note
    if tariff.max_price is not None:
        total, note = _bound(total, _bound_of(tariff.max_price, vat_free), min, "max_price")
        adjustments += note
    charging = [
        s for s in segments if not s.reservation and s.period is not None and s.period.charging
    ]
    parking = [
        s for s in segments if not s.reservation and s.period is not None and not s.period.charging
    ]
    return PricingResult(
        tariff_id=tariff.id,
        currency=tariff.currency,
        charging_periods=_periods(tariff, lines),
        total_energy=sum((s.energy for s in segments), Decimal(0)).quantize(MILLI),
        total_time=(sum((s.seconds for s in charging + parking), Decimal(0)) / HOUR).quantize(
            MILLI
        ),
        total_parking_time=(sum((s.seconds for s in parking), Decimal(0)) / HOUR).quantize(MILLI),
        total_cost=total.rounded(),
        total_energy_cost=_rounded(by.get(Dimension.ENERGY)),
        total_time_cost=_rounded(by.get(Dimension.TIME)),
        total_parking_cost=_rounded(by.get(Dimension.PARKING_TIME)),
        total_fixed_cost=_rounded(by.get(Dimension.FLAT)),
        total_reservation_cost=_rounded(reservation_cost),
        lines=lines,
        adjustments=tuple(adjustments),
        exact_total=total,
    )


def _rounded(money: Money | None) -> Money | None:
    return money.rounded() if money is not None else None


def _vat_free(tariff: Tariff) -> bool:
    """No component of the tariff charges VAT (``vat`` omitted or 0): incl. = excl. throughout."""
    return all(not c.vat for e in tariff.elements for c in e.components)


def _bound_of(bound: Money, vat_free: bool) -> Money:
    """A bound stated without ``incl_vat`` (as a tariff without VAT would state it) bounds the
    total incl. VAT too when the tariff charges no VAT: else total_cost would read e.g.
    5.00 excl. / 1.00 incl. Where VAT applies, the missing amount cannot be derived: when such
    a bound binds, the total incl. VAT becomes unknown (see :func:`_bound`)."""
    if bound.incl_vat is None and vat_free:
        return Money(bound.excl_vat, bound.excl_vat)
    return bound


def _bound(total: Money, bound: Money, pick: object, name: str) -> tuple[Money, list[str]]:
    choose = pick  # max for min_price, min for max_price
    excl = choose(total.excl_vat, bound.excl_vat)  # type: ignore[operator]
    incl = total.incl_vat
    notes = []
    if incl is not None and bound.incl_vat is not None:
        incl = choose(incl, bound.incl_vat)  # type: ignore[operator]
    elif incl is not None and excl != total.excl_vat:
        # The bound moved the total excl. VAT and says nothing of the VAT on the difference.
        incl = None
        notes.append(f"{name} has no incl_vat: total incl. VAT unknown")
    if excl != total.excl_vat or incl != total.incl_vat:
        notes.insert(0, f"{name} applied: {total.excl_vat} -> {excl} excl. VAT")
    return Money(excl, incl), notes


def _periods(tariff: Tariff, lines: tuple[Line, ...]) -> tuple[ChargingPeriod, ...]:
    """OCPI charging periods: a new one whenever the billed dimensions or the Tariff Element
    pricing them change (OCPI CDR ``charging_periods``); FLAT has no volume."""
    by_segment: dict[datetime, list[Line]] = {}
    for line in lines:
        if line.dimension is not Dimension.FLAT and not line.reservation:
            by_segment.setdefault(line.start, []).append(line)
    merged: list[tuple[datetime, tuple[tuple[Dimension, int], ...], dict[Dimension, Decimal]]] = []
    end: datetime | None = None
    for start in sorted(by_segment):
        group = by_segment[start]
        key = tuple(sorted((line.dimension, line.element) for line in group))
        if merged and merged[-1][1] == key and end == start:
            volumes = merged[-1][2]
            for line in group:
                volumes[line.dimension] += line.quantity
        else:
            merged.append((start, key, {line.dimension: line.quantity for line in group}))
        end = group[0].end
    return tuple(
        ChargingPeriod(
            start,
            tuple((d.value, volumes[d].quantize(MILLI)) for d, _ in key),
            tariff.id,
        )
        for start, key, volumes in merged
    )
