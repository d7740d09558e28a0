"""The SQL side of ``hub.domain.access``: the parties a partner owns, and who may see what.

Every partner-visible query filters with :func:`location_visible`, :func:`tariff_visible` or
:func:`owned_by` (sessions and CDRs),
built from the :class:`PartyScope` that :meth:`AccessRepository.scope_of` returns; every push
decides its audience with the same scope and ``PartyScope.may_see_*``. Nothing else decides.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, exists, false, not_, or_, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import LocationAccess, Party, PartyScope
from hub.persistence.tables import (
    Location,
    LocationVisibility,
    PartnerParty,
    Tariff,
    TariffReference,
)

TariffKey = tuple[str, str, str]
"""(country_code, party_id, tariff_id)"""


def location_visible(scope: PartyScope) -> ColumnElement[bool]:
    """``PartyScope.may_see_location`` on the ``locations`` row of the query."""
    parties = sorted(scope.parties)
    shared: ColumnElement[bool] = (
        exists().where(
            col(LocationVisibility.location_ref) == col(Location.id),
            tuple_(col(LocationVisibility.country_code), col(LocationVisibility.party_id)).in_(
                parties
            ),
        )
        if parties
        else false()
    )
    return or_(col(Location.publish) == true(), shared)


def owned_by(scope: PartyScope, country_code: Any, party_id: Any) -> ColumnElement[bool]:
    """``PartyScope.owns`` on the token party columns of a session or CDR row: a partner sees
    the sessions and CDRs of tokens of the parties it owns, and nothing else."""
    parties = sorted(scope.parties)
    if not parties:
        return false()
    return tuple_(country_code, party_id).in_(parties)


def tariff_visible(scope: PartyScope) -> ColumnElement[bool]:
    """``PartyScope.may_see_tariff`` on the ``tariffs`` row of the query."""

    def references(*extra: ColumnElement[bool]) -> ColumnElement[bool]:
        return (
            select(TariffReference.id)
            .where(
                col(TariffReference.country_code) == col(Tariff.country_code),
                col(TariffReference.party_id) == col(Tariff.party_id),
                col(TariffReference.tariff_id) == col(Tariff.tariff_id),
                *extra,
            )
            .exists()
        )

    seen_by_scope = references(
        col(TariffReference.location_ref) == col(Location.id), location_visible(scope)
    )
    return or_(not_(references()), seen_by_scope)


class AccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def scope_of(self, partner_id: int) -> PartyScope:
        """The one answer to "what does this partner own?"."""
        return (await self.scopes_of([partner_id]))[partner_id]

    async def scopes_of(self, partner_ids: Iterable[int]) -> dict[int, PartyScope]:
        ids = list(partner_ids)
        owned: dict[int, list[Party]] = {partner_id: [] for partner_id in ids}
        if ids:
            rows = await self.session.execute(
                select(PartnerParty).where(col(PartnerParty.partner_id).in_(ids))
            )
            for row in rows.scalars():
                owned[row.partner_id].append((row.country_code, row.party_id))
        return {partner_id: PartyScope.of(parties) for partner_id, parties in owned.items()}

    async def partner_owning(self, party: Party) -> int | None:
        """The partner the operator assigned ``party`` to (its tokens, sessions and CDRs belong
        to it), or None when nobody owns it. Party ids are case-insensitive (CiString)."""
        country_code, party_id = party
        return (
            await self.session.execute(
                select(PartnerParty.partner_id).where(
                    col(PartnerParty.country_code) == country_code.upper(),
                    col(PartnerParty.party_id) == party_id.upper(),
                )
            )
        ).scalar_one_or_none()

    async def location_access(self, location_refs: Iterable[int]) -> dict[int, LocationAccess]:
        """Who may see each location, as the domain rule needs it."""
        refs = list(location_refs)
        if not refs:
            return {}
        shared: dict[int, set[Party]] = defaultdict(set)
        rows = await self.session.execute(
            select(LocationVisibility).where(col(LocationVisibility.location_ref).in_(refs))
        )
        for row in rows.scalars():
            shared[row.location_ref].add((row.country_code, row.party_id))
        published = await self.session.execute(
            select(Location.id, Location.publish).where(col(Location.id).in_(refs))
        )
        return {
            ref: LocationAccess(bool(publish), frozenset(shared.get(ref, ())))
            for ref, publish in published
            if ref is not None
        }

    async def tariff_access(
        self, keys: Iterable[TariffKey]
    ) -> dict[TariffKey, list[LocationAccess]]:
        """For each tariff, the access of every location referencing it (empty: none does)."""
        wanted = sorted(set(keys))
        found: dict[TariffKey, list[int]] = {key: [] for key in wanted}
        if not wanted:
            return {}
        rows = await self.session.execute(
            select(
                TariffReference.country_code,
                TariffReference.party_id,
                TariffReference.tariff_id,
                TariffReference.location_ref,
            ).where(
                tuple_(
                    col(TariffReference.country_code),
                    col(TariffReference.party_id),
                    col(TariffReference.tariff_id),
                ).in_(wanted)
            )
        )
        for country_code, party_id, tariff_id, location_ref in rows:
            found[(country_code, party_id, tariff_id)].append(location_ref)
        access = await self.location_access({ref for refs in found.values() for ref in refs})
        return {key: [access[ref] for ref in refs if ref in access] for key, refs in found.items()}

    async def tariffs_referenced_by(self, location_refs: Iterable[int]) -> set[TariffKey]:
        """Every tariff that one of these locations references."""
        refs = list(location_refs)
        if not refs:
            return set()
        rows = await self.session.execute(
            select(
                TariffReference.country_code, TariffReference.party_id, TariffReference.tariff_id
            ).where(col(TariffReference.location_ref).in_(refs))
        )
        return {(country_code, party_id, tariff_id) for country_code, party_id, tariff_id in rows}

    async def replace_tariff_references(
        self, wanted: Mapping[int, tuple[Party, Iterable[str]]]
    ) -> None:
        """Make the stored references of each location equal its tariff ids.

        ``wanted`` maps a location to its party and the tariff ids its connectors reference.
        """
        missing = {ref: set(tariff_ids) for ref, (_, tariff_ids) in wanted.items()}
        if not missing:
            return
        rows = (
            await self.session.execute(
                select(TariffReference).where(col(TariffReference.location_ref).in_(list(missing)))
            )
        ).scalars()
        for row in rows:
            if row.tariff_id in missing[row.location_ref]:
                missing[row.location_ref].discard(row.tariff_id)
            else:
                await self.session.delete(row)
        self.session.add_all(
            TariffReference(
                location_ref=ref,
                country_code=wanted[ref][0][0],
                party_id=wanted[ref][0][1],
                tariff_id=tariff_id,
            )
            for ref, tariff_ids in missing.items()
            for tariff_id in sorted(tariff_ids)
        )
        await self.session.flush()
