"""``hub chargers auth-list``: what a station's local authorization list holds per our records,
as a table and as JSON; one error line for a station that is unknown or never got a list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.local_lists import ListCandidate, UpdateType, entry_for
from hub.domain.stations import OcppVersion
from hub.domain.tokens import TokenKey, TokenType, WhitelistType
from hub.services.local_lists import ListLimits, LocalListService
from hub.services.stations import StationService
from tests.support.cli import Invoke, arrange, cli_in_process

pytestmark = pytest.mark.db

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def hub(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def entry(uid: str, version: OcppVersion, group_id: str | None = None):
    candidate = ListCandidate(
        TokenKey("US", "EMA", uid, TokenType.RFID), True, WhitelistType.ALWAYS, NOW, group_id
    )
    made = entry_for(candidate, version)
    assert made is not None
    return made


def test_auth_list_shows_version_limits_entries_and_errors(hub: Invoke, database_url: str):
    async def work(session: AsyncSession) -> None:
        await StationService(session).add("CS-201", "station-password-0123")
        service = LocalListService(session)
        await service.state("CS-201")
        await service.record_limits("CS-201", ListLimits(500, 50, 8000, True), now=NOW)
        await service.record_sent(
            "CS-201",
            held={},
            wanted=[entry("CARD1", OcppVersion.V201, "FLEET"), entry("CARD2", OcppVersion.V201)],
            version=4,
            station_version=4,
            update=UpdateType.FULL,
            messages=1,
            fingerprint="f",
            eligible=2,
            now=NOW,
        )
        await service.record_failure("CS-201", "the station answered Failed", now=NOW)

    arrange(database_url, work)
    record = json.loads(hub("chargers", "auth-list", "CS-201", "--json").stdout)
    assert record["version"] == 4
    assert (record["entries"], record["max_entries"], record["max_items_per_message"]) == (
        2,
        500,
        50,
    )
    assert record["pending"] == ["full"]
    assert record["last_error"] == "the station answered Failed"
    assert record["list"] == [
        {"id_token": "CARD1", "type": "ISO14443", "status": "Accepted", "group": "FLEET"},
        {"id_token": "CARD2", "type": "ISO14443", "status": "Accepted", "group": None},
    ]
    table = hub("chargers", "auth-list", "CS-201").stdout
    assert "Local authorization list of CS-201" in table
    assert "CARD1" in table
    assert "FLEET" in table
    assert "the station answered Failed" in table


def test_auth_list_of_an_unknown_or_never_booted_station_is_one_error_line(
    hub: Invoke, database_url: str
):
    unknown = hub("chargers", "auth-list", "CS-NOPE", expect=1)
    assert unknown.stderr.strip().startswith("error: no charging station 'CS-NOPE'")

    async def work(session: AsyncSession) -> None:
        await StationService(session).add("CS-16", "station-password-0123")

    arrange(database_url, work)
    never = hub("chargers", "auth-list", "CS-16", expect=1)
    assert "has not booted since offline lists were kept" in never.stderr
    assert "Traceback" not in never.stderr + never.stdout
