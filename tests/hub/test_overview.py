"""The operator's overview (``hub status`` and the database gauges of ``/metrics``) on both
databases: stations per node, every partner's queue and health, the CDR backlog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.domain.push import JobKind, JobState
from hub.persistence.repositories.overview import OverviewRepository, PartnerQueue
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingStation, Partner, PushJob
from hub.services.overview import OverviewService
from tests.hub.conftest import register_partner

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
NODE_A, NODE_B = "http://10.0.0.1:8000", "http://10.0.0.2:8000"


def job(partner_id: int, kind: JobKind, state: JobState, age_s: float, n: int) -> PushJob:
    return PushJob(
        partner_id=partner_id,
        queue_key=f"q/{n}",
        coalesce_key=f"c/{n}",
        kind=kind.value,
        state=state.value,
        enqueued_at=NOW - timedelta(seconds=age_s),
        next_attempt_at=NOW,
    )


async def test_empty_hub(sessions):
    async with sessions() as session:
        overview = await OverviewService(session, clock=lambda: NOW).overview()
    assert overview.at == NOW
    assert (overview.stations, overview.queues, overview.cdr_backlog) == ({}, (), 0)
    assert overview.stations_connected == 0


async def test_stations_queues_health_and_cdr_backlog(sessions):
    ema, _ = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    emb, _ = await register_partner(sessions, "emsp-b", ("US", "EMB"))
    await register_partner(sessions, "emsp-idle", ("US", "EMI"))
    async with session_scope(sessions) as session:
        nodes = [NODE_A, NODE_A, NODE_B, None, None]
        session.add_all(
            ChargingStation(station_id=f"CS-{i}", password_hash="x", connected_node=node)
            for i, node in enumerate(nodes)
        )
        session.add_all(
            [
                # emsp-a: three pending (one a CDR), the oldest 90 s old; older jobs are done.
                job(ema, JobKind.EVSE_PATCH, JobState.PENDING, 30, 1),
                job(ema, JobKind.LOCATION_PUT, JobState.PENDING, 90, 2),
                job(ema, JobKind.CDR_POST, JobState.PENDING, 60, 3),
                job(ema, JobKind.LOCATION_PUT, JobState.DELIVERED, 900, 4),
                job(ema, JobKind.CDR_POST, JobState.DELIVERED, 800, 5),
                job(ema, JobKind.EVSE_PATCH, JobState.SUPERSEDED, 700, 6),
                # emsp-b: two pending CDRs, a rejected one (final: not backlog).
                job(emb, JobKind.CDR_POST, JobState.PENDING, 3600, 7),
                job(emb, JobKind.CDR_POST, JobState.PENDING, 10, 8),
                job(emb, JobKind.CDR_POST, JobState.REJECTED, 7200, 9),
            ]
        )
        partner = await session.get(Partner, emb)
        assert partner is not None
        partner.push_failures, partner.push_degraded = 4, True

    async with sessions() as session:
        overview = await OverviewRepository(session).overview(NOW)
    assert overview.stations == {NODE_A: 2, NODE_B: 1}
    assert overview.stations_connected == 3
    assert overview.queues == (
        PartnerQueue("emsp-a", "REGISTERED", 3, NOW - timedelta(seconds=90), 0, False),
        PartnerQueue("emsp-b", "REGISTERED", 2, NOW - timedelta(seconds=3600), 4, True),
        PartnerQueue("emsp-idle", "REGISTERED", 0, None, 0, False),
    )
    assert [q.oldest_seconds(NOW) for q in overview.queues] == [90.0, 3600.0, 0.0]
    assert overview.cdr_backlog == 3


async def test_the_overview_writes_nothing(sessions):
    ema, _ = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    async with session_scope(sessions) as session:
        session.add(job(ema, JobKind.CDR_POST, JobState.PENDING, 5, 1))
    async with session_scope(sessions) as session:
        await OverviewService(session, clock=lambda: NOW).overview()
        assert not session.dirty
        assert not session.new
    async with sessions() as session:
        states = (
            await session.execute(select(PushJob.state, func.count()).group_by("state"))
        ).all()
    assert states == [("PENDING", 1)]


def test_an_age_is_never_negative():
    queue = PartnerQueue("p", "REGISTERED", 1, NOW + timedelta(seconds=5), 0, False)
    assert queue.oldest_seconds(NOW) == 0.0
