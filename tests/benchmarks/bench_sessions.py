"""Benchmark of charging sessions and CDRs (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_sessions [--engine sqlite|postgresql|both]
        [--sessions 3000] [--rate 50] [--duration 300] [--burst 10000]
        [--meter-interval 60] [--emsps 4] [--quick]

The defaults are the issue's figures, on both engines.

Per engine, in a migrated database of its own (created and dropped here; PostgreSQL from
``HUB_TEST_DATABASE_URL``, default the local cluster):

1. Seeds one station per EVSE (8 EVSEs per location; every fifth station on OCPP 2.0.1, the
   rest on 1.6), enough for ``--burst`` open charges, a tariff, and ``--emsps`` eMSPs, each
   owning a party and 1,000 tokens (whitelist ALWAYS: the hub decides them itself).
2. Starts ``hub serve`` in its own process as in production (push worker on, default push
   settings; log level WARNING and the local-list pass off, as in the other benchmarks), the
   eMSPs' Sessions and CDRs receivers in another (``tests.benchmarks.receivers``, one port
   each, arrival times by ``time.time()``), and the stations over real websockets in a third
   (``tests.benchmarks.session_swarm``).
3. Opens ``--sessions`` charges and waits until their eMSPs have them (their first PUT).
4. Steady state for ``--duration`` seconds: ``--rate`` charges start and ``--rate`` stop per
   second (open loop: each at its due time), every open charge sends meter values every
   ``--meter-interval`` seconds. Prints messages/s answered, p50/p99 of the OCPP answers per
   message type (target p99 < 100 ms) and the CPU the three processes used.
5. Burst: opens charges until ``--burst`` are open, waits for their PUTs, then every one of
   them stops at once: prints how long the stops took and CDRs/s received.
6. Waits for every CDR and prints stop -> CDR received at the eMSP p50/p99 (steady state target
   < 2 s), lost CDRs (a stop answered, no CDR) and duplicates (an id POSTed twice, or two CDRs
   for one charge): both expected 0; and the hub's log warnings and errors.

``--quick``: 200 sessions, rate 10, 10 s, burst 500, meter values every 10 s, on SQLite unless
``--engine`` says otherwise (a smoke run: under a minute per engine).
The machine has few cores: the stations and the receivers compete with the hub for them (the
CPU each process used is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlmodel import col

from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargeDetailRecord, ChargingSession, Evse, Token
from hub.roaming.importer import parse_tariffs_json
from hub.services.tariffs import TariffService
from hub.services.tokens import token_columns
from tests.benchmarks.bench_authorize import database
from tests.benchmarks.bench_ocpp import PASSWORD, command, seed
from tests.benchmarks.session_swarm import is_v201, token_uid
from tests.fixtures import network
from tests.support.emsp_authorize import register_emsp
from tests.support.servers import free_port, hub_environment, wait_until_up

TOKENS_PER_EMSP = 1000
QUICK = {"sessions": 200, "rate": 10.0, "duration": 10.0, "burst": 500, "meter_interval": 10.0}
FULL = {"sessions": 3000, "rate": 50.0, "duration": 300.0, "burst": 10000, "meter_interval": 60.0}
OCPP_TARGET_MS = 100
CDR_TARGET_S = 2.0
QUIET_SECONDS = 60.0
"""A wait for pushes gives up once nothing more arrived for this long..."""
DRAIN_QUIET_SECONDS = 180.0
"""...and the wait for the last CDRs after this long: a hub still absorbing a burst of stops
(answered too late for the stations) delivers nothing meanwhile."""


def emsp_party(number: int) -> tuple[str, str]:
    return ("US", f"E{number:02d}")


async def seed_roaming(url: str, ports: list[int]) -> dict[str, int]:
    """The tariff of every connector, the eMSPs and their tokens; returns the station number
    of every EVSE uid."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            await TariffService(session).import_tariffs(
                parse_tariffs_json(json.dumps([network.tariff("T-DC", price="0.48")]))
            )
        for number, port in enumerate(ports):
            base = f"http://127.0.0.1:{port}/ocpi/2.2.1"
            party = emsp_party(number)
            partner_id = await register_emsp(
                sessions,
                f"emsp-{number}",
                party,
                None,
                receivers={"sessions": f"{base}/sessions", "cdrs": f"{base}/cdrs"},
            )
            # Rows as the Receiver PUT stores them (token_columns), added at once.
            async with session_scope(sessions) as session:
                session.add_all(
                    Token(
                        partner_id=partner_id,
                        **token_columns(
                            TokenRecord(
                                key=TokenKey(*party, token_uid(number, index), TokenType.RFID),
                                contract_id=f"{party[0]}-{party[1]}-C{index:08d}",
                                issuer=f"eMSP {number}",
                                valid=True,
                                whitelist=WhitelistType.ALWAYS,
                                last_updated=datetime(2026, 11, 1, tzinfo=UTC),
                            )
                        ),
                    )
                    for index in range(TOKENS_PER_EMSP)
                )
        async with engine.connect() as connection:
            rows = await connection.execute(select(col(Evse.uid), col(Evse.charging_station_id)))
            return {uid: int(str(station)[2:]) for uid, station in rows}
    finally:
        await dispose_engine(engine)


