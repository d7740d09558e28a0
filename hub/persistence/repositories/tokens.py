"""SQL of the tokens module: tokens by key, bulk upserts of pulled pages, pull cursors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.tokens import TokenKey, TokenType
from hub.persistence.tables import Token, TokenPullCursor


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, key: TokenKey) -> Token | None:
        result = await self.session.execute(
            select(Token).where(
                col(Token.country_code) == key.country_code,
                col(Token.party_id) == key.party_id,
                col(Token.uid) == key.uid,
                col(Token.type) == key.type.value,
            )
        )
        return result.scalar_one_or_none()

    async def find(self, keys: Iterable[TokenKey]) -> dict[TokenKey, Token]:
        """The stored tokens among ``keys`` (one query per 500 uids)."""
        wanted = set(keys)
        uids = sorted({key.uid for key in wanted})
        found: dict[TokenKey, Token] = {}
        for start in range(0, len(uids), 500):
            rows = await self.session.execute(
                select(Token).where(col(Token.uid).in_(uids[start : start + 500]))
            )
            for row in rows.scalars():
                key = _key(row)
                if key in wanted:
                    found[key] = row
        return found

    async def add(self, token: Token) -> Token:
        self.session.add(token)
        await self.session.flush()
        return token

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new tokens in bulk (a pulled page), without loading them back."""
        if rows:
            await self.session.execute(insert(Token), list(rows))

    async def count(self, partner_id: int | None = None) -> int:
        statement = select(func.count()).select_from(Token)
        if partner_id is not None:
            statement = statement.where(col(Token.partner_id) == partner_id)
        return int((await self.session.execute(statement)).scalar_one())


def _key(row: Token) -> TokenKey:
    return TokenKey(row.country_code, row.party_id, row.uid, TokenType(row.type))


class TokenPullCursorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, partner_id: int) -> TokenPullCursor | None:
        return await self.session.get(TokenPullCursor, partner_id, populate_existing=True)

    async def all(self) -> dict[int, TokenPullCursor]:
        rows = await self.session.execute(select(TokenPullCursor))
        return {row.partner_id: row for row in rows.scalars()}

    async def ensure(self, partner_id: int) -> None:
        """Create the partner's cursor row unless it exists (another process may race us)."""
        if await self.get(partner_id) is not None:
            return
        try:
            async with self.session.begin_nested():
                self.session.add(TokenPullCursor(partner_id=partner_id))
        except IntegrityError:
            pass

    async def claim(self, partner_id: int, worker: str, *, now: datetime, until: datetime) -> bool:
        """Take the partner's pull lease unless another live worker holds it (one atomic
        UPDATE, so two processes racing for it cannot both win)."""
        result = await self.session.execute(
            update(TokenPullCursor)
            .where(
                col(TokenPullCursor.partner_id) == partner_id,
                or_(
                    col(TokenPullCursor.claimed_by).is_(None),
                    col(TokenPullCursor.claimed_by) == worker,
                    col(TokenPullCursor.claimed_until) < now,
                ),
            )
            .values(claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def release(self, partner_id: int, worker: str) -> None:
        await self.session.execute(
            update(TokenPullCursor)
            .where(
                col(TokenPullCursor.partner_id) == partner_id,
                col(TokenPullCursor.claimed_by) == worker,
            )
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
