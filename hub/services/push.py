"""The push outbox: which partners get which change, coalescing, claims and retries.

Writers (location and tariff services) call :meth:`PushService.fanout` in the same transaction
as the change they make, so a change is pushed if and only if it is committed. The delivery
worker (``hub.roaming.push``) claims due jobs, sends them and reports back here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import Audience, PartyScope
from hub.domain.partners import PartnerStatus
from hub.domain.push import JobKind, JobState, RetryPolicy, coalesce_key
from hub.errors import InvalidState
from hub.persistence.base import utc_now
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.outbox import (
    PushHealthRepository,
    PushJobRepository,
    QueueStats,
)
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.session import transaction_memo
from hub.persistence.tables import Partner, PushJob

RECEIVER = "RECEIVER"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A partner that receives pushes of some modules, and the parties it owns."""

    partner_id: int
    modules: frozenset[str]
    scope: PartyScope


@dataclass(frozen=True, slots=True)
class Change:
    """One change to push: its kind, its FIFO queue, what it addresses and who may see it.

    ``recipients``, when set, names the partners explicitly (a tariff withdrawn from partners
    that may no longer see it); otherwise the audience rule of ``hub.domain.access`` decides.
    """

    kind: JobKind
    queue_key: str
    target: dict[str, Any]
    coalesce_parts: tuple[str, ...] = ()
    audience: Audience = field(default_factory=Audience)
    recipients: frozenset[int] | None = None

    def reaches(self, subscriber: Subscriber) -> bool:
        if self.kind.module not in subscriber.modules:
            return False
        if self.recipients is not None:
            return subscriber.partner_id in self.recipients
        return subscriber.scope.may_see(self.audience)


@dataclass(frozen=True, slots=True)
class Rejection:
    """An object whose current version a partner refused, with the partner's answer."""

    partner_id: int
    kind: JobKind
    object: str
    error: str | None


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    partner_id: int
    kind: JobKind
    target: dict[str, Any]
    attempts: int
    enqueued_at: datetime


def _receiver_modules(partner: Partner) -> frozenset[str]:
    return frozenset(
        str(e["identifier"]) for e in partner.endpoints if e.get("role") == RECEIVER
    ) & {"locations", "tariffs", "sessions", "cdrs"}


def _profile_sender(partner: Partner) -> frozenset[str]:
    listed = any(
        e.get("identifier") == "chargingprofiles" and e.get("role") == "SENDER"
        for e in partner.endpoints
    )
    return frozenset({"chargingprofiles"}) if listed else frozenset()


