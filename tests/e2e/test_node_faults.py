"""Faults under load, with two nodes on one PostgreSQL database as behind a load balancer.

Raw OCPP 1.6 chargers on 127.0.0.1 report a long run of connector statuses back to back, as
chargers do after an outage; each sends its next status only once the last one is answered,
repeats one answered with a CALLERROR after a pause, and when its socket is lost connects again
(to the other node if its own is gone: the load balancer's job), boots and repeats the status it
had not had answered. Two faults land while they do, each arranged, not timed: it happens once
every charger has had its first statuses answered, and the chargers stop at a gate further on
until it is over, so it always lands mid-run.

- A node killed with ``kill -9``: its chargers move to the other node.
- The database lost (every connection of the hub's database terminated and new ones refused,
  as during a PostgreSQL restart) until the chargers have been answered with errors: the nodes
  stay up, answer with errors that the chargers retry, and catch up once it is back.

Afterwards three views agree per EVSE: the last status each charger had answered, the hub's
database, and the eMSP's copy; and no answered status is lost: the EVSE's status history holds
every status of the run, in the order the charger reported them, each once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from hub.persistence.session import create_engine, dispose_engine
from tests.e2e.test_locations_push import HubProcess, Setup, eventually, hub_env, setup
from tests.e2e.test_nodes import second_node
from tests.fixtures import network
from tests.support.ocpp_raw import RawStation

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["hub_env", "setup"]

PASSWORD = "station-password-0123"
LOCATION = ("US", "HPC", "FAULTS")
CHARGERS = [f"CS-F{n}" for n in range(6)]
# OCPP 1.6 status -> OCPI status; consecutive OCPI statuses always differ, so every report is a
# change the history must hold.
CYCLE = [("Charging", "CHARGING"), ("Available", "AVAILABLE"), ("Faulted", "OUTOFORDER")]
RUN = [CYCLE[n % 3] for n in range(18)]  # the EVSEs are imported AVAILABLE
FAULT_AFTER = 3  # answered statuses per charger before the fault
GATE = 12  # no charger reports status RUN[GATE] before the fault is over (it repeats the last)
RETRY_SECONDS = 0.2


def evse_of(station_id: str) -> str:
    return f"FAULTS-E{CHARGERS.index(station_id) + 1}"


@dataclass
class Run:
    """The chargers' side: what each had answered, and the gates of the scenario."""

    urls: dict[str, list[str]]  # station id -> node URLs, its own first
    answered: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    reconnects: int = 0
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    fault_over: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, at_least: int) -> bool:
        return all(self.answered.get(s, 0) >= at_least for s in self.urls)

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self.progress.clear()
            await asyncio.wait_for(self.progress.wait(), 120)

    async def connect(self, station_id: str) -> RawStation:
        """Connected and booted, trying its nodes in turn as a charger behind a load balancer
        would be sent to whichever answers."""
        for attempt in range(600):
            url = self.urls[station_id][attempt % len(self.urls[station_id])]
            try:
                station = await RawStation.connect(
                    url.replace("http://", "ws://"), station_id, PASSWORD, ["ocpp1.6"]
                )
                booted = await station.call(
                    "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
                )
                if booted[0] == 3 and booted[2]["status"] == "Accepted":
                    return station
                self._error()
                await station.close()
            except (OSError, InvalidMessage, InvalidStatus, ConnectionClosed, TimeoutError):
                pass  # refused (the node gone, or 503 while the database is), or reset
            await asyncio.sleep(RETRY_SECONDS)
        raise AssertionError(f"{station_id} could not connect again")

    def _error(self) -> None:
        self.errors += 1
        self.progress.set()

    async def charger(self, station_id: str) -> None:
        station = await self.connect(station_id)
        n = 0
        try:
            while n < len(RUN):
                # At the gate until the fault is over, the charger keeps reporting its last
                # status again (no change to record, but the database is asked every time).
                waiting = n == GATE and not self.fault_over.is_set()
                index = n - 1 if waiting else n
                payload = {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": RUN[index][0],
                    "timestamp": f"2026-12-03T08:{index:02}:00Z",
                }
                try:
                    answer = await station.call("StatusNotification", payload)
                except (ConnectionClosed, TimeoutError, OSError):
                    with contextlib.suppress(Exception):
                        await station.close()
                    self.reconnects += 1
                    station = await self.connect(station_id)
                    continue  # the same status again: it was not answered
                if answer[0] != 3:
                    self._error()
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                if waiting:
                    await asyncio.sleep(RETRY_SECONDS)
                    continue
                n += 1
                self.answered[station_id] = n
                self.progress.set()
        finally:
            with contextlib.suppress(Exception):
                await station.close()


