"""Charging profiles end to end: an independent eMSP sets a profile on its driver's session with
a real HTTP PUT, reads the composite schedule back with GET and clears it with DELETE, on a
raw-frame OCPP 1.6 and a 2.0.1 charger over real websockets; each result arrives at the eMSP's
``response_url``, and the profile as set at its ChargingProfiles Sender endpoint. The command
runner and the push worker are driven by the test (one round at a time), so nothing is raced.
Refused requests reach no charger. Both engines."""

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
from sqlmodel import col, select

from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.ocpp.command_runner import CommandRunner
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession, Command, Partner, SessionChargingProfile
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
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
CARD_A, CARD_B = "04A1B2C3D4", "04B1B2C3D4"
PROFILE = {
    "charging_rate_unit": "W",
    "min_charging_rate": 1400.5,
    "charging_profile_period": [
        {"start_period": 0, "limit": 22000},
        {"start_period": 1800, "limit": 11000.5},
    ],
}


def site() -> dict:
    location = network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None)]
    )
    for index in (0, 2):  # CS-16 connector 2 cannot take profiles
        location["evses"][index]["capabilities"] = [
            "REMOTE_START_STOP_CAPABLE",
            "CHARGING_PROFILE_CAPABLE",
        ]
    return location


@dataclass
class World:
    hub: InProcessHub
    runner: CommandRunner
    emsp_a: EmspPeer
    emsp_b: EmspPeer
    tokens: dict[str, str] = field(default_factory=dict)

    def peer(self, emsp: str) -> EmspPeer:
        return self.emsp_a if emsp == "a" else self.emsp_b

    async def ask(
        self,
        emsp: str,
        method: str,
        session_id: str,
        ref: str,
        headers: dict[str, str] | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """The eMSP's request to the hub's Receiver (results to its ``ref``); returns the
        envelope. ``headers``: more request headers (OCPI-to-*)."""
        response_url = self.peer(emsp).command_url("chargingprofile", ref)
        url = f"{self.hub.url}/ocpi/2.2.1/chargingprofiles/{session_id}"
        body = None
        if method == "PUT":
            body = {
                "charging_profile": params.pop("profile", PROFILE),
                "response_url": response_url,
            }
        else:
            params["response_url"] = response_url
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.request(
                method,
                url,
                params=params,
                json=body,
                headers={**token_header(self.tokens[emsp]), **(headers or {})},
            )
        return dict(response.json())

    async def carried_out(self, station: RawStation, answer: dict[str, Any]) -> list[Any]:
        """One runner round while the charger answers the CALL it gets; returns that CALL."""
        round_ = asyncio.create_task(carry_out(self.runner))
        frame = await station.answer_next_call(answer)
        assert await round_ == 1
        return frame

    async def deliver(self) -> None:
        await deliver_everything(self.hub.sessions)

    async def newest_session(self) -> ChargingSession:
        async with session_scope(self.hub.sessions) as session:
            rows = await session.execute(
                select(ChargingSession).order_by(col(ChargingSession.id).desc()).limit(1)
            )
            return rows.scalar_one()

    async def held(self) -> list[SessionChargingProfile]:
        async with session_scope(self.hub.sessions) as session:
            return list((await session.execute(select(SessionChargingProfile))).scalars())

    async def commands(self) -> list[Command]:
        async with session_scope(self.hub.sessions) as session:
            return list(
                (await session.execute(select(Command).order_by(col(Command.id)))).scalars()
            )


async def _token(hub: InProcessHub, partner_id: int, party: tuple[str, str], uid: str) -> None:
    async with session_scope(hub.sessions) as session:
        await TokenService(session).put(
            partner_id,
            TokenRecord(
                key=TokenKey(*party, uid, TokenType.RFID),
                contract_id=f"{party[0]}-{party[1]}-C{uid[:6]}",
                issuer="eMSP",
                valid=True,
                whitelist=WhitelistType.ALWAYS,
                last_updated=datetime(2026, 11, 1, tzinfo=UTC),
            ),
        )


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
            world = World(hub, runner, peers["a"], peers["b"])
            async with session_scope(hub.sessions) as session:
                await TariffService(session).import_tariffs(
                    parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
                )
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site()]))
                )
                for station_id in ("CS-16", "CS-201"):
                    await StationService(session).add(station_id, PASSWORD)
            for name, party, card in (("a", A, CARD_A), ("b", B, CARD_B)):
                base = f"{peers[name].base_url}/ocpi/2.2.1"
                partner_id, world.tokens[name] = await register_partner(
                    hub.sessions, f"emsp-{name}", party, base_url=base, modules=()
                )
                async with session_scope(hub.sessions) as session:
                    partner = await session.get(Partner, partner_id)
                    assert partner is not None
                    partner.endpoints = [
                        *partner.endpoints,
                        {
                            "identifier": "chargingprofiles",
                            "role": "SENDER",
                            "url": f"{base}/chargingprofiles",
                        },
                    ]
                await _token(hub, partner_id, party, card)
            hub.clock.now = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
            yield world


