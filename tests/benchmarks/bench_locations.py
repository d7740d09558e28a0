"""Benchmark of the Locations Sender GET and of the push pipeline (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_locations [--evses 30000] [--receivers 7]
        [--paced 2000] [--rate 200] [--burst 10000] [--database-url URL]

1. Imports a network of ``--evses`` EVSEs (8 per location) into a fresh database.
2. Starts ``hub serve`` in its own process and pulls every location through ``Link`` pages as a
   registered partner: prints pages/s and the time of the full pull.
3. Registers ``--receivers`` eMSPs (receivers in one separate process), then commits
   ``--paced`` EVSE status changes from this process at ``--rate`` per second, each in its own
   transaction, then ``--burst`` changes in one transaction, and measures for every PATCH the
   time from the change's commit to its arrival: prints throughput and p50/p99 latency of each
   phase.
4. The ceiling of this machine: a bare httpx client in this process sends the burst's number of
   PATCHes to the same receivers, as many at once as the hub's push worker may
   (``max_in_flight_per_partner`` per receiver), and so does the hub's own partner client
   (``hub.roaming.http``: httpx over aiohttp): prints PATCH/s of each, beside which the hub's
   figures read as ratios.

Each side's processes are named in the output; they share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from hub.config import PushSettings, Settings
from hub.domain.assets import EvseStatus
from hub.persistence import migrations
from hub.persistence.base import utc_now
from hub.persistence.repositories.locations import LocationRepository
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.roaming.http import partner_http_client
from hub.roaming.importer import parse_locations_json
from hub.services.locations import EvseStatusUpdate, LocationService
from hub.services.sync import SyncService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp import token_header
from tests.support.servers import free_port, hub_environment, wait_until_up


async def bare_ceiling(
    ports: list[int], uids: list[str], at_once: int, http: httpx.AsyncClient
) -> tuple[float, int]:
    """PATCH/s of ``http`` sending one status PATCH per uid to every receiver, at most
    ``at_once`` in flight per receiver (the hub's push concurrency), and how many failed
    (httpx's own pool has broken off connections at 32 and more at once here)."""
    body = {"status": "INOPERATIVE", "last_updated": "2026-12-03T00:00:00Z"}
    failed = 0
    async with http:

        async def receiver(port: int) -> None:
            gate = asyncio.Semaphore(at_once)

            async def one(uid: str) -> None:
                nonlocal failed
                async with gate:
                    url = f"http://127.0.0.1:{port}/ocpi/2.2.1/locations/US/HPC/{uid[:6]}/{uid}"
                    try:
                        (await http.patch(url, json=body)).raise_for_status()
                    except httpx.HTTPError:
                        failed += 1

            await asyncio.gather(*(one(uid) for uid in uids))

        started = time.perf_counter()
        await asyncio.gather(*(receiver(port) for port in ports))
        return len(uids) * len(ports) / (time.perf_counter() - started), failed


CEILING_SAMPLE = 2000
"""PATCHes per receiver the ceilings send (httpx's own pool slows down the more it has sent at
64 at once: the whole burst took it minutes)."""

TICK_SECONDS = 0.02
"""How often the paced phase commits the changes due (see ``push_run``)."""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def seed(url: str, evses: int) -> tuple[float, int]:
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    await add_parties(sessions)
    locations = [network.location(f"L{i:05d}", evses=8) for i in range(evses // 8)]
    specs = parse_locations_json(json.dumps(locations))
    started = time.perf_counter()
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(specs)
    elapsed = time.perf_counter() - started
    await dispose_engine(engine)
    return elapsed, len(locations)


def pull_all(hub_url: str, token: str) -> tuple[int, int, float]:
    url: str | None = f"{hub_url}/ocpi/2.2.1/locations"
    pages = evse_count = 0
    started = time.perf_counter()
    with httpx.Client(timeout=60) as http:
        while url:
            response = http.get(url, headers=token_header(token))
            response.raise_for_status()
            evse_count += sum(len(loc.get("evses", [])) for loc in response.json()["data"])
            pages += 1
            url = response.links.get("next", {}).get("url")
    return pages, evse_count, time.perf_counter() - started


async def push_run(
    url: str,
    ports: list[int],
    uids: list[str],
    status: EvseStatus,
    rate: float | None,
) -> tuple[dict, list]:
    """Commit a status change per uid (at ``rate`` per second, or all in one transaction when
    ``rate`` is None) and collect the arrivals of the resulting PATCHes at every receiver."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    committed: dict[str, float] = {}
    if rate is None:
        async with session_scope(sessions) as session:
            evses = await LocationRepository(session).evses_by_uid(uids)
            now = utc_now()
            await LocationService(session).set_evse_statuses(
                [EvseStatusUpdate(evses[uid], status, now, "bench burst") for uid in uids]
            )
        committed = dict.fromkeys(uids, time.time())
    else:
        # Open loop: every TICK_SECONDS the changes due by then commit in one transaction, as
        # the hub's group commit stores the statuses chargers report (one transaction per
        # change from this process would cost more CPU than this machine has beside the hub).
        async def change(group: list[str]) -> None:
            async with session_scope(sessions) as session:
                evses = await LocationRepository(session).evses_by_uid(group)
                now = utc_now()
                await LocationService(session).set_evse_statuses(
                    [EvseStatusUpdate(evses[uid], status, now, "bench") for uid in group]
                )
            committed.update(dict.fromkeys(group, time.time()))

        started = time.perf_counter()
        tasks = []
        sent = 0
        while sent < len(uids):
            await asyncio.sleep(TICK_SECONDS)
            due = min(len(uids), int((time.perf_counter() - started) * rate))
            if due > sent:
                tasks.append(asyncio.create_task(change(uids[sent:due])))
                sent = due
        await asyncio.gather(*tasks)
        offered = len(uids) / (max(committed.values()) - min(committed.values()) or 1)
        print(f"  committed {len(uids)} changes at {offered:.0f}/s")
    await dispose_engine(engine)
    expected = len(uids) * len(ports)
    deadline = time.time() + 120
    arrivals: list = []
    async with httpx.AsyncClient() as http:
        while time.time() < deadline:
            arrivals = []
            for port in ports:
                stats = (await http.get(f"http://127.0.0.1:{port}/stats")).json()
                arrivals += [a for a in stats if a[1] == status.value]
            if len(arrivals) >= expected:
                break
            await asyncio.sleep(0.2)
    return committed, arrivals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evses", type=int, default=30000)
    parser.add_argument("--receivers", type=int, default=7)
    parser.add_argument("--paced", type=int, default=2000, help="changes sent at --rate")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--burst", type=int, default=10000, help="changes in one commit")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=2, help="hub serve processes (PostgreSQL)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    migrations.upgrade(url)
    import_s, location_count = asyncio.run(seed(url, args.evses))
    print(f"import: {location_count} locations / {args.evses} EVSEs in {import_s:.1f} s")

    receiver_ports = [free_port() for _ in range(args.receivers)]
    tokens = []

    async def partners() -> None:
        sessions = create_session_factory(create_engine(url))
        for n, port in enumerate(receiver_ports):
            partner_id, token = await register_partner(
                sessions,
                f"emsp{n}",
                ("US", f"E{n:02d}"),
                base_url=f"http://127.0.0.1:{port}/ocpi/2.2.1",
                modules=("locations",),
            )
            tokens.append(token)
            async with session_scope(sessions) as session:
                await SyncService(session).resync(partner_id)

    asyncio.run(partners())
    env = hub_environment(url, free_port())
    workers = 1 if url.startswith("sqlite") else args.workers
    env.update(
        HUB_PUSH__POLL_INTERVAL_SECONDS="0.02",
        HUB_LOG_LEVEL="WARNING",
        HUB_SERVER__WORKERS=str(workers),
    )
    receivers = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.receivers", *map(str, receiver_ports)]
    )
    log = (workdir / "hub.log").open("wb")
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    hub_url = f"http://127.0.0.1:{env['HUB_SERVER__PORT']}"
    try:
        wait_until_up(f"{hub_url}/health", process=hub)
        for port in receiver_ports:
            wait_until_up(f"http://127.0.0.1:{port}/stats")
        # Every partner has a full sync queued (one PUT per location); time how long it takes.
        settle = time.perf_counter()
        while True:
            pending = subprocess.run(
                [sys.executable, "-m", "hub", "push", "status", "--json"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            if all(p["pending"] == 0 for p in json.loads(pending.stdout)):
                break
            time.sleep(1)
        print(
            f"full sync of {location_count} locations to {args.receivers} partners "
            f"({location_count * args.receivers} PUTs): {time.perf_counter() - settle:.1f} s"
        )

        pages, evse_count, pull_s = pull_all(hub_url, tokens[0])
        print(
            f"GET locations: full pull of {evse_count} EVSEs in {pages} pages: {pull_s:.2f} s "
            f"({pages / pull_s:.1f} pages/s, {evse_count / pull_s:.0f} EVSEs/s)"
        )

        # Changes spread over the sites, as chargers report them: consecutive changes at
        # different locations, each EVSE once per phase (so none coalesce).
        def spread(count: int) -> list[str]:
            return [
                f"L{i % location_count:05d}-E{i // location_count % 8 + 1}" for i in range(count)
            ]

        for label, status, uids, rate in (
            (
                f"{args.paced} changes paced at {args.rate:.0f}/s",
                EvseStatus.CHARGING,
                spread(args.paced),
                args.rate,
            ),
            (
                f"burst of {args.burst} changes in one commit",
                EvseStatus.OUTOFORDER,  # every EVSE is AVAILABLE or CHARGING: all change
                spread(args.burst),
                None,
            ),
        ):
            committed, arrivals = asyncio.run(push_run(url, receiver_ports, uids, status, rate))
            latencies = [at - committed[path.rsplit("/", 1)[-1]] for path, _, at in arrivals]
            first = min(committed.values())
            last = max(at for _, _, at in arrivals)
            print(
                f"push {label}: {len(latencies)} of {len(uids) * args.receivers} PATCHes to "
                f"{args.receivers} receivers; {len(latencies) / (last - first):.0f} PATCH/s; "
                f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms"
            )
        at_once = PushSettings().max_in_flight_per_partner
        for name, client in (
            ("a bare httpx client", httpx.AsyncClient(limits=httpx.Limits(keepalive_expiry=4))),
            ("the hub's partner client", partner_http_client(Settings())),
        ):
            sample = uids[:CEILING_SAMPLE]
            ceiling, failed = asyncio.run(bare_ceiling(receiver_ports, sample, at_once, client))
            print(
                f"ceiling: {name} sends {len(sample) * args.receivers} PATCHes "
                f"({at_once} at once per receiver) at {ceiling:.0f} PATCH/s ({failed} failed)"
            )
        print(
            f"processes: hub serve ({workers}), the receivers (1), PostgreSQL or SQLite, this "
            f"driver (1); all on this machine's {os.cpu_count()} cores"
        )
    finally:
        hub.terminate()
        receivers.terminate()
        hub.wait()
        receivers.wait()


if __name__ == "__main__":
    main()