async def run_with_fault(run: Run, fault: Callable[[Run], Awaitable[None]]) -> None:
    chargers = [asyncio.create_task(run.charger(s)) for s in run.urls]
    try:
        await run.until(lambda: run.count(FAULT_AFTER))
        await fault(run)
        run.fault_over.set()
        await asyncio.gather(*chargers)
    finally:
        for task in chargers:
            task.cancel()
        await asyncio.gather(*chargers, return_exceptions=True)


async def hub_views(database_url: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each EVSE's status in the hub's database, and its history of OCPP-reported changes."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            statuses = dict((await connection.execute(text("SELECT uid, status FROM evses"))).all())
            rows = await connection.execute(
                text(
                    "SELECT e.uid, h.status FROM evse_status_history h "
                    "JOIN evses e ON e.id = h.evse_ref WHERE h.reason = 'ocpp' ORDER BY h.id"
                )
            )
            history: dict[str, list[str]] = {}
            for uid, status in rows:
                history.setdefault(uid, []).append(status)
    finally:
        await dispose_engine(engine)
    return statuses, history


def status_at_emsp(setup: Setup) -> dict[str, str]:
    location = setup.emsp.locations.get(LOCATION, {})
    return {evse["uid"]: evse["status"] for evse in location.get("evses", [])}


def prepare(setup: Setup) -> None:
    setup.import_network(
        [network.linked_location("FAULTS", [(s, None, 1) for s in CHARGERS])],
        [network.tariff("T-DC", price="0.40")],
    )
    for station_id in CHARGERS:
        setup.cli("chargers", "add", station_id, "--password", PASSWORD)
    eventually(lambda: len(status_at_emsp(setup)) == len(CHARGERS), what="the sites at the eMSP")


def check_views(setup: Setup, run: Run) -> None:
    """The three views agree, and the history holds the whole run of every EVSE."""
    final = RUN[-1][1]
    assert run.count(len(RUN))
    charger_view = {evse_of(s): final for s in CHARGERS}  # the last answered status of each
    statuses, history = asyncio.run(hub_views(setup.env["HUB_DATABASE__URL"]))
    assert {uid: statuses[uid] for uid in charger_view} == charger_view
    eventually(lambda: status_at_emsp(setup) == charger_view, what="the eMSP's view")
    reported = [ocpi for _, ocpi in RUN]
    for station_id in CHARGERS:
        assert history.get(evse_of(station_id)) == reported, station_id


@contextlib.contextmanager
def two_nodes(setup: Setup, tmp_path: Path) -> Iterator[tuple[HubProcess, Run]]:
    """The sites imported, node B started beside node A, and the chargers' run: every other
    charger on node A first, the rest on node B."""
    prepare(setup)
    node_b = second_node(setup, tmp_path)
    node_b.start()
    a, b = setup.hub.url, node_b.url
    try:
        yield node_b, Run({s: [a, b] if n % 2 == 0 else [b, a] for n, s in enumerate(CHARGERS)})
    finally:
        node_b.stop()


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
def test_a_node_killed_under_load_loses_no_answered_status(setup: Setup, tmp_path: Path):
    with two_nodes(setup, tmp_path) as (node_b, run):

        async def kill_node_b(run: Run) -> None:
            node_b.kill()

        asyncio.run(run_with_fault(run, kill_node_b))
    assert run.reconnects >= 1  # node B's chargers lost their sockets and came back on A
    check_views(setup, run)
    held = {r["station_id"]: r["node"] for r in setup.cli("chargers", "list")}  # type: ignore[index]
    assert all(held[s] in (None, setup.hub.url) for s in CHARGERS), held
    # A node lost for a moment is no outage: no EVSE went UNKNOWN at the eMSP.
    assert "UNKNOWN" not in {str(p.body.get("status")) for p in setup.emsp.pushes("PATCH")}


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
def test_the_database_lost_under_load_is_retried_and_caught_up(setup: Setup, tmp_path: Path):
    database = setup.env["HUB_DATABASE__URL"].rsplit("/", 1)[1]
    admin_url = setup.env["HUB_DATABASE__URL"].rsplit("/", 1)[0] + "/postgres"
    with two_nodes(setup, tmp_path) as (node_b, run):

        async def lose_the_database(run: Run) -> None:
            admin = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
            try:
                async with admin.connect() as connection:
                    await connection.execute(
                        text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
                    )
                    await connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": database},
                    )
                    errors_before = run.errors
                    # Down until the chargers have been told so, a few times over.
                    await run.until(lambda: run.errors >= errors_before + len(CHARGERS))
            finally:
                async with admin.connect() as connection:
                    await connection.execute(
                        text(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
                    )
                await admin.dispose()

        asyncio.run(run_with_fault(run, lose_the_database))
        assert run.errors >= len(CHARGERS)  # the chargers were told, and retried
        # Neither node crashed: both still serve.
        assert setup.hub.process is not None
        assert setup.hub.process.poll() is None
        assert node_b.process is not None
        assert node_b.process.poll() is None
        check_views(setup, run)
