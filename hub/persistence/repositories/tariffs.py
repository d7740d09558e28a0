from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import PartyScope
from hub.persistence.repositories.access import tariff_visible
from hub.persistence.tables import Tariff


class TariffRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, country_code: str, party_id: str, tariff_id: str) -> Tariff | None:
        result = await self.session.execute(
            select(Tariff).where(
                Tariff.country_code == country_code,
                Tariff.party_id == party_id,
                Tariff.tariff_id == tariff_id,
            )
        )
        return result.scalar_one_or_none()

    async def get_many(
        self, keys: Iterable[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], Tariff]:
        found: dict[tuple[str, str, str], Tariff] = {}
        for key in keys:
            tariff = await self.get(*key)
            if tariff is not None:
                found[key] = tariff
        return found

    async def add(self, tariff: Tariff) -> Tariff:
        self.session.add(tariff)
        await self.session.flush()
        return tariff

    def _filters(
        self,
        scope: PartyScope | None,
        owner: tuple[str, str] | None,
        date_from: datetime | None,
        date_to: datetime | None,
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if scope is not None:
            conditions.append(tariff_visible(scope))
        if owner is not None:
            conditions += [col(Tariff.country_code) == owner[0], col(Tariff.party_id) == owner[1]]
        if date_from is not None:
            conditions.append(col(Tariff.last_updated) >= date_from)
        if date_to is not None:
            conditions.append(col(Tariff.last_updated) < date_to)
        return conditions

    async def page(
        self,
        *,
        scope: PartyScope | None = None,
        owner: tuple[str, str] | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[Sequence[Tariff], int]:
        conditions = self._filters(scope, owner, date_from, date_to)
        total = (
            await self.session.execute(select(func.count()).select_from(Tariff).where(*conditions))
        ).scalar_one()
        statement = select(Tariff).where(*conditions).order_by(col(Tariff.id)).offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        return (await self.session.execute(statement)).scalars().all(), int(total)
