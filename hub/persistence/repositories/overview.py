"""The operator's view of the whole hub, read from the database: stations connected per node,
the push queue of every partner and the CDRs not yet delivered. Read-only, and scoped to
nobody (every partner and station): it feeds ``hub status`` and the gauges of ``/metrics``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from hub.domain.push import JobKind, JobState
from hub.persistence.tables import ChargingStation, Partner, PushJob


@dataclass(frozen=True, slots=True)
class PartnerQueue:
    """One partner's push queue and delivery health."""

    partner: str
    status: str
    pending: int
    """Jobs not yet delivered (nor superseded or rejected), retrying and held ones included."""
    oldest_pending: datetime | None
    """When the oldest of them was queued."""
    consecutive_failures: int
    degraded: bool

    def oldest_seconds(self, now: datetime) -> float:
        """How long the oldest pending job has waited at ``now`` (0 when none waits)."""
        if self.oldest_pending is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending).total_seconds())


@dataclass(frozen=True, slots=True)
class Overview:
    at: datetime
    """When it was read (the ages are counted to this moment)."""
    stations: dict[str, int]
    """Stations whose socket a node holds, by node (``charging_stations.connected_node``)."""
    queues: tuple[PartnerQueue, ...]
    """Every partner, by name."""
    cdr_backlog: int
    """CDR push jobs pending: bills not yet taken by their eMSP."""

    @property
    def stations_connected(self) -> int:
        return sum(self.stations.values())


class OverviewRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def overview(self, now: datetime) -> Overview:
        return Overview(
            at=now,
            stations=await self._stations(),
            queues=await self._queues(),
            cdr_backlog=await self._cdr_backlog(),
        )

    async def _stations(self) -> dict[str, int]:
        node = col(ChargingStation.connected_node)
        result = await self.session.execute(
            sa_select(node, func.count()).where(node.is_not(None)).group_by(node).order_by(node)
        )
        return {str(name): int(n) for name, n in result.all()}

    async def _queues(self) -> tuple[PartnerQueue, ...]:
        # Pending jobs only (ix_push_jobs_due leads with the state): delivered jobs are kept and
        # outnumber them by far.
        pending = (
            sa_select(
                col(PushJob.partner_id).label("partner_id"),
                func.count().label("jobs"),
                func.min(col(PushJob.enqueued_at)).label("oldest"),
            )
            .where(col(PushJob.state) == JobState.PENDING.value)
            .group_by(col(PushJob.partner_id))
            .subquery()
        )
        result = await self.session.execute(
            sa_select(
                col(Partner.name),
                col(Partner.status),
                pending.c.jobs,
                pending.c.oldest,
                col(Partner.push_failures),
                col(Partner.push_degraded),
            )
            .outerjoin(pending, pending.c.partner_id == col(Partner.id))
            .order_by(col(Partner.name))
        )
        return tuple(
            PartnerQueue(
                partner=name,
                status=status,
                pending=int(jobs or 0),
                oldest_pending=oldest,
                consecutive_failures=int(failures),
                degraded=bool(degraded),
            )
            for name, status, jobs, oldest, failures, degraded in result.all()
        )

    async def _cdr_backlog(self) -> int:
        result = await self.session.execute(
            sa_select(func.count())
            .select_from(PushJob)
            .where(
                col(PushJob.state) == JobState.PENDING.value,
                col(PushJob.kind) == JobKind.CDR_POST.value,
            )
        )
        return int(result.scalar_one())
