"""Station-level state over real websockets: a 2.0.1 station-wide status (EVSE 0), and
liveness proven by websocket pongs (OCPP-J §5.3). In-process hub, injected clock, both engines.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest

from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation

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
async def hub(database_url: str) -> AsyncIterator[InProcessHub]:
    async with running_hub(database_url) as running:
        await prepare(running)
        yield running


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
