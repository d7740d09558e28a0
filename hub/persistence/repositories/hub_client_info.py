"""Queries on what hub partners reported about the parties behind them, and the SQL form of
``hub.domain.hub_client_info.reachable`` for holding push jobs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, not_, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import Party, party_label
from hub.domain.hub_client_info import SENDER_ONLY_ROLES, ConnectionStatus
from hub.domain.push import JobState
from hub.persistence.tables import HubClientInfo, PushJob


def _receiving(partner_id: int, party: Party) -> ColumnElement[bool]:
    return and_(
        col(HubClientInfo.partner_id) == partner_id,
        col(HubClientInfo.country_code) == party[0],
        col(HubClientInfo.party_id) == party[1],
        col(HubClientInfo.role).not_in(sorted(SENDER_ONLY_ROLES)),
    )


def unreachable(partner_id: int, party: Party) -> ColumnElement[bool]:
    """``not reachable(...)`` for one party of one hub partner, in SQL."""
    connected = _receiving(partner_id, party) & (
        col(HubClientInfo.status) == ConnectionStatus.CONNECTED.value
    )
    return and_(exists().where(_receiving(partner_id, party)), not_(exists().where(connected)))


class HubClientInfoRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_party(self, partner_id: int, party: Party) -> Sequence[HubClientInfo]:
        """What the partner reported about ``party`` (upper case), one row per role, newest
        first."""
        result = await self.session.execute(
            select(HubClientInfo)
            .where(
                col(HubClientInfo.partner_id) == partner_id,
                col(HubClientInfo.country_code) == party[0],
                col(HubClientInfo.party_id) == party[1],
            )
            .order_by(col(HubClientInfo.last_updated).desc(), col(HubClientInfo.role))
        )
        return result.scalars().all()

    async def of_partner(self, partner_id: int) -> Sequence[HubClientInfo]:
        """Everything the partner reported, by party and role."""
        result = await self.session.execute(
            select(HubClientInfo)
            .where(col(HubClientInfo.partner_id) == partner_id)
            .order_by(
                col(HubClientInfo.country_code),
                col(HubClientInfo.party_id),
                col(HubClientInfo.role),
            )
        )
        return result.scalars().all()

    async def get_for_update(
        self, partner_id: int, party: Party, role: str
    ) -> HubClientInfo | None:
        result = await self.session.execute(
            select(HubClientInfo)
            .where(
                col(HubClientInfo.partner_id) == partner_id,
                col(HubClientInfo.country_code) == party[0],
                col(HubClientInfo.party_id) == party[1],
                col(HubClientInfo.role) == role,
            )
            .with_for_update()
        )
        return result.scalar_one_or_none()

    async def add(self, row: HubClientInfo) -> None:
        self.session.add(row)
        await self.session.flush()

    async def unreachable_parties(self, partner_ids: Iterable[int]) -> dict[int, set[Party]]:
        """Per partner, the parties it reports unreachable (partners without any: absent)."""
        ids = sorted(set(partner_ids))
        if not ids:
            return {}
        result = await self.session.execute(
            sa_select(
                col(HubClientInfo.partner_id),
                col(HubClientInfo.country_code),
                col(HubClientInfo.party_id),
                func.count().filter(col(HubClientInfo.status) == ConnectionStatus.CONNECTED.value),
            )
            .where(
                col(HubClientInfo.partner_id).in_(ids),
                col(HubClientInfo.role).not_in(sorted(SENDER_ONLY_ROLES)),
            )
            .group_by(
                col(HubClientInfo.partner_id),
                col(HubClientInfo.country_code),
                col(HubClientInfo.party_id),
            )
        )
        found: dict[int, set[Party]] = {}
        for partner_id, country_code, party_id, connected in result.all():
            if not connected:
                found.setdefault(int(partner_id), set()).add((country_code, party_id))
        return found

    async def hold(
        self, job_ids: Sequence[int], worker: str, partner_id: int, party: Party
    ) -> set[int]:
        """Hold ``worker``'s claimed jobs for ``party`` (claims given back), if the partner
        still reports the party unreachable when this runs: a CONNECTED committed meanwhile
        leaves them to be sent. Returns the ids held."""
        if not job_ids:
            return set()
        result = await self.session.execute(
            update(PushJob)
            .where(
                col(PushJob.id).in_(list(job_ids)),
                col(PushJob.partner_id) == partner_id,
                col(PushJob.state) == JobState.PENDING.value,
                col(PushJob.claimed_by) == worker,
                unreachable(partner_id, party),
            )
            .values(held_for=party_label(party), claimed_by=None, claimed_until=None)
            .returning(col(PushJob.id))
            .execution_options(synchronize_session=False)
        )
        return {int(job_id) for job_id in result.scalars() if job_id is not None}

    async def release(self, partner_id: int, party: Party, now: datetime) -> int:
        """Make the jobs held for ``party`` due now, in their order; returns how many."""
        result = await self.session.execute(
            update(PushJob)
            .where(
                col(PushJob.partner_id) == partner_id,
                col(PushJob.held_for) == party_label(party),
                col(PushJob.state) == JobState.PENDING.value,
            )
            .values(held_for=None, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def held_counts(self, partner_id: int) -> dict[str, int]:
        """Pending jobs held, per party label."""
        result = await self.session.execute(
            sa_select(col(PushJob.held_for), func.count())
            .where(
                col(PushJob.partner_id) == partner_id,
                col(PushJob.state) == JobState.PENDING.value,
                col(PushJob.held_for).is_not(None),
            )
            .group_by(col(PushJob.held_for))
        )
        return {str(label): int(n) for label, n in result.all()}
