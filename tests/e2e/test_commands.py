"""eMSP commands end to end: an independent eMSP on 127.0.0.1 POSTs commands to the in-process
hub over HTTP, raw-frame OCPP 1.6 and 2.0.1 chargers answer the calls over real websockets, and
the results arrive at the eMSP's ``response_url``. The command runner (forwarding its calls to
the hub process holding the sockets) and the push worker are driven by the test, one round at a
time, so nothing is raced. Both engines."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.ocpp.command_runner import CommandRunner
from hub.persistence.session import session_scope
from hub.persistence.tables import PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.commands import booted_charger, carry_out, deliver_everything, hub_with_runner
from tests.support.emsp import EmspPeer, token_header
from tests.support.inprocess_hub import InProcessHub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
A, B = ("US", "EMA"), ("US", "EMB")
STAMP = "2026-11-24T10:05:00Z"


def site() -> dict:
    location = network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None)]
    )
    for evse in location["evses"]:
        evse["capabilities"] = ["REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE", "RESERVABLE"]
    return location


def app_token(party: tuple[str, str] = A, uid: str = "APP-1") -> dict[str, Any]:
    return {
        "country_code": party[0],
        "party_id": party[1],
        "uid": uid,
        "type": "APP_USER",
        "contract_id": f"{party[0]}-{party[1]}-C{uid}",
        "issuer": "Automaker app",
        "valid": True,
        "whitelist": "NEVER",
        "last_updated": "2026-11-01T00:00:00Z",
    }


@dataclass
class World:
    hub: InProcessHub
    runner: CommandRunner
    emsp_a: EmspPeer
    emsp_b: EmspPeer
    tokens: dict[str, str] = field(default_factory=dict)

    def peer(self, emsp: str) -> EmspPeer:
        return self.emsp_a if emsp == "a" else self.emsp_b

    async def command(self, emsp: str, command: str, body: dict[str, Any]) -> dict[str, Any]:
        """The eMSP POSTs ``command``; returns the whole envelope the hub answered."""
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                f"{self.hub.url}/ocpi/2.2.1/commands/{command}",
                json=body,
                headers=token_header(self.tokens[emsp]),
            )
        assert response.status_code in (200, 404), response.text
        return dict(response.json())

    async def start(self, ref: str, emsp: str = "a", **fields: Any) -> dict[str, Any]:
        body = {
            "response_url": self.peer(emsp).command_url("START_SESSION", ref),
            "token": app_token(A if emsp == "a" else B),
            "location_id": "SITE",
            "evse_uid": "SITE-E1",
            "authorization_reference": f"REF-{ref}",
            **fields,
        }
        return await self.command(emsp, "START_SESSION", body)

    async def deliver(self) -> None:
        await deliver_everything(self.hub.sessions)

    async def carry_out(self, station: RawStation | None = None, answer: Any = None) -> Any:
        """One runner round; ``station`` answers the call it gets with ``answer``. Returns the
        call frame the station received (None without a station)."""
        if station is None:
            await carry_out(self.runner)
            return None
        _, frame = await asyncio.gather(carry_out(self.runner), station.answer_next_call(answer))
        return frame


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    with contextlib.ExitStack() as stack:
        peers = {}
        for name in ("a", "b"):
            peer = EmspPeer()
            peer.base_url = stack.enter_context(asgi_server(peer.app()))
            peer.issued[f"token-for-emsp-{name}"] = "C"
            peers[name] = peer
        async with hub_with_runner(database_url) as (hub, runner):
            await add_parties(hub.sessions)
            async with session_scope(hub.sessions) as session:
                await TariffService(session).import_tariffs(
                    parse_tariffs_json(json.dumps([network.tariff("T-DC", price="0.48")]))
                )
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site()]))
                )
                for station_id in ("CS-16", "CS-201"):
                    await StationService(session).add(station_id, PASSWORD)
            world = World(hub, runner, peers["a"], peers["b"])
            for name, party in (("a", A), ("b", B)):
                _, world.tokens[name] = await register_partner(
                    hub.sessions,
                    f"emsp-{name}",
                    party,
                    base_url=f"{peers[name].base_url}/ocpi/2.2.1",
                    modules=("locations", "tariffs", "sessions", "cdrs"),
                )
            await world.deliver()
            hub.clock.now = datetime(2026, 11, 24, 10, 45, tzinfo=UTC)
            yield world


def charger(
    world: World, station_id: str, subprotocol: str
) -> contextlib.AbstractAsyncContextManager[RawStation]:
    return booted_charger(world.hub, station_id, PASSWORD, subprotocol)


def results(peer: EmspPeer, ref: str) -> list[str]:
    return [body["result"] for body in peer.command_results.get(ref, [])]


async def test_an_app_start_and_stop_on_a_16_charger_bill_the_emsps_driver(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        answer = await world.start("s1")
        assert answer["status_code"] == 1000
        assert answer["data"]["result"] == "ACCEPTED"
        assert answer["data"]["timeout"] == 180
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2] == "RemoteStartTransaction"
        assert frame[3] == {"idTag": "APP-1", "connectorId": 1}
        await world.deliver()
        assert results(world.emsp_a, "s1") == []  # ACCEPTED once the charge runs

        started = await station.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "APP-1", "meterStart": 0, "timestamp": STAMP},
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"
        await world.deliver()
        assert results(world.emsp_a, "s1") == ["ACCEPTED"]
        (session,) = world.emsp_a.sessions.values()
        assert session["auth_method"] == "COMMAND"
        assert session["authorization_reference"] == "REF-s1"
        assert session["cdr_token"]["uid"] == "APP-1"
        assert session["cdr_token"]["type"] == "APP_USER"

        stop = await world.command(
            "a",
            "STOP_SESSION",
            {
                "response_url": world.emsp_a.command_url("STOP_SESSION", "t1"),
                "session_id": session["id"],
            },
        )
        assert stop["data"]["result"] == "ACCEPTED"
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2:] == [
            "RemoteStopTransaction",
            {"transactionId": started[2]["transactionId"]},
        ]
        await station.call(
            "StopTransaction",
            {
                "transactionId": started[2]["transactionId"],
                "meterStop": 20000,
                "timestamp": "2026-11-24T10:35:00Z",
                "reason": "Remote",
            },
        )
    await world.deliver()
    assert results(world.emsp_a, "t1") == ["ACCEPTED"]
    (cdr,) = world.emsp_a.cdrs.values()
    assert (cdr["auth_method"], cdr["authorization_reference"]) == ("COMMAND", "REF-s1")
    assert cdr["total_cost"]["excl_vat"] == 9.6  # 20 kWh x 0.48
    assert world.emsp_b.command_results == {}
    assert world.emsp_b.sessions == world.emsp_b.cdrs == {}


async def test_a_201_start_is_found_again_by_our_remote_start_id(world: World):
    async with charger(world, "CS-201", "ocpp2.0.1") as station:
        answer = await world.start("s2", evse_uid="SITE-E3")
        assert answer["data"]["result"] == "ACCEPTED"
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2] == "RequestStartTransaction"
        remote_start_id = frame[3]["remoteStartId"]
        assert frame[3]["idToken"] == {"idToken": "APP-1", "type": "Central"}
        assert frame[3]["evseId"] == 1
        event = {
            "eventType": "Started",
            "timestamp": STAMP,
            "triggerReason": "RemoteStart",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-9", "remoteStartId": remote_start_id},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "APP-1", "type": "Central"},
        }
        answered = await station.call("TransactionEvent", event)
        assert answered[2]["idTokenInfo"]["status"] == "Accepted"
    await world.deliver()
    assert results(world.emsp_a, "s2") == ["ACCEPTED"]
    (session,) = world.emsp_a.sessions.values()
    assert (session["auth_method"], session["authorization_reference"]) == ("COMMAND", "REF-s2")


async def test_refusals_timeouts_and_a_start_that_never_becomes_a_charge(world: World):
    # Offline charger: refused at once, nothing queued.
    offline = await world.start("off")
    assert offline["data"]["result"] == "REJECTED"
    assert "offline" in offline["data"]["message"][0]["text"]
    async with charger(world, "CS-16", "ocpp1.6") as station:
        # The charger refuses the remote start.
        await world.start("no")
        await world.carry_out(station, {"status": "Rejected"})
        # The charger does not answer at all (the call times out).
        await world.start("mute", evse_uid="SITE-E2")
        await carry_out(world.runner)
        (frame,) = [json.loads(await station.socket.recv())]  # sent, never answered
        assert frame[2] == "RemoteStartTransaction"
        # Accepted, but no car is ever plugged in.
        await world.start("nocar")
        await world.carry_out(station, {"status": "Accepted"})
        world.hub.clock.advance(181)
        await world.carry_out()
        # A stop for a session of another eMSP, and for none at all.
        theirs = await world.command(
            "b",
            "STOP_SESSION",
            {"response_url": world.emsp_b.command_url("STOP_SESSION", "x"), "session_id": "NOPE"},
        )
        assert theirs["data"]["result"] == "UNKNOWN_SESSION"
    await world.deliver()
    assert results(world.emsp_a, "off") == []
    assert results(world.emsp_a, "no") == ["FAILED"]
    assert results(world.emsp_a, "mute") == ["TIMEOUT"]
    assert results(world.emsp_a, "nocar") == ["TIMEOUT"]
    assert world.emsp_a.sessions == {}


async def test_unlock_connector(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        answer = await world.command(
            "a",
            "UNLOCK_CONNECTOR",
            {
                "response_url": world.emsp_a.command_url("UNLOCK_CONNECTOR", "u1"),
                "location_id": "SITE",
                "evse_uid": "SITE-E2",
                "connector_id": "1",
            },
        )
        assert (answer["data"]["result"], answer["data"]["timeout"]) == ("ACCEPTED", 45)
        frame = await world.carry_out(station, {"status": "Unlocked"})
        assert frame[2:] == ["UnlockConnector", {"connectorId": 2}]
    await world.deliver()
    assert results(world.emsp_a, "u1") == ["ACCEPTED"]


@pytest.mark.parametrize(
    ("command", "body", "status_code", "words"),
    [
        ("START_SESSION", {"location_id": "NOPE"}, 2003, "Unknown location 'NOPE'"),
        ("START_SESSION", {"evse_uid": "SITE-E9"}, 2003, "evse_uid 'SITE-E9'"),
        ("START_SESSION", {"evse_uid": None, "connector_id": "1"}, 2001, "evse_uid"),
        ("START_SESSION", {"response_url": None}, 2001, "response_url"),
        ("REBOOT", {}, 2001, "REBOOT"),
    ],
)
async def test_bad_commands_get_ocpi_errors_and_nothing_is_sent(
    world: World, command: str, body: dict[str, Any], status_code: int, words: str
):
    full = {
        "response_url": world.emsp_a.command_url(command, "bad"),
        "token": app_token(),
        "location_id": "SITE",
        "evse_uid": "SITE-E1",
        **body,
    }
    full = {k: v for k, v in full.items() if v is not None}
    async with charger(world, "CS-16", "ocpp1.6") as station:
        answer = await world.command("a", command, full)
        assert answer["status_code"] == status_code, answer
        assert words in answer["status_message"]
        assert await carry_out(world.runner) == 0
        # Nothing reached the charger: the next frame it reads is the Heartbeat's answer.
        assert (await station.call("Heartbeat", {}))[0] == 3
    await world.deliver()
    assert world.emsp_a.command_results == {}


async def test_a_command_result_is_retried_until_the_emsp_takes_it(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await world.start("r1")
        world.emsp_a.push_mode = "fail"
        await world.carry_out(station, {"status": "Rejected"})
        await world.deliver()
        assert results(world.emsp_a, "r1") == []
        world.emsp_a.push_mode = "ok"
        # The retry is due after the backoff: the worker's clock is the wall clock here, so the
        # job is made due by moving it, not by sleeping.
        async with session_scope(world.hub.sessions) as session:
            await session.execute(
                update(PushJob).values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        await world.deliver()
    assert results(world.emsp_a, "r1") == ["FAILED"]
