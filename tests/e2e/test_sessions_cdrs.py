"""The money path end to end: raw-frame OCPP 1.6 and 2.0.1 chargers run whole charges against
the in-process hub over real websockets; an independent eMSP on 127.0.0.1 receives the Session
(PUT, PATCHes, the final PUT) and exactly one CDR, priced with the tariff locked at the start.
The push worker is driven by the test (one round at a time), so nothing is raced. Both
engines.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from hub.config import PushSettings
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.persistence.session import session_scope
from hub.persistence.tables import (
    AuthorizationDecisionRecord,
    ChargeDetailRecord,
    ChargingSession,
)
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.push import PushWorker
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp import EmspPeer, token_header
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
A, B = ("US", "EMA"), ("US", "EMB")
CARD_A, CARD_B = "04A1B2C3D4", "04B1B2C3D4"
STAMP = "2026-11-24T10:05:00Z"


def site() -> dict:
    return network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None), ("CS-201", 2, None)]
    )


@dataclass
class World:
    hub: InProcessHub
    emsp_a: EmspPeer
    emsp_b: EmspPeer
    tokens: dict[str, str] = field(default_factory=dict)
    """The token each eMSP calls the hub with."""

    def pull(self, emsp: str, module: str) -> list[dict]:
        """What the eMSP GETs back from the hub's Sender (every page)."""
        items: list[dict] = []
        url: str | None = f"{self.hub.url}/ocpi/2.2.1/{module}?date_from=2026-01-01T00:00:00Z"
        with httpx.Client(timeout=10) as http:
            while url:
                response = http.get(url, headers=token_header(self.tokens[emsp]))
                assert response.json()["status_code"] == 1000, response.text
                items += response.json()["data"]
                url = response.links.get("next", {}).get("url")
        return items

    async def deliver(self) -> None:
        """Push rounds until the outbox is empty."""
        async with httpx.AsyncClient(timeout=10) as http:
            worker = PushWorker(self.hub.sessions, http, PushSettings(node="test"))
            try:
                while await worker.run_once():
                    pass
            finally:
                worker.close()

    async def tariff(self, price: str) -> None:
        tariff = network.tariff("T-DC", price=price)
        tariff["last_updated"] = self.hub.clock().isoformat().replace("+00:00", "Z")
        async with session_scope(self.hub.sessions) as session:
            await TariffService(session).import_tariffs(parse_tariffs_json(json.dumps([tariff])))

    async def stored(self) -> tuple[list[ChargingSession], list[ChargeDetailRecord]]:
        async with session_scope(self.hub.sessions) as session:
            sessions = (await session.execute(select(ChargingSession))).scalars().all()
            cdrs = (await session.execute(select(ChargeDetailRecord))).scalars().all()
            return list(sessions), list(cdrs)


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
            peer.issued[f"token-for-emsp-{name}"] = "C"  # how the hub calls it
            peers[name] = peer
        async with running_hub(database_url, sweep_interval_seconds=3600) as hub:
            await add_parties(hub.sessions)
            world = World(hub, peers["a"], peers["b"])
            await world.tariff("0.48")
            async with session_scope(hub.sessions) as session:
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site()]))
                )
                for station_id in ("CS-16", "CS-201"):
                    await StationService(session).add(station_id, PASSWORD)
            for name, party, card in (("a", A, CARD_A), ("b", B, CARD_B)):
                partner_id, world.tokens[name] = await register_partner(
                    hub.sessions,
                    f"emsp-{name}",
                    party,
                    base_url=f"{peers[name].base_url}/ocpi/2.2.1",
                    modules=("locations", "tariffs", "sessions", "cdrs"),
                )
                await _token(hub, partner_id, party, card)
            await world.deliver()  # the network as it is before any charge
            # The chargers' clocks below read 10:00-10:30; the hub's is past that, as it would
            # be when the messages arrive (a timestamp in the future holds a session for review).
            hub.clock.now = datetime(2026, 11, 24, 10, 45, tzinfo=UTC)
            yield world


