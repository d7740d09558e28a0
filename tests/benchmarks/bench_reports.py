"""Benchmark of the NEVI reports and of the public feed (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_reports [--engine sqlite|postgresql|both]
        [--ports 30000] [--sessions 3000000] [--only reports,feed] [--quick]

Seeds a database of its own per engine (created, migrated and dropped here; PostgreSQL from
``HUB_TEST_DATABASE_URL``, default the local cluster), in bulk (Core inserts in chunks):
``--ports`` EVSEs (8 per location, imported as the operator imports them, every location
registered for NEVI), a year of status history up to the end of the last complete quarter
and ``--sessions`` ended sessions in that quarter. The history has realistic change rates:
every charge is CHARGING then AVAILABLE (the quarter's sessions, and charges at the same rate
in the nine months before it, whose sessions are not seeded), a fault (OUTOFORDER, 10 min to
8 h) every 45 days per port on average, a station offline (UNKNOWN ``offline`` ... ``online``,
every port of the location, 5 to 90 min) every 30 days; 3 % of the charges deliver under
1 kWh (the no-energy detector sees a few runs of three).

**reports**: the operator's commands, each in its own process as the operator runs them
(``hub outages rebuild``: the first rebuild, every outage derived and stored; ``hub reports
uptime --json``: a rebuild with nothing new, then mu of every port; ``hub reports evchart
--module 2|3|4`` for the quarter): wall time and peak memory (the child's ``VmHWM``).
Target: under 60 s each, memory bounded (streamed).

**feed**: ``hub serve`` in its own process (rate limit raised for the benchmark): a full pull
of ``/public/2.2.1/locations`` following ``Link`` (pages, seconds), then requests/s for one
page answered 304 (``If-None-Match``) and 200, from 8 clients in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from hub.domain.evchart import Quarter
from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargingSession, Evse, EvseStatusChange, Location, NeviStation
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from tests.fixtures import network
from tests.fixtures.databases import _admin, postgres_admin_url
from tests.hub.conftest import add_parties
from tests.support.servers import free_port, hub_environment, wait_until_up

FULL = {"ports": 30000, "sessions": 3_000_000, "feed_requests": 3000}
QUICK = {"ports": 400, "sessions": 40_000, "feed_requests": 300}
EVSES_PER_LOCATION = 8
CHUNK = 20_000
PROVIDER = "BenchNet"
FAULT_EVERY_DAYS = 45
OFFLINE_EVERY_DAYS = 30
FAILED_SHARE = 0.03
IN_FLIGHT = 8


@contextlib.asynccontextmanager
async def database(engine: str) -> AsyncIterator[str]:
    """A new migrated database of ``engine``; dropped afterwards."""
    if engine == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix="bench-reports-"))
        url = f"sqlite+aiosqlite:///{directory / 'hub.db'}"
        try:
            await asyncio.to_thread(migrations.upgrade, url)
            yield url
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = postgres_admin_url().rsplit("/", 1)[0] + f"/{name}"
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def last_quarter(now: datetime) -> Quarter:
    """The last quarter that is over."""
    index = (now.month - 1) // 3  # this quarter's, 0-3
    year, number = (now.year, index) if index else (now.year - 1, 4)
    return Quarter.parse(f"{year}Q{number}")


# --- seeding --------------------------------------------------------------------------------


class Generator:
    """The rows of one location's ports, deterministic per location."""

    def __init__(self, quarter: Quarter, ports: int, sessions: int) -> None:
        self.quarter = quarter
        self.year_start = quarter.end.replace(year=quarter.end.year - 1)
        self.days = (quarter.end - self.year_start).total_seconds() / 86400
        quarter_days = (quarter.end - quarter.start).total_seconds() / 86400
        self.charges_per_day = sessions / ports / quarter_days
        self.session_number = 0

    def at(self, day: float) -> datetime:
        return self.year_start + timedelta(days=day)

    def location(
        self, number: int, location_id: str, ports: list[tuple[int, str]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        chosen = random.Random(number)
        offline = self._intervals(chosen, OFFLINE_EVERY_DAYS, 5, 90)
        history: list[dict[str, Any]] = []
        sessions: list[dict[str, Any]] = []
        for ref, uid in ports:
            faults = [
                f
                for f in self._intervals(chosen, FAULT_EVERY_DAYS, 10, 480)
                if not any(overlaps(f, o) for o in offline)
            ]
            outs = sorted(
                [(s, e, "UNKNOWN", "offline", "online") for s, e in offline]
                + [(s, e, "OUTOFORDER", "ocpp", "ocpp") for s, e in faults]
            )
            changes = [(0.0, "AVAILABLE", "ocpp")]
            for start, end, status, into, back in outs:
                changes += [(start, status, into), (end, "AVAILABLE", back)]
            day = chosen.expovariate(self.charges_per_day)
            while day < self.days:
                length = chosen.uniform(20, 50) / 1440
                end = day + length
                if end < self.days and not any(overlaps((day, end), (s, e)) for s, e, *_ in outs):
                    changes += [(day, "CHARGING", "ocpp"), (end, "AVAILABLE", "ocpp")]
                    start_at = self.at(day)
                    if start_at >= self.quarter.start:
                        sessions.append(self._session(chosen, location_id, uid, start_at, end))
                day = end + chosen.expovariate(self.charges_per_day)
            previous = None
            for day, status, reason in sorted(changes):
                history.append(
                    {
                        "evse_ref": ref,
                        "status": status,
                        "previous_status": previous,
                        "ocpp_status": None,
                        "reason": reason,
                        "changed_at": self.at(day),
                    }
                )
                previous = status
        return history, sessions

    def _intervals(
        self, chosen: random.Random, every_days: float, shortest: float, longest: float
    ) -> list[tuple[float, float]]:
        found = []
        day = chosen.expovariate(1 / every_days)
        while day < self.days - 1:
            end = day + chosen.uniform(shortest, longest) / 1440
            found.append((day, end))
            day = end + chosen.expovariate(1 / every_days)
        return found

    def _session(
        self, chosen: random.Random, location_id: str, uid: str, start: datetime, end_day: float
    ) -> dict[str, Any]:
        self.session_number += 1
        number = self.session_number
        failed = chosen.random() < FAILED_SHARE
        kwh = (
            Decimal(chosen.randint(0, 99)) / 100
            if failed
            else Decimal(chosen.randint(800, 6000)) / 100
        )
        power = None if chosen.random() < 0.1 else Decimal(chosen.randint(500, 1500)) / 10
        end = self.at(end_day)
        return {
            "country_code": "US",
            "party_id": "HPC",
            "session_id": f"S{number:010d}",
            "station_id": f"CS-{location_id}",
            "ocpp_version": "1.6",
            "transaction_id": str(number),
            "location_id": location_id,
            "evse_uid": uid,
            "connector_id": "1",
            "status": "COMPLETED",
            "start_date_time": start,
            "end_date_time": end,
            "meter_start_kwh": Decimal(0),
            "meter_stop_kwh": kwh,
            "kwh": kwh,
            "max_power_kw": power,
            "reservation_expired": False,
            "currency": "USD",
            "time_zone": "America/Los_Angeles",
            "cdr_location": {},
            "charging_periods": [],
            "problems": [],
            "held_for_review": False,
            "signed_data": [],
            "last_event_at": end,
            "cdr_made": True,
            "payment_method": "RFID_ROAMING" if number % 3 else "APP",
            "session_error": "NO_ENERGY_DELIVERED" if failed else None,
            "last_updated": end,
        }


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for offset in range(0, len(rows), CHUNK):
        yield rows[offset : offset + CHUNK]


async def seed(url: str, ports: int, sessions: int, quarter: Quarter) -> dict[str, int]:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    counts = {"history": 0, "sessions": 0}
    try:
        await add_parties(factory)
        locations = [
            network.location(f"L{i:05d}", evses=EVSES_PER_LOCATION)
            for i in range(ports // EVSES_PER_LOCATION)
        ]
        began = time.perf_counter()
        async with session_scope(factory) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps(locations))
            )
        print(
            f"  imported {len(locations):,} locations / {ports:,} EVSEs in "
            f"{time.perf_counter() - began:.1f} s"
        )
        began = time.perf_counter()
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    sa.select(Location.id, Location.location_id, Evse.id, Evse.uid)
                    .join(Evse, Evse.location_ref == Location.id)  # type: ignore[arg-type]
                    .order_by(Location.location_id, Evse.position, Evse.id)  # type: ignore[arg-type]
                )
            ).all()
            # The import records no status change: the history starts with the seeded one.
            await connection.execute(sa.delete(EvseStatusChange.__table__))  # type: ignore[attr-defined]
            now = datetime.now(UTC)
            by_location: dict[tuple[int, str], list[tuple[int, str]]] = {}
            for location_ref, location_id, evse_ref, uid in rows:
                by_location.setdefault((location_ref, location_id), []).append((evse_ref, uid))
            await connection.execute(
                sa.insert(NeviStation.__table__),  # type: ignore[attr-defined]
                [
                    {
                        "location_ref": ref,
                        "network_provider": PROVIDER,
                        "funding": ["NEVI"],
                        "ports": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for ref, _ in by_location
                ],
            )
        generator = Generator(quarter, ports, sessions)
        history: list[dict[str, Any]] = []
        charges: list[dict[str, Any]] = []
        for number, ((_, location_id), evses) in enumerate(by_location.items() if sessions else ()):
            more_history, more_charges = generator.location(number, location_id, evses)
            history += more_history
            charges += more_charges
            if len(history) >= CHUNK * 5 or number == len(by_location) - 1:
                async with engine.begin() as connection:
                    for chunk in chunks(history):
                        await connection.execute(sa.insert(EvseStatusChange.__table__), chunk)  # type: ignore[attr-defined]
                    for chunk in chunks(charges):
                        await connection.execute(sa.insert(ChargingSession.__table__), chunk)  # type: ignore[attr-defined]
                counts["history"] += len(history)
                counts["sessions"] += len(charges)
                history, charges = [], []
        if engine.dialect.name == "postgresql":
            async with engine.connect() as connection:
                await connection.execute(sa.text("COMMIT"))
                await connection.execute(sa.text("ANALYZE"))
        print(
            f"  seeded {counts['history']:,} status changes ({counts['history'] / ports:.0f} per "
            f"port over the year) and {counts['sessions']:,} sessions in {quarter} in "
            f"{time.perf_counter() - began:.1f} s"
        )
    finally:
        await dispose_engine(engine)
    return counts


# --- the operator's commands ----------------------------------------------------------------


def timed_command(env: dict[str, str], args: list[str], out: Path) -> tuple[float, float, str]:
    """Run ``hub ARGS`` in its own process: seconds, its peak RSS in MiB, its last line."""
    began = time.perf_counter()
    peak = 0
    with out.open("w") as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", *args], env=env, stdout=stdout, stderr=stderr
        )
        # The child's own high-water mark (VmHWM), read until it exits: its ru_maxrss would
        # not do, Linux carries the parent's peak into a child started with vfork.
        while process.poll() is None:
            peak = max(peak, high_water(process.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - began
        stderr.seek(0)
        errors = stderr.read().decode()
    if process.returncode:
        raise RuntimeError(f"hub {' '.join(args)} failed ({process.returncode}): {errors}")
    return seconds, peak / 1024, errors.strip().splitlines()[-1] if errors else ""


def high_water(pid: int) -> int:
    """The process's peak resident memory in KiB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def bench_reports(url: str, quarter: Quarter, workdir: Path) -> None:
    env = hub_environment(url, free_port())
    env.update(HUB_LOG_LEVEL="WARNING", HUB_NEVI__NETWORK_PROVIDER=PROVIDER)
    steps: list[tuple[str, list[str]]] = [
        ("hub outages rebuild (first: every outage derived)", ["outages", "rebuild", "--json"]),
        ("hub reports uptime --json (rebuild + mu of every port)", ["reports", "uptime", "--json"]),
    ]
    for module in (2, 3, 4):
        csv = workdir / f"module{module}.csv"
        steps.append(
            (
                f"hub reports evchart --module {module} --quarter {quarter}",
                [
                    "reports",
                    "evchart",
                    "--module",
                    str(module),
                    "--quarter",
                    str(quarter),
                    "--out",
                    str(csv),
                    "--json",
                ],
            )
        )
    for label, args in steps:
        out = workdir / "out.json"
        seconds, peak, _ = timed_command(env, args, out)
        extra = ""
        if args[0] == "outages":
            summary = json.loads(out.read_text())
            extra = f"; {summary['added']:,} outages stored"
        elif args[1] == "uptime":
            records = json.loads(out.read_text())
            known = [Decimal(r["uptime"]) for r in records if r["uptime"] is not None]
            extra = f"; {len(records):,} ports, {len(known):,} with mu"
            if known:
                extra += f" (lowest {min(known)} %)"
        else:
            record = json.loads(out.read_text())
            extra = f"; {record['rows']:,} rows"
        print(f"  {label}: {seconds:.1f} s, peak {peak:,.0f} MiB{extra}")


# --- the public feed ------------------------------------------------------------------------


def pull_all(base: str) -> tuple[int, int, float]:
    url: str | None = f"{base}/public/2.2.1/locations?limit=100"
    pages = evses = 0
    began = time.perf_counter()
    with httpx.Client(timeout=60) as http:
        while url:
            response = http.get(url)
            response.raise_for_status()
            evses += sum(len(location.get("evses", [])) for location in response.json()["data"])
            pages += 1
            url = response.links.get("next", {}).get("url")
    return pages, evses, time.perf_counter() - began


async def cached_rate(url: str, requests: int, *, conditional: bool) -> tuple[float, int]:
    """Requests/s for one page from ``IN_FLIGHT`` clients (304s when ``conditional``)."""
    async with httpx.AsyncClient(timeout=60) as http:
        first = await http.get(url)
        first.raise_for_status()
        headers = {"If-None-Match": first.headers["ETag"]} if conditional else {}
        expected = 304 if conditional else 200

        async def client(count: int) -> None:
            for _ in range(count):
                response = await http.get(url, headers=headers)
                assert response.status_code == expected, response.status_code

        began = time.perf_counter()
        await asyncio.gather(*(client(requests // IN_FLIGHT) for _ in range(IN_FLIGHT)))
        seconds = time.perf_counter() - began
    return requests // IN_FLIGHT * IN_FLIGHT / seconds, len(first.content)


def bench_feed(url: str, requests: int, workdir: Path) -> None:
    env = hub_environment(url, free_port())
    env.update(
        HUB_LOG_LEVEL="WARNING",
        HUB_PUSH__ENABLED="false",
        HUB_PUBLIC_FEED__RATE_LIMIT_PER_HOUR="100000000",
        HUB_PUBLIC_FEED__RATE_LIMIT_BURST="1000000",
    )
    base = f"http://127.0.0.1:{env['HUB_SERVER__PORT']}"
    with (workdir / "hub.log").open("wb") as log:
        hub = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(f"{base}/health", process=hub)
            pages, evses, seconds = pull_all(base)
            print(
                f"  public feed: full pull of {evses:,} EVSEs in {pages} pages of 100 locations: "
                f"{seconds:.1f} s ({pages / seconds:.1f} pages/s, {evses / seconds:,.0f} EVSEs/s)"
            )
            page = f"{base}/public/2.2.1/locations?limit=100"
            for conditional in (True, False):
                rate, size = asyncio.run(cached_rate(page, requests, conditional=conditional))
                label = "304 (If-None-Match)" if conditional else "200 (no If-None-Match)"
                print(
                    f"  public feed, one page ({size / 1024:,.0f} KiB), {IN_FLIGHT} clients in "
                    f"flight, {label}: {rate:,.0f} requests/s"
                )
        finally:
            hub.terminate()
            hub.wait(timeout=30)


async def bench_engine(engine: str, args: argparse.Namespace) -> None:
    quarter = last_quarter(datetime.now(UTC))
    async with database(engine) as url:
        # The feed reads the locations only: no history nor sessions without the reports.
        await seed(url, args.ports, args.sessions if "reports" in args.only else 0, quarter)
        workdir = Path(tempfile.mkdtemp(prefix="bench-reports-out-"))
        try:
            if "reports" in args.only:
                await asyncio.to_thread(bench_reports, url, quarter, workdir)
            if "feed" in args.only:
                await asyncio.to_thread(bench_feed, url, args.feed_requests, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--ports", type=int, help=f"EVSEs ({FULL['ports']})")
    parser.add_argument(
        "--sessions", type=int, help=f"sessions in the quarter ({FULL['sessions']})"
    )
    parser.add_argument(
        "--feed-requests", type=int, help=f"requests per cached-page run ({FULL['feed_requests']})"
    )
    parser.add_argument("--only", default="reports,feed", help="reports,feed")
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + str(QUICK))
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.only = set(args.only.split(","))
    print(
        f"{os.cpu_count()} cores, shared with other engineers' work (the figures are of a busy "
        "machine); each command below runs in its own process, the database in another"
    )
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        print(f"{engine}: {args.ports:,} ports, {args.sessions:,} sessions")
        began = time.perf_counter()
        asyncio.run(bench_engine(engine, args))
        print(f"  ({engine} done in {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
