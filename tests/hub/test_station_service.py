"""Station status mirroring into OCPI EVSE status, offline handling and history (both engines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.domain.assets import EvseStatus
from hub.domain.push import JobKind, JobState
from hub.domain.stations import (
    AuthBackoff,
    OcppVersion,
    SourceThrottle,
    combined_status,
    evse_status,
    hash_password,
    parse_authorization_key,
    password_matches,
)
from hub.errors import Conflict, NotFound
from hub.persistence.session import session_scope
from hub.persistence.tables import EvseStatusChange, LocalAuthList, PushJob
from hub.roaming.importer import parse_locations_json
from hub.services.local_lists import LocalListService
from hub.services.locations import EvseStatusUpdate, LocationService
from hub.services.stations import (
    AuthResult,
    BootReport,
    Disconnection,
    StationService,
    StatusReport,
)
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


def test_binary_keys_hash_as_their_bytes_and_match_in_hex_form_too():
    key = bytes.fromhex("3a00ff80" + "0123456789abcdef" * 2)
    stored = hash_password(key)
    assert password_matches(key, stored)
    assert password_matches(key.hex(), stored)
    assert password_matches(key.hex().upper(), stored)
    assert not password_matches(key[:-1], stored)
    assert not password_matches(key.hex()[:-1] + "0", stored)
    # Text passwords hash as their UTF-8 bytes: hashes stored before keys existed still match.
    text = hash_password("secret-secret-secret", "0011223344556677")
    assert password_matches(b"secret-secret-secret", text)
    assert parse_authorization_key(key.hex()) == key
    with pytest.raises(ValueError, match="40 hexadecimal"):
        parse_authorization_key("00" * 19)
    with pytest.raises(ValueError, match="not hexadecimal"):
        parse_authorization_key("zz" * 20)


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


@pytest.mark.parametrize("station_status", ["Unavailable", "Faulted"])
async def test_v201_station_level_status_evse_0_overrides_and_releases_every_evse(
    world, station_status
):
    await report(world, "CS-201", 1, 1, "Occupied")
    await report(world, "CS-201", 2, 1, "Available")
    outcome = await report(world, "CS-201", 0, 0, station_status)
    expected = "INOPERATIVE" if station_status == "Unavailable" else "OUTOFORDER"
    assert not outcome.unmapped
    assert outcome.changed == {"SITE-E1": EvseStatus(expected), "SITE-E2": EvseStatus(expected)}
    assert await statuses(world) == {
        "E1": expected,
        "E2": expected,
        "E3": "UNKNOWN",  # the other station's EVSEs are untouched
        "E4": "UNKNOWN",
    }
    # The EVSEs keep reporting under the override; they show again once it is lifted.
    await report(world, "CS-201", 2, 1, "Occupied")
    assert (await statuses(world))["E2"] == expected
    await report(world, "CS-201", 0, 0, "Available")
    assert (await statuses(world))["E1"] == "CHARGING"
    assert (await statuses(world))["E2"] == "CHARGING"


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


@pytest.mark.parametrize(
    ("connected", "silent", "offline"),
    [
        (False, timedelta(minutes=2), ["CS-16"]),  # socket closed exactly the offline delay ago
        (False, timedelta(minutes=2) - timedelta(microseconds=1), []),
        (True, timedelta(minutes=15), ["CS-16"]),  # exactly the missed heartbeats
        (True, timedelta(minutes=15) - timedelta(microseconds=1), []),
    ],
)
async def test_a_station_silent_for_exactly_the_delay_is_offline(world, connected, silent, offline):
    # The sweep's query and its own test agree at the boundary: silent for the whole delay is
    # offline (a query with "<" left such a station online until a later sweep).
    moment = datetime(2026, 7, 20, 14, tzinfo=UTC)

    def clock() -> datetime:
        return moment

    async with session_scope(world) as session:
        stations = StationService(session, clock=clock)
        await stations.connected("CS-16", OcppVersion.V16, "node-a")
        await stations.connector_status(
            "CS-16", evse_id=None, connector_id=1, ocpp_status="Available"
        )
        if not connected:
            await stations.disconnected("CS-16", "node-a")
    moment += silent
    async with session_scope(world) as session:
        assert (
            await StationService(session, clock=clock).mark_silent_offline(
                disconnected_for=timedelta(minutes=2), silent_for=timedelta(minutes=15)
            )
            == offline
        )
    assert (await statuses(world))["E3"] == ("UNKNOWN" if offline else "AVAILABLE")


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


async def pending_patches(sessions) -> list[str]:
    async with sessions() as session:
        jobs = await session.scalars(
            select(PushJob)
            .where(
                PushJob.kind == JobKind.EVSE_PATCH.value, PushJob.state == JobState.PENDING.value
            )
            .order_by(PushJob.id)
        )
        return [job.target["evse_uid"] for job in jobs]


async def test_reports_of_many_stations_at_once_store_what_one_by_one_would(world):
    reports = [
        StatusReport("CS-201", 1, 1, "Available"),
        StatusReport("CS-16", None, 1, "Available"),
        StatusReport("CS-201", 1, 1, "Occupied"),  # the same station again, later
        StatusReport("CS-16", None, 0, "Unavailable"),  # the whole station
        StatusReport("CS-201", 9, 1, "Available"),  # no EVSE 9
    ]
    async with session_scope(world) as session:
        outcomes = await StationService(session).connector_statuses(reports)
    assert [(o.changed, o.unmapped) for o in outcomes] == [
        ({"SITE-E1": EvseStatus.AVAILABLE}, False),
        ({"SITE-E3": EvseStatus.AVAILABLE}, False),
        ({"SITE-E1": EvseStatus.CHARGING}, False),
        ({"SITE-E3": EvseStatus.INOPERATIVE, "SITE-E4": EvseStatus.INOPERATIVE}, False),
        ({}, True),
    ]
    assert await statuses(world) == {"E1": "CHARGING", "E2": "UNKNOWN"} | {
        "E3": "INOPERATIVE",
        "E4": "INOPERATIVE",
    }
    async with world() as session:
        history = await session.scalars(select(EvseStatusChange).order_by(EvseStatusChange.id))
        changes = [(h.evse_ref, h.previous_status, h.status) for h in history]
    assert [c[1:] for c in changes] == [
        ("UNKNOWN", "AVAILABLE"),
        ("UNKNOWN", "AVAILABLE"),
        ("AVAILABLE", "CHARGING"),
        ("AVAILABLE", "INOPERATIVE"),
        ("UNKNOWN", "INOPERATIVE"),
    ]
    # One pending PATCH per EVSE: a later change supersedes the earlier one of the batch.
    assert sorted(await pending_patches(world)) == ["SITE-E1", "SITE-E3", "SITE-E4"]


async def test_a_batch_naming_an_unknown_station_stores_none_of_its_reports(world):
    reports = [StatusReport("CS-201", 1, 1, "Available"), StatusReport("CS-X", 1, 1, "Available")]
    with pytest.raises(NotFound, match="CS-X"):
        async with session_scope(world) as session:
            await StationService(session).connector_statuses(reports)
    assert (await statuses(world))["E1"] == "UNKNOWN"
    assert await pending_patches(world) == []


async def test_boots_of_many_stations_at_once_are_each_stored_and_ask_for_a_list_check(world):
    at = T0 + timedelta(hours=1)
    async with session_scope(world) as session:
        await LocalListService(session).stations_booted(["CS-16"])  # a row there already
        service = StationService(session, clock=lambda: at)
        await service.boots(
            [
                BootReport("CS-201", "V1", "M1", "SN-1", "FW-1"),
                BootReport("CS-16", "V2", "M2"),
                BootReport("CS-201", "V1", "M1", "SN-1", "FW-2"),  # booted again: the later wins
            ]
        )
        await LocalListService(session).stations_booted(["CS-201", "CS-16", "CS-201"])
    async with world() as session:
        stations = {s.station_id: s for s in await StationService(session).list_all()}
        checks = {
            row.station_id: row.needs_check for row in await session.scalars(select(LocalAuthList))
        }
    seen = {k: (s.vendor, s.serial_number, s.firmware_version) for k, s in stations.items()}
    assert seen == {"CS-201": ("V1", "SN-1", "FW-2"), "CS-16": ("V2", None, None)}
    assert {s.booted_at for s in stations.values()} == {at}
    assert checks == {"CS-201": True, "CS-16": True}

    with pytest.raises(NotFound, match="CS-X"):
        async with session_scope(world) as session:
            await StationService(session).boots(
                [BootReport("CS-16", "other", "other"), BootReport("CS-X", "V", "M")]
            )
    async with world() as session:
        assert (await StationService(session).get("CS-16")).vendor == "V2"


async def test_sockets_closed_at_once_are_each_recorded_unless_the_station_moved_on(world):
    at = T0 + timedelta(hours=2)
    async with session_scope(world) as session:
        service = StationService(session, clock=lambda: T0)
        await service.connected("CS-201", OcppVersion.V201, "node-a")
        await service.connected("CS-16", OcppVersion.V16, "node-b")  # now on another node
    async with session_scope(world) as session:
        await StationService(session, clock=lambda: at).disconnections(
            [
                Disconnection("CS-201", "node-a"),
                Disconnection("CS-16", "node-a"),
                Disconnection("CS-GONE", "node-a"),  # removed meanwhile: nothing to record
                Disconnection("CS-201", "node-a"),  # a second close of the same socket
            ]
        )
    async with world() as session:
        stations = {s.station_id: s for s in await StationService(session).list_all()}
    assert (stations["CS-201"].connected_node, stations["CS-201"].last_seen_at) == (None, at)
    assert (stations["CS-16"].connected_node, stations["CS-16"].last_seen_at) == ("node-b", T0)
    assert stations["CS-201"].online  # online until silent for the offline delay


async def test_two_changes_of_one_evse_in_one_fanout_write_one_job(world):
    async with session_scope(world) as session:
        evse = (await StationService(session).evses("CS-201"))[0]
        changed = await LocationService(session).set_evse_statuses(
            [
                EvseStatusUpdate(evse, EvseStatus.AVAILABLE, T0, "ocpp"),
                EvseStatusUpdate(evse, EvseStatus.AVAILABLE, T0, "ocpp"),  # no change
                EvseStatusUpdate(evse, EvseStatus.CHARGING, T0 + timedelta(seconds=1), "ocpp"),
            ]
        )
    assert changed == [True, False, True]
    assert await pending_patches(world) == ["SITE-E1"]
    assert (await statuses(world))["E1"] == "CHARGING"


T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
BACKOFF = AuthBackoff(free_attempts=2, base_seconds=10, cap_seconds=25)


def test_auth_backoff_doubles_from_the_free_attempts_up_to_the_cap():
    assert [BACKOFF.delay(n).total_seconds() for n in range(6)] == [0, 0, 10, 20, 25, 25]
    assert BACKOFF.retry_at(1, T0) is None
    assert BACKOFF.retry_at(3, T0) == T0 + timedelta(seconds=20)
    assert BACKOFF.retry_at(3, None) is None
    assert BACKOFF.delay(10_000).total_seconds() == 25


def test_source_throttle_counts_clears_forgets_and_stays_bounded():
    throttle = SourceThrottle(BACKOFF, forget_after=timedelta(hours=1), max_sources=2)
    assert throttle.failed("10.0.0.1", T0) == 1
    assert throttle.retry_at("10.0.0.1", T0) is None
    assert throttle.failed("10.0.0.1", T0) == 2
    assert throttle.retry_at("10.0.0.1", T0) == T0 + timedelta(seconds=10)
    assert throttle.retry_at("10.0.0.1", T0 + timedelta(seconds=10)) is None
    assert throttle.retry_at("10.0.0.2", T0) is None
    throttle.succeeded("10.0.0.1")
    assert throttle.failures("10.0.0.1", T0) == 0
    throttle.failed("10.0.0.1", T0)
    assert throttle.failures("10.0.0.1", T0 + timedelta(hours=1)) == 0  # forgotten
    for source in ("a", "b", "c"):
        throttle.failed(source, T0)
    assert (throttle.failures("a", T0), throttle.failures("c", T0)) == (0, 1)


async def login(sessions, station_id, password, at, source="192.0.2.7"):
    async with session_scope(sessions) as session:
        return await StationService(session, clock=lambda: at).authenticate(
            station_id, password, source=source, backoff=BACKOFF
        )


async def test_station_credentials(world):
    assert (await login(world, "CS-16", "p" * 20, T0)).accepted
    assert (await login(world, "CS-16", "q" * 20, T0)).result is AuthResult.REFUSED
    assert (await login(world, "CS-16", None, T0)).result is AuthResult.REFUSED
    assert (await login(world, "CS-404", "p" * 20, T0)).result is AuthResult.UNKNOWN_STATION
    with pytest.raises(Conflict):
        async with session_scope(world) as session:
            await StationService(session).add("CS-16")
    async with session_scope(world) as session:
        await StationService(session).remove("CS-16")
    assert (await login(world, "CS-16", "p" * 20, T0)).result is AuthResult.UNKNOWN_STATION


async def test_failed_logins_are_counted_on_the_station_and_throttle_it(world):
    first = await login(world, "CS-16", "q" * 20, T0)
    assert (first.failures, first.retry_at) == (1, None)
    second = await login(world, "CS-16", "q" * 20, T0, source="2001:db8::1")
    assert (second.failures, second.retry_at) == (2, T0 + timedelta(seconds=10))
    # While the station waits even the right password is not checked, nor counted.
    waiting = await login(world, "CS-16", "p" * 20, T0 + timedelta(seconds=9))
    assert (waiting.result, waiting.failures) == (AuthResult.THROTTLED, 2)
    assert (await login(world, "CS-16", "p" * 20, T0 + timedelta(seconds=10))).accepted
    async with session_scope(world) as session:
        station = await StationService(session).get("CS-16")
    assert (station.auth_failures, station.auth_failures_total) == (0, 2)
    assert station.last_auth_failure_at == T0
    assert station.last_auth_failure_source == "2001:db8::1"
