"""Chargers of both OCPP versions over real websockets, mirrored to a real eMSP over HTTP.

The hub runs as ``hub serve`` in its own process; the stations are raw OCPP-J clients; the eMSP
test server registered through the credentials handshake and receives the pushes.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus

from tests.e2e.test_locations_push import (
    FAST_PUSH,
    HubProcess,
    serving_registered,
    statuses_at_emsp,
)
from tests.fixtures import network
from tests.support.emsp import EmspPeer
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port, hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

V16, V201 = ["ocpp1.6"], ["ocpp2.0.1"]
OCPP_ENV = {
    "HUB_OCPP__OFFLINE_AFTER_SECONDS": "1.5",
    "HUB_OCPP__HEARTBEAT_INTERVAL_SECONDS": "300",
    "HUB_OCPP__SWEEP_INTERVAL_SECONDS": "0.2",
    "HUB_OCPP__INTERNAL_TOKEN": "cluster-secret-for-tests",
    "HUB_OCPP__CALL_TIMEOUT_SECONDS": "10",
}
BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "HPC-350"}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "HPC-400"}}


def site() -> dict:
    location = network.location("SITE", evses=4)
    links = [("CS-201", 1, None), ("CS-201", 2, None), ("CS-16", None, 1), ("CS-16", None, 2)]
    for evse, (station, evse_id, connector_id) in zip(location["evses"], links, strict=True):
        evse["status"] = "UNKNOWN"
        evse["hub_ocpp"] = {
            "charging_station_id": station,
            "evse_id": evse_id,
            "connector_id": connector_id,
        }
    return location


def status_201(evse_id: int, status: str) -> dict:
    return {
        "timestamp": "2026-11-24T10:00:00Z",
        "connectorStatus": status,
        "evseId": evse_id,
        "connectorId": 1,
    }


def status_16(connector_id: int, status: str) -> dict:
    return {"connectorId": connector_id, "errorCode": "NoError", "status": status}


@dataclass
class Bench:
    hub: HubProcess
    emsp: EmspPeer
    env: dict[str, str]
    passwords: dict[str, str]
    opened: list[RawStation] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.hub.url.replace("http://", "ws://")

    async def station(self, station_id: str, subprotocols: list[str]) -> RawStation:
        station = await RawStation.connect(
            self.ws_url, station_id, self.passwords[station_id], subprotocols
        )
        self.opened.append(station)
        return station


@pytest.fixture
async def closing(bench: Bench) -> AsyncIterator[Bench]:
    """The bench, with every station socket a test opened closed afterwards (even on failure)."""
    yield bench
    for station in bench.opened:
        await station.close()


@pytest.fixture
def bench(database_url: str, tmp_path: Path) -> Iterator[Bench]:
    emsp = EmspPeer()
    env = {**hub_environment(database_url, free_port()), **FAST_PUSH, **OCPP_ENV}
    assert run_hub_cli(env, "parties", "add", "US", "HPC", "--name", "HPC").returncode == 0
    (tmp_path / "site.json").write_text(json.dumps([site()]))
    assert run_hub_cli(env, "locations", "import", str(tmp_path / "site.json")).returncode == 0
    passwords = {}
    for station_id in ("CS-201", "CS-16"):
        added = run_hub_cli(env, "chargers", "add", station_id, "--json")
        assert added.returncode == 0, added.stderr
        passwords[station_id] = json.loads(added.stdout)["password"]
    with serving_registered(env, emsp, tmp_path / "hub.log") as hub:
        yield Bench(hub, emsp, env, passwords)


def emsp_statuses(bench: Bench) -> dict[str, str]:
    return {uid.split("-")[-1]: s for uid, s in statuses_at_emsp(bench.emsp).items()}


async def wait_for(bench: Bench, expected: dict[str, str], within: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        current = emsp_statuses(bench)
        if all(current.get(k) == v for k, v in expected.items()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"eMSP has {emsp_statuses(bench)}, expected {expected}")


async def test_both_versions_boot_report_disconnect_and_return(closing: Bench):
    bench = closing
    cs201 = await bench.station("CS-201", ["ocpp2.0.1", "ocpp1.6"])
    assert cs201.subprotocol == "ocpp2.0.1"
    boot = await cs201.call("BootNotification", BOOT_201)
    assert boot[0] == 3
    assert boot[2]["status"] == "Accepted"
    assert boot[2]["interval"] == 300
    assert (await cs201.call("StatusNotification", status_201(1, "Occupied")))[0] == 3
    assert (await cs201.call("StatusNotification", status_201(2, "Available")))[0] == 3

    cs16 = await bench.station("CS-16", V16)
    assert cs16.subprotocol == "ocpp1.6"
    assert (await cs16.call("BootNotification", BOOT_16))[2]["status"] == "Accepted"
    await cs16.call("StatusNotification", status_16(1, "Available"))
    await cs16.call("StatusNotification", status_16(2, "Charging"))
    heartbeat = await cs16.call("Heartbeat", {})
    assert heartbeat[2]["currentTime"].endswith("Z")
    await wait_for(
        bench, {"E1": "CHARGING", "E2": "AVAILABLE", "E3": "AVAILABLE", "E4": "CHARGING"}
    )

    # Per EVSE the PATCHes arrived in the order of the changes.
    e1 = [r.body["status"] for r in bench.emsp.pushes("PATCH") if r.path.endswith("SITE-E1")]
    assert e1 == ["CHARGING"]
    await cs201.call("StatusNotification", status_201(1, "Available"))
    await cs201.call("StatusNotification", status_201(1, "Faulted"))
    await wait_for(bench, {"E1": "OUTOFORDER"})
    e1 = [r.body["status"] for r in bench.emsp.pushes("PATCH") if r.path.endswith("SITE-E1")]
    # A PATCH carries the state when it is sent, so a coalesced change may repeat the newest
    # status (idempotent); what matters is that no older status arrives after a newer one.
    distinct = [s for i, s in enumerate(e1) if i == 0 or s != e1[i - 1]]
    assert distinct in (["CHARGING", "AVAILABLE", "OUTOFORDER"], ["CHARGING", "OUTOFORDER"])

    # The 1.6 station drops off: after the offline delay its EVSEs are UNKNOWN; back again
    # when it reconnects, with the statuses it had reported.
    await cs16.close()
    await wait_for(bench, {"E3": "UNKNOWN", "E4": "UNKNOWN"})
    assert emsp_statuses(bench)["E2"] == "AVAILABLE"
    cs16 = await bench.station("CS-16", V16)
    await wait_for(bench, {"E3": "AVAILABLE", "E4": "CHARGING"})
    # A station-level fault takes every EVSE of the station out of order.
    await cs16.call("StatusNotification", status_16(0, "Faulted"))
    await wait_for(bench, {"E3": "OUTOFORDER", "E4": "OUTOFORDER"})
    await cs16.close()
    await cs201.close()


HANDSHAKE_REFUSALS = [
    ("wrong password", "CS-16", "wrong-password-000000", None, 401),
    ("unknown station", "CS-404", "whatever-password-0000", None, 404),
    ("another station's user", "CS-16", None, "CS-201", 401),
]


async def test_handshake_refusals(bench: Bench):
    # One hub process for the three cases (a process start costs seconds; the cases share
    # nothing). More handshake cases (missing password, subprotocols, backoff) are in
    # test_ocpp_handshake.py, against an in-process hub with an injected clock.
    answered = {}
    for case, station_id, password, user, _ in HANDSHAKE_REFUSALS:
        with pytest.raises(InvalidStatus) as refused:
            await RawStation.connect(
                bench.ws_url, station_id, password or bench.passwords["CS-16"], V16, user=user
            )
        answered[case] = refused.value.response.status_code
    assert answered == {case: status for case, *_, status in HANDSHAKE_REFUSALS}


async def test_bad_frames_get_call_errors_and_the_connection_stays_up(closing: Bench):
    bench = closing
    cs16 = await bench.station("CS-16", V16)
    not_json = await cs16.send_raw("this is not json")
    assert not_json[:3] == [4, "-1", "FormationViolation"]
    wrong_type = await cs16.call(
        "BootNotification", {"chargePointVendor": 1, "chargePointModel": "x"}
    )
    assert wrong_type[0] == 4
    assert wrong_type[2] == "TypeConstraintViolation"
    missing = await cs16.call("StatusNotification", {"connectorId": 1})
    assert missing[0] == 4
    assert missing[2] in {"ProtocolError", "OccurenceConstraintViolation"}
    unknown = await cs16.call("MakeCoffee", {})
    assert unknown[2] == "NotImplemented"
    csms_only = await cs16.call("RemoteStartTransaction", {"idTag": "X"})
    assert csms_only[2] == "NotSupported"
    authorize = await cs16.call("Authorize", {"idTag": "UNKNOWN-TAG"})
    assert authorize[2] == {"idTagInfo": {"status": "Invalid"}}
    data_transfer = await cs16.call("DataTransfer", {"vendorId": "acme"})
    assert data_transfer[2]["status"] == "UnknownVendorId"
    assert (await cs16.call("Heartbeat", {}))[0] == 3
    await cs16.close()

    cs201 = await bench.station("CS-201", V201)
    assert (await cs201.send_raw("[2,"))[:3] == [4, "-1", "RpcFrameworkError"]
    bad_payload = await cs201.call("Heartbeat", {"unexpected": True})
    assert bad_payload[2] == "FormatViolation"
    event = await cs201.call(
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": "2026-11-24T10:00:00Z",
            "triggerReason": "CablePluggedIn",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "T1"},
        },
    )
    assert event[0] == 3
    assert (
        await cs201.call(
            "NotifyEvent",
            {
                "generatedAt": "2026-11-24T10:00:00Z",
                "seqNo": 0,
                "eventData": [
                    {
                        "eventId": 1,
                        "timestamp": "2026-11-24T10:00:00Z",
                        "trigger": "Alerting",
                        "actualValue": "1",
                        "eventNotificationType": "HardWiredNotification",
                        "component": {"name": "Connector"},
                        "variable": {"name": "Problem"},
                    }
                ],
            },
        )
    )[0] == 3
    assert (await cs201.call("Heartbeat", {}))[0] == 3
    await cs201.close()


async def test_a_call_from_another_process_reaches_the_station(closing: Bench):
    bench = closing
    cs16 = await bench.station("CS-16", V16)
    await cs16.call("BootNotification", BOOT_16)
    result: dict = {}

    def operator() -> None:
        done = run_hub_cli(
            bench.env,
            "chargers",
            "call",
            "CS-16",
            "RemoteStartTransaction",
            '{"idTag": "TAG-1"}',
            "--json",
        )
        result["returncode"], result["stdout"], result["stderr"] = (
            done.returncode,
            done.stdout,
            done.stderr,
        )

    thread = threading.Thread(target=operator)
    thread.start()
    frame = await cs16.answer_next_call({"status": "Accepted"})
    await asyncio.get_running_loop().run_in_executor(None, thread.join)
    assert frame[2:] == ["RemoteStartTransaction", {"idTag": "TAG-1"}]
    assert result["returncode"] == 0, result["stderr"]
    assert json.loads(result["stdout"]) == {"status": "Accepted"}
    await cs16.close()
    offline = run_hub_cli(bench.env, "chargers", "call", "CS-16", "Reset", '{"type": "Soft"}')
    assert offline.returncode == 1
    assert "not connected" in offline.stderr
