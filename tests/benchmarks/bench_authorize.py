"""Benchmark of authorization (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_authorize [--engine sqlite|postgresql|both]
        [--tokens 1000000] [--decisions 3000] [--realtime 500] [--only pull,local,realtime]

- **pull**: the token pull of ``--tokens`` tokens from an independent eMSP over real HTTP on
  127.0.0.1 (pages of 1,000, following ``Link``) into a migrated database: seconds and
  tokens per second (target: 1,000,000 in under 60 s).
- **local**: decisions the hub takes from its own copy (a stored ALLOWED token; no eMSP asked)
  with the pulled tokens stored, through the same path the OCPP handlers use, audit row
  included: one at a time, 16 in flight (the most it takes), and 2,000/s offered in an open
  loop, as independent chargers ask (target: >= 2,000/s with p99 < 10 ms).
- **realtime**: our overhead on a real-time authorization: the latency of
  ``RealTimeAuthorizer.authorize`` minus that of a bare HTTP POST of the same request to the
  same eMSP, per call, p50/p99 (target: p99 < 15 ms).

Each engine gets a database of its own, created and dropped here (PostgreSQL from
``HUB_TEST_DATABASE_URL``, default the local cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from hub.config import AuthorizationSettings, TokenPullSettings
from hub.domain.tokens import TokenKey, TokenType
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.roaming.authorization import RealTimeAuthorizer
from hub.roaming.importer import parse_locations_json
from hub.roaming.token_pull import TokenPuller
from hub.services.locations import LocationService
from tests.fixtures import network
from tests.fixtures.databases import _admin, postgres_admin_url
from tests.hub.conftest import add_parties
from tests.support.emsp import PARTY
from tests.support.emsp_authorize import AuthorizingEmsp, register_emsp
from tests.support.servers import asgi_server, free_port, wait_until_up

PAGE = 1000


@contextlib.asynccontextmanager
async def database(engine: str) -> AsyncIterator[str]:
    """A new migrated database of ``engine``; dropped afterwards."""
    if engine == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="bench-authorize-"))
        url = f"sqlite+aiosqlite:///{directory / 'hub.db'}"
        try:
            await asyncio.to_thread(migrations.upgrade, url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"bench_authorize_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"


async def bench_pull(url: str, tokens: int) -> None:
    """The eMSP runs in a process of its own, as it would on its own machine."""
    port = free_port()
    peer = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
        [sys.executable, "-m", "tests.benchmarks.token_peer", str(port), str(tokens)]
    )
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        peer_url = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(wait_until_up, f"{peer_url}/ocpi/versions", process=peer)
        await add_parties(sessions)
        party = (PARTY["country_code"], PARTY["party_id"])
        partner_id = await register_emsp(sessions, "emsp", party, f"{peer_url}/ocpi/2.2.1/tokens")
        async with httpx.AsyncClient(timeout=60) as http:
            puller = TokenPuller(sessions, http, TokenPullSettings(page_limit=PAGE))
            started = time.perf_counter()
            report = await puller.pull(partner_id)
            seconds = time.perf_counter() - started
        print(
            f"  pull: {report.tokens:,} tokens in {report.pages} pages: {seconds:.1f} s "
            f"({report.tokens / seconds:,.0f} tokens/s)"
        )
    finally:
        peer.terminate()
        peer.wait(timeout=10)
        await dispose_engine(engine)


class NobodyAsked:
    """The real-time port of the local benchmark: a stored ALLOWED token is decided locally,
    so being asked is a bug in the benchmark's premise."""

    async def authorize(self, *_: object, **__: object) -> object:
        raise AssertionError("a local decision asked an eMSP")

    async def authorize_unknown(self, *_: object, **__: object) -> object:
        raise AssertionError("a local decision asked every eMSP")


def site() -> dict[str, Any]:
    location = network.location("SITE", evses=2)
    for connector_id, evse in enumerate(location["evses"], start=1):
        evse["hub_ocpp"] = {"charging_station_id": "CS-16", "connector_id": connector_id}
    return location


