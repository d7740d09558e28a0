"""What hub partners report about the parties behind them, and the push hold it drives, on
both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.hub_client_info import ClientReport, ConnectionStatus, reachable
from hub.domain.push import JobKind
from hub.errors import Forbidden
from hub.persistence.session import session_scope
from hub.persistence.tables import PushJob
from hub.services.hub_client_info import HubClientInfoService
from hub.services.push import PushService
from tests.hub.conftest import register_hub, register_partner

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EMA = ("US", "EMA")


def report(
    status: ConnectionStatus,
    party: tuple[str, str] = EMA,
    role: str = "EMSP",
    at: datetime = T0,
) -> ClientReport:
    return ClientReport(party[0], party[1], role, status, at)


@pytest.mark.parametrize(
    ("reports", "expected"),
    [
        ([], True),
        ([("EMSP", ConnectionStatus.CONNECTED)], True),
        ([("EMSP", ConnectionStatus.OFFLINE)], False),
        ([("EMSP", ConnectionStatus.SUSPENDED)], False),
        ([("EMSP", ConnectionStatus.PLANNED)], False),
        # A report on the party as a CPO says nothing about its eMSP side.
        ([("CPO", ConnectionStatus.OFFLINE)], True),
        ([("CPO", ConnectionStatus.CONNECTED), ("EMSP", ConnectionStatus.OFFLINE)], False),
        ([("NSP", ConnectionStatus.CONNECTED), ("EMSP", ConnectionStatus.OFFLINE)], True),
    ],
)
def test_reachable_rule(reports, expected):
    assert reachable(report(status, role=role) for role, status in reports) is expected


async def test_only_a_hub_may_report(sessions):
    emsp_id, _ = await register_partner(sessions, "emsp")
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        with pytest.raises(Forbidden, match="declare no HUB role"):
            await service.report(emsp_id, report(ConnectionStatus.OFFLINE))
        assert await service.reports(emsp_id) == []


async def test_a_report_is_stored_per_party_and_role_and_read_back(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        lower = ClientReport("us", "ema", "EMSP", ConnectionStatus.OFFLINE, T0)
        assert (await service.report(hub_id, lower)).stored
        later = T0 + timedelta(minutes=1)
        await service.report(hub_id, report(ConnectionStatus.CONNECTED, role="CPO", at=later))
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        assert [(r.party, r.role, r.status) for r in await service.reports(hub_id)] == [
            (EMA, "CPO", ConnectionStatus.CONNECTED),
            (EMA, "EMSP", ConnectionStatus.OFFLINE),
        ]
        # The URL names no role: the newest report of the party answers.
        got = await service.get(hub_id, ("us", "ema"))
        assert got is not None
        assert (got.role, got.last_updated) == ("CPO", later)
        assert await service.get(hub_id, ("US", "EMB")) is None
        assert await service.unreachable_parties([hub_id]) == {hub_id: frozenset({EMA})}


async def test_an_older_report_does_not_undo_a_newer_one(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        await service.report(hub_id, report(ConnectionStatus.CONNECTED, at=T0))
        outcome = await service.report(
            hub_id, report(ConnectionStatus.OFFLINE, at=T0 - timedelta(seconds=1))
        )
        assert not outcome.stored
        got = await service.get(hub_id, EMA)
        assert got is not None
        assert got.status is ConnectionStatus.CONNECTED


async def test_what_one_hub_reports_never_concerns_another_partner(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    other_id, _ = await register_hub(sessions, "other-hub", ("DE", "HB2"), clients=(("US", "EMC"),))
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        await service.report(hub_id, report(ConnectionStatus.OFFLINE, party=("US", "EMC")))
        assert await service.get(other_id, ("US", "EMC")) is None
        assert await service.unreachable_parties([other_id]) == {}


async def _claimed_jobs(sessions, hub_id: int, worker: str) -> list[int]:
    """Two jobs on one session queue and one on another, the heads claimed by ``worker``."""
    async with session_scope(sessions) as session:
        push = PushService(session)
        await push.jobs.add_all(
            PushJob(
                partner_id=hub_id,
                queue_key=queue,
                coalesce_key=f"{queue}/{n}",
                kind=JobKind.SESSION_PATCH.value,
                target={"session": n},
            )
            for n, queue in enumerate(("sessions/US/HPC/S1", "sessions/US/HPC/S1", "s/S2"))
        )
        claimed = await push.claim(worker, limit=10, lease=timedelta(seconds=30))
        return [job.id for job in claimed]


async def _due(sessions) -> list[int]:
    async with session_scope(sessions) as session:
        return [
            job.id
            for job in await PushService(session).jobs.due_heads(
                datetime.now(UTC) + timedelta(seconds=1), 10, per_partner=10, skip_locked=False
            )
            if job.id is not None
        ]


async def test_held_jobs_wait_unclaimed_with_their_queue_until_connected(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    async with session_scope(sessions) as session:
        await HubClientInfoService(session).report(hub_id, report(ConnectionStatus.OFFLINE))
    first, other = await _claimed_jobs(sessions, hub_id, "w/0")
    async with session_scope(sessions) as session:
        held = await HubClientInfoService(session).hold([first, other], "w/0", hub_id, EMA)
        assert held == {first, other}
    # Nothing of the party is due, not even the job queued behind the held one.
    assert await _due(sessions) == []
    async with session_scope(sessions) as session:
        assert await HubClientInfoService(session).held(hub_id) == {"US*EMA": 2}

    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        outcome = await service.report(
            hub_id, report(ConnectionStatus.CONNECTED, at=T0 + timedelta(minutes=5))
        )
        assert outcome.released == 2
    assert await _due(sessions) == [first, other]
    async with session_scope(sessions) as session:
        assert await HubClientInfoService(session).held(hub_id) == {}


async def test_a_party_reported_connected_meanwhile_is_not_held(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    async with session_scope(sessions) as session:
        await HubClientInfoService(session).report(hub_id, report(ConnectionStatus.OFFLINE))
    first, _ = await _claimed_jobs(sessions, hub_id, "w/0")
    async with session_scope(sessions) as session:
        await HubClientInfoService(session).report(
            hub_id, report(ConnectionStatus.CONNECTED, at=T0 + timedelta(minutes=1))
        )
    async with session_scope(sessions) as session:
        assert await HubClientInfoService(session).hold([first], "w/0", hub_id, EMA) == set()


async def test_only_the_claiming_worker_holds_and_only_its_partners_jobs(sessions):
    hub_id, _ = await register_hub(sessions, "hub")
    other_id, _ = await register_hub(sessions, "other-hub", ("DE", "HB2"), clients=(("US", "EMC"),))
    async with session_scope(sessions) as session:
        await HubClientInfoService(session).report(hub_id, report(ConnectionStatus.OFFLINE))
    first, other = await _claimed_jobs(sessions, hub_id, "w/0")
    async with session_scope(sessions) as session:
        service = HubClientInfoService(session)
        assert await service.hold([first], "w/1", hub_id, EMA) == set()
        # The other hub reported nothing about US*EMA: its id cannot hold hub's jobs.
        assert await service.hold([first, other], "w/0", other_id, EMA) == set()
