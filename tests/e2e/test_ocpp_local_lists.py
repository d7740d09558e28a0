"""Offline charging: the stations' local authorization lists over real websockets, with raw-frame
OCPP 1.6 and 2.0.1 stations that answer the list's questions and apply what they are sent.

The tests run the sync pass themselves (the hub's own schedule is off), through the node's
internal call endpoint, as another hub process would: no timing, no races. Both engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.config import LocalListSettings
from hub.domain.tokens import TokenRecord, TokenType, WhitelistType, key_of
from hub.ocpp.commands import StationCommands
from hub.ocpp.local_lists import LocalListSync
from hub.ocpp.server import StationRegistry
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json
from hub.services.local_lists import LocalListService
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.local_list_station import list_keeping_station
from tests.support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG_16 = {
    "LocalAuthListEnabled": "true",
    "LocalAuthListMaxLength": "100",
    "SendLocalListMaxLength": "50",
}
VARIABLES_201 = {
    "Enabled": "true",
    "Entries": "100",
    "ItemsPerMessage": "50",
    "BytesPerMessage": "8000",
}


def record(uid: str, minutes: int, **changes: Any) -> TokenRecord:
    fields: dict[str, Any] = {
        "key": key_of("US", "EMA", uid, TokenType.RFID),
        "contract_id": f"US-EMA-C{uid}",
        "issuer": "EMSP A",
        "valid": True,
        "whitelist": WhitelistType.ALLOWED,
        "last_updated": T0 + timedelta(minutes=minutes),
    }
    fields.update(changes)
    return TokenRecord(**fields)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[tuple[InProcessHub, int]]:
    port = free_port()
    async with running_hub(
        database_url,
        uvicorn={"port": port},
        node_url=f"http://127.0.0.1:{port}",
        sweep_interval_seconds=3600,
    ) as running:
        await add_parties(running.sessions)
        partner_id, _ = await register_partner(running.sessions, "EMSP A", ("US", "EMA"))
        location = network.location("SITE", evses=2)
        links = [("CS-16", None, 1), ("CS-201", 1, None)]
        for evse, (station, evse_id, connector_id) in zip(location["evses"], links, strict=True):
            evse["hub_ocpp"] = {
                "charging_station_id": station,
                "evse_id": evse_id,
                "connector_id": connector_id,
            }
        async with session_scope(running.sessions) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps([location]))
            )
            for station_id in ("CS-16", "CS-201"):
                await StationService(session).add(station_id, PASSWORD)
        yield running, partner_id


async def put_tokens(hub: InProcessHub, partner_id: int, *records: TokenRecord) -> None:
    async with session_scope(hub.sessions) as session:
        for one in records:
            await TokenService(session).put(partner_id, one)


@contextlib.asynccontextmanager
async def sync_of(hub: InProcessHub, **settings: Any) -> AsyncIterator[LocalListSync]:
    """A sync pass run from the test, holding no socket: its calls go to the hub's node."""
    async with httpx.AsyncClient() as http:
        commands = StationCommands(
            StationRegistry(),
            hub.sessions,
            http,
            node="http://test-runner.invalid",
            internal_token="",
            timeout=10,
        )
        yield LocalListSync(hub.sessions, commands, LocalListSettings(**settings), clock=hub.clock)


def ids_in(payload: dict[str, Any]) -> list[str]:
    out = []
    for entry in payload.get("localAuthorizationList") or []:
        out.append(entry["idTag"] if "idTag" in entry else entry["idToken"]["idToken"])
    return out


async def test_ocpp16_full_list_at_boot_then_nothing_when_in_step_then_a_differential(hub):
    running, partner_id = hub
    await put_tokens(
        running,
        partner_id,
        record("CARD1", 1),
        record("CARD2", 2, whitelist=WhitelistType.ALWAYS, group_id="FLEET"),
        record("CARD3", 3, whitelist=WhitelistType.ALLOWED_OFFLINE),
        record("NEVER1", 4, whitelist=WhitelistType.NEVER),
        record("INVALID1", 5, valid=False),
    )
    async with (
        list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", list_version=7, configuration=CONFIG_16
        ) as station,
        sync_of(running) as sync,
    ):
        report = await sync.sync_pass(["CS-16"])
        assert report.sent == {"CS-16": "Full"}
        assert station.actions == ["GetConfiguration", "GetLocalListVersion", "SendLocalList"]
        assert station.calls[0][1] == {
            "key": ["LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength"]
        }
        (full,) = station.lists_received
        assert full["updateType"] == "Full"
        assert full["listVersion"] == 8  # above the station's 7
        assert ids_in(full) == ["CARD3", "CARD2", "CARD1"]
        assert full["localAuthorizationList"][1] == {
            "idTag": "CARD2",
            "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"},
        }

        # Nothing changed: the next pass calls nobody.
        station.forget_calls()
        report = await sync.sync_pass(["CS-16"])
        assert report.considered == 0
        assert station.calls == []

        # A token withdrawn and one added: one Differential, the removal without idTagInfo.
        await put_tokens(running, partner_id, record("CARD1", 10, valid=False), record("CARD4", 11))
        report = await sync.sync_pass(["CS-16"])
        assert report.sent == {"CS-16": "Differential"}
        (update,) = station.lists_received
        assert update["listVersion"] == 9
        assert update["localAuthorizationList"] == [
            {"idTag": "CARD1"},
            {"idTag": "CARD4", "idTagInfo": {"status": "Accepted"}},
        ]
        assert sorted(station.held) == ["CARD2", "CARD3", "CARD4"]

    async with session_scope(running.sessions) as session:
        view = await LocalListService(session).view("CS-16")
    assert (view.row.version, view.row.entries, view.row.max_entries) == (9, 3, 100)
    assert view.row.last_error is None

    # It boots again holding version 9: versions match, no list is sent.
    async with (
        list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", list_version=9, configuration=CONFIG_16
        ) as station,
        sync_of(running) as sync,
    ):
        report = await sync.sync_pass(["CS-16"])
        assert station.actions == ["GetConfiguration", "GetLocalListVersion"]
        assert report.in_step == ["CS-16"]


