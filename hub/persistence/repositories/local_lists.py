"""SQL of the local authorization lists: each station's list state and entries, the tokens a
station may list, and the few aggregates that say whether any list input changed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import ColumnElement, delete, func, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.local_lists import LISTED_TYPES, OFFLINE_WHITELISTS, ListCandidate, ListEntry
from hub.domain.partners import PartnerStatus
from hub.domain.tokens import TokenKey, TokenType, WhitelistType
from hub.persistence.tables import (
    Evse,
    LocalAuthList,
    LocalAuthListEntry,
    Location,
    LocationVisibility,
    Partner,
    PartnerParty,
    Token,
)


class LocalListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    async def get(self, station_id: str) -> LocalAuthList | None:
        return await self.session.get(LocalAuthList, station_id, populate_existing=True)

    async def of_stations(self, station_ids: Iterable[str]) -> dict[str, LocalAuthList]:
        ids = sorted(set(station_ids))
        found: dict[str, LocalAuthList] = {}
        for start in range(0, len(ids), 500):
            rows = await self.session.execute(
                select(LocalAuthList).where(
                    col(LocalAuthList.station_id).in_(ids[start : start + 500])
                )
            )
            found.update((row.station_id, row) for row in rows.scalars())
        return found

    async def ensure(self, station_id: str) -> LocalAuthList:
        """The station's list row, created (needing a check) if missing."""
        row = await self.get(station_id)
        if row is not None:
            return row
        try:
            async with self.session.begin_nested():
                self.session.add(LocalAuthList(station_id=station_id))
        except IntegrityError:
            pass  # another process created it
        row = await self.get(station_id)
        if row is None:  # pragma: no cover - the station itself is gone
            raise LookupError(station_id)
        return row

    async def mark_booted(self, station_ids: Sequence[str]) -> None:
        """The stations booted: their version and limits are asked again by the next pass
        (rows created where missing, in one statement: every station boots at once after an
        outage)."""
        if not station_ids:
            return
        insert = postgresql_insert if self._dialect == "postgresql" else sqlite_insert
        statement = insert(LocalAuthList).values(
            [{"station_id": station_id} for station_id in sorted(set(station_ids))]
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[col(LocalAuthList.station_id)], set_={"needs_check": True}
            ).execution_options(synchronize_session=False)
        )

    async def held(self, station_id: str) -> dict[str, str]:
        """Entry key → item of the entries the station holds, per our records."""
        rows = await self.session.execute(
            select(LocalAuthListEntry.entry_key, LocalAuthListEntry.item).where(
                col(LocalAuthListEntry.station_id) == station_id
            )
        )
        return {str(key): str(item) for key, item in rows.all()}

    async def entries(self, station_id: str) -> Sequence[LocalAuthListEntry]:
        rows = await self.session.execute(
            select(LocalAuthListEntry)
            .where(col(LocalAuthListEntry.station_id) == station_id)
            .order_by(col(LocalAuthListEntry.entry_key))
        )
        return rows.scalars().all()

    async def store_entries(
        self, station_id: str, held: Mapping[str, str], wanted: Sequence[ListEntry]
    ) -> None:
        """Make the recorded entries ``wanted``, touching only the rows that differ from
        ``held`` (what :meth:`held` returned)."""
        wanted_items = {entry.key: entry.item for entry in wanted}
        stale = [key for key, item in held.items() if wanted_items.get(key) != item]
        for start in range(0, len(stale), 500):
            await self.session.execute(
                delete(LocalAuthListEntry).where(
                    col(LocalAuthListEntry.station_id) == station_id,
                    col(LocalAuthListEntry.entry_key).in_(stale[start : start + 500]),
                )
            )
        self.session.add_all(
            LocalAuthListEntry(station_id=station_id, entry_key=key, item=item)
            for key, item in wanted_items.items()
            if held.get(key) != item
        )
        await self.session.flush()

    async def location_refs_of(self, station_id: str) -> set[int]:
        """The locations whose EVSEs the station serves."""
        rows = await self.session.execute(
            select(Evse.location_ref).where(col(Evse.charging_station_id) == station_id).distinct()
        )
        return {ref for (ref,) in rows.all()}

    async def registered_partners(self) -> list[int]:
        rows = await self.session.execute(
            select(Partner.id).where(col(Partner.status) == PartnerStatus.REGISTERED.value)
        )
        return sorted(partner_id for (partner_id,) in rows.all() if partner_id is not None)

    def _listable(
        self, partner_ids: Sequence[int], max_uid_length: int
    ) -> list[ColumnElement[bool]]:
        return [
            col(Token.partner_id).in_(list(partner_ids)),
            col(Token.valid).is_(True),
            col(Token.whitelist).in_(sorted(w.value for w in OFFLINE_WHITELISTS)),
            col(Token.type).in_(sorted(t.value for t in LISTED_TYPES)),
            func.length(col(Token.uid)) <= max_uid_length,
        ]

    async def candidates(
        self, partner_ids: Sequence[int], *, max_uid_length: int, offset: int, limit: int
    ) -> list[ListCandidate]:
        """Listable tokens of these partners in the order of the selection rule
        (``hub.domain.local_lists.rank``), one page."""
        if not partner_ids:
            return []
        # sqlalchemy's select: sqlmodel's overloads stop at four columns.
        rows = await self.session.execute(
            sa.select(
                col(Token.country_code),
                col(Token.party_id),
                col(Token.uid),
                col(Token.type),
                col(Token.valid),
                col(Token.whitelist),
                col(Token.last_updated),
                col(Token.group_id),
                col(Token.language),
            )
            .where(*self._listable(partner_ids, max_uid_length))
            .order_by(
                col(Token.last_updated).desc(),
                col(Token.uid),
                col(Token.country_code),
                col(Token.party_id),
            )
            .offset(offset)
            .limit(limit)
        )
        return [
            ListCandidate(
                key=TokenKey(country_code, party_id, uid, TokenType(type_)),
                valid=bool(valid),
                whitelist=WhitelistType(whitelist),
                last_updated=last_updated,
                group_id=group_id,
                language=language,
            )
            for (
                country_code,
                party_id,
                uid,
                type_,
                valid,
                whitelist,
                last_updated,
                group_id,
                language,
            ) in rows.all()
        ]

    async def count_listable(self, partner_ids: Sequence[int], *, max_uid_length: int) -> int:
        if not partner_ids:
            return 0
        statement = (
            select(func.count())
            .select_from(Token)
            .where(*self._listable(partner_ids, max_uid_length))
        )
        return int((await self.session.execute(statement)).scalar_one())

    async def inputs(self) -> tuple[object, ...]:
        """Aggregates that change whenever a list input may have: tokens, locations and who may
        see them, partners and their parties, EVSE links to stations. One row, cheap enough for
        every pass; what they miss (an EVSE moved between stations) the periodic recheck finds."""
        parts: list[object] = []
        for table, changed in (
            (Token, Token.updated_at),
            (Location, Location.updated_at),
            (Partner, Partner.updated_at),
            (LocationVisibility, LocationVisibility.id),
            (PartnerParty, PartnerParty.id),
        ):
            row = (
                await self.session.execute(
                    select(func.count(), func.max(changed)).select_from(table)
                )
            ).one()
            parts.extend(row)
        linked = (
            await self.session.execute(
                select(func.count(), func.max(Evse.id)).where(
                    col(Evse.charging_station_id).is_not(None)
                )
            )
        ).one()
        parts.extend(linked)
        return tuple(str(part) for part in parts)

    async def record(self, station_id: str, **values: object) -> None:
        await self.session.execute(
            update(LocalAuthList)
            .where(col(LocalAuthList.station_id) == station_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
