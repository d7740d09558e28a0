"""Benchmark of the OCPP bridge (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_ocpp [--stations 19000] [--swarms 4]
        [--load-stations 1000] [--load-seconds 10] [--database-url URL] [--workers N]

1. Creates ``--stations`` stations, each serving one EVSE (8 per location), in a fresh database.
2. Starts ``hub serve`` (pushes off, to measure the OCPP side alone) and connects every station
   from ``--swarms`` client processes: prints connections held and the hub's RSS per connection.
3. Reconnect storm: every station sends BootNotification and two StatusNotifications at once;
   each answer comes after its data is committed; prints the time until all are answered, checks
   the database, and gives the rate as a ratio to the ``ocpp`` package's own: the same messages
   routed by a bare ``ocpp.v201.ChargePoint`` whose handlers only answer (validation on, no
   socket, no database, one core), measured in the same run; the ratio is to its rate with
   validation inline, as the hub validates (its default thread pool is printed too, slower).
4. Load: ``--load-stations`` stations send Heartbeats back to back for ``--load-seconds``
   (payload schema validation on, as in production): prints messages/s.

The machine's open-file limit caps the connections one process can hold (``ulimit -n``):
``--workers N`` (PostgreSQL) runs ``hub serve --workers N``, whose workers share the port and
the stations; the hub's RSS is then that of the supervisor and all its workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import ocpp.messages
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import RegistrationStatusEnumType
from sqlalchemy import func, select

from hub.domain.stations import hash_password
from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargingStation, Evse
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from tests.benchmarks.station_swarm import BOOT_201, is_v16
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.servers import free_port, hub_environment, wait_until_up

PASSWORD = "bench-password-0123456789abcdef"
STATUS_201 = {
    "timestamp": "2026-11-24T00:00:00Z",
    "connectorStatus": "Available",
    "evseId": 1,
    "connectorId": 1,
}


class _Replay:
    """The ``recv``/``send`` pair of a socket that replays ``frames`` and counts answers."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = iter(frames)
        self.answers = 0

    async def recv(self) -> str:
        try:
            return next(self.frames)
        except StopIteration:
            raise ConnectionError("replay ended") from None

    async def send(self, _message: str) -> None:
        self.answers += 1


class _BareStation(ChargePoint):
    @on("BootNotification")
    async def boot(self, **_fields: object) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time="2026-11-24T00:00:00Z",
            interval=300,
            status=RegistrationStatusEnumType.accepted,
        )

    @on("StatusNotification")
    async def status(self, **_fields: object) -> call_result.StatusNotification:
        return call_result.StatusNotification()


def ocpp_package_rate(messages: int = 30_000, *, inline: bool = False) -> float:
    """Messages/s the ``ocpp`` package routes alone (see the module docstring, step 3):
    validating in its default thread pool, or ``inline`` in the event loop as the hub does
    (``hub.ocpp.server.validate_inline``)."""
    default = ocpp.messages.ASYNC_VALIDATION
    ocpp.messages.ASYNC_VALIDATION = not inline
    try:
        return _routed_rate(messages)
    finally:
        ocpp.messages.ASYNC_VALIDATION = default


def _routed_rate(messages: int) -> float:
    boot = json.dumps(BOOT_201)
    status = json.dumps(STATUS_201)
    frames = []
    for n in range(messages // 3):
        frames.append(f'[2,"b{n}","BootNotification",{boot}]')
        frames += [f'[2,"s{n}.{k}","StatusNotification",{status}]' for k in (1, 2)]
    replay = _Replay(frames)
    started = time.perf_counter()
    with contextlib.suppress(ConnectionError):
        asyncio.run(_BareStation("bare", replay).start())
    return replay.answers / (time.perf_counter() - started)


async def seed(url: str, stations: int, *, v16: Callable[[int], bool] = is_v16) -> None:
    """Stations ``BS{n}`` (password :data:`PASSWORD`), each linked to one EVSE (8 per
    location) on OCPP 1.6 when ``v16(n)``, else 2.0.1; our parties."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    await add_parties(sessions)
    locations = []
    for site in range((stations + 7) // 8):
        location = network.location(f"B{site:05d}", evses=min(8, stations - site * 8))
        for offset, evse in enumerate(location["evses"]):
            number = site * 8 + offset
            evse["status"] = "UNKNOWN"
            evse["hub_ocpp"] = {
                "charging_station_id": f"BS{number:05d}",
                "evse_id": None if v16(number) else 1,
                "connector_id": 1 if v16(number) else None,
            }
        locations.append(location)
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
        stored = hash_password(PASSWORD)
        session.add_all(
            ChargingStation(station_id=f"BS{n:05d}", password_hash=stored) for n in range(stations)
        )
    await dispose_engine(engine)


async def available_count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        available = (
            await connection.execute(
                select(func.count()).select_from(Evse).where(Evse.status == "AVAILABLE")
            )
        ).scalar_one()
        booted = (
            await connection.execute(
                select(func.count())
                .select_from(ChargingStation)
                .where(
                    ChargingStation.booted_at.is_not(None)  # type: ignore[union-attr]
                )
            )
        ).scalar_one()
    await dispose_engine(engine)
    return int(available), int(booted)


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and of its descendants (the workers of ``hub serve --workers``)."""
    total = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) / 1024
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += rss_mb(int(child))
    return total


