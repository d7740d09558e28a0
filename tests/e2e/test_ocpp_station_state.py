"""Station-level state over real websockets: a 2.0.1 station-wide status (EVSE 0), and
liveness proven by websocket pongs (OCPP-J §5.3). In-process hub, injected clock, both engines.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from hub.ocpp.bridge import Bridge
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation, basic

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "HPC-400"}}


def site() -> dict:
    location = network.location("SITE", evses=3)
    links = [("CS-201", 1, None), ("CS-201", 2, None), ("CS-16", None, 1)]
    for evse, (station, evse_id, connector_id) in zip(location["evses"], links, strict=True):
        evse["status"] = "UNKNOWN"
        evse["hub_ocpp"] = {
            "charging_station_id": station,
            "evse_id": evse_id,
            "connector_id": connector_id,
        }
    return location


def status_201(evse_id: int, connector_id: int, status: str) -> dict:
    return {
        "timestamp": "2026-11-24T10:00:00Z",
        "connectorStatus": status,
        "evseId": evse_id,
        "connectorId": connector_id,
    }


async def prepare(hub: InProcessHub) -> None:
    await add_parties(hub.sessions)
    async with session_scope(hub.sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        for station_id in ("CS-201", "CS-16"):
            await StationService(session).add(station_id, PASSWORD)


async def statuses(hub: InProcessHub) -> dict[str, str]:
    async with session_scope(hub.sessions) as session:
        view = await LocationService(session).get("SITE")
    return {e.uid.split("-")[-1]: e.status for e in view.evses}


@pytest.fixture
async def hub(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[InProcessHub]:
    """``request.param``: OcppSettings overrides. The hub's own offline sweep runs once, at
    start; tests sweep themselves, after arranging what they need."""
    ocpp = {"sweep_interval_seconds": 3600, **getattr(request, "param", {})}
    async with running_hub(database_url, **ocpp) as running:
        await prepare(running)
        yield running


async def silent_station(hub: InProcessHub, station_id: str, subprotocol: str) -> RawStation:
    """A station that sends nothing unless told, and no pings of its own (it still answers the
    hub's pings, as every websocket client does)."""
    socket = await connect(
        f"{hub.ws_url}/ocpp/{station_id}",
        subprotocols=[Subprotocol(subprotocol)],
        additional_headers=basic(station_id, PASSWORD),
        ping_interval=None,
        open_timeout=10,
    )
    return RawStation(socket)


async def last_seen_reaches(hub: InProcessHub, station_id: str, moment, within: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        async with session_scope(hub.sessions) as session:
            if (await StationService(session).get(station_id)).last_seen_at == moment:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the hub did not record {station_id} alive at {moment}")


async def sweep(hub: InProcessHub) -> list[str]:
    """The hub's offline sweep, with its settings and clock."""
    return await Bridge(hub.sessions, hub.settings.ocpp, node="test", clock=hub.clock).sweep()


@pytest.mark.parametrize(
    ("station_status", "expected"), [("Unavailable", "INOPERATIVE"), ("Faulted", "OUTOFORDER")]
)
async def test_a_201_station_level_status_applies_to_every_evse_of_the_station(
    hub: InProcessHub, caplog: pytest.LogCaptureFixture, station_status, expected
):
    station = await RawStation.connect(hub.ws_url, "CS-201", PASSWORD, ["ocpp2.0.1"])
    try:
        assert (await station.call("BootNotification", BOOT_201))[0] == 3
        await station.call("StatusNotification", status_201(1, 1, "Occupied"))
        await station.call("StatusNotification", status_201(2, 1, "Available"))
        assert await statuses(hub) == {"E1": "CHARGING", "E2": "AVAILABLE", "E3": "UNKNOWN"}
        with caplog.at_level(logging.WARNING, logger="hub"):
            answer = await station.call("StatusNotification", status_201(0, 0, station_status))
        assert answer == [3, answer[1], {}]
        assert await statuses(hub) == {"E1": expected, "E2": expected, "E3": "UNKNOWN"}
        assert not [r for r in caplog.records if "no EVSE is linked" in r.getMessage()]
        await station.call("StatusNotification", status_201(0, 0, "Available"))
        assert await statuses(hub) == {"E1": "CHARGING", "E2": "AVAILABLE", "E3": "UNKNOWN"}
    finally:
        await station.close()


SILENT_TOO_LONG = 300 * 3 + 60
"""Seconds past the default missed-heartbeats delay (3 intervals of 300 s)."""


@pytest.mark.parametrize("hub", [{"ping_interval_seconds": 0.05}], indirect=True)
async def test_a_station_answering_pings_stays_online_without_any_message(hub: InProcessHub):
    station = await silent_station(hub, "CS-201", "ocpp2.0.1")
    try:
        await station.call("BootNotification", BOOT_201)
        await station.call("StatusNotification", status_201(1, 1, "Occupied"))
        hub.clock.advance(SILENT_TOO_LONG)
        # No OCPP message from now on: only the pongs to the hub's pings.
        await last_seen_reaches(hub, "CS-201", hub.clock.now)
        assert await sweep(hub) == []
        assert (await statuses(hub))["E1"] == "CHARGING"
        hub.clock.advance(SILENT_TOO_LONG)
        await last_seen_reaches(hub, "CS-201", hub.clock.now)
        assert await sweep(hub) == []
    finally:
        await station.close()


@pytest.mark.parametrize("hub", [{"ping_interval_seconds": 0}], indirect=True)
async def test_a_station_s_own_pings_keep_it_online(hub: InProcessHub):
    station = await silent_station(hub, "CS-201", "ocpp2.0.1")
    try:
        await station.call("StatusNotification", status_201(1, 1, "Occupied"))
        hub.clock.advance(SILENT_TOO_LONG)
        pong = await station.socket.ping()
        await asyncio.wait_for(pong, 10)
        await last_seen_reaches(hub, "CS-201", hub.clock.now)
        assert await sweep(hub) == []
    finally:
        await station.close()


@pytest.mark.parametrize("hub", [{"ping_interval_seconds": 0}], indirect=True)
async def test_a_station_silent_on_every_level_goes_unknown(hub: InProcessHub):
    # The control: no message, and no ping or pong (the hub does not ping) for too long.
    station = await silent_station(hub, "CS-201", "ocpp2.0.1")
    try:
        await station.call("StatusNotification", status_201(1, 1, "Occupied"))
        hub.clock.advance(SILENT_TOO_LONG)
        assert await sweep(hub) == ["CS-201"]
        assert (await statuses(hub))["E1"] == "UNKNOWN"
    finally:
        await station.close()
