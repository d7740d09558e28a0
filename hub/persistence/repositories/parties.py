from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.persistence.tables import Party


class PartyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self) -> Sequence[Party]:
        result = await self.session.execute(
            select(Party).order_by(col(Party.country_code), col(Party.party_id), col(Party.id))
        )
        return result.scalars().all()

    async def first_of_role(self, role: str) -> Party | None:
        """The party of ``role`` added first: a stable choice where any of ours will do."""
        result = await self.session.execute(
            select(Party).where(Party.role == role).order_by(col(Party.id)).limit(1)
        )
        return result.scalar_one_or_none()

    async def get_by_key(self, role: str, country_code: str, party_id: str) -> Party | None:
        result = await self.session.execute(
            select(Party).where(
                Party.role == role,
                Party.country_code == country_code,
                Party.party_id == party_id,
            )
        )
        return result.scalar_one_or_none()

    async def add(self, party: Party) -> Party:
        self.session.add(party)
        await self.session.flush()
        return party