async def stored_summary(url: str) -> str:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            status = col(ChargingSession.status)
            by_status: dict[str, int] = dict(
                (await connection.execute(select(status, func.count()).group_by(status))).all()
            )
            cdrs = (
                await connection.execute(select(func.count()).select_from(ChargeDetailRecord))
            ).scalar_one()
            undelivered = (
                await connection.execute(
                    select(func.count())
                    .select_from(ChargeDetailRecord)
                    .where(col(ChargeDetailRecord.delivered_at).is_(None))
                )
            ).scalar_one()
            held = (
                await connection.execute(
                    select(func.count())
                    .select_from(ChargingSession)
                    .where(col(ChargingSession.held_for_review).is_(True))
                )
            ).scalar_one()
    finally:
        await dispose_engine(engine)
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
    return (
        f"  stored: sessions {statuses}; {held} held for review; {cdrs} CDRs, "
        f"{undelivered} not delivered"
    )


# --- figures --------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def spread_ms(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {statistics.median(values) * 1000:.1f} ms, "
        f"p99 {percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


def spread_s(values: list[float]) -> str:
    if not values:
        return "none"
    return (
        f"p50 {statistics.median(values):.2f} s, p99 {percentile(values, 0.99):.2f} s, "
        f"max {max(values):.2f} s"
    )


def print_latencies(report: dict[str, Any], phase: str) -> None:
    for action, samples in sorted(report["latencies"].get(phase, {}).items()):
        p99 = percentile(samples, 0.99) * 1000
        verdict = "" if phase != "steady" else (" ok" if p99 < OCPP_TARGET_MS else " MISSED")
        print(f"    {action:26} {len(samples):6} answers: {spread_ms(samples)}{verdict}")
    errors = report["errors"].get(phase, {})
    if errors:
        print(f"    errors: {dict(errors)}")