@contextlib.asynccontextmanager
async def charger(world: World, station_id: str, subprotocol: str) -> AsyncIterator[RawStation]:
    station = await RawStation.connect(world.hub.ws_url, station_id, PASSWORD, [subprotocol])
    try:
        yield station
    finally:
        await station.close()


def energy(at: str, wh: int, power_w: int | None = None) -> dict:
    sampled = [{"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]
    if power_w is not None:
        sampled.append({"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"})
    return {"timestamp": at, "sampledValue": sampled}


async def test_a_16_charge_reaches_its_emsp_as_one_cdr_priced_at_the_locked_tariff(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        assert (await station.call("BootNotification", boot))[2]["status"] == "Accepted"
        started = await station.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": CARD_A,
                "meterStart": 1000,
                "timestamp": "2026-11-24T10:00:00Z",
            },
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"
        transaction_id = started[2]["transactionId"]
        await station.call(
            "MeterValues",
            {
                "connectorId": 1,
                "transactionId": transaction_id,
                "meterValue": [energy("2026-11-24T10:10:00Z", 11000, 50000)],
            },
        )
        await world.deliver()
        # The price changes while the car charges: the session keeps the price it started with.
        world.hub.clock.advance(60)
        await world.tariff("0.60")
        stopped = await station.call(
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": 21000,
                "timestamp": "2026-11-24T10:20:00Z",
                "reason": "EVDisconnected",
            },
        )
        assert stopped[0] == 3
    await world.deliver()

    (session,) = world.emsp_a.sessions.values()
    assert session["status"] == "COMPLETED"
    assert session["cdr_token"]["uid"] == CARD_A
    assert session["auth_method"] == "WHITELIST"
    assert Decimal(str(session["kwh"])) == Decimal(20)
    (cdr,) = world.emsp_a.cdrs.values()
    assert cdr["id"] == session["id"]
    assert Decimal(str(cdr["total_energy"])) == Decimal(20)
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("9.60")  # 20 kWh x 0.48
    assert cdr["tariffs"][0]["elements"][0]["price_components"][0]["price"] == 0.48
    assert cdr["cdr_location"]["evse_uid"] == "SITE-E1"
    assert world.emsp_a.duplicate_cdrs == []
    # The other automaker sees nothing of it.
    assert world.emsp_b.sessions == {}
    assert world.emsp_b.cdrs == {}
    assert not [r for r in world.emsp_b.received if "/sessions/" in r.path or "/cdrs" in r.path]
    # Pulled back, the eMSP finds what it was sent; the other finds nothing.
    (pulled,) = world.pull("a", "sessions")
    assert (pulled["id"], pulled["status"], pulled["kwh"]) == (session["id"], "COMPLETED", 20.0)
    assert world.pull("a", "cdrs") == [cdr]
    assert world.pull("b", "sessions") == world.pull("b", "cdrs") == []
    _, (stored_cdr,) = await world.stored()
    assert stored_cdr.location_url is not None
    assert stored_cdr.location_url.endswith(f"/cdrs/US/HPC/{cdr['id']}")


async def test_201_duplicates_late_token_and_offline_events_count_once(world: World):
    transaction = {"transactionId": "TX-9"}
    evse = {"id": 1, "connectorId": 1}

    def event(event_type: str, seq_no: int, at: str, wh: int, **extra) -> dict:
        return {
            "eventType": event_type,
            "timestamp": at,
            "triggerReason": "MeterValuePeriodic",
            "seqNo": seq_no,
            "transactionInfo": {**transaction, **extra.pop("info", {})},
            "meterValue": [
                {
                    "timestamp": at,
                    "sampledValue": [
                        {
                            "value": wh,
                            "measurand": "Energy.Active.Import.Register",
                            "unitOfMeasure": {"unit": "kWh", "multiplier": -3},
                        }
                    ],
                }
            ],
            **extra,
        }

    async with charger(world, "CS-201", "ocpp2.0.1") as station:
        boot = {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}
        assert (await station.call("BootNotification", boot))[2]["status"] == "Accepted"
        # Started on plug-in, before the driver presented a card; sent twice.
        started = event("Started", 0, "2026-11-24T10:00:00Z", 5000, evse=evse)
        for _ in range(2):
            await station.call("TransactionEvent", started)
        (pending,), _ = await world.stored()
        assert pending.status == "PENDING"
        # The card comes on a later event, which has no evse.
        authorized = event(
            "Updated",
            1,
            "2026-11-24T10:01:00Z",
            5500,
            idToken={"idToken": CARD_A, "type": "ISO14443"},
        )
        answer = await station.call("TransactionEvent", authorized)
        assert answer[2]["idTokenInfo"]["status"] == "Accepted"
        # Queued while offline: the Ended arrives before an Updated it follows, and twice.
        ended = event(
            "Ended",
            3,
            "2026-11-24T10:30:00Z",
            35000,
            info={"stoppedReason": "EVDisconnected"},
            idToken={"idToken": CARD_A, "type": "ISO14443"},  # the driver's card stops it
        )
        late = event("Updated", 2, "2026-11-24T10:15:00Z", 20000, offline=True)
        answers = [await station.call("TransactionEvent", f) for f in (ended, late, ended)]
        assert [a[2].get("idTokenInfo", {}).get("status") for a in answers] == [
            "Accepted",
            None,
            "Accepted",
        ]
    await world.deliver()
    # The card was decided once (its later appearances are answered from the session).
    async with session_scope(world.hub.sessions) as session:
        decided = (await session.execute(select(AuthorizationDecisionRecord))).scalars().all()
    assert [d.ocpp_action for d in decided] == ["TransactionEvent"]

    (session,), (stored_cdr,) = await world.stored()
    assert session.status == "COMPLETED"
    assert session.kwh == Decimal(30)  # 35 - 5 kWh, each event counted once
    assert session.token_uid == CARD_A
    assert session.evse_uid == "SITE-E3"
    (cdr,) = world.emsp_a.cdrs.values()
    assert Decimal(str(cdr["total_energy"])) == Decimal(30)
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("14.40")
    assert world.emsp_b.cdrs == {}
    assert stored_cdr.cdr_id == cdr["id"]


async def test_16_transaction_ids_are_unique_and_unknown_ones_are_answered(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await station.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        ids = []
        for connector_id in (1, 2):
            started = await station.call(
                "StartTransaction",
                {
                    "connectorId": connector_id,
                    "idTag": CARD_A,
                    "meterStart": 0,
                    "timestamp": "2026-11-24T10:00:00Z",
                },
            )
            ids.append(started[2]["transactionId"])
        assert len(set(ids)) == 2  # never the "always 1" bug
        # Values and a stop for a transaction we never issued: answered, nothing recorded.
        never = max(ids) + 1000
        values = {"connectorId": 1, "transactionId": never, "meterValue": [energy(STAMP, 5)]}
        assert (await station.call("MeterValues", values))[0] == 3
        stop = {"transactionId": never, "meterStop": 9000, "timestamp": STAMP}
        assert (await station.call("StopTransaction", stop))[0] == 3
    sessions, cdrs = await world.stored()
    assert sorted(int(s.transaction_id or 0) for s in sessions) == sorted(ids)
    assert {s.status for s in sessions} == {"ACTIVE"}
    assert cdrs == []


async def test_malformed_transaction_messages_get_call_errors_and_store_nothing(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        missing_meter = {"connectorId": 1, "idTag": CARD_A, "timestamp": STAMP}
        assert (await station.call("StartTransaction", missing_meter))[0] == 4
        bad_stop = {"transactionId": "one", "meterStop": 10, "timestamp": STAMP}
        assert (await station.call("StopTransaction", bad_stop))[0] == 4
    async with charger(world, "CS-201", "ocpp2.0.1") as station:
        no_info = {
            "eventType": "Started",
            "timestamp": STAMP,
            "triggerReason": "CablePluggedIn",
            "seqNo": "zero",
        }
        assert (await station.call("TransactionEvent", no_info))[0] == 4
    assert await world.stored() == ([], [])