class PushService:
    """Outbox use cases. Never commits; the caller owns the transaction."""

    def __init__(
        self,
        session: AsyncSession,
        policy: RetryPolicy | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.jobs = PushJobRepository(session)
        self.health = PushHealthRepository(session)
        self.partners = PartnerRepository(session)
        self.access = AccessRepository(session)
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self._subscribers: list[Subscriber] | None = None
        self._memo = transaction_memo(session)
        self._dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    async def subscribers(self) -> list[Subscriber]:
        """Registered (not suspended) partners with a Locations or Tariffs receiver endpoint.

        Read once per transaction (:func:`transaction_memo`).
        """
        if self._subscribers is None:
            self._subscribers = self._memo.get("push_subscribers")
        if self._subscribers is None:
            partners = await self.partners.registered()
            scopes = await self.access.scopes_of([p.require_id() for p in partners])
            found = []
            for partner in partners:
                modules = _receiver_modules(partner)
                if modules:
                    partner_id = partner.require_id()
                    found.append(Subscriber(partner_id, modules, scopes[partner_id]))
            self._subscribers = self._memo["push_subscribers"] = found
        return self._subscribers

    async def _named(self, partner_id: int) -> list[Subscriber]:
        """The one partner a change names (a session's or CDR's eMSP), if it receives pushes:
        no scope needed (the change names its recipient; delivery checks ownership again),
        so one primary-key read instead of every partner and its parties."""
        partner = await self.partners.get(partner_id)
        if partner is None or partner.partner_status is not PartnerStatus.REGISTERED:
            return []
        # A command's result goes to the URL the command named, whatever endpoints it listed;
        # an ActiveChargingProfile to the partner's ChargingProfiles *Sender* endpoint.
        modules = _receiver_modules(partner) | {"commands"} | _profile_sender(partner)
        return [Subscriber(partner_id, modules, PartyScope(frozenset()))]

    async def fanout(
        self, changes: Sequence[Change], *, only: int | None = None, fresh: bool = False
    ) -> int:
        """Queue each change for every partner it reaches (or only for partner ``only``).

        A newer job supersedes the undelivered jobs it makes pointless (see
        :attr:`JobKind.supersedes`); ``fresh`` says the caller knows there are none (new objects,
        or a resync that cleared the queue), which saves a query per change. Returns the number of
        jobs written.
        """
        if only is not None and all(c.recipients == frozenset({only}) for c in changes):
            subscribers = await self._named(only)
        else:
            subscribers = [
                s for s in await self.subscribers() if only is None or s.partner_id == only
            ]
        if not subscribers:
            return 0
        now = self.clock()
        # A job that only replaces the same job of the same object (a PATCH) is keyed by
        # (partner, coalesce key): the earlier ones are superseded in one statement for all the
        # changes, and of two such changes in this call only the later is written.
        jobs: dict[tuple[int, str] | int, PushJob] = {}
        replaced: set[tuple[int, str]] = set()
        serial = itertools.count()
        for change in changes:
            reached = [s.partner_id for s in subscribers if change.reaches(s)]
            if not reached:
                continue
            key = coalesce_key(change.kind, change.queue_key, *change.coalesce_parts)
            by_key = bool(change.kind.supersedes) and not change.kind.supersedes_queue
            if by_key and not fresh:
                replaced.update((partner_id, key) for partner_id in reached)
            elif change.kind.supersedes and not fresh:
                await self.jobs.supersede(
                    reached,
                    queue_key=change.queue_key,
                    kinds=[k.value for k in change.kind.supersedes],
                )
            for partner_id in reached:
                job = PushJob(
                    partner_id=partner_id,
                    queue_key=change.queue_key,
                    coalesce_key=key,
                    kind=change.kind.value,
                    target=change.target,
                    next_attempt_at=now,
                    enqueued_at=now,
                )
                slot = (partner_id, key) if by_key else next(serial)
                jobs.pop(slot, None)  # the later change's job goes last, as it came
                jobs[slot] = job
        await self.jobs.supersede_pairs(sorted(replaced))
        await self.jobs.add_all(jobs.values())
        return len(jobs)

    async def claim(
        self,
        worker: str,
        *,
        limit: int,
        lease: timedelta,
        per_partner: int | None = None,
        exclude_partners: Collection[int] = (),
    ) -> list[ClaimedJob]:
        """Claim up to ``limit`` due queue heads (at most ``per_partner`` of each partner, none
        of ``exclude_partners``) for ``worker`` until the lease expires.

        The caller claims only what it sends at once and renews the claims while it sends
        (:meth:`renew`), so a worker that dies holds few jobs, briefly.
        """
        now = self.clock()
        heads = await self.jobs.due_heads(
            now,
            limit,
            per_partner=per_partner or limit,
            skip_locked=self._dialect == "postgresql",
            exclude_partners=exclude_partners,
        )
        if not heads:
            return []
        claimed = await self.jobs.claim(
            [job.id for job in heads if job.id is not None], worker, now, now + lease
        )
        return [
            ClaimedJob(
                id=job.id or 0,
                partner_id=job.partner_id,
                kind=JobKind(job.kind),
                target=dict(job.target),
                attempts=job.attempts,
                enqueued_at=job.enqueued_at,
            )
            for job in claimed
        ]

    async def renew(self, job_ids: Sequence[int], worker: str, *, lease: timedelta) -> int:
        """Extend ``worker``'s claims on ``job_ids`` by ``lease`` from now (they are being sent).

        Returns the number of claims still held.
        """
        return await self.jobs.renew(job_ids, worker, self.clock() + lease)

    async def release_claims(self, worker: str) -> int:
        """Give back every job claimed under the name ``worker``.

        A worker calls this when it starts under a name that a dead process used before (see
        ``hub.roaming.push.WorkerSlot``): those claims belong to nobody alive, and waiting for
        their leases would stall their queues. Returns the number of jobs given back.
        """
        return await self.jobs.release_claims(worker)

    async def delivered(
        self, job_ids: Sequence[int], worker: str, *, answered: bool = True
    ) -> list[int]:
        """Record successful deliveries. ``answered``: the partner accepted them (False: jobs
        with nothing to send, which say nothing of the partner's health). Returns the partners
        that were degraded and recovered now; the caller resynchronises them, once per recovery
        (in the same transaction)."""
        touched = await self.jobs.mark_delivered(job_ids, worker, self.clock())
        recovered: list[int] = []
        for partner_id in touched if answered else ():
            if await self.health.success(partner_id):
                recovered.append(partner_id)
        return recovered

    async def failed(
        self,
        job_id: int,
        worker: str,
        error: str,
        *,
        rejected: bool = False,
        rng: random.Random | None = None,
    ) -> bool:
        """Record a failed delivery. A rejected one (the partner refused this version of the
        object) is final and leaves the partner's health alone; any other is retried later with
        backoff, counts as a consecutive failure of the partner and becomes the partner's last
        error. Returns True if the partner became degraded now."""
        (job,) = await self.jobs.get_many([job_id]) or (None,)
        if job is None or job.claimed_by != worker:
            return False
        job.attempts += 1
        job.claimed_by = job.claimed_until = None
        job.last_error = error[:500]
        if rejected:
            job.state = JobState.REJECTED.value
            return False
        now = self.clock()
        job.next_attempt_at = now + self.policy.delay(job.attempts, rng)
        return await self.health.failure(
            job.partner_id, self.policy.degraded_after, error=error, at=now
        )

    async def superseded(self, job_id: int, worker: str) -> bool:
        """Retire a claimed job that another job replaces; False if it is no longer ours."""
        (job,) = await self.jobs.get_many([job_id]) or (None,)
        if job is None or job.claimed_by != worker:
            return False
        job.attempts += 1
        job.state = JobState.SUPERSEDED.value
        job.claimed_by = job.claimed_until = None
        return True

    async def release(self, job_ids: Sequence[int], worker: str) -> None:
        """Give claimed jobs back untouched (e.g. on shutdown)."""
        for job in await self.jobs.get_many(job_ids):
            if job.claimed_by == worker:
                job.claimed_by = job.claimed_until = None

    async def stats(self) -> list[tuple[Partner, QueueStats | None]]:
        """Queue figures per partner (every partner, with None when it never had a job)."""
        rejected = await self.jobs.rejected_counts()
        by_partner = {
            s.partner_id: replace(s, rejected_objects=rejected.get(s.partner_id, 0))
            for s in await self.jobs.stats(self.clock())
        }
        return [(p, by_partner.get(p.require_id())) for p in await self.partners.list()]

    async def rejections(
        self, partner_id: int | None = None, *, limit: int = 100
    ) -> list[Rejection]:
        """Objects whose current version a partner (or ``partner_id``) refused, newest first.

        Such a refusal is final for that version; the next change of the object is tried again.
        """
        found = []
        for job in await self.jobs.rejections(partner_id, limit):
            target = job.target
            parts = [job.queue_key]
            parts += [str(target[k]) for k in ("evse_uid", "connector_id") if k in target]
            found.append(
                Rejection(job.partner_id, JobKind(job.kind), "/".join(parts), job.last_error)
            )
        return found

    async def pending_count(self, partner_id: int | None = None) -> int:
        return await self.jobs.pending_count(partner_id)

    async def require_pushable(self, partner_id: int) -> Subscriber:
        """The partner as a subscriber; raises if it is not registered or has no receivers."""
        for subscriber in await self.subscribers():
            if subscriber.partner_id == partner_id:
                return subscriber
        raise InvalidState(
            "partner is not registered or offers no Locations/Tariffs receiver endpoint"
        )
