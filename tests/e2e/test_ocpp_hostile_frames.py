"""Hostile and broken OCPP-J frames against ``hub serve`` over real websockets on 127.0.0.1.

Most tests share one hub (SQLite file) and use a station of their own, so the hub's log lines
of a test can be told apart by station id. Tests that are about the database engines start a
hub of their own on ``database_url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.services.stations import StationService
from tests.e2e.test_locations_push import HubProcess, eventually
from tests.fixtures.databases import _asyncpg_dsn
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port, hub_environment

pytestmark = [pytest.mark.e2e]
# Figures worth reading (--log-cli-level=INFO shows them).
figures = logging.getLogger(__name__)

V16, V201 = ["ocpp1.6"], ["ocpp2.0.1"]
PASSWORD = "hostile-frames-password-0001"
STATIONS = [
    *(f"CS-{name}-16" for name in ("MEM", "DEEP", "IDS", "NULL", "SIZE", "FUZZ", "ENUM")),
    *(f"CS-{name}-201" for name in ("MEM", "DEEP", "IDS", "NULL", "SIZE", "FUZZ", "ENUM")),
    "CS-NUL-16",
    "CS-NUL-201",
    "CS-BYE-16",
]
HUB_ENV = {
    "HUB_PUSH__ENABLED": "false",
    # One warning per station and kind for the whole test run: counts are exact, not timing.
    "HUB_OCPP__WARNING_INTERVAL_SECONDS": "3600",
}


@dataclass
class Hub:
    process: HubProcess
    log: Path
    opened: list[RawStation] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.process.url.replace("http://", "ws://")

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    async def station(self, station_id: str, subprotocols: list[str]) -> RawStation:
        station = await RawStation.connect(self.ws_url, station_id, PASSWORD, subprotocols)
        self.opened.append(station)
        return station

    def log_lines(self, station_id: str) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if f"station {station_id}" in line]

    def warnings(self, station_id: str) -> list[str]:
        return [line for line in self.log_lines(station_id) if " level=WARNING " in line]


async def _add_stations(url: str) -> None:
    engine = create_engine(url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            for station_id in STATIONS:
                await StationService(session).add(station_id, PASSWORD)
    finally:
        await dispose_engine(engine)


def start_hub(database_url: str, log: Path, *, migrate: bool) -> Hub:
    """``hub serve`` on ``database_url`` with the test stations (blocking: run it in a thread
    from async code)."""
    if migrate:
        migrations.upgrade(database_url)
    asyncio.run(_add_stations(database_url))
    process = HubProcess({**hub_environment(database_url, free_port()), **HUB_ENV}, log)
    process.start()
    return Hub(process, log)


@contextlib.asynccontextmanager
async def own_hub(database_url: str, log: Path) -> AsyncIterator[Hub]:
    hub = await asyncio.to_thread(start_hub, database_url, log, migrate=False)
    try:
        yield hub
    finally:
        for station in hub.opened:
            await station.close()
        hub.process.stop()


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("hostile")
    hub = start_hub(f"sqlite+aiosqlite:///{tmp / 'hub.db'}", tmp / "hub.log", migrate=True)
    try:
        yield hub
    finally:
        hub.process.stop()


@pytest.fixture
async def hub(shared_hub: Hub) -> AsyncIterator[Hub]:
    yield shared_hub
    for station in shared_hub.opened:
        await station.close()
    shared_hub.opened.clear()


def frame_code(version: list[str]) -> str:
    return "FormationViolation" if version == V16 else "RpcFrameworkError"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def flood_results(station: RawStation, count: int, prefix: str) -> None:
    """``count`` CALLRESULT/CALLERROR frames of about 10 KB that answer nothing.

    Every 1,000 frames a Heartbeat waits for its answer: the hub has then read everything
    before it (frames are handled in order), so the websocket keepalive's pong never queues
    behind a backlog of more than 1,000 frames. Its answer being the next frame received also
    proves no result got an answer.
    """
    blob = "x" * 10_000
    for i in range(count):
        if i % 2:
            frame = [3, f"{prefix}-{i}", {"data": blob}]
        else:
            frame = [4, f"{prefix}-{i}", "GenericError", "nope", {"blob": blob}]
        await station.socket.send(json.dumps(frame))
        if i % 1_000 == 999 or i == count - 1:
            answer = await station.call("Heartbeat", {})
            assert answer[0] == 3, answer


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_unsolicited_results_are_dropped_and_the_hub_memory_stays_flat(hub, version):
    station_id = f"CS-MEM-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    # Warm-up: the allocator's arenas and the log handler reach their steady state.
    await flood_results(station, 2_000, "warm")
    before = rss_kib(hub.pid)
    await flood_results(station, 20_000, "flood")
    after = rss_kib(hub.pid)
    growth_kib = after - before
    figures.info(f"{station_id}: RSS {before} KiB -> {after} KiB ({growth_kib:+} KiB)")
    assert growth_kib < 8 * 1024, f"RSS grew by {growth_kib} KiB over 20,000 unsolicited results"
    dropped = [line for line in hub.warnings(station_id) if "answers no outstanding call" in line]
    assert len(dropped) == 1, dropped


async def _lock_waiters(connection: asyncpg.Connection) -> int:
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


@pytest.mark.db
@pytest.mark.parametrize("db_engine_name", ["postgresql"])
async def test_a_station_that_closes_its_socket_while_the_hub_replies_is_normal_life(
    database_url, tmp_path
):
    """The reply is held (a row lock on the station) until the station's socket is closed."""
    async with own_hub(database_url, tmp_path / "hub.log") as hub:
        station = await hub.station("CS-BYE-16", V16)
        locker = await asyncpg.connect(_asyncpg_dsn(database_url))
        try:
            async with locker.transaction():
                await locker.execute(
                    "SELECT 1 FROM charging_stations WHERE station_id = $1 FOR UPDATE",
                    "CS-BYE-16",
                )
                await station.socket.send(
                    json.dumps(
                        [
                            2,
                            "bye-1",
                            "BootNotification",
                            {"chargePointVendor": "Acme", "chargePointModel": "M"},
                        ]
                    )
                )
                # The hub is now waiting for the row in its BootNotification handler.
                while await _lock_waiters(locker) == 0:  # noqa: ASYNC110 - another process
                    await asyncio.sleep(0.02)
                await station.close()
            # Transaction over: the hub's handler goes on and replies on a closed socket.
            await asyncio.to_thread(
                eventually,
                lambda: any(" disconnected" in line for line in hub.log_lines("CS-BYE-16")),
                what="the hub noticing the disconnect",
            )
        finally:
            await locker.close()
        text = hub.log.read_text()
        lines = hub.log_lines("CS-BYE-16")
        assert "Traceback" not in text, text[-3000:]
        assert not [line for line in text.splitlines() if " level=ERROR " in line]
        assert "InternalError" not in text
        closed = [line for line in lines if "closed its socket" in line]
        assert len(closed) == 1, lines
        assert " level=INFO " in closed[0]


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_deeply_nested_frames_get_a_call_error_and_the_connection_stays(hub, version):
    station_id = f"CS-DEEP-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    # 30,000 levels (60 KB) fit in the 64 KiB frame limit: Python's JSON parser gives up.
    nested = "[" * 30_000 + "]" * 30_000
    bare = await station.send_raw(nested)
    assert bare[:3] == [4, "-1", frame_code(version)]
    assert "nested deeper than 32 levels" in bare[3]
    inside = await station.send_raw(f'[2,"deep-2","Heartbeat",{nested}]')
    assert inside[:3] == [4, "deep-2", frame_code(version)]
    assert "nested deeper than 32 levels" in inside[3]
    # 100,000 levels (200 KB) are refused by their size, unparsed.
    huge = "[" * 100_000 + "]" * 100_000
    too_big = await station.send_raw(f'[2,"deep-4","DataTransfer",{{"data":{huge}}}]')
    assert too_big[:3] == [4, "deep-4", frame_code(version)]
    assert "exceeds the limit" in too_big[3]
    # Deeper than any OCPP message, yet parseable by Python: refused all the same.
    forty = "[" * 40 + "]" * 40
    shallow = await station.send_raw(f'[2,"deep-3","Heartbeat",{{"x":{forty}}}]')
    assert shallow[:3] == [4, "deep-3", frame_code(version)]
    assert (await station.call("Heartbeat", {}))[0] == 3
    assert len(hub.warnings(station_id)) >= 1


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_message_ids_must_be_strings_of_at_most_36_characters(hub, version):
    station_id = f"CS-IDS-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    for bad_id in (12345, None, "x" * 37, "x" * 40, ["a"], 1.5):
        answer = await station.send_raw(json.dumps([2, bad_id, "Heartbeat", {}]))
        assert answer[:3] == [4, "-1", frame_code(version)], bad_id
    ok_id = "y" * 36
    answer = await station.send_raw(json.dumps([2, ok_id, "Heartbeat", {}]))
    assert answer[:2] == [3, ok_id]