async def bench_local(url: str, tokens: int, decisions: int) -> None:
    """Decisions on tokens the pull stored (whitelist ALLOWED, valid): taken locally."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps([site()]))
            )
        authorizer = IdTokenAuthorizer(sessions, NobodyAsked(), AuthorizationSettings())  # type: ignore[arg-type]
        chosen = random.Random(7)

        async def decide() -> object:
            uid = f"{chosen.randrange(tokens):08X}"
            info = await authorizer.id_tag_info(
                "CS-16", uid, action="Authorize", connector_id=chosen.choice((1, 2))
            )
            assert info["status"] == "Accepted", info
            return info

        await timed(decide, 50)  # warm up
        gc.freeze()  # as `hub serve` does once it has started (see hub.app)
        samples = await timed(decide, decisions)
        print(
            f"  local, one at a time ({decisions} decisions, {tokens:,} tokens stored): "
            f"{len(samples) / sum(samples):,.0f}/s, {percentiles(samples)}"
        )
        in_flight = 16
        started = time.perf_counter()
        runs = await asyncio.gather(
            *(timed(decide, decisions // in_flight) for _ in range(in_flight))
        )
        seconds = time.perf_counter() - started
        print(
            f"  local, {in_flight} in flight (the most it takes): "
            f"{decisions // in_flight * in_flight / seconds:,.0f} decisions/s, "
            f"{percentiles([sample for run in runs for sample in run])}"
        )
        latencies, seconds = await offered(decide, OFFERED_RATE, decisions)
        print(
            f"  local, {OFFERED_RATE:,}/s offered ({decisions} decisions, each from its due "
            f"time): {decisions / seconds:,.0f} decisions/s, {percentiles(latencies)}"
        )
    finally:
        await dispose_engine(engine)


OFFERED_RATE = 2000
"""Decisions per second arriving in the open-loop run, as chargers would: one every
1/OFFERED_RATE s whether or not the earlier ones are answered."""


async def offered(
    call: Callable[[], Awaitable[object]], rate: int, count: int
) -> tuple[list[float], float]:
    """Starts ``call`` ``rate`` times per second, ``count`` times, without waiting for the
    earlier calls; each latency counts from the call's due time, so a hub that falls behind
    sees it in its latencies. Returns them and the seconds until the last answer."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    latencies: list[float] = []

    async def one(due: float) -> None:
        await call()
        latencies.append(loop.time() - due)

    running = []
    for index in range(count):
        due = began + index / rate
        if (ahead := due - loop.time()) > 0:
            await asyncio.sleep(ahead)
        running.append(asyncio.create_task(one(due)))
    await asyncio.gather(*running)
    return latencies, loop.time() - began


async def timed(call: Callable[[], Awaitable[object]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def bench_realtime(url: str, calls: int) -> None:
    emsp = AuthorizingEmsp(party=("US", "EMA"))
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    card = "04A2B3C4D5E6F7"
    try:
        with asgi_server(emsp.app()) as emsp_url:
            emsp.base_url = emsp_url
            tokens_url = f"{emsp_url}/ocpi/2.2.1/tokens"
            await add_parties(sessions)
            await register_emsp(sessions, "emsp", ("US", "EMA"), tokens_url)
            emsp.issued["token-for-emsp"] = "C"
            emsp.verdict(card, location_id="LOC1", evse_uids=["LOC1-E1"])
            async with httpx.AsyncClient(timeout=10) as http:
                authorizer = RealTimeAuthorizer(
                    sessions, http, AuthorizationSettings(unknown_answer_cache_seconds=0)
                )
                key = TokenKey("US", "EMA", card, TokenType.RFID)

                async def ours() -> object:
                    return await authorizer.authorize(
                        key, location_id="LOC1", evse_uids=["LOC1-E1"]
                    )

                async def bare() -> object:
                    return await http.post(
                        f"{tokens_url}/{card}/authorize",
                        params={"type": "RFID"},
                        json={"location_id": "LOC1", "evse_uids": ["LOC1-E1"]},
                        headers={"Authorization": "Token dG9rZW4tZm9yLWVtc3A="},
                    )

                await timed(ours, 20)  # warm up both paths (connections, caches)
                await timed(bare, 20)
                overhead = []
                for _ in range(calls):
                    (with_hub,) = await timed(ours, 1)
                    (without,) = await timed(bare, 1)
                    overhead.append(max(0.0, with_hub - without))
        print(f"  realtime overhead over a bare POST ({calls} calls): {percentiles(overhead)}")
    finally:
        await dispose_engine(engine)


async def main_async(args: argparse.Namespace) -> None:
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    only = set(args.only.split(","))
    for engine in engines:
        print(f"{engine}:")
        if only & {"pull", "local"}:
            async with database(engine) as url:
                await bench_pull(url, args.tokens)
                if "local" in only:
                    await bench_local(url, args.tokens, args.decisions)
        if "realtime" in only:
            async with database(engine) as url:
                await bench_realtime(url, args.realtime)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--decisions", type=int, default=3000)
    parser.add_argument("--realtime", type=int, default=500)
    parser.add_argument("--only", default="pull,local,realtime")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
