"""``hub partners show`` of a hub partner: the client parties it reported (OCPI Hub Client
Info) and the pushes held for each, in-process against real migrated databases."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from hub.config import get_settings
from hub.domain.hub_client_info import ClientReport, ConnectionStatus
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.services.hub_client_info import HubClientInfoService
from tests.hub.conftest import register_hub, register_partner
from tests.support.cli import cli_in_process

pytestmark = pytest.mark.db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def hub(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE__URL", database_url)
    get_settings.cache_clear()
    with cli_in_process(monkeypatch) as invoke:
        yield invoke
    get_settings.cache_clear()


def _arrange(database_url: str) -> None:
    async def main() -> None:
        engine = create_engine(database_url)
        try:
            sessions = create_session_factory(engine)
            partner_id, _ = await register_hub(sessions, "roaming-hub")
            await register_partner(sessions, "emsp", ("US", "EMX"))
            async with session_scope(sessions) as session:
                service = HubClientInfoService(session)
                for party_id, role, status in (
                    ("EMA", "EMSP", ConnectionStatus.OFFLINE),
                    ("ALL", "CPO", ConnectionStatus.PLANNED),
                ):
                    country_code = "US" if party_id == "EMA" else "NL"
                    report = ClientReport(country_code, party_id, role, status, T0)
                    await service.report(partner_id, report)
        finally:
            await dispose_engine(engine)

    asyncio.run(main())


def test_show_lists_the_parties_a_hub_reported(database_url, hub):
    _arrange(database_url)

    shown = json.loads(hub("partners", "show", "roaming-hub", "--json").stdout)
    assert shown["client_parties"] == [
        {
            "country_code": "NL",
            "party_id": "ALL",
            "role": "CPO",
            "status": "PLANNED",
            "last_updated": "2026-03-01T12:00:00+00:00",
            "held_pushes": 0,
        },
        {
            "country_code": "US",
            "party_id": "EMA",
            "role": "EMSP",
            "status": "OFFLINE",
            "last_updated": "2026-03-01T12:00:00+00:00",
            "held_pushes": 0,
        },
    ]
    table = hub("partners", "show", "roaming-hub").stdout
    assert "Client parties (reported by the hub)" in table
    assert "OFFLINE" in table
    assert "PLANNED" in table
    # A partner that reported nothing shows no such table.
    other = hub("partners", "show", "emsp")
    assert "client_parties" not in json.loads(hub("partners", "show", "emsp", "--json").stdout)
    assert "Client parties" not in other.stdout
