"""A command survives ``kill -9`` of the hub that took it: ``hub serve`` runs in a process of its
own, a raw-frame OCPP 1.6 charger and the eMSP are real peers on 127.0.0.1.

* Killed before it called the charger (its runner is off, so the command waits): the restarted
  hub calls the charger and the real result reaches the eMSP.
* Killed while the charger had the call and had not answered: whether the charger acted is
  unknown, so the restarted hub sends TIMEOUT at the declared deadline, once.

Both engines."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_locations_push import Setup, eventually, setup
from tests.fixtures import network
from tests.support.emsp import token_header
from tests.support.ocpp_raw import RawStation

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["setup"]  # the fixture: hub serve in its own process, a registered eMSP

PASSWORD = "station-password-0123"


@pytest.fixture
def hub_env() -> dict[str, str]:
    """START_SESSION's deadline, short: the second test waits for it."""
    return {"HUB_COMMANDS__START_SESSION_TIMEOUT_SECONDS": "4"}


def site() -> dict:
    location = network.linked_location("CRASH", [("CS-K", None, 1)])
    location["evses"][0]["capabilities"] = ["REMOTE_START_STOP_CAPABLE"]
    return location


def start_session(setup: Setup, ref: str) -> dict[str, Any]:
    body = {
        "response_url": setup.emsp.command_url("START_SESSION", ref),
        "token": {
            "country_code": "US",
            "party_id": "EMS",
            "uid": "APP-K",
            "type": "APP_USER",
            "contract_id": "US-EMS-CK",
            "issuer": "app",
            "valid": True,
            "whitelist": "NEVER",
            "last_updated": "2026-11-01T00:00:00Z",
        },
        "location_id": "CRASH",
        "evse_uid": "CRASH-E1",
    }
    response = httpx.post(
        f"{setup.hub.url}/ocpi/2.2.1/commands/START_SESSION",
        json=body,
        headers=token_header(setup.emsp.hub_token or ""),
        timeout=10,
    )
    assert response.json()["status_code"] == 1000, response.text
    return dict(response.json()["data"])


@contextlib.asynccontextmanager
async def connected(setup: Setup) -> AsyncIterator[RawStation]:
    station = await RawStation.connect(
        setup.hub.url.replace("http://", "ws://"), "CS-K", PASSWORD, ["ocpp1.6"]
    )
    try:
        await station.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        yield station
    finally:
        await station.close()


def results(setup: Setup, ref: str) -> list[str]:
    with setup.emsp.lock:
        return [body["result"] for body in setup.emsp.command_results.get(ref, [])]


def prepare(setup: Setup) -> None:
    setup.import_network([site()], [network.tariff("T-DC", price="0.40")])
    setup.cli("chargers", "add", "CS-K", "--password", PASSWORD)
    eventually(lambda: len(setup.emsp.locations) == 1, what="the location at the eMSP")


def test_a_command_taken_by_a_killed_hub_is_carried_out_by_the_next(setup: Setup):
    prepare(setup)
    setup.hub.stop()
    # A deadline the restart cannot miss (the fixture's short one is the second test's).
    patient = {
        **setup.env,
        "HUB_COMMANDS__START_SESSION_TIMEOUT_SECONDS": "180",
        # The restart may take long on a loaded machine: the charger is back after it.
        "HUB_COMMANDS__OFFLINE_GRACE_SECONDS": "180",
    }
    setup.hub.env = {**patient, "HUB_COMMANDS__RUNNER": "false"}
    setup.hub.start()

    async def scenario() -> None:
        async with connected(setup):
            assert start_session(setup, "k1")["result"] == "ACCEPTED"
            setup.hub.kill()  # the command is stored, nobody called the charger
        setup.hub.env = patient
        setup.hub.start()
        async with connected(setup) as station:
            frame = await station.answer_next_call({"status": "Accepted"})
            assert frame[2:] == ["RemoteStartTransaction", {"idTag": "APP-K", "connectorId": 1}]
            started = await station.call(
                "StartTransaction",
                {
                    "connectorId": 1,
                    "idTag": "APP-K",
                    "meterStart": 0,
                    "timestamp": "2026-11-24T10:00:00Z",
                },
            )
            assert started[2]["idTagInfo"]["status"] == "Accepted"

    asyncio.run(scenario())
    eventually(lambda: results(setup, "k1") == ["ACCEPTED"], what="the real result")
    # The result and the session are separate deliveries: neither waits for the other.
    eventually(lambda: len(setup.emsp.sessions) == 1, what="the session at the eMSP")
    (session,) = setup.emsp.sessions.values()
    assert session["auth_method"] == "COMMAND"


def test_a_call_in_flight_when_the_hub_is_killed_ends_as_one_timeout(setup: Setup):
    prepare(setup)

    async def scenario() -> None:
        async with connected(setup) as station:
            assert start_session(setup, "k2")["result"] == "ACCEPTED"
            frame = await station.next_call()
            assert frame[2] == "RemoteStartTransaction"  # the charger has the call...
            setup.hub.kill()  # ...and the hub dies before it answers

    asyncio.run(scenario())
    setup.hub.start()
    eventually(lambda: results(setup, "k2") == ["TIMEOUT"], what="the TIMEOUT result")
    commands = setup.cli("commands", "list")
    assert [(c["kind"], c["state"], c["result"]) for c in commands] == [
        ("START_SESSION", "FINISHED", "TIMEOUT")
    ]
    eventually(lambda: setup.cli("commands", "list")[0]["result_sent_at"] is not None)
    assert results(setup, "k2") == ["TIMEOUT"]
