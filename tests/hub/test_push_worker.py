"""The push worker against a real eMSP receiver on 127.0.0.1, on both databases."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.config import PushSettings, get_settings
from hub.domain.assets import EvseStatus
from hub.domain.push import JobState
from hub.persistence.session import session_scope
from hub.persistence.tables import Partner, PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.push import PushWorker
from hub.services.locations import LocationService
from hub.services.push import PushService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp import EmspPeer
from tests.support.ocpi_openapi import validate, validate_patch
from tests.support.servers import asgi_server

pytestmark = pytest.mark.db

FAST = PushSettings(
    retry_base_seconds=0.01, retry_cap_seconds=0.02, degraded_after=3, lease_seconds=30
)


@pytest.fixture
def emsp():
    peer = EmspPeer()
    with asgi_server(peer.app()) as url:
        peer.base_url = url
        try:
            yield peer
        finally:
            peer.hold = False  # a failed test must not leave requests hanging


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def setup(sessions, emsp):
    await add_parties(sessions)
    partner_id, _ = await register_partner(sessions, "emsp", base_url=f"{emsp.base_url}/ocpi/2.2.1")
    emsp.issued["token-for-emsp"] = "C"
    return sessions, partner_id


async def import_(sessions, *locations):
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps(list(locations)))
        )


async def drain(worker: PushWorker, rounds: int = 50) -> None:
    for _ in range(rounds):
        if await worker.run_once() == 0:
            return
        await asyncio.sleep(0.03)
    raise AssertionError("queue did not drain")


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until it holds (30 s at most)."""
    async with asyncio.timeout(30):
        while not await check():  # noqa: ASYNC110 - state another task or thread changes
            await asyncio.sleep(0.02)


async def held(emsp: EmspPeer, count: int) -> None:
    async def check() -> bool:
        return len(emsp.holding()) == count

    await until(check)


