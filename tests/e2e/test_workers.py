"""``hub serve --workers 2`` on PostgreSQL: two processes on one port, each holding its share of
the station sockets; a call reaches a station whichever process holds it; a worker killed with
``kill -9`` loses only its sockets and is replaced. On SQLite ``--workers 2`` is refused.

Raw-frame OCPP 1.6 chargers and the eMSP are real peers on 127.0.0.1; the operator's
``hub chargers call`` is a process that holds no socket, so each of its calls is forwarded to
the worker the station's row names."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidMessage

from tests.e2e.test_locations_push import Setup, eventually, setup
from tests.fixtures import network
from tests.support.ocpp_raw import RawStation
from tests.support.servers import hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["setup"]

PASSWORD = "station-password-0123"
# The kernel spreads connections by a hash of their addresses: with 16 stations the chance
# that one worker gets them all is 2 in 65,536.
STATIONS = [f"CS-W{n:02}" for n in range(16)]
WORKER_LINE = re.compile(
    r"worker (\d+) \(pid (\d+)\) serving \S+; its stations' calls reach it at (\S+?)\""
)


@pytest.fixture
def hub_env() -> dict[str, str]:
    return {"HUB_SERVER__WORKERS": "2"}


def workers(setup: Setup) -> dict[str, int]:
    """The live workers' node URLs and pids, from the hub's log (the latest line per slot)."""
    latest: dict[str, tuple[int, str]] = {}
    for slot, pid, node in WORKER_LINE.findall(setup.hub.log.read_text()):
        latest[slot] = (int(pid), node)
    return {node: pid for pid, node in latest.values()}


def started_applications(setup: Setup) -> int:
    return setup.hub.log.read_text().count("Application startup complete.")


@contextlib.asynccontextmanager
async def stations(setup: Setup, ids: list[str]) -> AsyncIterator[dict[str, RawStation]]:
    connected: dict[str, RawStation] = {}
    try:
        for station_id in ids:
            connected[station_id] = await boot(setup, station_id)
        yield connected
    finally:
        for station in connected.values():
            with contextlib.suppress(Exception):
                await station.close()


async def boot(setup: Setup, station_id: str) -> RawStation:
    station = await RawStation.connect(
        setup.hub.url.replace("http://", "ws://"), station_id, PASSWORD, ["ocpp1.6"]
    )
    booted = await station.call(
        "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert booted[2]["status"] == "Accepted"
    return station


def connected_in_metrics(setup: Setup) -> float:
    scrape = httpx.get(f"{setup.hub.url}/metrics", timeout=10)
    assert scrape.status_code == 200, scrape.text
    (family,) = [
        f
        for f in text_string_to_metric_families(scrape.text)
        if f.name == "hub_ocpp_stations_connected"
    ]
    return sum(sample.value for sample in family.samples)


async def reconnect(setup: Setup, station_id: str, attempts: int = 5) -> RawStation:
    for _ in range(attempts - 1):
        try:
            return await boot(setup, station_id)
        except (OSError, InvalidMessage):
            await asyncio.sleep(0.5)
    return await boot(setup, station_id)


def has_exited(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def nodes(setup: Setup) -> dict[str, str | None]:
    return {r["station_id"]: r["node"] for r in setup.cli("chargers", "list")}  # type: ignore[index]


async def reset_through_the_cli(setup: Setup, station: RawStation, station_id: str) -> None:
    """``hub chargers call`` (no socket of its own) reaches the station, which answers."""
    operator = asyncio.create_task(
        asyncio.to_thread(
            run_hub_cli,
            setup.env,
            "chargers",
            "call",
            station_id,
            "Reset",
            '{"type": "Soft"}',
            "--json",
        )
    )
    frame = await station.answer_next_call({"status": "Accepted"})
    assert frame[2:] == ["Reset", {"type": "Soft"}]
    result = await operator
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "Accepted"}


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
def test_two_workers_share_the_stations_and_a_killed_one_loses_only_its_sockets(setup: Setup):
    eventually(
        lambda: started_applications(setup) == 2 and len(workers(setup)) == 2,
        timeout=60,
        what="both workers",
    )
    first = workers(setup)
    victim_node, survivor_node = list(first)
    setup.import_network(
        [network.linked_location("WRK", [(s, None, 1) for s in STATIONS])],
        [network.tariff("T-DC", price="0.40")],
    )
    for station_id in STATIONS:
        setup.cli("chargers", "add", station_id, "--password", PASSWORD)

    async def scenario() -> None:
        async with stations(setup, STATIONS) as connected:
            held = nodes(setup)
            assert set(held.values()) == set(first), held  # both workers hold stations
            by_node = {node: [s for s in STATIONS if held[s] == node] for node in first}
            one_of_each = [ids[0] for ids in by_node.values()]
            for station_id in one_of_each:
                await reset_through_the_cli(setup, connected[station_id], station_id)

            os.kill(first[victim_node], signal.SIGKILL)
            # Once it has exited (a zombie until the supervisor reaps it) its listening socket
            # is closed; until then a new connection may still land in its queue and be reset.
            eventually(lambda: has_exited(first[victim_node]), what="the killed worker's exit")
            for station_id in by_node[victim_node]:
                with contextlib.suppress(Exception):
                    await connected[station_id].close()
                # Its station reconnects, as a charger does, to whichever worker listens (and
                # tries again, as chargers do, if the connection is reset on the way).
                connected[station_id] = await reconnect(setup, station_id)
            # The other worker's stations kept their sockets: the same connection still answers.
            survivor = by_node[survivor_node][0]
            await reset_through_the_cli(setup, connected[survivor], survivor)
            eventually(
                lambda: len(workers(setup)) == 2 and started_applications(setup) == 3,
                timeout=60,
                what="a worker in place of the killed one",
            )
            assert first[victim_node] not in workers(setup).values()
            moved = by_node[victim_node][0]
            await reset_through_the_cli(setup, connected[moved], moved)
            held_now = nodes(setup)
            assert all(held_now[s] in workers(setup) for s in STATIONS), held_now
            # A scrape, whichever worker answers it, sums the live workers: the killed one's
            # sockets are forgotten, every station is counted once.
            assert connected_in_metrics(setup) == len(STATIONS)

    asyncio.run(scenario())
    log = setup.hub.log.read_text()
    assert f"(pid {first[victim_node]}) ended with exit code -9" in log
    # A socket lost for a moment is no outage: no EVSE went UNKNOWN at the eMSP.
    statuses = {e["uid"]: e["status"] for e in setup.emsp.locations[("US", "HPC", "WRK")]["evses"]}
    assert set(statuses.values()) == {"AVAILABLE"}, statuses
    assert "UNKNOWN" not in json.dumps([p.body for p in setup.emsp.pushes("PATCH")])


def test_sqlite_runs_one_process_and_says_why(tmp_path):
    env = hub_environment(f"sqlite+aiosqlite:///{tmp_path}/hub.db", 1)
    result = run_hub_cli(env, "serve", "--workers", "2")
    assert result.returncode == 1
    assert "SQLite is the single-process embedded database" in result.stderr
    assert "workers 2 asked" in result.stderr
    assert not (tmp_path / "hub.db").exists()  # refused before anything was migrated