async def test_ocpp201_list_too_small_keeps_the_newest_tokens_split_per_items_per_message(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, *(record(f"CARD{n}", n) for n in range(1, 6)))
    variables = {**VARIABLES_201, "Entries": "3", "ItemsPerMessage": "2"}
    async with (
        list_keeping_station(
            running.ws_url, "CS-201", PASSWORD, "2.0.1", variables=variables
        ) as station,
        sync_of(running) as sync,
    ):
        report = await sync.sync_pass(["CS-201"])
        assert report.sent == {"CS-201": "Full"}
        assert station.actions == [
            "GetVariables",
            "GetLocalListVersion",
            "SendLocalList",
            "SendLocalList",
        ]
        asked = [
            (d["variable"]["name"], d["attributeType"])
            for d in station.calls[0][1]["getVariableData"]
        ]
        assert asked == [
            ("Enabled", "Actual"),
            ("Entries", "MaxSet"),
            ("ItemsPerMessage", "Actual"),
            ("BytesPerMessage", "Actual"),
        ]
        first, second = station.lists_received
        assert (first["updateType"], first["versionNumber"], ids_in(first)) == (
            "Full",
            1,
            ["CARD5", "CARD4"],
        )
        assert (second["updateType"], second["versionNumber"], ids_in(second)) == (
            "Differential",
            2,
            ["CARD3"],
        )
        assert first["localAuthorizationList"][0] == {
            "idToken": {"idToken": "CARD5", "type": "ISO14443"},
            "idTokenInfo": {"status": "Accepted"},
        }

        # A newer token pushes the oldest listed one out.
        await put_tokens(running, partner_id, record("CARD6", 6))
        await sync.sync_pass(["CS-201"])
        update = station.lists_received[-1]
        assert update["updateType"] == "Differential"
        assert update["localAuthorizationList"] == [
            {"idToken": {"idToken": "CARD3", "type": "ISO14443"}},
            {
                "idToken": {"idToken": "CARD6", "type": "ISO14443"},
                "idTokenInfo": {"status": "Accepted"},
            },
        ]
        assert sorted(station.held) == ["ISO14443:CARD4", "ISO14443:CARD5", "ISO14443:CARD6"]

    async with session_scope(running.sessions) as session:
        view = await LocalListService(session).view("CS-201")
    assert (view.row.entries, view.row.eligible, view.row.max_entries) == (3, 6, 3)
    assert (view.row.max_items_per_message, view.row.max_bytes_per_message) == (2, 8000)


async def test_ocpp16_full_list_split_per_send_local_list_max_length(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, *(record(f"CARD{n}", n) for n in range(1, 6)))
    configuration = {**CONFIG_16, "SendLocalListMaxLength": "2"}
    async with (
        list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", configuration=configuration
        ) as station,
        sync_of(running) as sync,
    ):
        await sync.sync_pass(["CS-16"])
        lists = station.lists_received
        assert [(p["updateType"], p["listVersion"], len(ids_in(p))) for p in lists] == [
            ("Full", 1, 2),
            ("Differential", 2, 2),
            ("Differential", 3, 1),
        ]
        assert station.list_version == 3
        assert len(station.held) == 5


async def test_a_station_without_a_local_list_is_left_alone_until_it_boots_again(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, record("CARD1", 1))
    async with (
        list_keeping_station(
            running.ws_url, "CS-201", PASSWORD, "2.0.1", variables=None
        ) as station,
        sync_of(running) as sync,
    ):
        report = await sync.sync_pass(["CS-201"])
        assert station.actions == ["GetVariables"]
        assert "LocalAuthListCtrlr is an unknown component" in report.skipped["CS-201"]
        station.forget_calls()
        await put_tokens(running, partner_id, record("CARD2", 2))
        assert (await sync.sync_pass(["CS-201"])).considered == 0
        assert station.calls == []