async def claims(sessions) -> dict[int, tuple[str | None, object]]:
    """Pending jobs under a claim: id -> (claimed_by, claimed_until)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(PushJob).where(PushJob.state == "PENDING", PushJob.claimed_by.is_not(None))
            )
        ).scalars()
        return {j.id: (j.claimed_by, j.claimed_until) for j in rows}


async def settle(worker: PushWorker, sessions) -> None:
    """Deliver until nothing is pending (retries included; FAST backoff is at most 20 ms)."""

    async def empty() -> bool:
        await worker.run_once()
        async with sessions() as session:
            return await PushService(session).pending_count() == 0

    await until(empty)


async def job_states(sessions) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = (await session.execute(select(PushJob).order_by(PushJob.id))).scalars()
        return [(j.kind, j.state) for j in rows]


async def partner_row(sessions, partner_id) -> Partner:
    async with sessions() as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        return partner


async def test_location_put_and_status_patch_arrive_valid_and_routed(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1", nacs_only_evse=True))
    async with session_scope(sessions) as session:
        await LocationService(session).set_evse_status("LOC1-E1", EvseStatus.CHARGING)
    worker = PushWorker(sessions, http, FAST)
    await drain(worker)
    put, patch = emsp.pushes()
    assert (put.method, put.path) == ("PUT", "/ocpi/2.2.1/locations/US/HPC/LOC1")
    assert (patch.method, patch.path) == ("PATCH", "/ocpi/2.2.1/locations/US/HPC/LOC1/LOC1-E1")
    validate("Location", put.body)
    validate_patch("EVSEPatch", patch.body)
    assert set(patch.body) == {"status", "last_updated"}
    assert patch.body["status"] == "CHARGING"
    # NACS is left out for a 2.2.1 partner: the NACS-only EVSE and every NACS connector.
    assert [e["uid"] for e in put.body["evses"]] == ["LOC1-E1", "LOC1-E2"]
    assert {c["standard"] for e in put.body["evses"] for c in e["connectors"]} == {
        "IEC_62196_T1_COMBO"
    }
    for received in (put, patch):
        assert received.headers["ocpi-from-country-code"] == "US"
        assert received.headers["ocpi-from-party-id"] == "HPC"
        assert received.headers["ocpi-to-party-id"] == "EMA"
        assert received.headers["x-request-id"]
    assert emsp.locations[("US", "HPC", "LOC1")]["evses"][0]["status"] == "CHARGING"
    assert await job_states(sessions) == [
        ("LOCATION_PUT", "DELIVERED"),
        ("EVSE_PATCH", "DELIVERED"),
    ]


async def test_nacs_is_sent_as_sae_j3400_to_partners_who_ask(sessions, emsp, http):
    await add_parties(sessions)
    await register_partner(
        sessions, "nacs-ok", base_url=f"{emsp.base_url}/ocpi/2.2.1", nacs_mode="SAE_J3400"
    )
    emsp.issued["token-for-nacs-ok"] = "C"
    await import_(sessions, network.location("LOC1", nacs_only_evse=True))
    await drain(PushWorker(sessions, http, FAST))
    (put,) = emsp.pushes("PUT")
    standards = [c["standard"] for e in put.body["evses"] for c in e["connectors"]]
    assert "SAE_J3400" in standards
    assert "TESLA_S" not in standards
    assert [e["uid"] for e in put.body["evses"]][-1] == "LOC1-NACS"


async def test_each_queue_keeps_its_order(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1"), network.location("LOC2"))
    async with session_scope(sessions) as session:
        service = LocationService(session)
        for status in (EvseStatus.CHARGING, EvseStatus.AVAILABLE, EvseStatus.OUTOFORDER):
            await service.set_evse_status("LOC1-E1", status)
        await service.set_evse_status("LOC2-E2", EvseStatus.RESERVED)
        # A connector may reference only a tariff we have (set_connector_tariffs checks).
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-NEW")]))
        )
        await service.set_connector_tariffs("LOC2-E1", "1", ["T-NEW"])
    await drain(PushWorker(sessions, http, FAST))
    loc1 = [
        (r.method, r.path.rsplit("/", 1)[-1])
        for r in emsp.pushes(prefix="/ocpi/2.2.1/locations/US/HPC/LOC1")
    ]
    loc2 = [
        (r.method, r.path.rsplit("/", 1)[-1])
        for r in emsp.pushes(prefix="/ocpi/2.2.1/locations/US/HPC/LOC2")
    ]
    # Coalesced: one PATCH of LOC1-E1 with the newest status, after the PUT.
    assert loc1 == [("PUT", "LOC1"), ("PATCH", "LOC1-E1")]
    assert loc2 == [("PUT", "LOC2"), ("PATCH", "LOC2-E2"), ("PATCH", "1")]
    assert emsp.locations[("US", "HPC", "LOC1")]["evses"][0]["status"] == "OUTOFORDER"
    connector = emsp.locations[("US", "HPC", "LOC2")]["evses"][0]["connectors"][0]
    assert connector["tariff_ids"] == ["T-NEW"]


async def test_failures_back_off_degrade_and_recover_with_a_full_resync(setup, emsp, http):
    sessions, partner_id = setup
    await import_(sessions, network.location("LOC1"), network.location("LOC2"))
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff()]))
        )
    worker = PushWorker(sessions, http, FAST)
    emsp.push_mode = "fail"
    for _ in range(8):
        await worker.run_once()
        await asyncio.sleep(0.03)
    partner = await partner_row(sessions, partner_id)
    assert partner.push_degraded
    assert partner.push_failures >= FAST.degraded_after
    async with sessions() as session:
        first = (await session.execute(select(PushJob).order_by(PushJob.id))).scalars().first()
    assert first is not None
    assert first.attempts >= 2
    assert first.state == "PENDING"
    assert "503" in (first.last_error or "")
    emsp.push_mode = "ok"
    await drain(worker)
    partner = await partner_row(sessions, partner_id)
    assert not partner.push_degraded
    assert partner.push_failures == 0
    assert set(emsp.locations) == {("US", "HPC", "LOC1"), ("US", "HPC", "LOC2")}
    assert set(emsp.tariffs) == {("US", "HPC", "T-DC")}
    # The recovery resync PUT everything again after the first success.
    assert len(emsp.pushes("PUT", "/ocpi/2.2.1/locations")) >= 3


async def test_rejected_payload_is_not_retried_and_does_not_block_the_queue(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1"))
    emsp.push_mode = "reject"
    worker = PushWorker(sessions, http, FAST)
    await worker.run_once()
    emsp.push_mode = "ok"
    async with session_scope(sessions) as session:
        await LocationService(session).set_evse_status("LOC1-E1", EvseStatus.CHARGING)
    await drain(worker)
    # The eMSP never stored the location, so it refuses the PATCH as unknown (2003/404); the
    # worker then PUTs the whole location, as the spec advises.
    assert await job_states(sessions) == [
        ("LOCATION_PUT", JobState.REJECTED.value),
        ("EVSE_PATCH", JobState.SUPERSEDED.value),
        ("LOCATION_PUT", JobState.DELIVERED.value),
    ]
    assert emsp.locations[("US", "HPC", "LOC1")]["evses"][0]["status"] == "CHARGING"


async def test_a_dead_workers_claims_come_back_after_the_lease(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1"))
    short = FAST.model_copy(update={"lease_seconds": 2})
    dead = PushWorker(sessions, http, short, worker_id="dead")
    async with session_scope(sessions) as session:
        claimed = await PushService(session).claim("dead", limit=10, lease=timedelta(seconds=2))
    assert len(claimed) == 1
    alive = PushWorker(sessions, http, short, worker_id="alive")
    assert await alive.run_once() == 0  # still leased to the dead worker
    await asyncio.sleep(2.2)
    assert await alive.run_once() == 1
    assert len(emsp.pushes("PUT")) == 1
    # The dead worker's late report is ignored: the job belongs to the live one now.
    async with session_scope(sessions) as session:
        assert await PushService(session).delivered([claimed[0].id], "dead") == []
    del dead


async def test_concurrent_workers_deliver_each_job_once(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, *(network.location(f"LOC{i}", evses=1) for i in range(40)))
    settings = FAST.model_copy(update={"batch_size": 5})
    workers = [PushWorker(sessions, http, settings, worker_id=f"w{i}") for i in range(3)]

    async def work(worker: PushWorker) -> None:
        for _ in range(40):
            if await worker.run_once() == 0:
                await asyncio.sleep(0.02)

    await asyncio.gather(*(work(w) for w in workers))
    paths = [r.path for r in emsp.pushes("PUT")]
    assert len(paths) == 40
    assert len(set(paths)) == 40


async def test_a_round_claims_only_what_it_sends_at_once(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, *(network.location(f"LOC{i}", evses=1) for i in range(10)))
    settings = FAST.model_copy(update={"max_in_flight_per_partner": 3, "batch_size": 200})
    worker = PushWorker(sessions, http, settings, worker_id="w")
    emsp.hold = True
    round_ = asyncio.create_task(worker.run_once())
    await held(emsp, 3)
    # Only the three jobs being sent are leased: a crash now would hold back three queues, not
    # ten (the old worker claimed batch_size queue heads and sent them eight at a time).
    assert [by for by, _ in (await claims(sessions)).values()] == ["w", "w", "w"]
    emsp.hold = False
    assert await round_ == 3
    await drain(worker)
    assert len(emsp.pushes("PUT")) == 10


async def test_claims_are_capped_per_partner_so_no_partner_starves_another(setup, emsp):
    sessions, first = setup
    second, _ = await register_partner(
        sessions, "other", ("US", "OTH"), base_url=f"{emsp.base_url}/ocpi/2.2.1"
    )
    await import_(sessions, *(network.location(f"LOC{i}", evses=1) for i in range(6)))
    async with session_scope(sessions) as session:
        claimed = await PushService(session).claim(
            "w", limit=100, per_partner=2, lease=timedelta(seconds=30)
        )
    # The first partner's six jobs are older than the second's, yet each gets two.
    assert sorted(job.partner_id for job in claimed) == [first, first, second, second]


async def test_claims_are_renewed_while_a_request_is_in_flight(setup, emsp, http):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1"))
    settings = FAST.model_copy(update={"lease_seconds": 0.6})  # renewed every 0.2 s
    sender = PushWorker(sessions, http, settings, worker_id="sender")
    emsp.hold = True
    round_ = asyncio.create_task(sender.run_once())
    await held(emsp, 1)
    ((job_id, (_, first_until)),) = (await claims(sessions)).items()

    async def renewed() -> bool:
        return (await claims(sessions))[job_id][1] > first_until

    await until(renewed)
    # A worker whose clock is past the first lease finds the job still taken.
    late = PushWorker(
        sessions,
        http,
        settings,
        worker_id="late",
        clock=lambda: first_until + timedelta(milliseconds=1),
    )
    assert await late.run_once() == 0
    emsp.hold = False
    assert await round_ == 1
    assert len(emsp.pushes("PUT")) == 1
    assert await job_states(sessions) == [("LOCATION_PUT", "DELIVERED")]


async def test_a_restarted_worker_gives_back_its_dead_predecessors_claims(
    setup, emsp, http, tmp_path: Path
):
    sessions, _ = setup
    await import_(sessions, network.location("LOC1"), network.location("LOC2"))
    settings = FAST.model_copy(update={"node_name": "node-a", "lease_seconds": 600})

    def worker() -> PushWorker:
        return PushWorker(sessions, http, settings, slot_directory=tmp_path)

    dead = worker()
    await dead.start()
    assert dead.worker_id == "node-a/0"
    async with session_scope(sessions) as session:  # the round it was killed in
        lost = await PushService(session).claim(
            dead.worker_id, limit=10, lease=timedelta(seconds=600)
        )
    assert len(lost) == 2
    neighbour = worker()  # another live process on the same machine
    await neighbour.start()
    assert neighbour.worker_id == "node-a/1"
    assert await neighbour.run_once() == 0  # a live process's claims are never taken
    dead.close()  # its process ends: the kernel drops the slot's lock
    restarted = worker()
    await restarted.start()
    assert restarted.worker_id == "node-a/0"
    # Delivered at once, ten minutes before the dead round's leases would have expired.
    assert await restarted.run_once() == 2
    assert len(emsp.pushes("PUT")) == 2
    assert await claims(sessions) == {}
    neighbour.close()
    restarted.close()


REFUSED = "/ocpi/2.2.1/locations/US/HPC/LOC3"


async def ten_sites_and_three_tariffs(sessions) -> None:
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff(f"T{i}") for i in range(3)]))
        )
    await import_(sessions, *(network.location(f"LOC{i}") for i in range(10)))


async def change_status(sessions, uid: str, status: EvseStatus) -> None:
    async with session_scope(sessions) as session:
        await LocationService(session).set_evse_status(uid, status)


async def test_an_object_the_partner_refuses_is_final_for_that_object_alone(
    setup, emsp, http, database_url, monkeypatch
):
    sessions, partner_id = setup
    emsp.refuse[REFUSED] = 422  # e.g. a connector value outside the receiver's enum
    await ten_sites_and_three_tariffs(sessions)
    worker = PushWorker(sessions, http, FAST)  # degraded after 3 failures
    await settle(worker, sessions)
    assert len(emsp.pushes(prefix=REFUSED)) == 1
    assert len(emsp.locations) == 9
    assert len(emsp.tariffs) == 3
    # Statuses keep changing elsewhere: each change is one PATCH, and nothing else is sent.
    changes = [("LOC0", "LOC0-E1"), ("LOC1", "LOC1-E2"), ("LOC5", "LOC5-E1"), ("LOC9", "LOC9-E1")]
    for n, (location_id, uid) in enumerate(changes * 2):
        seen = len(emsp.pushes())
        status = EvseStatus.CHARGING if n < len(changes) else EvseStatus.AVAILABLE
        await change_status(sessions, uid, status)
        await settle(worker, sessions)
        sent = [(r.method, r.path) for r in emsp.pushes()[seen:]]
        assert sent == [("PATCH", f"/ocpi/2.2.1/locations/US/HPC/{location_id}/{uid}")]
    assert len(emsp.pushes(prefix=REFUSED)) == 1  # never retried
    partner = await partner_row(sessions, partner_id)
    assert (partner.push_degraded, partner.push_failures) == (False, 0)
    async with sessions() as session:
        (rejection,) = await PushService(session).rejections()
    assert (rejection.kind, rejection.object) == ("LOCATION_PUT", "locations/US/HPC/LOC3")
    assert "HTTP 422" in (rejection.error or "")
    # `hub push status` reports it (the CLI runs its own event loop: in a thread).
    monkeypatch.setenv("HUB_DATABASE__URL", database_url)
    get_settings.cache_clear()
    try:
        result = await asyncio.to_thread(CliRunner().invoke, cli, ["push", "status", "--json"])
        table = await asyncio.to_thread(CliRunner().invoke, cli, ["push", "status"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)
    assert (status["health"], status["rejected_objects"], status["pending"]) == ("ok", 1, 0)
    assert [r["object"] for r in status["rejections"]] == ["locations/US/HPC/LOC3"]
    assert "locations/US/HPC/LOC3" in table.stdout
    # A new version of the refused object is tried again, once: the partner lacks the location,
    # so the PATCH becomes a PUT of it, refused again.
    seen = len(emsp.pushes())
    await change_status(sessions, "LOC3-E1", EvseStatus.CHARGING)
    await settle(worker, sessions)
    assert [(r.method, r.path) for r in emsp.pushes()[seen:]] == [
        ("PATCH", f"{REFUSED}/LOC3-E1"),
        ("PUT", REFUSED),
    ]
    partner = await partner_row(sessions, partner_id)
    assert (partner.push_degraded, partner.push_failures) == (False, 0)


async def test_a_recovery_resyncs_once_and_later_deliveries_do_not(setup, emsp, http):
    sessions, partner_id = setup
    emsp.refuse[REFUSED] = 422
    await ten_sites_and_three_tariffs(sessions)
    worker = PushWorker(sessions, http, FAST)
    await settle(worker, sessions)
    emsp.push_mode = "fail"  # an outage: every push answered 503
    for uid in ("LOC0-E1", "LOC1-E1", "LOC2-E1"):
        await change_status(sessions, uid, EvseStatus.CHARGING)

    async def degraded() -> bool:
        await worker.run_once()
        return (await partner_row(sessions, partner_id)).push_degraded

    await until(degraded)
    emsp.push_mode = "ok"
    with emsp.lock:
        emsp.received.clear()
    await settle(worker, sessions)
    # One resync: every tariff and location PUT exactly once (the refused one too, refused
    # again), after the first of the outage's PATCHes that showed the partner was back (the
    # resync's PUTs replace those still waiting for their retry).
    puts = Counter(r.path for r in emsp.pushes("PUT"))
    assert len(puts) == 13
    assert set(puts.values()) == {1}
    assert 1 <= len(emsp.pushes("PATCH")) <= 3
    partner = await partner_row(sessions, partner_id)
    assert (partner.push_degraded, partner.push_failures) == (False, 0)
    # From now on a delivery is only a delivery.
    for uid in ("LOC4-E1", "LOC5-E1", "LOC6-E1"):
        seen = len(emsp.pushes())
        await change_status(sessions, uid, EvseStatus.RESERVED)
        await settle(worker, sessions)
        assert [r.method for r in emsp.pushes()[seen:]] == ["PATCH"]
    assert len(emsp.pushes(prefix=REFUSED)) == 1


async def test_a_job_with_nothing_to_send_does_not_recover_a_degraded_partner(setup, emsp, http):
    sessions, partner_id = setup
    await import_(sessions, network.location("LOC1", nacs_only_evse=True))
    worker = PushWorker(sessions, http, FAST)
    await settle(worker, sessions)
    async with session_scope(sessions) as session:
        partner = await session.get(Partner, partner_id)
        assert partner is not None
        partner.push_degraded, partner.push_failures = True, 5
    seen = len(emsp.pushes())
    # The NACS-only EVSE is left out for this partner: its PATCH is done without a request,
    # which says nothing about whether the partner is reachable.
    await change_status(sessions, "LOC1-NACS", EvseStatus.CHARGING)
    await settle(worker, sessions)
    assert emsp.pushes()[seen:] == []
    assert (await partner_row(sessions, partner_id)).push_degraded
    await change_status(sessions, "LOC1-E1", EvseStatus.CHARGING)
    await settle(worker, sessions)
    assert [(r.method, r.path) for r in emsp.pushes()[seen:]] == [
        ("PATCH", "/ocpi/2.2.1/locations/US/HPC/LOC1/LOC1-E1"),
        ("PUT", "/ocpi/2.2.1/locations/US/HPC/LOC1"),  # the one resync of the recovery
    ]
    partner = await partner_row(sessions, partner_id)
    assert (partner.push_degraded, partner.push_failures) == (False, 0)


async def test_a_slow_partner_does_not_hold_back_the_others(sessions, emsp):
    """The running worker keeps delivering to a partner while another one's reply is held:
    rounds overlap, a partner with a round in flight is left out of the next claims."""
    await add_parties(sessions)
    await register_partner(sessions, "slow", ("US", "EMA"), base_url=f"{emsp.base_url}/ocpi/2.2.1")
    emsp.issued["token-for-slow"] = "C"
    fast = EmspPeer()
    with asgi_server(fast.app()) as fast_url:
        fast.base_url = fast_url
        await register_partner(sessions, "fast", ("US", "EMB"), base_url=f"{fast_url}/ocpi/2.2.1")
        fast.issued["token-for-fast"] = "C"
        emsp.hold = True
        await import_(sessions, network.location("LOC1"))
        # A timeout longer than the test: the held request is never given up and retried.
        http = httpx.AsyncClient(timeout=120)
        worker = PushWorker(sessions, http, FAST, worker_id="both")
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            await held(emsp, 1)  # the slow partner's PUT waits for the test

            async def fast_has(count: int) -> bool:
                return len(fast.pushes()) == count

            await until(lambda: fast_has(1))
            for sent, status in enumerate((EvseStatus.CHARGING, EvseStatus.AVAILABLE), start=2):
                async with session_scope(sessions) as session:
                    await LocationService(session).set_evse_status("LOC1-E1", status)
                worker.wake()
                await until(lambda sent=sent: fast_has(sent))  # type: ignore[misc]
            assert [p.body["status"] for p in fast.pushes("PATCH")] == ["CHARGING", "AVAILABLE"]
            assert emsp.holding() == ["/ocpi/2.2.1/locations/US/HPC/LOC1"]
            assert emsp.pushes() == []  # nothing overtook the held PUT
            emsp.hold = False

            async def slow_caught_up() -> bool:
                patches = emsp.pushes("PATCH")
                return bool(patches) and patches[-1].body["status"] == "AVAILABLE"

            await until(slow_caught_up)
            assert emsp.pushes()[0].method == "PUT"
        finally:
            emsp.hold = False
            stop.set()
            await running
            await http.aclose()