async def test_null_payload_is_an_empty_payload_on_ocpp16(hub):
    station = await hub.station("CS-NULL-16", V16)
    answer = await station.send_raw('[2,"n-1","Heartbeat",null]')
    assert answer[:2] == [3, "n-1"]
    assert answer[2]["currentTime"].endswith("Z")
    # A payload that is neither an object nor null is still refused.
    assert (await station.send_raw('[2,"n-2","Heartbeat",[]]'))[:3] == [
        4,
        "n-2",
        "FormationViolation",
    ]


async def test_ocpp201_payload_must_be_an_object_and_unknown_message_types_are_named(hub):
    station = await hub.station("CS-NULL-201", V201)
    answer = await station.send_raw('[2,"n-1","Heartbeat",null]')
    assert answer[:3] == [4, "n-1", "FormatViolation"]
    unknown = await station.send_raw('[7,"n-2","Heartbeat",{}]')
    assert unknown[:3] == [4, "n-2", "MessageTypeNotSupported"]
    assert (await station.send_raw('[6,"n-3"]'))[:3] == [4, "n-3", "MessageTypeNotSupported"]
    assert (await station.call("Heartbeat", {}))[0] == 3


async def test_unknown_message_type_on_ocpp16_is_a_formation_violation(hub):
    station = await hub.station("CS-ENUM-16", V16)
    unknown = await station.send_raw('[7,"e-0","Heartbeat",{}]')
    assert unknown[:3] == [4, "e-0", "FormationViolation"]


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_invalid_enum_values_are_property_constraint_violations(hub, version):
    station_id = f"CS-ENUM-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    if version == V16:
        payload = {"connectorId": 1, "errorCode": "NoError", "status": "Exploded"}
    else:
        payload = {
            "timestamp": "2026-11-24T10:00:00Z",
            "connectorStatus": "Exploded",
            "evseId": 1,
            "connectorId": 1,
        }
    answer = await station.call("StatusNotification", payload)
    assert answer[0] == 4
    assert answer[2] == "PropertyConstraintViolation"
    assert (await station.call("Heartbeat", {}))[0] == 3


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_frames_above_the_size_limit_are_refused_and_not_logged_in_full(hub, version):
    station_id = f"CS-SIZE-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    log_before = hub.log.stat().st_size
    big = json.dumps([2, "big-1", "DataTransfer", {"vendorId": "x", "data": "d" * 10_000_000}])
    answer = await station.send_raw(big)
    assert answer[:3] == [4, "big-1", frame_code(version)]
    assert "65536" in answer[3]
    # Just below the limit (64 KiB by default) is an ordinary frame.
    near = json.dumps([2, "big-2", "DataTransfer", {"vendorId": "x", "data": "d" * 60_000}])
    answer = await station.send_raw(near)
    assert answer[:2] == [3, "big-2"]
    assert (await station.call("Heartbeat", {}))[0] == 3
    written = hub.log.stat().st_size - log_before
    figures.info(
        f"{station_id}: {written} bytes of log for a 10 MB frame, a 60 KB frame and a heartbeat"
    )
    assert written < 10_000, written


