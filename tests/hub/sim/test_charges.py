"""Simulated charges against the in-process hub: OCPP 1.6 and 2.0.1 chargers of a sample
network run whole charges on a fast-forwarded clock; an independent eMSP (tests/support) gets
the session and exactly one CDR per charge, whose total the eMSP-side check recomputes. The push
worker is driven by the test, one round at a time. Both engines."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlmodel import select

from hub.config import PushSettings
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.push import PushWorker
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
from hub.sim.cdrs import check_cdr
from hub.sim.chargers import (
    ChargePlan,
    ChargeState,
    SimulatedCharger,
    SimulatedStation,
    fleet_for_network,
    run_charges,
)
from hub.sim.network import generate_network
from tests.hub.conftest import add_parties
from tests.support.emsp import EmspPeer
from tests.support.emsp_authorize import register_emsp
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
PARTY = ("US", "EMS")
CARD = "04A1B2C3D4"
FAST = 1_000_000.0  # the replay: the charges go as fast as the hub answers


@dataclass
class World:
    hub: InProcessHub
    emsp: EmspPeer
    stations: list[SimulatedStation]
    locations: list[dict]

    async def deliver(self) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            worker = PushWorker(self.hub.sessions, http, PushSettings(node="test"))
            try:
                while await worker.run_once():
                    pass
            finally:
                worker.close()

    def time_zone(self, location_id: str) -> str:
        return next(loc["time_zone"] for loc in self.locations if loc["id"] == location_id)

    def station(self, version: str) -> SimulatedStation:
        return next(s for s in self.stations if s.ocpp_version == version)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    network = generate_network(sites=1, seed=3)
    peer = EmspPeer()
    peer.issued["token-for-emsp"] = "C"
    with asgi_server(peer.app()) as base_url:
        peer.base_url = base_url
        async with running_hub(database_url, sweep_interval_seconds=3600, wall_clock=True) as hub:
            await add_parties(hub.sessions)
            stations = fleet_for_network(network.locations, lambda _: PASSWORD)
            async with session_scope(hub.sessions) as session:
                await TariffService(session).import_tariffs(
                    parse_tariffs_json(json.dumps(network.tariffs))
                )
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps(network.locations))
                )
                for station in stations:
                    await StationService(session).add(station.station_id, PASSWORD)
            base = f"{base_url}/ocpi/2.2.1"
            partner_id = await register_emsp(
                hub.sessions,
                "emsp",
                PARTY,
                None,
                receivers={m: f"{base}/{m}" for m in ("sessions", "cdrs", "locations", "tariffs")},
            )
            async with session_scope(hub.sessions) as session:
                await TokenService(session).put(
                    partner_id,
                    TokenRecord(
                        key=TokenKey(*PARTY, CARD, TokenType.RFID),
                        contract_id="US-EMS-C0001",
                        issuer="eMSP",
                        valid=True,
                        whitelist=WhitelistType.ALWAYS,
                        last_updated=datetime(2026, 11, 1, tzinfo=UTC),
                    ),
                )
            world = World(hub, peer, stations, network.locations)
            await world.deliver()
            yield world


@contextlib.asynccontextmanager
async def connected(world: World, station: SimulatedStation) -> AsyncIterator[SimulatedCharger]:
    charger = SimulatedCharger(station, f"{world.hub.ws_url}/ocpp")
    await charger.connect()
    try:
        assert await charger.boot() == "Accepted"
        await charger.all_available()
        yield charger
    finally:
        await charger.close()


async def test_charges_of_both_versions_reach_the_emsp_as_one_recomputable_cdr_each(world: World):
    plans = {
        "1.6": ChargePlan(1, CARD, charging_seconds=1500, energy_wh=31_250),
        "2.0.1": ChargePlan(
            2, CARD, charging_seconds=1200, energy_wh=20_000, idle_seconds=900, start_soc=35
        ),
    }
    async with (
        connected(world, world.station("1.6")) as v16,
        connected(world, world.station("2.0.1")) as v201,
    ):
        charges = await run_charges(
            [(v16, plans["1.6"]), (v201, plans["2.0.1"])], concurrent=2, speed=FAST
        )
    await world.deliver()

    assert [c.state for c in charges] == [ChargeState.DONE, ChargeState.DONE]
    assert [c.kwh for c in charges] == [Decimal("31.25"), Decimal(20)]
    cdrs = list(world.emsp.cdrs.values())
    assert len(cdrs) == 2
    assert world.emsp.duplicate_cdrs == []
    for charge in charges:
        assert charge.started_at is not None
        (cdr,) = [
            c
            for c in cdrs
            if c["cdr_location"]["evse_uid"] == charge.evse_uid
            and c["start_date_time"] == charge.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        ]
        assert Decimal(str(cdr["total_energy"])) == charge.kwh
        assert cdr["cdr_token"]["uid"] == CARD
        check = check_cdr(cdr, world.time_zone(cdr["cdr_location"]["id"]))
        assert check.matches, check.problem
        assert check.received.excl_vat > 0
        session = next(s for s in world.emsp.sessions.values() if s["id"] == cdr["session_id"])
        assert session["status"] == "COMPLETED"
        assert Decimal(str(session["kwh"])) == charge.kwh
    # The 2.0.1 car stayed plugged in for 15 minutes after 20 of charging: parking is billed
    # (the grace is the first 10 minutes of the session); a 1.6 charger tells no charging state.
    idle = next(c for c in cdrs if c["cdr_location"]["evse_uid"] == charges[1].evse_uid)
    assert Decimal(str(idle["total_parking_time"])) == Decimal("0.25")
    assert Decimal(str(idle["total_parking_cost"]["excl_vat"])) > 0
    assert "total_parking_cost" not in next(c for c in cdrs if c is not idle)
    # Messages: 1.6 StartTransaction, a MeterValues per minute, StopTransaction; 2.0.1 one
    # TransactionEvent per minute plus Started, the charging-state change and Ended.
    async with session_scope(world.hub.sessions) as session:
        rows = (await session.execute(select(ChargingSession))).scalars().all()
    assert {r.status for r in rows} == {"COMPLETED"}
    assert {r.ocpp_version for r in rows} == {"1.6", "2.0.1"}
    assert all(r.problems == [] for r in rows), [r.problems for r in rows]


async def test_a_token_the_hub_does_not_know_stops_the_charge_and_bills_nothing(world: World):
    plan = ChargePlan(1, "UNKNOWN-CARD", charging_seconds=600, energy_wh=5000)
    for version in ("1.6", "2.0.1"):
        async with connected(world, world.station(version)) as charger:
            (charge,) = await run_charges([(charger, plan)], concurrent=1, speed=FAST)
        assert charge.state is ChargeState.REFUSED
        assert charge.authorization == {"1.6": "Invalid", "2.0.1": "Unknown"}[version]
        assert charge.kwh == 0
        assert charger.statuses[1] == "Available"
    await world.deliver()
    assert world.emsp.cdrs == {}


async def test_consecutive_charges_on_one_evse_continue_its_meter_and_never_overlap(world: World):
    plan = ChargePlan(1, CARD, charging_seconds=600, energy_wh=10_000)
    async with connected(world, world.station("2.0.1")) as charger:
        charges = await run_charges([(charger, plan)] * 3, concurrent=3, speed=FAST)
    await world.deliver()
    assert [c.state for c in charges] == [ChargeState.DONE] * 3
    assert [c.meter_start_wh for c in charges] == [0, 10_000, 20_000]
    for before, after in itertools.pairwise(charges):
        assert before.stopped_at is not None
        assert after.started_at is not None
        assert before.stopped_at <= after.started_at
    assert len(world.emsp.cdrs) == 3
