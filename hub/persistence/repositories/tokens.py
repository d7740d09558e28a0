"""SQL of the tokens module: tokens by key, bulk upserts of pulled pages, pull cursors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.tokens import TokenKey
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

    async def add(self, token: Token) -> Token:
        self.session.add(token)
        await self.session.flush()
        return token

    async def upsert_newer(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or update tokens in bulk (a pulled page, keys unique within it, every row
        with the same columns): a stored token is replaced only by one at least as recent
        (``last_updated``).

        One ``INSERT ... ON CONFLICT`` executed for many rows rather than a SELECT first: on
        PostgreSQL a SELECT by a long uid list, prepared while the table was small, keeps a
        sequential-scan plan and slows down as the table grows.
        """
        if not rows:
            return
        statement = _insert(self.session)(Token)
        excluded = statement.excluded
        newer = excluded.last_updated >= col(Token.last_updated)
        changes: dict[str, Any] = {
            name: case((newer, excluded[name]), else_=getattr(Token, name))
            for name in rows[0]
            if name not in _KEY_AND_BIRTH and name not in _ALWAYS_SET
        }
        changes.update({name: excluded[name] for name in _ALWAYS_SET if name in rows[0]})
        statement = statement.on_conflict_do_update(
            index_elements=["country_code", "party_id", "uid", "type"], set_=changes
        )
        await self.session.execute(statement, list(rows))

    async def invalidate_unseen(self, partner_id: int, *, since: datetime, now: datetime) -> int:
        """Mark invalid the partner's valid tokens that no pull received and nothing changed
        since ``since`` (the start of a full pull that just completed); returns how many."""
        result = await self.session.execute(
            update(Token)
            .where(
                col(Token.partner_id) == partner_id,
                col(Token.valid).is_(True),
                col(Token.updated_at) < since,
                or_(col(Token.pulled_at).is_(None), col(Token.pulled_at) < since),
            )
            .values(valid=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count(self, partner_id: int | None = None) -> int:
        statement = select(func.count()).select_from(Token)
        if partner_id is not None:
            statement = statement.where(col(Token.partner_id) == partner_id)
        return int((await self.session.execute(statement)).scalar_one())


_KEY_AND_BIRTH = frozenset({"country_code", "party_id", "uid", "type", "created_at"})
# Written on every pulled token, even one older than ours (it was received: still listed).
_ALWAYS_SET = frozenset({"pulled_at", "updated_at"})


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"token upserts are not written for {dialect}")


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