def command(swarms: list[subprocess.Popen[str]], line: str) -> list[list[str]]:
    for swarm in swarms:
        assert swarm.stdin is not None
        swarm.stdin.write(line + "\n")
        swarm.stdin.flush()
    replies = []
    for swarm in swarms:
        assert swarm.stdout is not None
        replies.append(swarm.stdout.readline().split())
    return replies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=19000)
    parser.add_argument("--swarms", type=int, default=4)
    parser.add_argument("--load-stations", type=int, default=1000)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", type=int, default=1, help="hub serve --workers (PostgreSQL)")
    args = parser.parse_args()
    print(f"open-file limit of this machine: {resource.getrlimit(resource.RLIMIT_NOFILE)}")

    workdir = Path(tempfile.mkdtemp(prefix="hub-ocpp-bench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    migrations.upgrade(url)
    started = time.perf_counter()
    asyncio.run(seed(url, args.stations))
    print(f"seeded {args.stations} stations/EVSEs in {time.perf_counter() - started:.1f} s")

    env = hub_environment(url, free_port())
    env.update(
        HUB_PUSH__ENABLED="false",
        HUB_LOG_LEVEL="WARNING",
        HUB_OCPP__SWEEP_INTERVAL_SECONDS="60",
        HUB_SERVER__WORKERS=str(args.workers),
    )
    log = (workdir / "hub.log").open("wb")
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    ws_url = f"ws://127.0.0.1:{env['HUB_SERVER__PORT']}"
    swarms: list[subprocess.Popen[str]] = []
    stormed = False
    try:
        wait_until_up(f"http://127.0.0.1:{env['HUB_SERVER__PORT']}/health", process=hub)
        time.sleep(5 * (args.workers - 1))  # /health answers once the first worker is up
        print(f"hub serve: {args.workers} worker(s); this machine has {os.cpu_count()} cores")
        base_rss = rss_mb(hub.pid)
        per = args.stations // args.swarms
        started = time.perf_counter()
        for k in range(args.swarms):
            count = per if k < args.swarms - 1 else args.stations - per * k
            swarms.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "tests.benchmarks.station_swarm",
                        ws_url,
                        PASSWORD,
                        str(per * k),
                        str(count),
                        f"127.0.0.{k + 2}",  # a source address per swarm (ephemeral ports)
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        held = retried = 0
        for swarm in swarms:
            assert swarm.stdout is not None
            reply = swarm.stdout.readline().split()
            held += int(reply[1])
            retried += int(reply[3])
        connect_s = time.perf_counter() - started
        time.sleep(2)
        rss = rss_mb(hub.pid)
        print(
            f"connections held: {held} (connected in {connect_s:.1f} s; {retried} stations were "
            f"told to come back (503/429) first and retried); hub RSS {rss:.0f} MB "
            f"(idle {base_rss:.0f} MB): {(rss - base_rss) * 1024 / held:.1f} KB per connection"
        )

        started = time.perf_counter()
        replies = command(swarms, "storm")
        storm_s = time.perf_counter() - started
        messages = sum(int(r[1]) for r in replies)
        errors = sum(int(r[3]) for r in replies)
        available, booted = asyncio.run(available_count(url))
        pooled = ocpp_package_rate()
        bare = ocpp_package_rate(inline=True)
        print(
            f"reconnect storm: {messages} messages (Boot + 2 StatusNotifications per station) "
            f"answered in {storm_s:.1f} s ({messages / storm_s:.0f} msg/s), {errors} errors; "
            f"persisted: {booted} boots, {available} EVSEs AVAILABLE; the ocpp package alone "
            f"routes {bare:.0f} msg/s on one core validating inline as the hub does ({pooled:.0f} "
            f"with its default thread pool): ratio {messages / storm_s / bare:.2f}"
        )
        stormed = True
    finally:
        for swarm in swarms:
            if swarm.poll() is None and swarm.stdin is not None:
                swarm.stdin.write("quit\n")
                swarm.stdin.flush()
        for swarm in swarms:
            try:
                swarm.wait(timeout=60)
            except subprocess.TimeoutExpired:
                swarm.kill()
        if not stormed:  # failed before the load phase: the hub ends too
            hub.terminate()
            hub.wait()

    try:
        load = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.station_swarm",
                ws_url,
                PASSWORD,
                "0",
                str(args.load_stations),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert load.stdout is not None
        load.stdout.readline()
        (reply,) = command([load], f"load {args.load_seconds}")
        answered, seconds = int(reply[1]), float(reply[2])
        print(
            f"load: {args.load_stations} stations sending Heartbeats: {answered / seconds:.0f} "
            f"msg/s answered (schema validation on)"
        )
        command_quit = load.stdin
        assert command_quit is not None
        command_quit.write("quit\n")
        command_quit.flush()
        load.wait(timeout=60)
    finally:
        hub.terminate()
        hub.wait()


if __name__ == "__main__":
    main()