def charger(
    world: World, station_id: str, subprotocol: str
) -> contextlib.AbstractAsyncContextManager[RawStation]:
    return booted_charger(world.hub, station_id, PASSWORD, subprotocol)


async def disconnected(hub: InProcessHub, station_id: str) -> None:
    """Wait until the hub has recorded the closed socket (it does so after the close)."""
    for _ in range(500):
        async with session_scope(hub.sessions) as session:
            if (await StationService(session).get(station_id)).connected_node is None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the hub did not record {station_id} disconnected")


async def start_16(station: RawStation, connector_id: int = 1, card: str = CARD_A) -> int:
    started = await station.call(
        "StartTransaction",
        {
            "connectorId": connector_id,
            "idTag": card,
            "meterStart": 0,
            "timestamp": "2026-11-24T10:00:00Z",
        },
    )
    assert started[2]["idTagInfo"]["status"] == "Accepted"
    return int(started[2]["transactionId"])


async def start_201(station: RawStation, card: str = CARD_A) -> None:
    answer = await station.call(
        "TransactionEvent",
        {
            "eventType": "Started",
            "timestamp": "2026-11-24T10:00:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-201"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": card, "type": "ISO14443"},
        },
    )
    assert answer[0] == 3
    assert answer[2]["idTokenInfo"]["status"] == "Accepted"


async def test_a_profile_on_a_16_charger_is_set_read_back_and_cleared(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        transaction_id = await start_16(station)
        charge = await world.newest_session()

        put = await world.ask("a", "PUT", charge.session_id, "set-16")
        assert put["status_code"] == 1000
        assert put["data"] == {"result": "ACCEPTED", "timeout": 45}
        call = await world.carried_out(station, {"status": "Accepted"})
        assert call[2] == "SetChargingProfile"
        assert call[3] == {
            "connectorId": 1,
            "csChargingProfiles": {
                "chargingProfileId": charge.id,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Relative",
                "transactionId": transaction_id,
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 22000},
                        {"startPeriod": 1800, "limit": 11000.5},
                    ],
                    "minChargingRate": 1400.5,
                },
            },
        }
        await world.deliver()
        assert world.emsp_a.command_results["set-16"] == [{"result": "ACCEPTED"}]
        # The eMSP set a profile: it hears the ActiveChargingProfile at its Sender interface.
        assert world.emsp_a.active_profiles[charge.session_id] == [
            {
                "start_date_time": "2026-11-24T10:00:00Z",
                "charging_profile": {**PROFILE, "start_date_time": "2026-11-24T10:00:00Z"},
            }
        ]

        get = await world.ask("a", "GET", charge.session_id, "get-16", duration=900)
        assert get["data"]["result"] == "ACCEPTED"
        composite = {
            "status": "Accepted",
            "connectorId": 1,
            "scheduleStart": "2026-11-24T10:05:00Z",
            "chargingSchedule": {
                "duration": 900,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16500.0}],
            },
        }
        call = await world.carried_out(station, composite)
        assert call[2:] == [
            "GetCompositeSchedule",
            {"connectorId": 1, "duration": 900, "chargingRateUnit": "W"},
        ]
        await world.deliver()
        assert world.emsp_a.command_results["get-16"] == [
            {
                "result": "ACCEPTED",
                "profile": {
                    "start_date_time": "2026-11-24T10:05:00Z",
                    "charging_profile": {
                        "start_date_time": "2026-11-24T10:05:00Z",
                        "duration": 900,
                        "charging_rate_unit": "W",
                        "charging_profile_period": [{"start_period": 0, "limit": 16500}],
                    },
                },
            }
        ]

        delete = await world.ask("a", "DELETE", charge.session_id, "clear-16")
        assert delete["data"]["result"] == "ACCEPTED"
        call = await world.carried_out(station, {"status": "Accepted"})
        assert call[2:] == ["ClearChargingProfile", {"id": charge.id}]
        await world.deliver()
        assert world.emsp_a.command_results["clear-16"] == [{"result": "ACCEPTED"}]
    (held,) = await world.held()
    assert (held.session_ref, held.status) == (charge.id, "CLEARED")
    assert world.emsp_b.command_results == {}
    assert world.emsp_b.active_profiles == {}


