"""Queries of the uptime ledger: the ports in scope, their history and sessions, their stored
outages, exclusion events and maintenance windows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.ledger import SessionAttempt, StatusChange
from hub.domain.sessions import CloseReason, SessionStatus
from hub.persistence.base import UtcDateTime
from hub.persistence.tables import (
    ChargingSession,
    Evse,
    EvseStatusChange,
    Location,
    MaintenanceWindow,
    OutageExclusionEvent,
    PortOutage,
)

_NOT_ATTEMPTS = (CloseReason.RESERVATION_EXPIRED.value, CloseReason.RESERVATION_CANCELLED.value)


class UptimeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- ports -------------------------------------------------------------------------------

    async def location(self, location_id: str) -> Location | None:
        result = await self.session.execute(
            select(Location).where(Location.location_id == location_id)
        )
        return result.scalar_one_or_none()

    async def has_charging_station(self, station_id: str) -> bool:
        result = await self.session.execute(
            select(func.count()).select_from(Evse).where(Evse.charging_station_id == station_id)
        )
        return bool(result.scalar_one())

    async def ports(
        self,
        *,
        location_ids: Sequence[str] = (),
        charging_station_ids: Sequence[str] = (),
        port_id: str | None = None,
    ) -> list[tuple[Evse, str]]:
        """EVSEs with their location id, by location and EVSE order; filters combine with OR
        between stations, AND with the port."""
        statement = select(Evse, Location.location_id).join(
            Location, col(Location.id) == col(Evse.location_ref)
        )
        if location_ids or charging_station_ids:
            statement = statement.where(
                or_(
                    col(Location.location_id).in_(list(location_ids)),
                    col(Evse.charging_station_id).in_(list(charging_station_ids)),
                )
            )
        if port_id is not None:
            statement = statement.where(Evse.uid == port_id)
        statement = statement.order_by(col(Location.location_id), col(Evse.position), col(Evse.id))
        result = await self.session.execute(statement)
        return [(evse, location_id) for evse, location_id in result.all()]

    # -- what outages are derived from -------------------------------------------------------

    async def history(self, evse_refs: Sequence[int]) -> dict[int, list[StatusChange]]:
        result = await self.session.execute(
            select(
                EvseStatusChange.evse_ref,
                EvseStatusChange.changed_at,
                EvseStatusChange.status,
                EvseStatusChange.reason,
            )
            .where(col(EvseStatusChange.evse_ref).in_(list(evse_refs)))
            .order_by(col(EvseStatusChange.evse_ref), col(EvseStatusChange.changed_at))
        )
        changes: dict[int, list[StatusChange]] = defaultdict(list)
        for evse_ref, changed_at, status, reason in result.all():
            changes[evse_ref].append(StatusChange(changed_at, status, reason))
        return changes

    async def first_changes(self, evse_refs: Sequence[int]) -> dict[int, datetime]:
        """When each port's history begins (ports that never reported are absent)."""
        result = await self.session.execute(
            select(
                EvseStatusChange.evse_ref,
                # The aggregate keeps the column's type, so SQLite's text comes back aware.
                type_coerce(func.min(EvseStatusChange.changed_at), UtcDateTime()),
            )
            .where(col(EvseStatusChange.evse_ref).in_(list(evse_refs)))
            .group_by(col(EvseStatusChange.evse_ref))
        )
        return dict(result.all())

    async def attempts(self, evse_uids: Sequence[str]) -> dict[str, list[SessionAttempt]]:
        """Ended charging attempts per EVSE uid: COMPLETED sessions that were not unused
        reservations (INVALID ones are refused drivers or untrusted data, not the port's)."""
        result = await self.session.execute(
            select(
                col(ChargingSession.evse_uid),
                col(ChargingSession.start_date_time),
                col(ChargingSession.kwh),
            )
            .where(
                col(ChargingSession.evse_uid).in_(list(evse_uids)),
                ChargingSession.status == SessionStatus.COMPLETED.value,
                col(ChargingSession.end_date_time).is_not(None),
                or_(
                    col(ChargingSession.close_reason).is_(None),
                    col(ChargingSession.close_reason).not_in(_NOT_ATTEMPTS),
                ),
            )
            .order_by(col(ChargingSession.evse_uid), col(ChargingSession.start_date_time))
        )
        attempts: dict[str, list[SessionAttempt]] = defaultdict(list)
        for evse_uid, start, kwh in result.all():
            attempts[evse_uid].append(SessionAttempt(start, kwh))
        return attempts

    # -- the ledger's own rows ---------------------------------------------------------------

    async def outages_of(
        self, evse_refs: Sequence[int], *, live_only: bool = False
    ) -> dict[int, list[PortOutage]]:
        statement = select(PortOutage).where(col(PortOutage.evse_ref).in_(list(evse_refs)))
        if live_only:
            statement = statement.where(col(PortOutage.withdrawn_at).is_(None))
        result = await self.session.execute(
            statement.order_by(col(PortOutage.evse_ref), col(PortOutage.starts_at))
        )
        outages: dict[int, list[PortOutage]] = defaultdict(list)
        for row in result.scalars():
            outages[row.evse_ref].append(row)
        return outages

    async def listing(
        self,
        evse_refs: Sequence[int],
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PortOutage]:
        """Live outages of the ports that overlap [since, until), by station, port and start."""
        statement = select(PortOutage).where(
            col(PortOutage.evse_ref).in_(list(evse_refs)),
            col(PortOutage.withdrawn_at).is_(None),
        )
        if since is not None:
            statement = statement.where(
                or_(col(PortOutage.ends_at).is_(None), col(PortOutage.ends_at) > since)
            )
        if until is not None:
            statement = statement.where(col(PortOutage.starts_at) < until)
        result = await self.session.execute(
            statement.order_by(
                col(PortOutage.station_id), col(PortOutage.port_id), col(PortOutage.starts_at)
            )
        )
        return list(result.scalars())

    async def outage(self, outage_id: int, *, for_update: bool = False) -> PortOutage | None:
        statement = select(PortOutage).where(PortOutage.id == outage_id)
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def events(self, event_ids: Sequence[int]) -> dict[int, OutageExclusionEvent]:
        if not event_ids:
            return {}
        result = await self.session.execute(
            select(OutageExclusionEvent).where(col(OutageExclusionEvent.id).in_(list(event_ids)))
        )
        return {row.id or 0: row for row in result.scalars()}

    async def trail(self, outage_refs: Sequence[int]) -> dict[int, list[OutageExclusionEvent]]:
        """Every exclusion event of the outages, oldest first."""
        result = await self.session.execute(
            select(OutageExclusionEvent)
            .where(col(OutageExclusionEvent.outage_ref).in_(list(outage_refs)))
            .order_by(col(OutageExclusionEvent.id))
        )
        trail: dict[int, list[OutageExclusionEvent]] = defaultdict(list)
        for row in result.scalars():
            trail[row.outage_ref].append(row)
        return trail

    async def maintenance(
        self,
        location_refs: Sequence[int],
        charging_station_ids: Sequence[str],
        evse_refs: Sequence[int],
    ) -> list[MaintenanceWindow]:
        """Maintenance windows declared for any of these locations, OCPP stations or ports."""
        result = await self.session.execute(
            select(MaintenanceWindow)
            .where(
                or_(
                    col(MaintenanceWindow.location_ref).in_(list(location_refs)),
                    col(MaintenanceWindow.charging_station_id).in_(list(charging_station_ids)),
                    col(MaintenanceWindow.evse_ref).in_(list(evse_refs)),
                )
            )
            .order_by(col(MaintenanceWindow.starts_at), col(MaintenanceWindow.id))
        )
        return list(result.scalars())

    async def ports_of_maintenance(self, window: MaintenanceWindow) -> list[Evse]:
        """The EVSEs a station-wide maintenance window covers."""
        result = await self.session.execute(
            select(Evse).where(
                or_(
                    col(Evse.location_ref) == window.location_ref,
                    col(Evse.charging_station_id) == window.charging_station_id,
                )
            )
        )
        return list(result.scalars())

    async def add(self, row: PortOutage | OutageExclusionEvent | MaintenanceWindow) -> None:
        self.session.add(row)
        await self.session.flush()
