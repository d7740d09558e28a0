"""Two nodes on loopback, as behind a load balancer: two ``hub serve`` processes on different
ports against one PostgreSQL database, a station connected to each. A command node A accepts
for the station on node B reaches it (node B's command runner is off, so node A makes the call
and must forward it to B); the status changes reported on both nodes reach the eMSP once each,
whichever node's push worker sent them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_locations_push import HubProcess, Setup, eventually, hub_env, setup
from tests.e2e.test_workers import PASSWORD, nodes
from tests.fixtures import network
from tests.support.emsp import token_header
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["hub_env", "setup"]

LOCATION = ("US", "HPC", "NODES")
# (connector status as the charger says it, as the eMSP must see it), in order.
CHANGES = [("Charging", "CHARGING"), ("Available", "AVAILABLE"), ("Faulted", "OUTOFORDER")] * 2


def second_node(setup: Setup, tmp: Path, **settings: str) -> HubProcess:
    port = free_port()
    return HubProcess(
        {
            **setup.env,
            "HUB_SERVER__PORT": str(port),
            # Behind a load balancer both nodes answer at one public URL: node A's here.
            "HUB_OCPI__PUBLIC_URL": setup.hub.url,
            "HUB_OCPP__NODE_URL": f"http://127.0.0.1:{port}",
            **settings,
        },
        tmp / "node-b.log",
    )


async def boot(url: str, station_id: str) -> RawStation:
    station = await RawStation.connect(
        url.replace("http://", "ws://"), station_id, PASSWORD, ["ocpp1.6"]
    )
    booted = await station.call(
        "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}
    )
    assert booted[2]["status"] == "Accepted"
    return station


def unlock(setup: Setup, evse_uid: str, ref: str = "u-b") -> dict:
    response = httpx.post(
        f"{setup.hub.url}/ocpi/2.2.1/commands/UNLOCK_CONNECTOR",
        json={
            "response_url": setup.emsp.command_url("UNLOCK_CONNECTOR", ref),
            "location_id": "NODES",
            "evse_uid": evse_uid,
            "connector_id": "1",
        },
        headers=token_header(setup.emsp.hub_token or ""),
        timeout=10,
    )
    return dict(response.json())


def status_at_emsp(setup: Setup) -> dict[str, str]:
    location = setup.emsp.locations.get(LOCATION, {})
    return {evse["uid"]: evse["status"] for evse in location.get("evses", [])}


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
def test_two_nodes_share_one_database_forward_calls_and_deliver_each_change_once(
    setup: Setup, tmp_path: Path
):
    location = network.linked_location("NODES", [("CS-A", None, 1), ("CS-B", None, 1)])
    for evse in location["evses"]:
        evse["capabilities"] = ["UNLOCK_CAPABLE"]
    setup.import_network([location], [network.tariff("T-DC", price="0.40")])
    for station_id in ("CS-A", "CS-B"):
        setup.cli("chargers", "add", station_id, "--password", PASSWORD)
    eventually(lambda: len(status_at_emsp(setup)) == 2, what="the location at the eMSP")
    node_b = second_node(setup, tmp_path, HUB_COMMANDS__RUNNER="false")
    node_b.start()
    try:

        async def scenario() -> None:
            on_a = await boot(setup.hub.url, "CS-A")
            on_b = await boot(node_b.url, "CS-B")
            try:
                assert nodes(setup) == {"CS-A": setup.hub.url, "CS-B": node_b.url}
                answer = unlock(setup, "NODES-E2")
                assert (answer["status_code"], answer["data"]["result"]) == (1000, "ACCEPTED")
                frame = await on_b.answer_next_call({"status": "Unlocked"})
                assert frame[2:] == ["UnlockConnector", {"connectorId": 1}]
                for minute, (ocpp_status, _) in enumerate(CHANGES):
                    for station in (on_a, on_b):
                        notified = await station.call(
                            "StatusNotification",
                            {
                                "connectorId": 1,
                                "errorCode": "NoError",
                                "status": ocpp_status,
                                "timestamp": f"2026-12-02T10:{minute:02}:00Z",
                            },
                        )
                        assert notified[0] == 3
            finally:
                await on_a.close()
                await on_b.close()

        asyncio.run(scenario())
        eventually(
            lambda: setup.emsp.command_results.get("u-b", [{}])[0].get("result") == "ACCEPTED",
            what="the unlock's result",
        )
        final = CHANGES[-1][1]
        eventually(
            lambda: status_at_emsp(setup) == {"NODES-E1": final, "NODES-E2": final},
            what="the last status of both EVSEs at the eMSP",
        )
        patches = [
            (p.path, json.dumps(p.body, sort_keys=True))
            for p in setup.emsp.pushes("PATCH", "/ocpi/2.2.1/locations")
        ]
        assert patches, "no PATCH reached the eMSP"
        repeated = [patch for patch, count in Counter(patches).items() if count > 1]
        assert repeated == []
        # Each EVSE's changes arrived in the order the charger reported them (a newer PATCH may
        # supersede an undelivered older one, never the other way round).
        reported = [emsp_status for _, emsp_status in CHANGES]
        for evse_uid in ("NODES-E1", "NODES-E2"):
            seen = [
                json.loads(body)["status"]
                for path, body in patches
                if path.endswith(f"/{evse_uid}") and "status" in json.loads(body)
            ]
            assert seen[-1:] == [final], seen
            remaining = iter(reported)
            assert all(status in remaining for status in seen), (seen, reported)
        assert len(setup.emsp.command_results["u-b"]) == 1  # one result, from one node
    finally:
        node_b.stop()


NEVER_POLL = {
    "HUB_PUSH__POLL_INTERVAL_SECONDS": "3600",
    "HUB_COMMANDS__POLL_INTERVAL_SECONDS": "3600",
}


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
@pytest.mark.parametrize("hub_env", [{**NEVER_POLL, "HUB_COMMANDS__RUNNER": "false"}])
def test_work_queued_by_another_process_is_picked_up_at_once_without_polling(
    setup: Setup, tmp_path: Path
):
    """No process polls within the test: only the database's notifications can wake them."""
    location = network.linked_location("NODES", [("CS-A", None, 1)])
    location["evses"][0]["capabilities"] = ["UNLOCK_CAPABLE"]
    # Queued by the operator's command, a process of its own: node A's worker is told.
    setup.import_network([location], [network.tariff("T-DC", price="0.40")])
    setup.cli("chargers", "add", "CS-A", "--password", PASSWORD)
    eventually(lambda: len(status_at_emsp(setup)) == 1, what="the location at the eMSP")
    node_b = second_node(setup, tmp_path, **NEVER_POLL, HUB_COMMANDS__RUNNER="true")
    node_b.start()
    try:

        async def scenario() -> None:
            station = await boot(setup.hub.url, "CS-A")
            try:
                # Node A takes the command but runs no runner: node B's runner is told, and
                # calls the station through node A, which holds its socket.
                answer = unlock(setup, "NODES-E1", "u-n")
                assert (answer["status_code"], answer["data"]["result"]) == (1000, "ACCEPTED")
                frame = await station.answer_next_call({"status": "Unlocked"})
                assert frame[2:] == ["UnlockConnector", {"connectorId": 1}]
            finally:
                await station.close()

        asyncio.run(scenario())
        eventually(
            lambda: (
                [r["result"] for r in setup.emsp.command_results.get("u-n", [])] == ["ACCEPTED"]
            ),
            what="the unlock's result",
        )
    finally:
        node_b.stop()
