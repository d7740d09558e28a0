"""``hub chargers`` in-process (typer's runner) against real migrated databases: connection
state apart from OCPI state, tables for what stations reported, password resets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import Result

from hub.domain.stations import OcppVersion, password_matches
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.parties import PartyService
from hub.services.stations import StationService
from tests.fixtures import network
from tests.support.cli import Invoke, arrange, cli_in_process

pytestmark = pytest.mark.db

NODE = "http://10.0.0.5:8000"


@pytest.fixture
def hub(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def site() -> dict[str, Any]:
    location = network.location("SITE", evses=2)
    for evse, connector_id in zip(location["evses"], (1, 2), strict=True):
        evse["status"] = "UNKNOWN"
        evse["hub_ocpp"] = {"charging_station_id": "CS-16", "connector_id": connector_id}
    return location


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_list_tells_a_closed_socket_from_an_offline_station(hub, database_url):
    hub("chargers", "add", "CS-16")
    clock = Clock()

    async def connect_and_leave(session: AsyncSession) -> None:
        service = StationService(session, clock=clock)
        await service.connected("CS-16", OcppVersion.V16, NODE)
        await service.disconnected("CS-16", NODE)

    arrange(database_url, connect_and_leave)
    listed = as_json(hub("chargers", "list", "--json"))
    assert [(s["connected"], s["online"], s["node"]) for s in listed] == [(False, True, None)]
    table = hub("chargers", "list").stdout
    row = next(line for line in table.splitlines() if "CS-16" in line)
    assert row.split("│")[2:4] == [" no        ", " online "]
    assert "HUB_OCPP__OFFLINE_AFTER_SECONDS (120 s)" in " ".join(table.split())

    async def offline_delay_passes(session: AsyncSession) -> list[str]:
        clock.now += timedelta(seconds=121)
        return await StationService(session, clock=clock).mark_silent_offline(
            disconnected_for=timedelta(seconds=120), silent_for=timedelta(seconds=900)
        )

    assert arrange(database_url, offline_delay_passes) == ["CS-16"]
    listed = as_json(hub("chargers", "list", "--json"))
    assert [(s["connected"], s["online"]) for s in listed] == [(False, False)]
    row = next(line for line in hub("chargers", "list").stdout.splitlines() if "CS-16" in line)
    assert row.split("│")[3] == " offline "


def test_show_prints_reported_statuses_and_the_status_history_as_tables(hub, database_url):
    async def prepare(session: AsyncSession) -> None:
        await PartyService(session).add(country_code="US", party_id="HPC", name="HPC US")
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        service = StationService(session)
        await service.add("CS-16")
        await service.connected("CS-16", OcppVersion.V16, NODE)
        for connector_id, status in [(1, "Available"), (2, "Available"), (1, "Charging")]:
            await service.connector_status(
                "CS-16", evse_id=None, connector_id=connector_id, ocpp_status=status
            )

    arrange(database_url, prepare)
    shown = as_json(hub("chargers", "show", "CS-16", "--json"))
    assert shown["connector_statuses"] == {"0:1": "Charging", "0:2": "Available"}
    assert [(h["evse_uid"], h["previous_status"], h["status"]) for h in shown["history"]] == [
        ("SITE-E1", "AVAILABLE", "CHARGING"),
        ("SITE-E2", "UNKNOWN", "AVAILABLE"),
        ("SITE-E1", "UNKNOWN", "AVAILABLE"),
    ]
    assert shown["history"][0]["ocpp_status"] == "Charging"

    text = hub("chargers", "show", "CS-16").stdout
    assert "{" not in text  # no raw dict anywhere
    assert "Connector statuses reported" in text
    assert "Status history" in text
    rows = [line.split("│")[1:-1] for line in text.splitlines() if "│" in line]
    cells = [[cell.strip() for cell in row] for row in rows]
    assert ["", "1", "Charging"] in cells  # connector 1 of a 1.6 station: no EVSE id
    assert ["", "2", "Available"] in cells
    history = [row for row in cells if len(row) == 6 and row[1].startswith("SITE-E")]
    assert [row[1:5] for row in history] == [
        ["SITE-E1", "AVAILABLE", "CHARGING", "Charging"],
        ["SITE-E2", "UNKNOWN", "AVAILABLE", "Available"],
        ["SITE-E1", "UNKNOWN", "AVAILABLE", "Available"],
    ]
    limited = as_json(hub("chargers", "show", "CS-16", "--history", "1", "--json"))
    assert len(limited["history"]) == 1


def test_reset_password_prints_a_new_password_once_and_the_old_one_stops_working(hub, database_url):
    old = as_json(hub("chargers", "add", "CS-1", "--json"))["password"]

    async def failed_logins(session: AsyncSession) -> None:
        (await StationService(session).get_for_update("CS-1")).auth_failures = 4

    arrange(database_url, failed_logins)
    new = as_json(hub("chargers", "reset-password", "CS-1", "--json"))
    assert set(new) == {"station_id", "password"}
    assert new["password"] != old
    assert len(new["password"]) == 32

    async def stored(session: AsyncSession) -> tuple[str, int]:
        station = await StationService(session).get("CS-1")
        return station.password_hash, station.auth_failures

    password_hash, failures = arrange(database_url, stored)
    assert password_matches(new["password"], password_hash)
    assert not password_matches(old, password_hash)
    assert failures == 0

    table = hub("chargers", "reset-password", "CS-1", "--password", "chosen-password-0001").stdout
    assert "chosen-password-0001" in table
    assert "not shown again" in table
    key = as_json(hub("chargers", "reset-password", "CS-1", "--password-hex", "ab" * 20, "--json"))
    assert key["password_hex"] == "ab" * 20
    assert password_matches(bytes.fromhex("ab" * 20), arrange(database_url, stored)[0])


@pytest.mark.parametrize(
    ("args", "expect", "message"),
    [
        (["CS-9"], 1, "error: no charging station 'CS-9'"),
        (["CS-1", "--password", "short"], 2, "16 to 40 characters"),
        (["CS-1", "--password-hex", "abc"], 2, "40 hexadecimal"),
        (["CS-1", "--password", "x" * 20, "--password-hex", "ab" * 20], 2, "not both"),
    ],
)
def test_reset_password_refusals(hub, args, expect, message):
    hub("chargers", "add", "CS-1")
    result = hub("chargers", "reset-password", *args, expect=expect)
    assert message in result.output


def test_remove_has_json(hub):
    hub("chargers", "add", "CS-1")
    assert as_json(hub("chargers", "remove", "CS-1", "--json")) == {
        "station_id": "CS-1",
        "removed": True,
    }
    assert as_json(hub("chargers", "list", "--json")) == []
    assert "no charging station 'CS-1'" in hub("chargers", "remove", "CS-1", expect=1).stderr


@pytest.mark.parametrize(
    ("payload", "message"), [("{nope", "not JSON"), ("[1]", "an OCPP payload is a JSON object")]
)
def test_call_refuses_a_payload_that_is_not_a_json_object(hub, payload, message):
    result = hub("chargers", "call", "CS-1", "Reset", payload, expect=2)
    assert message in result.output


def test_call_to_a_station_held_by_a_process_that_is_gone_says_so(hub, database_url):
    with socket.socket() as refusing:  # bound, not listening: connections are refused
        refusing.bind(("127.0.0.1", 0))
        node = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        hub("chargers", "add", "CS-1")

        async def held_by_a_dead_node(session: AsyncSession) -> None:
            await StationService(session).connected("CS-1", OcppVersion.V16, node)

        arrange(database_url, held_by_a_dead_node)
        result = hub("chargers", "call", "CS-1", "Reset", '{"type": "Soft"}', expect=1)
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"error: station CS-1 is held by the hub process at {node}, which cannot be reached: "
    )
