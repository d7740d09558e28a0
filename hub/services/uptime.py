"""The NEVI uptime ledger (23 CFR 680.116(b)): outages per port derived and stored with stable
ids, the operator's exclusions with evidence (an append-only trail), scheduled maintenance, and
T_outage, T_excluded and mu per port over any window.

The rules are pure (``hub.domain.ledger``); this service feeds them the rows and keeps what they
derive. The README's "NEVI uptime" section says the same in words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.ledger import (
    DerivedOutage,
    Interval,
    NoEnergyRule,
    PortHistory,
    WindowOutage,
    as_duration,
    calendar_months,
    minutes,
    port_outages,
    port_uptime,
    window_totals,
    year_window,
)
from hub.domain.uptime import ExclusionReason, Outage, OutageCause, PortUptime
from hub.errors import Conflict, InvalidRequest, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.uptime import UptimeRepository
from hub.persistence.tables import (
    Evse,
    MaintenanceWindow,
    OutageExclusionEvent,
    PortOutage,
)

EXCLUDE = "EXCLUDE"
UNEXCLUDE = "UNEXCLUDE"
OPERATOR = "OPERATOR"
MAINTENANCE = "MAINTENANCE"


@dataclass(frozen=True, slots=True)
class Port:
    """A NEVI charging port (an OCPI EVSE) with its station (the location id)."""

    evse: Evse
    station_id: str

    @property
    def ref(self) -> int:
        return self.evse.id or 0

    @property
    def port_id(self) -> str:
        return self.evse.uid


@dataclass(slots=True)
class RebuildSummary:
    """What one rebuild changed."""

    ports: int = 0
    added: int = 0
    updated: int = 0
    withdrawn: int = 0
    revived: int = 0
    maintenance_events: int = 0


@dataclass(frozen=True, slots=True)
class PortReport:
    """One port in a compliance report: the rule's year to the report's instant, its months,
    and the outages of that year."""

    history: PortHistory
    year: PortUptime
    months: list[PortUptime]
    outages: list[Outage]

    @property
    def first_year(self) -> bool:
        begin = self.history.commissioned_at
        return begin is not None and begin > self.year.window_start


@dataclass(frozen=True, slots=True)
class OutageDetail:
    """An outage, whether the ledger still derives it, and its whole exclusion trail."""

    outage: Outage
    withdrawn_at: datetime | None
    trail: list[OutageExclusionEvent] = field(default_factory=list)
    exclusion_source: str | None = None
    evidence: str | None = None
    excluded_intervals: tuple[Interval, ...] = ()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _intervals(event: OutageExclusionEvent | None) -> tuple[Interval, ...]:
    if event is None or event.action != EXCLUDE:
        return ()
    return tuple(
        Interval(
            datetime.fromisoformat(str(start)),
            None if until is None else datetime.fromisoformat(until),
        )
        for start, until in event.intervals
    )


def _serialised(intervals: Sequence[Interval]) -> list[list[str | None]]:
    return [[_iso(i.start), _iso(i.end)] for i in intervals]


class UptimeService:
    """The uptime ledger of every port.

    ``rule`` is the no-energy detector (``HUB_UPTIME__NO_ENERGY_*``), ``clock`` the time the
    ledger is derived up to (outages still going on end there in the totals), and
    ``history_since`` when the platform's records became complete (``HUB_UPTIME__HISTORY_SINCE``).
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        rule: NoEnergyRule | None = None,
        clock: Callable[[], datetime] = utc_now,
        history_since: datetime | None = None,
    ) -> None:
        self.repository = UptimeRepository(session)
        self.rule = rule or NoEnergyRule()
        self.clock = clock
        self.history_since = history_since

    # -- scope ---------------------------------------------------------------------------------

    async def ports(self, *, stations: Sequence[str] = (), port: str | None = None) -> list[Port]:
        """The ports of ``stations`` (each a location id, the NEVI station, or an OCPP
        charging station id) and/or the one port ``port`` (an EVSE uid).

        Raises:
            NotFound: a station or port that does not exist.
        """
        location_ids: list[str] = []
        charging_station_ids: list[str] = []
        for name in stations:
            if await self.repository.location(name) is not None:
                location_ids.append(name)
            elif await self.repository.has_charging_station(name):
                charging_station_ids.append(name)
            else:
                raise NotFound(f"no station {name!r} (neither a location id nor a charger)")
        rows = await self.repository.ports(
            location_ids=location_ids, charging_station_ids=charging_station_ids, port_id=port
        )
        if port is not None and not rows:
            where = f" at {', '.join(stations)}" if stations else ""
            raise NotFound(f"no port {port!r}{where}")
        return [Port(evse, location_id) for evse, location_id in rows]

    # -- the ledger ------------------------------------------------------------------------------

    async def rebuild(
        self, *, stations: Sequence[str] = (), port: str | None = None
    ) -> RebuildSummary:
        """Derive the outages of the ports in scope from their whole history and sessions, and
        store them: an outage is matched to its row by (port, start), so an unchanged outage
        keeps its id and a still-running one gets its end when it ends; a row no longer derived
        is withdrawn (kept, with its exclusion trail), and revived under the same id if derived
        again. Then declared maintenance is applied to the outages it overlaps. Idempotent."""
        ports = await self.ports(stations=stations, port=port)
        summary = RebuildSummary(ports=len(ports))
        if not ports:
            return summary
        refs = [p.ref for p in ports]
        history = await self.repository.history(refs)
        attempts = await self.repository.attempts([p.port_id for p in ports])
        stored = await self.repository.outages_of(refs)
        now = self.clock()
        for p in ports:
            derived = port_outages(history.get(p.ref, []), attempts.get(p.port_id, []), self.rule)
            await self._store(p, derived, stored.get(p.ref, []), now, summary)
        await self._apply_maintenance(ports, summary)
        return summary

    async def _store(
        self,
        port: Port,
        derived: Sequence[DerivedOutage],
        stored: Sequence[PortOutage],
        now: datetime,
        summary: RebuildSummary,
    ) -> None:
        by_start = {row.starts_at: row for row in stored}
        seen: set[datetime] = set()
        for outage in derived:
            seen.add(outage.start)
            row = by_start.get(outage.start)
            if row is None:
                await self.repository.add(
                    PortOutage(
                        evse_ref=port.ref,
                        station_id=port.station_id,
                        port_id=port.port_id,
                        starts_at=outage.start,
                        ends_at=outage.end,
                        cause=outage.cause.value,
                        derived_at=now,
                    )
                )
                summary.added += 1
                continue
            if row.withdrawn_at is not None:
                row.withdrawn_at = None
                summary.revived += 1
            elif row.ends_at != outage.end or row.cause != outage.cause.value:
                summary.updated += 1
            else:
                continue
            row.ends_at, row.cause, row.derived_at = outage.end, outage.cause.value, now
        for row in stored:
            if row.starts_at not in seen and row.withdrawn_at is None:
                row.withdrawn_at = now
                summary.withdrawn += 1

    async def _apply_maintenance(self, ports: Sequence[Port], summary: RebuildSummary) -> None:
        windows = await self.repository.maintenance(
            sorted({p.evse.location_ref for p in ports}),
            sorted({p.evse.charging_station_id for p in ports if p.evse.charging_station_id}),
            [p.ref for p in ports],
        )
        if not windows:
            return
        outages = await self.repository.outages_of([p.ref for p in ports], live_only=True)
        trail = await self.repository.trail([o.id or 0 for rows in outages.values() for o in rows])
        for p in ports:
            mine = [
                w
                for w in windows
                if w.evse_ref == p.ref
                or w.location_ref == p.evse.location_ref
                or (w.charging_station_id and w.charging_station_id == p.evse.charging_station_id)
            ]
            for outage in outages.get(p.ref, []):
                events = trail.get(outage.id or 0, [])
                if await self._maintain(outage, mine, events):
                    summary.maintenance_events += 1

    async def _maintain(
        self,
        outage: PortOutage,
        windows: Sequence[MaintenanceWindow],
        events: Sequence[OutageExclusionEvent],
    ) -> bool:
        current = next((e for e in events if e.id == outage.exclusion_ref), None)
        if current is not None and current.source == OPERATOR:
            return False  # the operator's exclusion stands
        if current is None and events and events[-1].source == OPERATOR:
            return False  # the operator unexcluded it: maintenance does not undo that
        overlaps: list[Interval] = []
        used: list[MaintenanceWindow] = []
        for window in windows:
            lo = max(outage.starts_at, window.starts_at)
            hi = window.ends_at if outage.ends_at is None else min(outage.ends_at, window.ends_at)
            if hi <= lo:
                continue
            used.append(window)
            if overlaps and lo <= (overlaps[-1].end or lo):
                overlaps[-1] = Interval(overlaps[-1].start, max(overlaps[-1].end or hi, hi))
            else:
                overlaps.append(Interval(lo, hi))
        if current is None and not overlaps:
            return False
        if current is not None and _intervals(current) == tuple(overlaps):
            return False
        if not overlaps:
            event = OutageExclusionEvent(
                outage_ref=outage.id or 0,
                action=UNEXCLUDE,
                source=MAINTENANCE,
                note="no declared maintenance overlaps the outage any more",
                maintenance_ref=current.maintenance_ref if current else None,
                made_by=current.made_by if current else "ledger",
                made_at=self.clock(),
            )
        else:
            first = used[0]
            ids = [w.id for w in used]
            event = OutageExclusionEvent(
                outage_ref=outage.id or 0,
                action=EXCLUDE,
                source=MAINTENANCE,
                reason=ExclusionReason.SCHEDULED_MAINTENANCE.value,
                intervals=_serialised(overlaps),
                note=first.note,
                evidence=f"maintenance window {', '.join(str(i) for i in ids)} declared "
                f"{first.created_at.isoformat()}",
                maintenance_ref=first.id,
                made_by=first.made_by,
                made_at=self.clock(),
            )
        await self.repository.add(event)
        outage.exclusion_ref = event.id if event.action == EXCLUDE else None
        return True

    # -- reading ---------------------------------------------------------------------------------

    async def outages(
        self,
        *,
        stations: Sequence[str] = (),
        port: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        rebuild: bool = True,
    ) -> list[Outage]:
        """The live outages of the ports in scope overlapping [since, until), by station, port
        and start (rebuilt first unless ``rebuild`` is False). An outage still going on has
        ``end`` None; its excluded minutes count up to the ledger's clock."""
        return [d.outage for d in await self.details(stations, port, since, until, rebuild)]

    async def details(
        self,
        stations: Sequence[str] = (),
        port: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        rebuild: bool = True,
    ) -> list[OutageDetail]:
        """:meth:`outages` with the exclusion's source, evidence and intervals of each."""
        if rebuild:
            await self.rebuild(stations=stations, port=port)
        ports = await self.ports(stations=stations, port=port)
        rows = await self.repository.listing([p.ref for p in ports], since=since, until=until)
        events = await self.repository.events([r.exclusion_ref for r in rows if r.exclusion_ref])
        return [self._detail(row, events.get(row.exclusion_ref or 0)) for row in rows]

    def _detail(
        self,
        row: PortOutage,
        event: OutageExclusionEvent | None,
        trail: list[OutageExclusionEvent] | None = None,
    ) -> OutageDetail:
        intervals = _intervals(event)
        excluded = timedelta(0)
        if intervals:
            end = row.ends_at or self.clock()
            _, excluded = window_totals(
                [WindowOutage(row.starts_at, row.ends_at, intervals)], row.starts_at, end
            )
        notes = None
        if event is not None and event.action == EXCLUDE:
            notes = (
                event.note if not event.evidence else f"{event.note} (evidence: {event.evidence})"
            )
        outage = Outage(
            outage_id=row.id or 0,
            station_id=row.station_id,
            port_id=row.port_id,
            start=row.starts_at,
            end=row.ends_at,
            cause=OutageCause(row.cause),
            excluded=bool(intervals),
            reason=ExclusionReason(event.reason) if intervals and event and event.reason else None,
            notes=notes,
            excluded_minutes=minutes(excluded),
        )
        return OutageDetail(
            outage=outage,
            withdrawn_at=row.withdrawn_at,
            trail=trail or [],
            exclusion_source=event.source if intervals and event else None,
            evidence=event.evidence if intervals and event else None,
            excluded_intervals=intervals,
        )

    async def outage(self, outage_id: int) -> OutageDetail:
        """One outage with its whole exclusion trail (withdrawn ones too).

        Raises:
            NotFound: no outage with this id.
        """
        row = await self.repository.outage(outage_id)
        if row is None:
            raise NotFound(f"no outage {outage_id}")
        trail = (await self.repository.trail([outage_id])).get(outage_id, [])
        events = await self.repository.events([row.exclusion_ref] if row.exclusion_ref else [])
        return self._detail(row, events.get(row.exclusion_ref or 0), trail)

    async def uptimes(
        self,
        window_start: datetime,
        window_end: datetime,
        *,
        stations: Sequence[str] = (),
        port: str | None = None,
        rebuild: bool = True,
    ) -> list[PortUptime]:
        """T_outage, T_excluded and mu of every port in scope over [window_start, window_end)
        (``hub.domain.ledger.port_uptime`` has the rules; the rule's year is twelve calendar
        months: ``hub.domain.ledger.year_window``)."""
        if window_end <= window_start:
            raise InvalidRequest("the window must end after it starts")
        return [
            uptime
            for _, uptime, _ in await self.port_windows(
                [(window_start, window_end)], stations=stations, port=port, rebuild=rebuild
            )
        ]

    async def port_windows(
        self,
        windows: Sequence[tuple[datetime, datetime]],
        *,
        stations: Sequence[str] = (),
        port: str | None = None,
        rebuild: bool = True,
    ) -> list[tuple[PortHistory, PortUptime, list[PortUptime]]]:
        """Per port: its history facts, its uptime over the first window, and over every window
        (the first included), in port order. For reports that need several windows at once."""
        if rebuild:
            await self.rebuild(stations=stations, port=port)
        ports = await self.ports(stations=stations, port=port)
        refs = [p.ref for p in ports]
        firsts = await self.repository.first_changes(refs)
        stored = await self.repository.outages_of(refs, live_only=True)
        event_ids = [o.exclusion_ref for rows in stored.values() for o in rows if o.exclusion_ref]
        events = await self.repository.events(event_ids)
        as_of = self.clock()
        result = []
        for p in ports:
            history = PortHistory(p.station_id, p.port_id, firsts.get(p.ref))
            outages = [
                WindowOutage(o.starts_at, o.ends_at, _intervals(events.get(o.exclusion_ref or 0)))
                for o in stored.get(p.ref, [])
            ]
            per_window = [
                port_uptime(
                    history, outages, start, end, as_of=as_of, history_since=self.history_since
                )
                for start, end in windows
            ]
            result.append((history, per_window[0], per_window))
        return result

    async def report(
        self, *, stations: Sequence[str] = (), port: str | None = None, rebuild: bool = True
    ) -> list[PortReport]:
        """Every port in scope over the rule's year ending at the ledger's clock (twelve
        calendar months), with its twelve calendar months (the current one up to now) and the
        outages of the year (rebuilt first unless ``rebuild`` is False)."""
        as_of = self.clock()
        year = year_window(as_of)
        months = calendar_months(as_of)
        rows = await self.port_windows(
            [year, *months], stations=stations, port=port, rebuild=rebuild
        )
        details = await self.details(stations, port, since=year[0], until=as_of, rebuild=False)
        by_port: dict[str, list[Outage]] = {}
        for detail in details:
            by_port.setdefault(detail.outage.port_id, []).append(detail.outage)
        return [
            PortReport(history, uptime, windows[1:], by_port.get(history.port_id, []))
            for history, uptime, windows in rows
        ]

    # -- the operator's exclusions -----------------------------------------------------------------

    async def exclude(
        self,
        outage_id: int,
        *,
        reason: int,
        note: str,
        evidence: str,
        by: str,
        excluded_minutes: Decimal | None = None,
    ) -> OutageDetail:
        """Exclude an outage (EV-ChART reason 1-6), wholly or its first ``excluded_minutes``,
        with a note and an evidence reference; recorded in the trail.

        Raises:
            NotFound: no such outage.
            InvalidRequest: a reason outside 1-6, no note or evidence, minutes not positive or
                longer than the outage (so far).
            InvalidState: the outage is withdrawn (the ledger no longer derives it).
            Conflict: the outage is excluded already (the exclusions would overlap).
        """
        try:
            code = ExclusionReason(reason)
        except ValueError:
            raise InvalidRequest(f"reason must be 1-6 (EV-ChART), not {reason}") from None
        if not note.strip():
            raise InvalidRequest("a note is required: why the outage is excluded")
        if not evidence.strip():
            raise InvalidRequest("an evidence reference is required")
        row = await self._live(outage_id)
        if row.exclusion_ref is not None:
            current = (await self.repository.events([row.exclusion_ref]))[row.exclusion_ref]
            raise Conflict(
                f"outage {outage_id} is excluded already (reason {current.reason}, "
                f"{current.source.lower()}, by {current.made_by} at "
                f"{current.made_at.isoformat()}); unexclude it first"
            )
        now = self.clock()
        until: datetime | None = None
        if excluded_minutes is not None:
            so_far = minutes((row.ends_at or now) - row.starts_at)
            if excluded_minutes <= 0:
                raise InvalidRequest("--minutes must be positive")
            if excluded_minutes > so_far:
                raise InvalidRequest(
                    f"outage {outage_id} lasts {so_far} minutes"
                    f"{' so far' if row.ends_at is None else ''}; "
                    f"{excluded_minutes} cannot be excluded"
                )
            until = row.starts_at + as_duration(excluded_minutes)
        event = OutageExclusionEvent(
            outage_ref=row.id or 0,
            action=EXCLUDE,
            source=OPERATOR,
            reason=code.value,
            intervals=_serialised([Interval(row.starts_at, until)]),
            note=note.strip(),
            evidence=evidence.strip(),
            made_by=by,
            made_at=now,
        )
        await self.repository.add(event)
        row.exclusion_ref = event.id
        return await self.outage(outage_id)

    async def unexclude(self, outage_id: int, *, note: str, by: str) -> OutageDetail:
        """End the exclusion in effect (the operator's or a maintenance window's); recorded in
        the trail, and maintenance is not applied to this outage again.

        Raises:
            NotFound: no such outage.
            InvalidRequest: no note.
            InvalidState: the outage is not excluded, or withdrawn.
        """
        if not note.strip():
            raise InvalidRequest("a note is required: why the exclusion is withdrawn")
        row = await self._live(outage_id)
        if row.exclusion_ref is None:
            raise InvalidState(f"outage {outage_id} is not excluded")
        current = (await self.repository.events([row.exclusion_ref]))[row.exclusion_ref]
        await self.repository.add(
            OutageExclusionEvent(
                outage_ref=row.id or 0,
                action=UNEXCLUDE,
                source=OPERATOR,
                reason=current.reason,
                note=note.strip(),
                maintenance_ref=current.maintenance_ref,
                made_by=by,
                made_at=self.clock(),
            )
        )
        row.exclusion_ref = None
        return await self.outage(outage_id)

    async def _live(self, outage_id: int) -> PortOutage:
        row = await self.repository.outage(outage_id, for_update=True)
        if row is None:
            raise NotFound(f"no outage {outage_id}")
        if row.withdrawn_at is not None:
            raise InvalidState(
                f"outage {outage_id} is withdrawn: the ledger no longer derives it "
                f"(since {row.withdrawn_at.isoformat()})"
            )
        return row

    # -- scheduled maintenance -------------------------------------------------------------------

    async def add_maintenance(
        self,
        *,
        station: str | None,
        port: str | None,
        starts_at: datetime,
        ends_at: datetime,
        note: str,
        by: str,
    ) -> MaintenanceWindow:
        """Declare scheduled maintenance ahead of time for one port or every port of a station
        (a location id, or an OCPP charging station id); outages inside it are excluded with
        reason 3 by the next rebuild (and at once for those already stored).

        Raises:
            InvalidRequest: neither or both of station and port, a window that does not end
                after it starts, starts in the past (declared after the fact: exclude the
                outage with evidence instead), or no note.
            NotFound: an unknown station or port.
            Conflict: it overlaps maintenance declared for one of the same ports.
        """
        if (station is None) == (port is None):
            raise InvalidRequest("give either --station or --port")
        if ends_at <= starts_at:
            raise InvalidRequest("--until must be after --from")
        now = self.clock()
        if starts_at < now:
            raise InvalidRequest(
                f"scheduled maintenance is declared ahead of time: --from {starts_at.isoformat()}"
                f" is before now ({now.isoformat()}); exclude the outage with reason 3 and "
                "evidence instead (hub outages exclude)"
            )
        if not note.strip():
            raise InvalidRequest("a note is required: what the maintenance is")
        ports = await self.ports(stations=[station] if station else [], port=port)
        if not ports:
            raise NotFound(f"station {station!r} has no ports")
        location = await self.repository.location(station) if station else None
        window = MaintenanceWindow(
            location_ref=location.id if location else None,
            charging_station_id=station if station and location is None else None,
            evse_ref=ports[0].ref if port else None,
            scope=f"station {station}" if station else f"port {port}",
            starts_at=starts_at,
            ends_at=ends_at,
            note=note.strip(),
            made_by=by,
            created_at=now,
        )
        declared = await self.repository.maintenance(
            sorted({p.evse.location_ref for p in ports}),
            sorted({p.evse.charging_station_id for p in ports if p.evse.charging_station_id}),
            [p.ref for p in ports],
        )
        refs = {p.ref for p in ports}
        for other in declared:
            covers = await self._maintenance_ports(other)
            if covers & refs and other.starts_at < ends_at and starts_at < other.ends_at:
                raise Conflict(
                    f"it overlaps maintenance {other.id} ({other.scope}, "
                    f"{other.starts_at.isoformat()} to {other.ends_at.isoformat()})"
                )
        await self.repository.add(window)
        return window

    async def _maintenance_ports(self, window: MaintenanceWindow) -> set[int]:
        if window.evse_ref is not None:
            return {window.evse_ref}
        rows = await self.repository.ports_of_maintenance(window)
        return {evse.id or 0 for evse in rows}

    async def maintenance(
        self, *, stations: Sequence[str] = (), port: str | None = None
    ) -> list[MaintenanceWindow]:
        """Maintenance declared for the ports in scope (all when no scope), by start."""
        ports = await self.ports(stations=stations, port=port)
        return await self.repository.maintenance(
            sorted({p.evse.location_ref for p in ports}),
            sorted({p.evse.charging_station_id for p in ports if p.evse.charging_station_id}),
            [p.ref for p in ports],
        )
