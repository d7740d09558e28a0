"""SQL of the charging profiles set on sessions (``hub.persistence.tables.charging_profiles``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.persistence.tables import ChargingSession, SessionChargingProfile


class ChargingProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_session(self, session_ref: int) -> SessionChargingProfile | None:
        result = await self.session.execute(
            select(SessionChargingProfile).where(
                col(SessionChargingProfile.session_ref) == session_ref
            )
        )
        return result.scalar_one_or_none()

    async def add(self, row: SessionChargingProfile) -> SessionChargingProfile:
        self.session.add(row)
        await self.session.flush()
        return row

    async def at_station(
        self, station_id: str, limit: int
    ) -> list[tuple[SessionChargingProfile, ChargingSession]]:
        """The profiles set on the station's sessions, newest first, with their sessions."""
        result = await self.session.execute(
            select(SessionChargingProfile, ChargingSession)
            .join(
                ChargingSession, col(ChargingSession.id) == col(SessionChargingProfile.session_ref)
            )
            .where(col(SessionChargingProfile.station_id) == station_id)
            .order_by(
                col(SessionChargingProfile.set_at).desc(), col(SessionChargingProfile.id).desc()
            )
            .limit(limit)
        )
        return [(profile, charge) for profile, charge in result.all()]