def millis(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class Matched:
    """The stops of the swarm matched with the CDRs the eMSPs received, by the charge (its
    station and start time: an EVSE runs one charge at a time)."""

    def __init__(
        self, report: dict[str, Any], arrivals: list[dict[str, Any]], station_of: dict[str, int]
    ) -> None:
        by_charge: dict[tuple[int, int], list[tuple[str, float]]] = collections.defaultdict(list)
        unknown_evse = 0
        for received in arrivals:
            for cdr_id, evse_uid, start, at in received["cdrs"]:
                station = station_of.get(evse_uid)
                if station is None:
                    unknown_evse += 1
                    continue
                by_charge[(station, millis(start))].append((cdr_id, at))
        self.reposted = sum(len(received["duplicates"]) for received in arrivals)
        self.two_cdrs = sum(1 for cdrs in by_charge.values() if len(cdrs) > 1)
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.arrivals: dict[str, list[float]] = collections.defaultdict(list)
        self.first_sent: dict[str, float] = {}
        self.lost: collections.Counter[str] = collections.Counter()
        self.unanswered: collections.Counter[str] = collections.Counter()
        stopped = set()
        for phase, station, start, sent, answered in report["stops"]:
            charge = (station, millis(start))
            stopped.add(charge)
            self.first_sent[phase] = min(sent, self.first_sent.get(phase, sent))
            cdrs = by_charge.get(charge)
            if not cdrs:
                if answered:
                    self.lost[phase] += 1
                else:
                    self.unanswered[phase] += 1
                continue
            at = min(at for _, at in cdrs)
            self.latencies[phase].append(at - sent)
            self.arrivals[phase].append(at)
        self.unexpected = unknown_evse + sum(1 for charge in by_charge if charge not in stopped)


def cdrs_per_second(arrivals: list[float], since: float) -> tuple[float, int]:
    """The mean rate from ``since`` to the last arrival, and the most in one whole second."""
    if not arrivals:
        return 0.0, 0
    last = max(arrivals)
    mean = len(arrivals) / max(last - since, 1e-9)
    bins = collections.Counter(int(at - since) for at in arrivals)
    return mean, max(bins.values())


# --- the processes ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU each process used between two readings, as a share of one core."""

    def __init__(self, processes: dict[str, subprocess.Popen[Any]]) -> None:
        self.processes = processes
        self.reset()

    def reset(self) -> None:
        self.began = time.monotonic()
        self.used = {name: cpu_seconds(p.pid) for name, p in self.processes.items()}

    def line(self) -> str:
        elapsed = time.monotonic() - self.began
        shares = [
            f"{name} {(cpu_seconds(p.pid) - self.used[name]) / elapsed:.0%}"
            for name, p in self.processes.items()
        ]
        return "CPU (of one core): " + ", ".join(shares)


def receiver_counts(ports: list[int]) -> dict[str, int]:
    total: collections.Counter[str] = collections.Counter()
    with httpx.Client(timeout=30) as http:
        for port in ports:
            total.update(http.get(f"http://127.0.0.1:{port}/sessions-cdrs/counts").json())
    return dict(total)


def wait_for(
    ports: list[int], key: str, target: int, *, limit: float, quiet: float = QUIET_SECONDS
) -> tuple[int, float]:
    """Until the receivers counted ``target`` of ``key``, nothing new came for ``quiet``
    seconds, or ``limit`` seconds passed: the count and the seconds waited."""
    began = time.monotonic()
    last_change, seen = began, -1
    while True:
        count = receiver_counts(ports)[key]
        now = time.monotonic()
        if count != seen:
            last_change, seen = now, count
        if count >= target or now - last_change > quiet or now - began > limit:
            return count, now - began
        time.sleep(0.25)


def log_summary(path: Path) -> str:
    levels: collections.Counter[str] = collections.Counter()
    firsts: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        for level in ("ERROR", "CRITICAL", "WARNING"):
            if f"level={level}" in line:
                levels[level] += 1
                message = line.split(" msg=", 1)[-1][:160]
                firsts.setdefault(f"{level}: {message[:60]}", message)
    if not levels:
        return "  hub log: no warnings or errors"
    lines = [f"  hub log: {dict(levels)} ({path}); first of each kind:"]
    lines += [f"    {key.split(':', 1)[0]}: {text}" for key, text in list(firsts.items())[:8]]
    return "\n".join(lines)


def drive(
    url: str,
    args: argparse.Namespace,
    stations: int,
    ports: list[int],
    station_of: dict[str, int],
) -> None:
    """The hub, the receivers (on ``ports``, the eMSPs' seeded endpoints) and the stations, in
    processes of their own, through every phase."""
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-sessions-"))
    env = hub_environment(url, free_port())
    env.update(HUB_LOG_LEVEL="WARNING")
    hub_url = f"http://127.0.0.1:{env['HUB_SERVER__PORT']}"
    processes: dict[str, subprocess.Popen[Any]] = {}
    log_path = workdir / "hub.log"
    if args.push_process:
        # `hub serve` answers the stations only; `hub push work` delivers, in a process of its
        # own (it finds new jobs by polling instead of being woken).
        env.update(HUB_PUSH__ENABLED="false")
    with log_path.open("wb") as log:
        processes["hub"] = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        if args.push_process:
            processes["pusher"] = subprocess.Popen(
                [sys.executable, "-m", "hub", "push", "work"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    processes["receivers"] = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmarks.receivers", *map(str, ports)]
    )
    try:
        wait_until_up(f"{hub_url}/health", timeout=60, process=processes["hub"])
        for port in ports:
            wait_until_up(f"http://127.0.0.1:{port}/sessions-cdrs/counts")
        swarm = processes["swarm"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.session_swarm",
                hub_url.replace("http://", "ws://"),
                PASSWORD,
                str(stations),
                str(args.emsps),
                str(TOKENS_PER_EMSP),
                str(args.meter_interval),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        measure(args, swarm, processes, ports, station_of, workdir)
    finally:
        swarm_process = processes.get("swarm")
        if swarm_process is not None and swarm_process.poll() is None:
            assert swarm_process.stdin is not None
            try:
                swarm_process.stdin.write("quit\n")
                swarm_process.stdin.flush()
                swarm_process.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                swarm_process.kill()
        for name in ("hub", "pusher", "receivers"):
            if name not in processes:
                continue
            processes[name].terminate()
            try:
                processes[name].wait(timeout=30)
            except subprocess.TimeoutExpired:
                processes[name].kill()
    print(log_summary(log_path))


def ask(swarm: subprocess.Popen[str], line: str) -> list[str]:
    (reply,) = command([swarm], line)
    if not reply or reply[0] != line.split()[0]:
        raise RuntimeError(f"the station swarm answered {reply!r} to {line!r}")
    return reply


def measure(
    args: argparse.Namespace,
    swarm: subprocess.Popen[str],
    processes: dict[str, subprocess.Popen[Any]],
    ports: list[int],
    station_of: dict[str, int],
    workdir: Path,
) -> None:
    assert swarm.stdout is not None
    connected = swarm.stdout.readline().split()
    if not connected:
        raise RuntimeError("the station swarm died before it connected")
    print(f"  {connected[1]} stations connected in {connected[2]} s")
    _, messages, seconds, errors = ask(swarm, "boot")
    print(f"  boot: {messages} messages in {seconds} s, {errors} errors")

    _, started, seconds, failed, accepted = ask(swarm, f"fill {args.sessions}")
    print(f"  ramp: {started} charges started in {seconds} s ({failed} failed)")
    count, waited = wait_for(ports, "sessions", int(accepted), limit=600)
    print(f"    their eMSPs had {count} of {accepted} sessions {waited:.1f} s later")

    offered = 2 * args.rate + args.sessions / args.meter_interval
    print(
        f"  steady state, {args.duration:.0f} s: {args.rate:g} starts/s + {args.rate:g} "
        f"stops/s + {args.sessions} open charges' meter values every {args.meter_interval:g} s "
        f"= {offered:.0f} msg/s offered"
    )
    cpu = CpuMeter(processes)
    hub_cpu = cpu_seconds(processes["hub"].pid)
    _, answered, window, accepted = ask(swarm, f"steady {args.duration} {args.rate}")
    per_message = (cpu_seconds(processes["hub"].pid) - hub_cpu) / max(int(answered), 1)
    print(
        f"    {int(answered) / float(window):.0f} msg/s answered ({answered} in {window} s); "
        f"{cpu.line()}; the hub's CPU per message answered (its pushes included): "
        f"{per_message * 1000:.1f} ms"
    )

    _, started, seconds, failed, accepted = ask(swarm, f"fill {args.burst}")
    print(f"  burst: {started} more charges started in {seconds} s ({failed} failed)")
    count, waited = wait_for(ports, "sessions", int(accepted), limit=900)
    print(f"    their eMSPs had {count} of {accepted} sessions {waited:.1f} s later")
    cpu.reset()
    burst_began = time.time()
    _, stops, seconds, errors = ask(swarm, "burst")
    print(
        f"    {stops} charges stopped at once: all answered in {seconds} s "
        f"({int(stops) / max(float(seconds), 1e-9):.0f} stops/s; {errors} errors)"
    )
    report_path = workdir / "swarm.json"
    ask(swarm, f"report {report_path}")
    report = json.loads(report_path.read_text())
    # A stop answered too late for the station is still recorded by the hub: its CDR is awaited.
    expected = len(report["stops"])
    count, waited = wait_for(ports, "cdrs", expected, limit=1800, quiet=DRAIN_QUIET_SECONDS)
    print(
        f"    {count} of {expected} CDRs received {waited:.1f} s after the last stop was "
        f"answered; {cpu.line()}"
    )
    with httpx.Client(timeout=60) as http:
        arrivals = [http.get(f"http://127.0.0.1:{p}/cdrs/arrivals").json() for p in ports]

    print("  OCPP answers, steady state (target p99 < 100 ms):")
    print_latencies(report, "steady")
    waits = report["stop_waits"].get("steady", [])
    if waits:
        print(
            f"    (a stop waits for its station's unanswered meter value: "
            f"{spread_ms(waits)} from the decision to the sending)"
        )
    for phase, title in (("fill", "ramp and fill"), ("burst", "burst"), ("idle", "between")):
        if report["latencies"].get(phase):
            print(f"  OCPP answers, {title}:")
            print_latencies(report, phase)
    if report["open"]:
        print(f"  charges still open at the end (started after the burst): {report['open']}")
    if report["skipped_starts"]:
        print(f"  starts skipped for want of a free station: {report['skipped_starts']}")

    matched = Matched(report, arrivals, station_of)
    steady = matched.latencies.get("steady", [])
    verdict = (
        "" if not steady else (" ok" if percentile(steady, 0.99) < CDR_TARGET_S else " MISSED")
    )
    print(
        f"  stop -> CDR at the eMSP, steady state ({len(steady)} CDRs; target p99 < 2 s): "
        f"{spread_s(steady)}{verdict}"
    )
    burst = matched.arrivals.get("burst", [])
    if burst:
        first = matched.first_sent["burst"]
        mean, peak = cdrs_per_second(burst, first)
        answered_at = burst_began + float(seconds)
        tail = [at for at in burst if at > answered_at]
        tail_rate = len(tail) / max(max(burst) - answered_at, 1e-9) if tail else 0.0
        print(
            f"  burst: {len(burst)} CDRs, {mean:.0f} CDRs/s from the first stop to the last "
            f"CDR (peak {peak} in one second); first CDR {min(burst) - first:.1f} s, last "
            f"{max(burst) - first:.1f} s after the first stop, "
            f"{max(burst) - answered_at:.1f} s after the last stop was answered "
            f"({len(tail)} CDRs came after it: {tail_rate:.0f}/s); stop -> CDR "
            f"{spread_s(matched.latencies['burst'])}"
        )
        finals = [at for received in arrivals for at in received["final_session_puts"]]
        finals = [at for at in finals if at >= first]
        if finals:
            # A CDR goes on its session's queue after the session's final PUT.
            print(
                f"    (the burst's {len(finals)} final session PUTs arrived from "
                f"{min(finals) - first:.1f} s to {max(finals) - first:.1f} s after the first "
                f"stop)"
            )
    lost = sum(matched.lost.values())
    print(
        f"  lost CDRs (stop answered, no CDR): {lost} {dict(matched.lost) if lost else ''}; "
        f"duplicates: {matched.reposted} ids POSTed again, {matched.two_cdrs} charges with two "
        f"CDRs; CDRs of no stop: {matched.unexpected}; stops unanswered: "
        f"{sum(matched.unanswered.values())}"
    )


async def bench_engine(engine: str, args: argparse.Namespace) -> None:
    stations = max(args.burst, args.sessions + max(100, int(5 * args.rate)))
    async with database(engine) as url:
        began = time.perf_counter()
        await seed(url, stations, v16=lambda number: not is_v201(number))
        ports = [free_port() for _ in range(args.emsps)]
        station_of = await seed_roaming(url, ports)
        print(
            f"  seeded {stations} stations/EVSEs ({sum(map(is_v201, range(stations)))} on "
            f"OCPP 2.0.1), {args.emsps} eMSPs x {TOKENS_PER_EMSP} tokens in "
            f"{time.perf_counter() - began:.1f} s"
        )
        await asyncio.to_thread(drive, url, args, stations, ports, station_of)
        print(await stored_summary(url))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--engine", choices=["sqlite", "postgresql", "both"], help="both (--quick: sqlite)"
    )
    parser.add_argument("--sessions", type=int, help="open charges (3000)")
    parser.add_argument("--rate", type=float, help="starts and stops per second (50)")
    parser.add_argument("--duration", type=float, help="steady-state seconds (300)")
    parser.add_argument("--burst", type=int, help="charges stopped at once (10000)")
    parser.add_argument("--meter-interval", type=float, help="seconds between meter values (60)")
    parser.add_argument("--emsps", type=int, default=4, help="eMSPs the tokens belong to")
    parser.add_argument(
        "--push-process",
        action="store_true",
        help="deliver pushes from a `hub push work` process instead of inside `hub serve`",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + str(QUICK))
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.engine is None:
        args.engine = "sqlite" if args.quick else "both"
    print(
        f"{os.cpu_count()} cores: the stations (one process) and the eMSP receivers (another) "
        f"run on this machine and compete with the hub for CPU; open-file limit "
        f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]} (one per station in the hub and in "
        f"the swarm)"
    )
    engines = ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]
    for engine in engines:
        print(f"{engine}:")
        began = time.perf_counter()
        asyncio.run(bench_engine(engine, args))
        print(f"  ({engine} done in {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