async def test_a_station_answering_not_implemented_is_left_alone_not_failed(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, record("CARD1", 1))
    async with (
        list_keeping_station(
            running.ws_url,
            "CS-16",
            PASSWORD,
            "1.6",
            configuration=CONFIG_16,
            not_implemented=frozenset({"GetLocalListVersion"}),
        ) as station,
        sync_of(running) as sync,
    ):
        report = await sync.sync_pass(["CS-16"])
        assert station.actions == ["GetConfiguration", "GetLocalListVersion"]
        assert "NotImplemented" in report.skipped["CS-16"]
        assert report.failed == {}
        await put_tokens(running, partner_id, record("CARD2", 2))
        assert (await sync.sync_pass(["CS-16"])).considered == 0


async def test_a_refused_update_is_recorded_and_the_next_attempt_sends_the_whole_list(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, record("CARD1", 1))
    async with (
        list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", configuration=CONFIG_16
        ) as station,
        sync_of(running, retry_after_seconds=60) as sync,
    ):
        await sync.sync_pass(["CS-16"])
        await put_tokens(running, partner_id, record("CARD2", 2))
        station.list_version = 50  # it lost track: our Differential (version 2) is refused
        report = await sync.sync_pass(["CS-16"])
        assert "VersionMismatch" in report.failed["CS-16"]
        async with session_scope(running.sessions) as session:
            view = await LocalListService(session).view("CS-16")
        assert "VersionMismatch" in (view.row.last_error or "")
        # Not retried before retry_after_seconds...
        assert (await sync.sync_pass(["CS-16"])).considered == 0
        running.clock.advance(61)
        report = await sync.sync_pass(["CS-16"])
        assert report.sent == {"CS-16": "Full"}
        assert sorted(station.held) == ["CARD1", "CARD2"]


async def test_hub_serve_sends_the_list_after_a_boot_by_itself(database_url: str):
    """The pass inside the hub, woken by the boot: the station gets its list without the test
    driving anything (it waits for the frame, not for a time)."""
    async with running_hub(
        database_url,
        local_list=LocalListSettings(interval_seconds=3600),
        sweep_interval_seconds=3600,
    ) as running:
        await add_parties(running.sessions)
        partner_id, _ = await register_partner(running.sessions, "EMSP A", ("US", "EMA"))
        location = network.location("SITE", evses=1)
        location["evses"][0]["hub_ocpp"] = {"charging_station_id": "CS-16", "connector_id": 1}
        async with session_scope(running.sessions) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps([location]))
            )
            await StationService(session).add("CS-16", PASSWORD)
        await put_tokens(running, partner_id, record("CARD1", 1))
        async with list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", configuration=CONFIG_16
        ) as station:
            await asyncio.wait_for(station.list_received.wait(), 30)
            assert station.actions == ["GetConfiguration", "GetLocalListVersion", "SendLocalList"]
            assert ids_in(station.lists_received[0]) == ["CARD1"]


async def test_a_token_change_is_spread_over_passes_of_at_most_max_stations_per_pass(hub):
    running, partner_id = hub
    await put_tokens(running, partner_id, record("CARD1", 1))
    async with (
        list_keeping_station(
            running.ws_url, "CS-16", PASSWORD, "1.6", configuration=CONFIG_16
        ) as cs16,
        list_keeping_station(
            running.ws_url, "CS-201", PASSWORD, "2.0.1", variables=VARIABLES_201
        ) as cs201,
        sync_of(running, max_stations_per_pass=1) as sync,
    ):
        first = await sync.sync_pass(["CS-16", "CS-201"])
        second = await sync.sync_pass(["CS-16", "CS-201"])
        assert (first.considered, second.considered) == (1, 1)
        assert {**first.sent, **second.sent} == {"CS-16": "Full", "CS-201": "Full"}
        assert (await sync.sync_pass(["CS-16", "CS-201"])).considered == 0

        # One token change: no call until a pass runs, then one station per pass.
        cs16.forget_calls()
        cs201.forget_calls()
        await put_tokens(running, partner_id, record("CARD2", 2))
        assert cs16.calls == []
        assert cs201.calls == []
        first = await sync.sync_pass(["CS-16", "CS-201"])
        assert len(first.sent) == 1
        second = await sync.sync_pass(["CS-16", "CS-201"])
        assert {**first.sent, **second.sent} == {"CS-16": "Differential", "CS-201": "Differential"}
        assert [p["localAuthorizationList"] for p in cs16.lists_received] == [
            [{"idTag": "CARD2", "idTagInfo": {"status": "Accepted"}}]
        ]