@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_repeated_warnings_of_a_station_are_rate_limited(hub, version):
    station_id = f"CS-FUZZ-{'16' if version == V16 else '201'}"
    station = await hub.station(station_id, version)
    garbage = ["not json", "[", "{}", "[2]", '[2,"f",1,{}]', '"x"', "[true]", "[2,1,2,3,4,5]"]
    for i in range(2_000):
        answer = await station.send_raw(garbage[i % len(garbage)])
        assert answer[0] == 4
    for i in range(200):
        answer = await station.call("MakeCoffee", {"cup": i})
        assert answer[2] == "NotImplemented"
    assert (await station.call("Heartbeat", {}))[0] == 3
    warnings = hub.warnings(station_id)
    figures.info(f"{station_id}: {len(warnings)} warning lines for 2,200 bad frames")
    # One line per kind (malformed frame, unknown action) within the interval.
    assert len(warnings) == 2, warnings
    assert any(re.search(r"malformed", line) for line in warnings)


@pytest.mark.db
@pytest.mark.parametrize("version", [V16, V201], ids=["1.6", "2.0.1"])
async def test_nul_and_lone_surrogates_are_refused_on_both_engines(database_url, tmp_path, version):
    station_id = f"CS-NUL-{'16' if version == V16 else '201'}"
    async with own_hub(database_url, tmp_path / "hub.log") as hub:
        station = await hub.station(station_id, version)
        for vendor in ("ven\\u0000dor", "ven\\ud800dor", "ven\\udfffdor"):
            if version == V16:
                raw = (
                    f'[2,"b-1","BootNotification",{{"chargePointVendor":"{vendor}",'
                    f'"chargePointModel":"M"}}]'
                )
            else:
                raw = (
                    f'[2,"b-1","BootNotification",{{"reason":"PowerUp","chargingStation":'
                    f'{{"vendorName":"{vendor}","model":"M"}}}}]'
                )
            answer = await station.send_raw(raw)
            assert answer[:3] == [4, "b-1", "PropertyConstraintViolation"], answer
        if version == V16:
            boot = {"chargePointVendor": "SMILE", "chargePointModel": "M"}
        else:
            boot = {"reason": "PowerUp", "chargingStation": {"vendorName": "SMILE", "model": "M"}}
        # A proper pair of surrogates is an ordinary character (U+1F600).
        answer = await station.send_raw(
            json.dumps([2, "b-2", "BootNotification", boot]).replace("SMILE", "\\ud83d\\ude00")
        )
        assert answer[0] == 3, answer
        assert answer[2]["status"] == "Accepted"
        text = hub.log.read_text()
        assert "Traceback" not in text
        assert "InternalError" not in text
