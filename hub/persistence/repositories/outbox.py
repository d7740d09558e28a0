from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from hub.domain.partners import PartnerStatus
from hub.domain.push import JobState
from hub.persistence.tables import Partner, PushJob


@dataclass(frozen=True, slots=True)
class QueueStats:
    partner_id: int
    pending: int
    retrying: int
    delivered: int
    superseded: int
    rejected: int
    oldest_pending: datetime | None


class PushJobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_all(self, jobs: Iterable[PushJob]) -> None:
        self.session.add_all(list(jobs))
        await self.session.flush()

    async def supersede(
        self,
        partner_ids: Sequence[int],
        *,
        queue_key: str | None = None,
        kinds: Iterable[str] | None = None,
        coalesce_key: str | None = None,
    ) -> int:
        """Mark undelivered, unclaimed jobs superseded. A claimed job is in flight: left alone."""
        if not partner_ids:
            return 0
        conditions = [
            col(PushJob.partner_id).in_(list(partner_ids)),
            col(PushJob.state) == JobState.PENDING.value,
            col(PushJob.claimed_by).is_(None),
        ]
        if queue_key is not None:
            conditions.append(col(PushJob.queue_key) == queue_key)
        if kinds is not None:
            conditions.append(col(PushJob.kind).in_(list(kinds)))
        if coalesce_key is not None:
            conditions.append(col(PushJob.coalesce_key) == coalesce_key)
        result = await self.session.execute(
            update(PushJob)
            .where(*conditions)
            .values(state=JobState.SUPERSEDED.value)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def due_heads(self, now: datetime, limit: int, *, skip_locked: bool) -> Sequence[PushJob]:
        """Jobs that may be sent now: due, not claimed (or claim expired), partner registered,
        and first undelivered job of their (partner, queue). Locked ``FOR UPDATE SKIP LOCKED``
        on PostgreSQL so concurrent workers claim disjoint jobs."""
        earlier = aliased(PushJob)
        statement = (
            select(PushJob)
            .join(Partner, col(Partner.id) == col(PushJob.partner_id))
            .where(
                col(PushJob.state) == JobState.PENDING.value,
                col(PushJob.next_attempt_at) <= now,
                or_(col(PushJob.claimed_until).is_(None), col(PushJob.claimed_until) < now),
                col(Partner.status) == PartnerStatus.REGISTERED.value,
                ~exists().where(
                    and_(
                        col(earlier.partner_id) == col(PushJob.partner_id),
                        col(earlier.queue_key) == col(PushJob.queue_key),
                        col(earlier.state) == JobState.PENDING.value,
                        col(earlier.id) < col(PushJob.id),
                    )
                ),
            )
            .order_by(col(PushJob.id))
            .limit(limit)
        )
        if skip_locked:
            statement = statement.with_for_update(skip_locked=True, of=PushJob)
        return (await self.session.execute(statement)).scalars().all()

    async def claim(
        self, job_ids: Sequence[int], worker: str, now: datetime, until: datetime
    ) -> Sequence[PushJob]:
        """Compare-and-set claim: only jobs nobody holds are taken; returns those we got.

        On PostgreSQL the rows are already locked by :meth:`due_heads`; on SQLite (no row locks)
        the condition is what keeps two workers from taking the same job.
        """
        await self.session.execute(
            update(PushJob)
            .where(
                col(PushJob.id).in_(list(job_ids)),
                col(PushJob.state) == JobState.PENDING.value,
                or_(col(PushJob.claimed_until).is_(None), col(PushJob.claimed_until) < now),
            )
            .values(claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            select(PushJob)
            .where(
                col(PushJob.id).in_(list(job_ids)),
                col(PushJob.claimed_by) == worker,
                col(PushJob.claimed_until) == until,
            )
            .order_by(col(PushJob.id))
            .execution_options(populate_existing=True)
        )
        return result.scalars().all()

    async def get_many(self, job_ids: Sequence[int]) -> Sequence[PushJob]:
        result = await self.session.execute(
            select(PushJob).where(col(PushJob.id).in_(list(job_ids))).order_by(col(PushJob.id))
        )
        return result.scalars().all()

    async def stats(self) -> list[QueueStats]:
        state = col(PushJob.state)
        pending = state == JobState.PENDING.value
        result = await self.session.execute(
            sa_select(
                col(PushJob.partner_id),
                func.count().filter(pending),
                func.count().filter(and_(pending, col(PushJob.attempts) > 0)),
                func.count().filter(state == JobState.DELIVERED.value),
                func.count().filter(state == JobState.SUPERSEDED.value),
                func.count().filter(state == JobState.REJECTED.value),
                func.min(col(PushJob.enqueued_at)).filter(pending),
            ).group_by(col(PushJob.partner_id))
        )
        return [
            QueueStats(int(p), int(a), int(b), int(c), int(d), int(e), f)
            for p, a, b, c, d, e, f in result.all()
        ]

    async def pending_count(self, partner_id: int | None = None) -> int:
        statement = (
            select(func.count())
            .select_from(PushJob)
            .where(col(PushJob.state) == JobState.PENDING.value)
        )
        if partner_id is not None:
            statement = statement.where(col(PushJob.partner_id) == partner_id)
        return int((await self.session.execute(statement)).scalar_one())
