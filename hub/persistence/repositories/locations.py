from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import PartyScope
from hub.persistence.repositories.access import location_visible
from hub.persistence.tables import Evse, Location, LocationVisibility

PartyRefs = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class LocationFilter:
    """Which locations a partner may see, and the Sender GET filters.

    ``scope`` is what the partner owns (``AccessRepository.scope_of``); visibility is the rule
    of ``hub.domain.access``. ``owner`` restricts to one of our parties (routing header
    ``OCPI-to``).
    """

    scope: PartyScope
    owner: tuple[str, str] | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


class LocationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, location_id: str, *, for_update: bool = False) -> Location | None:
        statement = select(Location).where(Location.location_id == location_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_many(self, location_ids: Iterable[str]) -> dict[str, Location]:
        ids = list(location_ids)
        if not ids:
            return {}
        result = await self.session.execute(
            select(Location).where(col(Location.location_id).in_(ids))
        )
        return {row.location_id: row for row in result.scalars()}

    async def add(self, location: Location) -> Location:
        self.session.add(location)
        await self.session.flush()
        return location

    async def evses_of(self, location_refs: Iterable[int]) -> dict[int, list[Evse]]:
        refs = list(location_refs)
        grouped: dict[int, list[Evse]] = defaultdict(list)
        if not refs:
            return grouped
        result = await self.session.execute(
            select(Evse)
            .where(col(Evse.location_ref).in_(refs))
            .order_by(col(Evse.location_ref), col(Evse.position), col(Evse.id))
        )
        for evse in result.scalars():
            grouped[evse.location_ref].append(evse)
        return grouped

    async def evse_by_uid(self, uid: str, *, for_update: bool = False) -> Evse | None:
        statement = select(Evse).where(Evse.uid == uid)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def evses_by_uid(self, uids: Iterable[str]) -> dict[str, Evse]:
        wanted = list(uids)
        if not wanted:
            return {}
        result = await self.session.execute(select(Evse).where(col(Evse.uid).in_(wanted)))
        return {evse.uid: evse for evse in result.scalars()}

    async def by_id(self, location_ref: int) -> Location | None:
        return await self.session.get(Location, location_ref)

    async def by_ids(self, location_refs: Iterable[int]) -> dict[int, Location]:
        """The locations of ``location_refs``, by id: those this session holds already without
        a query, the others in one."""
        wanted = set(location_refs)
        found: dict[int, Location] = {}
        for ref in wanted:
            held = self.session.identity_key(Location, ref)
            location = self.session.identity_map.get(held)
            if isinstance(location, Location):
                found[ref] = location
        missing = sorted(wanted - found.keys())
        if missing:
            result = await self.session.execute(
                select(Location).where(col(Location.id).in_(missing))
            )
            found.update((location.id or 0, location) for location in result.scalars())
        return found

    async def visible_to_of(self, location_refs: Iterable[int]) -> dict[int, list[str]]:
        refs = list(location_refs)
        grouped: dict[int, list[str]] = defaultdict(list)
        if not refs:
            return grouped
        result = await self.session.execute(
            select(LocationVisibility)
            .where(col(LocationVisibility.location_ref).in_(refs))
            .order_by(col(LocationVisibility.id))
        )
        for row in result.scalars():
            grouped[row.location_ref].append(f"{row.country_code}*{row.party_id}")
        return grouped

    async def replace_visibility(self, location_ref: int, parties: PartyRefs) -> None:
        await self.session.execute(
            delete(LocationVisibility).where(col(LocationVisibility.location_ref) == location_ref)
        )
        self.session.add_all(
            LocationVisibility(location_ref=location_ref, country_code=cc, party_id=pid)
            for cc, pid in parties
        )
        await self.session.flush()

    def _visible(self, location_filter: LocationFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [location_visible(location_filter.scope)]
        if location_filter.owner is not None:
            conditions.append(
                and_(
                    col(Location.country_code) == location_filter.owner[0],
                    col(Location.party_id) == location_filter.owner[1],
                )
            )
        if location_filter.date_from is not None:
            conditions.append(col(Location.last_updated) >= location_filter.date_from)
        if location_filter.date_to is not None:
            conditions.append(col(Location.last_updated) < location_filter.date_to)
        return conditions

    async def visible_page(
        self, location_filter: LocationFilter, *, offset: int, limit: int
    ) -> tuple[Sequence[Location], int]:
        """One page of visible locations in a stable order (creation order), and the total."""
        conditions = self._visible(location_filter)
        total = (
            await self.session.execute(
                select(func.count()).select_from(Location).where(*conditions)
            )
        ).scalar_one()
        rows = (
            await self.session.execute(
                select(Location)
                .where(*conditions)
                .order_by(col(Location.id))
                .offset(offset)
                .limit(limit)
            )
        ).scalars()
        return list(rows), int(total)

    async def get_visible(
        self, location_id: str, location_filter: LocationFilter
    ) -> Location | None:
        result = await self.session.execute(
            select(Location).where(
                Location.location_id == location_id, *self._visible(location_filter)
            )
        )
        return result.scalar_one_or_none()

    async def visible_ids(self, location_filter: LocationFilter) -> list[str]:
        result = await self.session.execute(
            select(Location.location_id)
            .where(*self._visible(location_filter))
            .order_by(col(Location.id))
        )
        return list(result.scalars())

    async def list(self, *, offset: int = 0, limit: int | None = None) -> Sequence[Location]:
        statement = select(Location).order_by(col(Location.id)).offset(offset)
        if limit is not None:
            statement = statement.limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def count(self) -> tuple[int, int]:
        """Number of locations and of EVSEs."""
        locations = (
            await self.session.execute(select(func.count()).select_from(Location))
        ).scalar_one()
        evses = (await self.session.execute(select(func.count()).select_from(Evse))).scalar_one()
        return int(locations), int(evses)
