from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, literal_column, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from hub.domain.partners import PartnerStatus
from hub.domain.push import JobState
from hub.persistence.tables import Partner, PushJob


def pending_literal() -> ColumnElement[str]:
    """``'PENDING'`` written into the SQL, so PostgreSQL plans the partial indexes on pending
    jobs (``PENDING_ONLY``) in; a bound parameter would not match their condition."""
    return literal_column(f"'{JobState.PENDING.value}'")


@dataclass(frozen=True, slots=True)
class QueueStats:
    partner_id: int
    pending: int
    retrying: int
    delivered: int
    superseded: int
    rejected: int
    oldest_pending: datetime | None
    in_flight: int = 0
    """Pending jobs under a live claim: being sent right now."""
    rejected_objects: int = 0
    """Objects whose newest outcome is a rejection: the partner refused their current version."""
    next_retry: datetime | None = None
    """When the first pending job that failed before is due again (not counting jobs in flight)."""


KEYS_PER_STATEMENT = 1000
"""Most coalesce keys :meth:`PushJobRepository.supersede_pairs` puts in one statement."""


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

    async def supersede_pairs(self, pairs: Iterable[tuple[int, str]]) -> int:
        """Mark the undelivered, unclaimed jobs of these (partner, coalesce key) pairs
        superseded: one statement per partner and ``KEYS_PER_STATEMENT`` keys (a regional
        outage changes thousands of objects in one transaction; PostgreSQL refused 14,000 pairs
        as one row-value list, "stack depth limit exceeded")."""
        keys_of: dict[int, set[str]] = {}
        for partner_id, key in pairs:
            keys_of.setdefault(partner_id, set()).add(key)
        superseded = 0
        for partner_id in sorted(keys_of):  # one order for every writer: no deadlock
            keys = sorted(keys_of[partner_id])
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                result = await self.session.execute(
                    update(PushJob)
                    .where(
                        col(PushJob.partner_id) == partner_id,
                        col(PushJob.coalesce_key).in_(keys[start : start + KEYS_PER_STATEMENT]),
                        col(PushJob.state) == JobState.PENDING.value,
                        col(PushJob.claimed_by).is_(None),
                    )
                    .values(state=JobState.SUPERSEDED.value)
                    .execution_options(synchronize_session=False)
                )
                superseded += int(result.rowcount)  # type: ignore[attr-defined]
        return superseded

    async def due_heads(
        self,
        now: datetime,
        limit: int,
        *,
        per_partner: int,
        skip_locked: bool,
        exclude_partners: Collection[int] = (),
    ) -> Sequence[PushJob]:
        """Jobs that may be sent now: due, not claimed (or claim expired), partner registered
        and not in ``exclude_partners``, and first undelivered job of their (partner, queue); at
        most ``per_partner`` of each partner (the oldest) and ``limit`` in all (the oldest).
        Locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent workers claim disjoint jobs.

        One query per partner walks its pending jobs in id order on a partial index and stops
        at ``per_partner``: a claim costs what it takes, not what is queued (ranking every
        pending job in one query took 400 ms with 70,000 pending).
        """
        partners = await self.session.execute(
            sa_select(col(Partner.id))
            .where(
                col(Partner.status) == PartnerStatus.REGISTERED.value,
                *([col(Partner.id).not_in(list(exclude_partners))] if exclude_partners else []),
            )
            .order_by(col(Partner.id))
        )
        earlier = aliased(PushJob)
        heads: list[PushJob] = []
        for partner_id in partners.scalars():
            statement = (
                select(PushJob)
                .where(
                    col(PushJob.partner_id) == partner_id,
                    col(PushJob.state) == pending_literal(),
                    col(PushJob.next_attempt_at) <= now,
                    col(PushJob.held_for).is_(None),
                    or_(col(PushJob.claimed_until).is_(None), col(PushJob.claimed_until) < now),
                    # The head of its queue, as a correlated subquery: PostgreSQL runs it per
                    # row on the index of pending queues. Written as NOT EXISTS, a planner with
                    # stale statistics joined it on the partner alone: 473 ms instead of 6 ms
                    # for one claim during a burst of 70,000 jobs.
                    col(PushJob.id)
                    == sa_select(func.min(col(earlier.id)))
                    .where(
                        col(earlier.partner_id) == partner_id,
                        col(earlier.queue_key) == col(PushJob.queue_key),
                        col(earlier.state) == pending_literal(),
                    )
                    .scalar_subquery(),
                )
                .order_by(col(PushJob.id))
                .limit(per_partner)
            )
            if skip_locked:
                statement = statement.with_for_update(skip_locked=True, of=PushJob)
            heads.extend((await self.session.execute(statement)).scalars())
        # Jobs beyond ``limit`` stay locked only until this short transaction ends.
        return sorted(heads, key=lambda job: job.id or 0)[:limit]

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

    async def mark_delivered(self, job_ids: Sequence[int], worker: str, now: datetime) -> list[int]:
        """Record ``worker``'s jobs among ``job_ids`` delivered, in one statement (a job whose
        claim another worker took over after ours expired is left alone); returns the ids of the
        partners of the jobs recorded, sorted. Jobs this session loaded before are not
        refreshed."""
        if not job_ids:
            return []
        result = await self.session.execute(
            update(PushJob)
            .where(col(PushJob.id).in_(list(job_ids)), col(PushJob.claimed_by) == worker)
            .values(
                state=JobState.DELIVERED.value,
                delivered_at=now,
                attempts=col(PushJob.attempts) + 1,
                claimed_by=None,
                claimed_until=None,
                last_error=None,
            )
            .returning(col(PushJob.partner_id))
            .execution_options(synchronize_session=False)
        )
        return sorted(set(result.scalars()))

    async def renew(self, job_ids: Sequence[int], worker: str, until: datetime) -> int:
        """Extend ``worker``'s claims on ``job_ids`` that are still pending; returns how many.

        A claim another worker took over after ours expired is not ``worker``'s any more and is
        left alone; an expired claim nobody took is simply ours again.
        """
        if not job_ids:
            return 0
        result = await self.session.execute(
            update(PushJob)
            .where(
                col(PushJob.id).in_(list(job_ids)),
                col(PushJob.state) == JobState.PENDING.value,
                col(PushJob.claimed_by) == worker,
            )
            .values(claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def release_claims(self, worker: str) -> int:
        """Drop every claim recorded under ``worker`` on pending jobs; returns how many."""
        result = await self.session.execute(
            update(PushJob)
            .where(col(PushJob.state) == JobState.PENDING.value, col(PushJob.claimed_by) == worker)
            .values(claimed_by=None, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get_many(self, job_ids: Sequence[int]) -> Sequence[PushJob]:
        result = await self.session.execute(
            select(PushJob).where(col(PushJob.id).in_(list(job_ids))).order_by(col(PushJob.id))
        )
        return result.scalars().all()

    async def stats(self, now: datetime) -> list[QueueStats]:
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
                func.count().filter(and_(pending, col(PushJob.claimed_until) >= now)),
                func.min(col(PushJob.next_attempt_at)).filter(
                    pending,
                    col(PushJob.attempts) > 0,
                    or_(col(PushJob.claimed_until).is_(None), col(PushJob.claimed_until) < now),
                ),
            ).group_by(col(PushJob.partner_id))
        )
        return [
            QueueStats(int(p), int(a), int(b), int(c), int(d), int(e), f, int(g), next_retry=h)
            for p, a, b, c, d, e, f, g, h in result.all()
        ]

    @staticmethod
    def _current_rejection() -> ColumnElement[bool]:
        """A rejected job not followed by a delivered or rejected job that carries the same
        object: the same PATCH, or the whole object (a PUT's coalesce key is its queue key)."""
        later = aliased(PushJob)
        return and_(
            col(PushJob.state) == JobState.REJECTED.value,
            ~exists().where(
                and_(
                    col(later.partner_id) == col(PushJob.partner_id),
                    col(later.id) > col(PushJob.id),
                    col(later.state).in_([JobState.DELIVERED.value, JobState.REJECTED.value]),
                    or_(
                        col(later.coalesce_key) == col(PushJob.coalesce_key),
                        col(later.coalesce_key) == col(PushJob.queue_key),
                    ),
                )
            ),
        )

    async def rejected_counts(self) -> dict[int, int]:
        """Per partner, the number of objects whose current version it refused."""
        result = await self.session.execute(
            sa_select(col(PushJob.partner_id), func.count())
            .where(self._current_rejection())
            .group_by(col(PushJob.partner_id))
        )
        return {int(partner_id): int(n) for partner_id, n in result.all()}

    async def rejections(self, partner_id: int | None, limit: int) -> Sequence[PushJob]:
        """The rejected jobs behind :meth:`rejected_counts` (of one partner or all), newest
        first."""
        statement = select(PushJob).where(self._current_rejection())
        if partner_id is not None:
            statement = statement.where(col(PushJob.partner_id) == partner_id)
        result = await self.session.execute(statement.order_by(col(PushJob.id).desc()).limit(limit))
        return result.scalars().all()

    async def pending_count(self, partner_id: int | None = None) -> int:
        statement = (
            select(func.count())
            .select_from(PushJob)
            .where(col(PushJob.state) == JobState.PENDING.value)
        )
        if partner_id is not None:
            statement = statement.where(col(PushJob.partner_id) == partner_id)
        return int((await self.session.execute(statement)).scalar_one())


class PushHealthRepository:
    """A partner's push health (``partners.push_failures``/``push_degraded``), changed by atomic
    statements so that concurrent workers neither lose a failure nor both see one recovery."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def failure(
        self, partner_id: int, degraded_after: int, *, error: str, at: datetime
    ) -> bool:
        """Count one more consecutive failure and keep its error as the partner's last; True if
        the partner became degraded by it."""
        await self.session.execute(
            update(Partner)
            .where(col(Partner.id) == partner_id)
            .values(
                push_failures=col(Partner.push_failures) + 1,
                push_last_error=error[:500],
                push_last_error_at=at,
            )
            .execution_options(synchronize_session=False)
        )
        result = await self.session.execute(
            update(Partner)
            .where(
                col(Partner.id) == partner_id,
                col(Partner.push_degraded).is_(False),
                col(Partner.push_failures) >= degraded_after,
            )
            .values(push_degraded=True)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def success(self, partner_id: int) -> bool:
        """The partner took a push: failures start again from zero. True if it was degraded and
        this is its recovery (exactly one caller gets True for one recovery)."""
        result = await self.session.execute(
            update(Partner)
            .where(col(Partner.id) == partner_id, col(Partner.push_degraded).is_(True))
            .values(push_degraded=False, push_failures=0)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            return True
        await self.session.execute(
            update(Partner)
            .where(col(Partner.id) == partner_id, col(Partner.push_failures) != 0)
            .values(push_failures=0)
            .execution_options(synchronize_session=False)
        )
        return False
