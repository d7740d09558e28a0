"""Station status mirroring into OCPI EVSE status, offline handling and history (both engines)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.domain.assets import EvseStatus
from hub.domain.push import JobKind
from hub.domain.stations import (
    OcppVersion,
    combined_status,
    evse_status,
    hash_password,
    password_matches,
)
from hub.errors import Conflict
from hub.persistence.session import session_scope
from hub.persistence.tables import EvseStatusChange, PushJob
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner

pytestmark = pytest.mark.db


def site() -> dict:
    """SITE: EVSE E1/E2 on 2.0.1 station CS-201 (evse 1, 2); E3/E4 on 1.6 station CS-16
    (connectors 1, 2)."""
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


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    await register_partner(sessions, "emsp")
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        for station_id in ("CS-201", "CS-16"):
            await StationService(session).add(station_id, "p" * 20)
    return sessions


async def statuses(sessions) -> dict[str, str]:
    async with session_scope(sessions) as session:
        view = await LocationService(session).get("SITE")
    return {e.uid.split("-")[-1]: e.status for e in view.evses}


async def report(sessions, station, evse_id, connector_id, status, **kwargs):
    async with session_scope(sessions) as session:
        return await StationService(session, **kwargs).connector_status(
            station, evse_id=evse_id, connector_id=connector_id, ocpp_status=status
        )


@pytest.mark.parametrize(
    ("ocpp", "ocpi"),
    [
        ("Available", "AVAILABLE"),
        ("Preparing", "CHARGING"),
        ("Charging", "CHARGING"),
        ("SuspendedEV", "CHARGING"),
        ("SuspendedEVSE", "CHARGING"),
        ("Finishing", "CHARGING"),
        ("Occupied", "CHARGING"),
        ("Reserved", "RESERVED"),
        ("Unavailable", "INOPERATIVE"),
        ("Faulted", "OUTOFORDER"),
        ("Nonsense", "UNKNOWN"),
    ],
)
def test_documented_mapping(ocpp, ocpi):
    assert evse_status(ocpp).value == ocpi


def test_preparing_is_configurable_and_station_status_overrides():
    assert evse_status("Preparing", preparing=EvseStatus.AVAILABLE) is EvseStatus.AVAILABLE
    assert combined_status(["Charging"], "Faulted") is EvseStatus.OUTOFORDER
    assert combined_status(["Faulted", "Available"], None) is EvseStatus.AVAILABLE
    assert combined_status(["Faulted", "Charging"], "Available") is EvseStatus.CHARGING


def test_passwords_are_salted_hashes_compared_in_constant_time():
    stored = hash_password("secret-secret-secret")
    assert "secret" not in stored
    assert stored != hash_password("secret-secret-secret")
    assert password_matches("secret-secret-secret", stored)
    assert not password_matches("secret-secret-secreT", stored)


def test_subprotocols():
    assert OcppVersion.from_subprotocol("ocpp2.0.1") is OcppVersion.V201
    assert OcppVersion.from_subprotocol("OCPP1.6") is OcppVersion.V16
    assert OcppVersion.from_subprotocol("ocpp2.1") is None


async def test_status_notifications_of_both_versions_reach_their_evses(world):
    await report(world, "CS-201", 1, 1, "Occupied")
    await report(world, "CS-201", 2, 1, "Available")
    await report(world, "CS-16", None, 1, "Faulted")
    outcome = await report(world, "CS-16", None, 2, "Preparing")
    assert outcome.changed == {"SITE-E4": EvseStatus.CHARGING}
    assert await statuses(world) == {
        "E1": "CHARGING",
        "E2": "AVAILABLE",
        "E3": "OUTOFORDER",
        "E4": "CHARGING",
    }
    assert (await report(world, "CS-201", 9, 1, "Available")).unmapped


async def test_preparing_as_available_when_configured(world):
    await report(world, "CS-16", None, 2, "Preparing", preparing=EvseStatus.AVAILABLE)
    assert (await statuses(world))["E4"] == "AVAILABLE"


async def test_station_level_status_overrides_and_releases_every_evse(world):
    await report(world, "CS-16", None, 1, "Available")
    await report(world, "CS-16", None, 2, "Charging")
    await report(world, "CS-16", None, 0, "Unavailable")
    assert (await statuses(world))["E3"] == "INOPERATIVE"
    assert (await statuses(world))["E4"] == "INOPERATIVE"
    await report(world, "CS-16", None, 0, "Available")
    assert (await statuses(world))["E3"] == "AVAILABLE"
    assert (await statuses(world))["E4"] == "CHARGING"


async def test_silent_stations_go_unknown_and_come_back(world):
    await report(world, "CS-201", 1, 1, "Available")
    await report(world, "CS-201", 2, 1, "Occupied")
    async with session_scope(world) as session:
        # Connected but silent for longer than the missed-heartbeat delay.
        await StationService(session).connected("CS-201", OcppVersion.V201, "node-a")
        assert await StationService(session).mark_silent_offline(
            disconnected_for=timedelta(hours=1), silent_for=timedelta(0)
        ) == ["CS-201"]
    assert await statuses(world) == {
        "E1": "UNKNOWN",
        "E2": "UNKNOWN",
        "E3": "UNKNOWN",
        "E4": "UNKNOWN",
    }
    async with session_scope(world) as session:
        await StationService(session).connected("CS-201", OcppVersion.V201, "node-a")
    assert (await statuses(world))["E1"] == "AVAILABLE"
    assert (await statuses(world))["E2"] == "CHARGING"
    async with session_scope(world) as session:
        # Back online; a socket closed a moment ago is within the reconnect grace.
        await StationService(session).disconnected("CS-201", "node-a")
        assert (
            await StationService(session).mark_silent_offline(
                disconnected_for=timedelta(minutes=2), silent_for=timedelta(minutes=15)
            )
            == []
        )
        assert await StationService(session).mark_silent_offline(
            disconnected_for=timedelta(0), silent_for=timedelta(minutes=15)
        ) == ["CS-201"]


async def test_every_change_is_history_and_pushed(world):
    await report(world, "CS-201", 1, 1, "Available")
    await report(world, "CS-201", 1, 1, "Occupied")
    await report(world, "CS-201", 1, 1, "Occupied")  # no change: no history, no push
    async with world() as session:
        history = (
            (await session.execute(select(EvseStatusChange).order_by(EvseStatusChange.id)))
            .scalars()
            .all()
        )
        jobs = (
            (await session.execute(select(PushJob).where(PushJob.kind == JobKind.EVSE_PATCH.value)))
            .scalars()
            .all()
        )
    assert [(h.previous_status, h.status, h.ocpp_status, h.reason) for h in history] == [
        ("UNKNOWN", "AVAILABLE", "Available", "ocpp"),
        ("AVAILABLE", "CHARGING", "Occupied", "ocpp"),
    ]
    assert {j.target["evse_uid"] for j in jobs} == {"SITE-E1"}


async def test_station_credentials(world):
    async with session_scope(world) as session:
        service = StationService(session)
        assert await service.authenticate("CS-16", "p" * 20) is not None
        assert await service.authenticate("CS-16", "q" * 20) is None
        assert await service.authenticate("CS-404", "p" * 20) is None
    with pytest.raises(Conflict):
        async with session_scope(world) as session:
            await StationService(session).add("CS-16")
    async with session_scope(world) as session:
        await StationService(session).remove("CS-16")
        assert await StationService(session).authenticate("CS-16", "p" * 20) is None
