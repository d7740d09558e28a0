"""SQL of NEVI reporting: stations registered for EV-ChART, their ports, and the quarter's
ended sessions read page by page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.sessions import CloseReason, SessionStatus
from hub.persistence.tables import ChargingSession, Evse, Location, NeviStation

# A reservation nobody used is a session row but was never a charge (README "Reservations").
_NOT_CHARGES = (CloseReason.RESERVATION_EXPIRED.value, CloseReason.RESERVATION_CANCELLED.value)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """The columns of one ended session that Module 2 needs (a row, not an ORM object: a
    page of them holds nothing in the session's identity map)."""

    pk: int
    session_id: str
    location_id: str
    evse_uid: str
    charger_id: str
    connector_id: str
    start: datetime
    end: datetime
    kwh: Decimal
    max_power_kw: Decimal | None
    session_error: str | None
    payment_method: str | None


_RECORD_COLUMNS = (
    col(ChargingSession.id),
    col(ChargingSession.session_id),
    col(ChargingSession.location_id),
    col(ChargingSession.evse_uid),
    col(ChargingSession.station_id),
    col(ChargingSession.connector_id),
    col(ChargingSession.start_date_time),
    col(ChargingSession.end_date_time),
    col(ChargingSession.kwh),
    col(ChargingSession.max_power_kw),
    col(ChargingSession.session_error),
    col(ChargingSession.payment_method),
)


class EvchartRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def registration(self, location_ref: int) -> NeviStation | None:
        result = await self.session.execute(
            select(NeviStation).where(col(NeviStation.location_ref) == location_ref)
        )
        return result.scalar_one_or_none()

    async def registered(
        self, location_ids: Sequence[str] | None = None
    ) -> list[tuple[Location, NeviStation]]:
        """Registered locations (all, or those of ``location_ids``), by location id."""
        statement = select(Location, NeviStation).join(
            NeviStation, col(NeviStation.location_ref) == col(Location.id)
        )
        if location_ids is not None:
            statement = statement.where(col(Location.location_id).in_(list(location_ids)))
        result = await self.session.execute(statement.order_by(col(Location.location_id)))
        return [(location, station) for location, station in result.all()]

    async def port_uids(self, location_refs: Iterable[int]) -> dict[int, list[str]]:
        """The EVSE uids (NEVI port ids) of each location, in their configured order."""
        refs = list(location_refs)
        ports: dict[int, list[str]] = {ref: [] for ref in refs}
        if not refs:
            return ports
        result = await self.session.execute(
            select(col(Evse.location_ref), col(Evse.uid))
            .where(col(Evse.location_ref).in_(refs))
            .order_by(col(Evse.location_ref), col(Evse.position), col(Evse.id))
        )
        for ref, uid in result.all():
            ports[ref].append(uid)
        return ports

    def _charges(
        self, location_id: str, start: datetime, end: datetime
    ) -> list[ColumnElement[bool]]:
        return [
            col(ChargingSession.location_id) == location_id,
            col(ChargingSession.start_date_time) >= start,
            col(ChargingSession.start_date_time) < end,
            col(ChargingSession.status) != SessionStatus.RESERVATION.value,
            or_(
                col(ChargingSession.close_reason).is_(None),
                col(ChargingSession.close_reason).not_in(_NOT_CHARGES),
            ),
        ]

    async def ended_sessions(
        self,
        location_id: str,
        start: datetime,
        end: datetime,
        *,
        after: tuple[datetime, int] | None,
        limit: int,
    ) -> list[SessionRecord]:
        """One page of the charges started at the location in [start, end) that have ended,
        in (start, id) order after ``after`` (keyset pagination: each page one indexed
        query, whatever the offset)."""
        conditions = [*self._charges(location_id, start, end)]
        conditions.append(col(ChargingSession.end_date_time).is_not(None))
        if after is not None:
            started, pk = after
            conditions.append(
                or_(
                    col(ChargingSession.start_date_time) > started,
                    and_(
                        col(ChargingSession.start_date_time) == started,
                        col(ChargingSession.id) > pk,
                    ),
                )
            )
        result = await self.session.execute(
            # SQLAlchemy's select: SQLModel's overloads stop at four columns
            sa.select(*_RECORD_COLUMNS)
            .where(*conditions)
            .order_by(col(ChargingSession.start_date_time), col(ChargingSession.id))
            .limit(limit)
        )
        return [
            SessionRecord(
                pk=row[0] or 0,  # a primary key: never None
                session_id=row[1],
                location_id=row[2],
                evse_uid=row[3],
                charger_id=row[4],
                connector_id=row[5],
                start=row[6],
                end=row[7] if row[7] is not None else row[6],  # never None: filtered above
                kwh=row[8],
                max_power_kw=row[9],
                session_error=row[10],
                payment_method=row[11],
            )
            for row in result.all()
        ]

    async def still_open(self, location_id: str, start: datetime, end: datetime) -> int:
        """Charges started at the location in [start, end) that have not ended yet."""
        result = await self.session.execute(
            select(func.count())
            .select_from(ChargingSession)
            .where(
                *self._charges(location_id, start, end),
                col(ChargingSession.end_date_time).is_(None),
            )
        )
        return int(result.scalar_one())