async def test_a_profile_on_a_201_charger_is_set_read_back_and_cleared(world: World):
    async with charger(world, "CS-201", "ocpp2.0.1") as station:
        await start_201(station)
        charge = await world.newest_session()
        # Its first period starts after 0: the schedule starts where it does.
        later = {**PROFILE, "charging_profile_period": [{"start_period": 600, "limit": 7000}]}
        put = await world.ask("a", "PUT", charge.session_id, "set-201", profile=later)
        assert put["data"]["result"] == "ACCEPTED"
        call = await world.carried_out(station, {"status": "Accepted"})
        assert call[2:] == [
            "SetChargingProfile",
            {
                "evseId": 1,
                "chargingProfile": {
                    "id": charge.id,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Absolute",
                    "validFrom": "2026-11-24T10:00:00Z",
                    "transactionId": "TX-201",
                    "chargingSchedule": [
                        {
                            "id": charge.id,
                            "startSchedule": "2026-11-24T10:10:00Z",
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
                            "minChargingRate": 1400.5,
                        }
                    ],
                },
            },
        ]

        await world.ask("a", "GET", charge.session_id, "get-201", duration=600)
        composite = {
            "status": "Accepted",
            "schedule": {
                "evseId": 1,
                "duration": 600,
                "scheduleStart": "2026-11-24T10:05:00Z",
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 22000},
                    {"startPeriod": 300, "limit": 6999.96},
                ],
            },
        }
        call = await world.carried_out(station, composite)
        assert call[2:] == [
            "GetCompositeSchedule",
            {"duration": 600, "evseId": 1, "chargingRateUnit": "W"},
        ]

        await world.ask("a", "DELETE", charge.session_id, "clear-201")
        call = await world.carried_out(station, {"status": "Unknown"})
        assert call[2:] == ["ClearChargingProfile", {"chargingProfileId": charge.id}]
    await world.deliver()
    results = world.emsp_a.command_results
    assert results["set-201"] == [{"result": "ACCEPTED"}]
    periods = results["get-201"][0]["profile"]["charging_profile"]["charging_profile_period"]
    assert periods == [
        {"start_period": 0, "limit": 22000},
        {"start_period": 300, "limit": 6999.9},  # a maximum: rounded down
    ]
    assert results["clear-201"] == [{"result": "UNKNOWN"}]
    (held,) = await world.held()
    assert held.status == "CLEARED"


async def test_refused_requests_are_answered_at_once_and_reach_no_charger(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await start_16(station, connector_id=2)  # an EVSE without CHARGING_PROFILE_CAPABLE
        not_capable = await world.newest_session()
        await start_16(station, connector_id=1, card=CARD_B)
        theirs = await world.newest_session()

        answers = {
            "unknown": await world.ask("a", "PUT", "NO-SUCH-SESSION", "r1"),
            "theirs": await world.ask("a", "PUT", theirs.session_id, "r2"),
            "theirs-get": await world.ask("a", "GET", theirs.session_id, "r3", duration=60),
            "theirs-clear": await world.ask("a", "DELETE", theirs.session_id, "r4"),
            "not-capable": await world.ask("a", "PUT", not_capable.session_id, "r5"),
        }
        results = {name: answer["data"]["result"] for name, answer in answers.items()}
        assert results == {
            "unknown": "UNKNOWN_SESSION",
            "theirs": "UNKNOWN_SESSION",
            "theirs-get": "UNKNOWN_SESSION",
            "theirs-clear": "UNKNOWN_SESSION",
            "not-capable": "NOT_SUPPORTED",
        }
        # A profile OCPP cannot carry is bad input, named; nothing is stored of it.
        empty = {**PROFILE, "charging_profile_period": []}
        bad = await world.ask("b", "PUT", theirs.session_id, "r6", profile=empty)
        assert bad["status_code"] == 2001
        assert "at least one period" in bad["status_message"]
    # Its socket closed and the offline delay passed: the charger is offline, refused at once.
    await disconnected(world.hub, "CS-16")
    world.hub.clock.advance(121)
    async with session_scope(world.hub.sessions) as session:
        offline_now = await StationService(session, clock=world.hub.clock).mark_silent_offline(
            disconnected_for=timedelta(seconds=120), silent_for=timedelta(seconds=900)
        )
    assert offline_now == ["CS-16"]
    offline = await world.ask("b", "PUT", theirs.session_id, "r7")
    assert offline["data"]["result"] == "REJECTED"
    assert await carry_out(world.runner) == 0
    assert station.calls_received == []
    commands = await world.commands()
    assert len(commands) == 6
    assert {c.state for c in commands} == {"FINISHED"}
    assert {c.result for c in commands} == {None}
    await world.deliver()
    assert world.emsp_a.command_results == world.emsp_b.command_results == {}
    assert await world.held() == []
