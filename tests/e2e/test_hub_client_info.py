"""A roaming hub over real HTTP: it reports one of the eMSP parties behind it OFFLINE through
our Hub Client Info Receiver, the sessions and CDRs of that party's drivers wait while the
other party's go out, and once the hub reports the party CONNECTED they arrive, in order, with
that party in the routing headers. The in-process hub takes raw OCPP 1.6 charges; the push
worker is driven by the test (one round at a time). Both engines.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from hub.config import PushSettings
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.push import PushWorker
from hub.services.hub_client_info import HubClientInfoService
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.sync import SyncService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_hub
from tests.support.emsp import EmspPeer, Received, token_header
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
A, B = {"country_code": "US", "party_id": "EMA"}, {"country_code": "US", "party_id": "EMB"}
CARDS = {"EMA": "04A1B2C3D4", "EMB": "04B1B2C3D4"}


@dataclass
class World:
    hub: InProcessHub
    peer: EmspPeer
    """The roaming hub: our partner, the eMSP parties A and B behind it."""
    partner_id: int

    async def deliver(self) -> int:
        """Push rounds until nothing is due; returns the jobs handled."""
        handled = 0
        async with httpx.AsyncClient(timeout=10) as http:
            worker = PushWorker(self.hub.sessions, http, PushSettings(node="test"))
            try:
                while n := await worker.run_once():
                    handled += n
            finally:
                worker.close()
        return handled

    async def held(self) -> dict[str, int]:
        async with session_scope(self.hub.sessions) as session:
            return await HubClientInfoService(session).held(self.partner_id)

    def money_pushes(self, party_id: str) -> list[Received]:
        """Session and CDR requests the hub peer received for one of its parties."""
        return [
            r
            for r in self.peer.pushes()
            if ("/sessions/" in r.path or r.path.endswith("/cdrs"))
            and r.headers.get("ocpi-to-party-id") == party_id
        ]


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    peer = EmspPeer()
    with asgi_server(peer.app()) as peer_url:
        peer.base_url = peer_url
        peer.issued["token-for-roaming-hub"] = "C"  # how our platform calls the hub
        async with running_hub(database_url, sweep_interval_seconds=3600) as hub:
            await add_parties(hub.sessions)
            tariff = network.tariff("T-DC", price="0.48")
            tariff["last_updated"] = hub.clock().isoformat().replace("+00:00", "Z")
            site = network.linked_location("SITE", [("CS-16", None, 1), ("CS-16", None, 2)])
            async with session_scope(hub.sessions) as session:
                await TariffService(session).import_tariffs(
                    parse_tariffs_json(json.dumps([tariff]))
                )
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site]))
                )
                await StationService(session).add("CS-16", PASSWORD)
            partner_id, peer.hub_token = await register_hub(
                hub.sessions,
                "roaming-hub",
                clients=(("US", "EMA"), ("US", "EMB")),
                base_url=f"{peer_url}/ocpi/2.2.1",
            )
            async with session_scope(hub.sessions) as session:
                for party_id, card in CARDS.items():
                    await TokenService(session).put(
                        partner_id,
                        TokenRecord(
                            key=TokenKey("US", party_id, card, TokenType.RFID),
                            contract_id=f"US-{party_id}-C{card[:6]}",
                            issuer="eMSP",
                            valid=True,
                            whitelist=WhitelistType.ALWAYS,
                            last_updated=datetime(2026, 11, 1, tzinfo=UTC),
                        ),
                    )
            async with session_scope(hub.sessions) as session:
                await SyncService(session).resync(partner_id)  # as a new registration gets
            world = World(hub, peer, partner_id)
            await world.deliver()  # the network, broadcast through the hub
            hub.clock.now = datetime(2026, 11, 24, 10, 45, tzinfo=UTC)
            yield world


async def _charge(station: RawStation, connector_id: int, card: str, start: str, stop: str) -> None:
    started = await station.call(
        "StartTransaction",
        {"connectorId": connector_id, "idTag": card, "meterStart": 0, "timestamp": start},
    )
    assert started[2]["idTagInfo"]["status"] == "Accepted"
    stopped = await station.call(
        "StopTransaction",
        {
            "transactionId": started[2]["transactionId"],
            "meterStop": 10000,
            "timestamp": stop,
            "reason": "EVDisconnected",
        },
    )
    assert stopped[0] == 3


@contextlib.asynccontextmanager
async def charger(world: World) -> AsyncIterator[RawStation]:
    station = await RawStation.connect(world.hub.ws_url, "CS-16", PASSWORD, ["ocpp1.6"])
    try:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        assert (await station.call("BootNotification", boot))[2]["status"] == "Accepted"
        yield station
    finally:
        await station.close()


async def test_pushes_to_a_party_reported_offline_wait_and_arrive_once_it_is_connected(
    world: World,
):
    peer, hub_url = world.peer, world.hub.url
    broadcast = peer.pushes()
    assert broadcast
    assert {r.headers["ocpi-to-party-id"] for r in broadcast} == {"HUB"}  # broadcast push

    answer = peer.report_client_info(hub_url, A, "OFFLINE", "2026-11-24T09:00:00Z")
    assert answer.json()["status_code"] == 1000, answer.text
    async with httpx.AsyncClient(timeout=10) as http:
        url = f"{hub_url}/ocpi/2.2.1/hubclientinfo/US/EMA"
        stored = (await http.get(url, headers=token_header(peer.hub_token or ""))).json()
    assert stored["data"] == {
        **A,
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": ("2026-11-24T09:00:00Z"),
    }

    async with charger(world) as station:
        await _charge(station, 1, CARDS["EMA"], "2026-11-24T10:00:00Z", "2026-11-24T10:20:00Z")
        await _charge(station, 2, CARDS["EMB"], "2026-11-24T10:01:00Z", "2026-11-24T10:21:00Z")
        status = {"connectorId": 1, "errorCode": "NoError", "status": "Faulted"}
        await station.call("StatusNotification", status)
    await world.deliver()
    # Location changes still go out: broadcast to the hub itself, never held for a party.
    patches = peer.pushes("PATCH", "/ocpi/2.2.1/locations")
    assert patches
    assert {r.headers["ocpi-to-party-id"] for r in patches} == {"HUB"}

    # B's drivers: session and CDR delivered, addressed to B.
    assert [r.method for r in world.money_pushes("EMB")][-1] == "POST"
    assert {s["cdr_token"]["uid"] for s in peer.sessions.values()} == {CARDS["EMB"]}
    assert [c["cdr_token"]["uid"] for c in peer.cdrs.values()] == [CARDS["EMB"]]
    # A's: nothing sent, everything held for A.
    assert world.money_pushes("EMA") == []
    held = await world.held()
    assert set(held) == {"US*EMA"}
    assert held["US*EMA"] >= 1
    assert await world.deliver() == 0  # held jobs are not claimed again and again

    # PLANNED is no better than OFFLINE: still held.
    peer.report_client_info(hub_url, A, "PLANNED", "2026-11-24T10:50:00Z")
    await world.deliver()
    assert world.money_pushes("EMA") == []

    answer = peer.report_client_info(hub_url, A, "CONNECTED", "2026-11-24T11:00:00Z")
    assert answer.json()["status_code"] == 1000
    assert await world.held() == {}
    await world.deliver()
    arrived = world.money_pushes("EMA")
    # The session's final state before its bill, one CDR, A in the routing headers.
    assert [r.method for r in arrived][-1] == "POST"
    assert sum(r.method == "POST" for r in arrived) == 1
    session = next(s for s in peer.sessions.values() if s["cdr_token"]["uid"] == CARDS["EMA"])
    assert session["status"] == "COMPLETED"
    assert sorted(c["cdr_token"]["uid"] for c in peer.cdrs.values()) == sorted(CARDS.values())
    assert peer.duplicate_cdrs == []
    assert all(r.headers["ocpi-to-country-code"] == "US" for r in arrived)


async def test_a_hub_reporting_its_party_suspended_holds_and_a_stale_connected_does_not_release(
    world: World,
):
    peer, hub_url = world.peer, world.hub.url
    peer.report_client_info(hub_url, B, "SUSPENDED", "2026-11-24T09:00:00Z")
    async with charger(world) as station:
        await _charge(station, 1, CARDS["EMB"], "2026-11-24T10:00:00Z", "2026-11-24T10:20:00Z")
    await world.deliver()
    assert world.money_pushes("EMB") == []
    # A late retry of an older CONNECTED: the newer SUSPENDED stands.
    peer.report_client_info(hub_url, B, "CONNECTED", "2026-11-24T08:00:00Z")
    await world.deliver()
    assert world.money_pushes("EMB") == []
    assert set(await world.held()) == {"US*EMB"}
