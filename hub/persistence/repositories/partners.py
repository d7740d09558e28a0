from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import Party
from hub.domain.partners import PartnerStatus
from hub.persistence.tables import EmaidPrefix, Partner, PartnerParty, PartnerRole


class PartnerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, partner_id: int, *, for_update: bool = False) -> Partner | None:
        statement = select(Partner).where(Partner.id == partner_id)
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return result.scalar_one_or_none()

    async def get_by_name(self, name: str) -> Partner | None:
        result = await self.session.execute(select(Partner).where(Partner.name == name))
        return result.scalar_one_or_none()

    async def find_by_token_hashes(self, token_hashes: Iterable[str]) -> Sequence[Partner]:
        """Partners whose current or pending inbound token hash is one of ``token_hashes``."""
        hashes = list(token_hashes)
        if not hashes:
            return []
        result = await self.session.execute(
            select(Partner).where(
                or_(
                    col(Partner.inbound_token_hash).in_(hashes),
                    col(Partner.pending_inbound_token_hash).in_(hashes),
                )
            )
        )
        return result.scalars().all()

    async def list(self) -> Sequence[Partner]:
        result = await self.session.execute(select(Partner).order_by(col(Partner.name)))
        return result.scalars().all()

    async def add(self, partner: Partner) -> Partner:
        self.session.add(partner)
        await self.session.flush()
        return partner

    async def registered(self) -> Sequence[Partner]:
        """Partners with a completed, active registration (not suspended)."""
        result = await self.session.execute(
            select(Partner)
            .where(Partner.status == PartnerStatus.REGISTERED.value)
            .order_by(col(Partner.id))
        )
        return result.scalars().all()

    async def roles_of(self, partner_id: int) -> Sequence[PartnerRole]:
        result = await self.session.execute(
            select(PartnerRole)
            .where(PartnerRole.partner_id == partner_id)
            .order_by(col(PartnerRole.id))
        )
        return result.scalars().all()

    async def owned_parties(self, partner_id: int) -> Sequence[Party]:
        result = await self.session.execute(
            select(PartnerParty)
            .where(PartnerParty.partner_id == partner_id)
            .order_by(col(PartnerParty.country_code), col(PartnerParty.party_id))
        )
        return [(row.country_code, row.party_id) for row in result.scalars()]

    async def owners_of(self, parties: Iterable[Party]) -> dict[Party, Partner]:
        """The partner owning each of ``parties`` (missing keys: nobody owns it)."""
        wanted = sorted(set(parties))
        if not wanted:
            return {}
        result = await self.session.execute(
            select(PartnerParty, Partner)
            .join(Partner, col(Partner.id) == col(PartnerParty.partner_id))
            .where(tuple_(col(PartnerParty.country_code), col(PartnerParty.party_id)).in_(wanted))
        )
        return {(owned.country_code, owned.party_id): partner for owned, partner in result}

    async def replace_owned_parties(self, partner_id: int, parties: Iterable[Party]) -> None:
        """Assign exactly ``parties`` to the partner (roles of parties it loses go with them)."""
        wanted = set(parties)
        current = (
            await self.session.execute(
                select(PartnerParty).where(PartnerParty.partner_id == partner_id)
            )
        ).scalars()
        for row in current:
            key = (row.country_code, row.party_id)
            if key in wanted:
                wanted.discard(key)
                continue
            await self.session.execute(
                delete(PartnerRole).where(
                    col(PartnerRole.partner_id) == partner_id,
                    col(PartnerRole.country_code) == row.country_code,
                    col(PartnerRole.party_id) == row.party_id,
                )
            )
            await self.session.delete(row)
        await self.session.flush()
        self.session.add_all(
            PartnerParty(partner_id=partner_id, country_code=cc, party_id=pid)
            for cc, pid in sorted(wanted)
        )
        await self.session.flush()

    async def release_parties(self, parties: Iterable[Party]) -> None:
        """Take ``parties`` away from whoever holds them (and the roles declared for them)."""
        wanted = sorted(set(parties))
        if not wanted:
            return
        pairs = tuple_(col(PartnerRole.country_code), col(PartnerRole.party_id)).in_(wanted)
        await self.session.execute(delete(PartnerRole).where(pairs))
        await self.session.execute(
            delete(PartnerParty).where(
                tuple_(col(PartnerParty.country_code), col(PartnerParty.party_id)).in_(wanted)
            )
        )
        await self.session.flush()

    async def replace_roles(self, partner_id: int, roles: Iterable[PartnerRole]) -> None:
        await self.session.execute(
            delete(PartnerRole).where(col(PartnerRole.partner_id) == partner_id)
        )
        await self.session.flush()
        self.session.add_all(list(roles))
        await self.session.flush()

    async def emaid_prefixes(self, partner_id: int) -> Sequence[str]:
        result = await self.session.execute(
            select(EmaidPrefix.prefix)
            .where(EmaidPrefix.partner_id == partner_id)
            .order_by(col(EmaidPrefix.prefix))
        )
        return list(result.scalars())

    async def emaid_prefix_holder(self, prefix: str) -> Partner | None:
        """The partner the operator routed ``prefix`` to (None: no explicit route)."""
        result = await self.session.execute(
            select(Partner)
            .join(EmaidPrefix, col(EmaidPrefix.partner_id) == col(Partner.id))
            .where(EmaidPrefix.prefix == prefix)
        )
        return result.scalars().first()

    async def add_emaid_prefix(self, partner_id: int, prefix: str) -> None:
        self.session.add(EmaidPrefix(prefix=prefix, partner_id=partner_id))
        await self.session.flush()

    async def remove_emaid_prefix(self, partner_id: int, prefix: str) -> bool:
        result = await self.session.execute(
            delete(EmaidPrefix).where(
                col(EmaidPrefix.partner_id) == partner_id, col(EmaidPrefix.prefix) == prefix
            )
        )
        return bool(getattr(result, "rowcount", 0))
