from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from hub.persistence.tables import StationCallToken


class StationCallTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, token_hash: str, expires_at: datetime) -> None:
        self.session.add(StationCallToken(token_hash=token_hash, expires_at=expires_at))
        await self.session.flush()

    async def consume(self, token_hash: str, now: datetime) -> bool:
        """Delete the token if it exists and has not expired; True if it did. One statement, so
        two requests presenting the same token cannot both succeed."""
        result = await self.session.execute(
            delete(StationCallToken).where(
                col(StationCallToken.token_hash) == token_hash,
                col(StationCallToken.expires_at) > now,
            )
        )
        return cast("CursorResult[object]", result).rowcount == 1

    async def purge_expired(self, now: datetime) -> None:
        await self.session.execute(
            delete(StationCallToken).where(col(StationCallToken.expires_at) <= now)
        )
