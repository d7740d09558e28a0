"""Benchmark of eMSP commands: START_SESSION from an app to the charge running (prints figures;
not a test).

    .venv/bin/python -m tests.benchmarks.bench_commands [--engine sqlite|postgresql|both]
        [--rate 100] [--duration 60] [--hold 5] [--start-timeout 30] [--quick]

Per engine, in a migrated database of its own (created and dropped here; PostgreSQL from
``HUB_TEST_DATABASE_URL``, default the local cluster):

1. Seeds one station per EVSE (8 EVSEs per location, every one REMOTE_START_STOP_CAPABLE; every
   fifth station on OCPP 2.0.1, the rest on 1.6), enough that an EVSE is used again only after
   its last charge ended, a tariff, and one eMSP (registered, owning US*EMA, no Receiver
   endpoints: only the CommandResults go to it, at its response URLs).
2. Starts ``hub serve`` in its own process as in production (command runner and push worker
   inside it, default settings; log level WARNING, the local-list pass off), the eMSP in
   another (``tests.benchmarks.command_emsp``) and the stations in a third
   (``tests.benchmarks.command_swarm``, raw frames over real websockets), which accept every
   remote start on a free EVSE and start the transaction at once (StartTransaction /
   TransactionEvent Started); the car leaves ``--hold`` seconds later.
3. The eMSP POSTs ``--rate`` START_SESSION per second for ``--duration`` seconds (open loop:
   each at its due time, at the EVSEs in turn), then waits for their results.
4. Prints p50/p99 from the eMSP's POST to its CommandResponse and to the CommandResult received
   at its ``response_url`` (ACCEPTED only once the transaction started: target p99 < 1 s plus
   the charger's own answer time, which is printed separately with the hub's answer to the
   start of the transaction), the responses and results by value, lost results (an ACCEPTED
   response and no result), duplicates, the CPU each process used and the hub's log warnings.

``--quick``: rate 10 for 10 s, on SQLite unless ``--engine`` says otherwise (a smoke run). The
machine has few cores: the stations and the eMSP compete with the hub for them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargingSession, Command, Evse, Location
from hub.roaming.importer import parse_tariffs_json
from hub.services.tariffs import TariffService
from tests.benchmarks.bench_authorize import database
from tests.benchmarks.bench_ocpp import PASSWORD, command, seed
from tests.benchmarks.bench_sessions import CpuMeter, log_summary, percentile, spread_ms
from tests.benchmarks.session_swarm import is_v201
from tests.fixtures import network
from tests.hub.conftest import register_partner
from tests.support.servers import free_port, hub_environment, wait_until_up

QUICK = {"rate": 10.0, "duration": 10.0}
FULL = {"rate": 100.0, "duration": 60.0}
PARTY = ("US", "EMA")
RESULT_TARGET_S = 1.0
START_TIMEOUT_S = 30.0
"""Default ``HUB_COMMANDS__START_SESSION_TIMEOUT_SECONDS`` of the hub (``--start-timeout``):
the chargers start at once, so a START_SESSION not answered by then was not carried out in
time, or not matched with its transaction (it comes as TIMEOUT, not lost)."""
RESULT_LIMIT_S = 600.0
"""How long the eMSP waits for the last results, at most..."""
RESULT_QUIET_MARGIN_S = 15.0
"""...or until none came for the START_SESSION timeout plus this."""


def stations_for(rate: float, hold: float) -> int:
    """Enough stations that the eMSP, going round them at ``rate``, comes back to one only
    twice the time a charge holds it, and at least 50."""
    return max(50, math.ceil(rate * (hold + 5) * 2))


async def seed_commands(url: str, stations: int) -> tuple[str, list[list[str]]]:
    """Stations, their EVSEs, the tariff and the eMSP; returns the eMSP's token and every
    (location, EVSE) in station order."""
    await seed(url, stations, v16=lambda number: not is_v201(number))
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            await TariffService(session).import_tariffs(
                parse_tariffs_json(json.dumps([network.tariff("T-DC", price="0.48")]))
            )
        _, token = await register_partner(sessions, "emsp", PARTY, modules=())
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(col(Location.location_id), col(Evse.uid))
                .join(Location, col(Location.id) == col(Evse.location_ref))
                .order_by(col(Evse.charging_station_id))
            )
            evses = [[location, uid] for location, uid in rows]
    finally:
        await dispose_engine(engine)
    return token, evses


def ask(process: subprocess.Popen[str], line: str) -> list[str]:
    (reply,) = command([process], line)
    if not reply or reply[0] != line.split()[0]:
        raise RuntimeError(f"{process.args!r} answered {reply!r} to {line!r}")
    return reply


def stop(process: subprocess.Popen[Any] | None, *, polite: bool) -> None:
    if process is None or process.poll() is not None:
        return
    if polite and process.stdin is not None:
        try:
            process.stdin.write("quit\n")
            process.stdin.flush()
            process.wait(timeout=60)
            return
        except (OSError, subprocess.TimeoutExpired):
            pass
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def drive(url: str, args: argparse.Namespace, stations: int, token: str, evses: list) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-commands-"))
    env = hub_environment(url, free_port())
    env.update(
        HUB_LOG_LEVEL="WARNING",
        HUB_COMMANDS__START_SESSION_TIMEOUT_SECONDS=str(args.start_timeout),
    )
    hub_url = f"http://127.0.0.1:{env['HUB_SERVER__PORT']}"
    log_path = workdir / "hub.log"
    evses_path = workdir / "evses.json"
    evses_path.write_text(json.dumps(evses))
    processes: dict[str, subprocess.Popen[Any]] = {}
    with log_path.open("wb") as log:
        processes["hub"] = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_up(f"{hub_url}/health", timeout=60, process=processes["hub"])
        processes["emsp"] = emsp = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.command_emsp",
                hub_url,
                token,
                str(free_port()),
                *PARTY,
                str(evses_path),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert emsp.stdout is not None
        if emsp.stdout.readline().strip() != "listening":
            raise RuntimeError("the eMSP died before it listened")
        processes["chargers"] = swarm = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.benchmarks.command_swarm",
                hub_url.replace("http://", "ws://"),
                PASSWORD,
                str(stations),
                str(args.hold),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        measure(args, emsp, swarm, processes, workdir)
    finally:
        stop(processes.get("chargers"), polite=True)
        stop(processes.get("emsp"), polite=True)
        stop(processes.get("hub"), polite=False)
    print(log_summary(log_path))


def measure(
    args: argparse.Namespace,
    emsp: subprocess.Popen[str],
    swarm: subprocess.Popen[str],
    processes: dict[str, subprocess.Popen[Any]],
    workdir: Path,
) -> None:
    assert swarm.stdout is not None
    connected = swarm.stdout.readline().split()
    if not connected:
        raise RuntimeError("the station swarm died before it connected")
    print(f"  {connected[1]} stations connected in {connected[2]} s")
    _, messages, seconds, errors = ask(swarm, "boot")
    print(f"  boot: {messages} messages in {seconds} s, {errors} errors")

    print(
        f"  {args.rate:g} START_SESSION/s for {args.duration:g} s from the eMSP (open loop); the"
        f" chargers start at once and stop {args.hold:g} s later (START_SESSION timeout"
        f" {args.start_timeout:g} s)"
    )
    cpu = CpuMeter(processes)
    _, sent, window, errors = ask(emsp, f"run {args.rate} {args.duration}")
    sending = cpu.line()
    quiet = args.start_timeout + RESULT_QUIET_MARGIN_S
    _, results, waited = ask(emsp, f"wait {RESULT_LIMIT_S} {quiet}")
    print(
        f"    {sent} POSTed in {window} s ({int(sent) / float(window):.0f}/s, {errors} failed);"
        f" results received {waited} s after the last response; while sending: {sending}"
    )
    used = cpu.line()
    time.sleep(args.hold + 2)  # the last cars leave: their stops are answered and counted
    emsp_report, swarm_report = workdir / "emsp.json", workdir / "swarm.json"
    ask(emsp, f"report {emsp_report}")
    ask(swarm, f"report {swarm_report}")
    rows = json.loads(emsp_report.read_text())["commands"]
    chargers = json.loads(swarm_report.read_text())

    responses = collections.Counter(str(row[3]) for row in rows)
    response_times = [row[2] - row[1] for row in rows if row[2] is not None]
    by_result: collections.Counter[str] = collections.Counter()
    to_result: list[float] = []
    to_accepted: list[float] = []
    lost = duplicates = 0
    queued = [row[5] - row[1] for row in rows if row[5] is not None]
    for _, posted, _, response, results, _ in rows:
        for result, _ in results:
            by_result[result] += 1
        if len(results) > 1:
            duplicates += 1
        if response == "ACCEPTED" and not results:
            lost += 1
        if results:
            result, arrived = results[0]
            to_result.append(arrived - posted)
            if result == "ACCEPTED":
                to_accepted.append(arrived - posted)
    answers = chargers["answer_times"]
    charger_p99 = percentile(answers, 0.99) if answers else 0.0
    print(
        f"  POST -> CommandResponse ({len(response_times)}, from the due time):"
        f" {spread_ms(response_times)}"
    )
    if queued and max(queued) > 0.01:
        print(f"    (of which waiting for one of the eMSP's connections: {spread_ms(queued)})")
    print(f"    responses: {dict(responses)}")
    target = RESULT_TARGET_S + charger_p99
    verdict = ""
    if to_accepted:
        verdict = " ok" if percentile(to_accepted, 0.99) < target else " MISSED"
    print(
        f"  POST -> CommandResult ACCEPTED at the eMSP ({len(to_accepted)}; target p99 <"
        f" {target * 1000:.0f} ms = 1 s + the charger's p99): {spread_ms(to_accepted)}{verdict}"
    )
    if len(to_result) != len(to_accepted):
        print(f"    every result ({len(to_result)}): {spread_ms(to_result)}")
    print(
        f"    results: {dict(by_result)}; lost (ACCEPTED, no result): {lost}; commands with"
        f" more than one result: {duplicates}"
    )
    print(
        f"  the chargers' own answer to the remote start ({len(answers)}): {spread_ms(answers)};"
        f" rejected (EVSE busy): {chargers['rejected']}"
    )
    for label, samples in sorted(chargers["latencies"].items()):
        print(f"    the hub's answer to {label} ({len(samples)}): {spread_ms(samples)}")
    print(
        f"    transactions started {chargers['started']}, stopped {chargers['stopped']};"
        f" the hub's calls: {chargers['calls']}"
    )
    if chargers["errors"]:
        print(f"    charger errors: {chargers['errors']}")
    print(f"  {used} (from the first POST to the last result)")


async def bench_engine(engine: str, args: argparse.Namespace) -> None:
    stations = stations_for(args.rate, args.hold)
    async with database(engine) as url:
        began = time.perf_counter()
        token, evses = await seed_commands(url, stations)
        print(
            f"  seeded {stations} stations/EVSEs ({sum(map(is_v201, range(stations)))} on OCPP"
            f" 2.0.1) and the eMSP in {time.perf_counter() - began:.1f} s"
        )
        await asyncio.to_thread(drive, url, args, stations, token, evses)
        print(await stored_commands(url))


async def stored_commands(url: str) -> str:
    """The commands as the hub stored them: by state and result, and the TIMEOUTs whose
    transaction began in time (matched to the command, which was left unfinished)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(col(Command.state), col(Command.result), func.count()).group_by(
                    col(Command.state), col(Command.result)
                )
            )
            by_state = {f"{state} {result or '-'}": count for state, result, count in rows}
            matched = (
                await connection.execute(
                    select(func.count())
                    .select_from(Command)
                    .join(ChargingSession, col(ChargingSession.id) == col(Command.session_ref))
                    .where(
                        col(Command.result) == "TIMEOUT",
                        col(ChargingSession.start_date_time) < col(Command.deadline),
                    )
                )
            ).scalar_one()
    finally:
        await dispose_engine(engine)
    return (
        f"  stored commands: {by_state}; TIMEOUT although their transaction began before the"
        f" deadline (and was matched to them): {matched}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--engine", choices=["sqlite", "postgresql", "both"], help="both (--quick: sqlite)"
    )
    parser.add_argument("--rate", type=float, help="START_SESSION per second (100)")
    parser.add_argument("--duration", type=float, help="seconds of sending (60)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds a car stays (5)")
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=START_TIMEOUT_S,
        help=f"the hub's START_SESSION timeout, seconds ({START_TIMEOUT_S:g}; production 180)",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: " + str(QUICK))
    args = parser.parse_args()
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.engine is None:
        args.engine = "sqlite" if args.quick else "both"
    print(
        f"{os.cpu_count()} cores: the stations (one process) and the eMSP (another) run on this"
        " machine and compete with the hub for CPU"
    )
    for engine in ["sqlite", "postgresql"] if args.engine == "both" else [args.engine]:
        print(f"{engine}:")
        began = time.perf_counter()
        asyncio.run(bench_engine(engine, args))
        print(f"  ({engine} done in {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
