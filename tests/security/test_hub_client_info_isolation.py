"""Partners attack each other through the Hub Client Info Receiver: an eMSP poses as a hub, a
hub reports on another partner's parties, or reads what another hub reported. An eMSP's report
is refused and stores nothing; what one hub says is read back by, and holds pushes of, that hub
only; another hub's reports are indistinguishable from none.

The hub runs as a real HTTP server on 127.0.0.1, on both databases.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlmodel import select

from hub.app import create_app
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings, TokenPullSettings
from hub.persistence.session import session_scope
from hub.persistence.tables import HubClientInfo
from hub.services.hub_client_info import HubClientInfoService
from tests.hub.conftest import add_parties, register_hub, register_partner
from tests.support.servers import asgi_server, free_port

pytestmark = pytest.mark.db

EMSP_PARTY = ("US", "EMX")  # an eMSP connected to us directly
HUB_CLIENT = ("US", "EMA")  # behind hub 1


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def info(party: tuple[str, str], status: str, **changes: Any) -> dict[str, Any]:
    return {
        "country_code": party[0],
        "party_id": party[1],
        "role": "EMSP",
        "status": status,
        "last_updated": "2026-11-30T10:00:00Z",
        **changes,
    }


def url(hub: str, party: tuple[str, str]) -> str:
    return f"{hub}/ocpi/2.2.1/hubclientinfo/{party[0]}/{party[1]}"


@pytest.fixture
async def world(database_url, sessions):
    await add_parties(sessions)
    emsp_id, emsp = await register_partner(sessions, "emsp", EMSP_PARTY)
    hub1_id, hub1 = await register_hub(sessions, "hub-1", ("DE", "HB1"), clients=(HUB_CLIENT,))
    hub2_id, hub2 = await register_hub(sessions, "hub-2", ("DE", "HB2"), clients=(("US", "EMB"),))
    port = free_port()
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(enabled=False),
        token_pull=TokenPullSettings(enabled=False),
    )
    with asgi_server(create_app(settings), port) as base:
        async with httpx.AsyncClient(timeout=10) as http:
            yield {
                "base": base,
                "http": http,
                "sessions": sessions,
                "ids": {"emsp": emsp_id, "hub-1": hub1_id, "hub-2": hub2_id},
                "auth": {"emsp": auth(emsp), "hub-1": auth(hub1), "hub-2": auth(hub2)},
            }


async def stored(sessions) -> list[tuple[int, str, str, str]]:
    async with session_scope(sessions) as session:
        rows = (await session.execute(select(HubClientInfo).order_by(HubClientInfo.id))).scalars()
        return [(r.partner_id, r.country_code, r.party_id, r.status) for r in rows]


async def unreachable(sessions, partner_ids) -> dict[int, frozenset[tuple[str, str]]]:
    async with session_scope(sessions) as session:
        return await HubClientInfoService(session).unreachable_parties(partner_ids)


@pytest.mark.parametrize("party", [EMSP_PARTY, HUB_CLIENT, ("US", "EMB"), ("NL", "ALL")])
@pytest.mark.parametrize(
    "routing",
    [{}, {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "HB1"}],
    ids=["plain", "forged-from-hub"],
)
async def test_an_emsp_posing_as_a_hub_is_refused_and_stores_nothing(world, party, routing):
    http, base = world["http"], world["base"]
    response = await http.put(
        url(base, party), json=info(party, "OFFLINE"), headers={**world["auth"]["emsp"], **routing}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 2001
    assert "only a hub may report client info" in body["status_message"]
    assert await stored(world["sessions"]) == []
    response = await http.get(url(base, party), headers=world["auth"]["emsp"])
    assert (response.status_code, response.json()["status_code"]) == (404, 2000)


async def test_what_a_hub_reports_holds_pushes_of_that_hub_only(world):
    http, base, ids = world["http"], world["base"], world["ids"]
    # Hub 2 reports hub 1's client and the directly connected eMSP offline.
    for party in (HUB_CLIENT, EMSP_PARTY):
        response = await http.put(
            url(base, party), json=info(party, "OFFLINE"), headers=world["auth"]["hub-2"]
        )
        assert response.json()["status_code"] == 1000
    # The push worker holds a delivery only for a party its own partner reports unreachable:
    # pushes to hub 1 (for its client) and to the eMSP are not held by what hub 2 said.
    assert await unreachable(world["sessions"], ids.values()) == {
        ids["hub-2"]: frozenset({HUB_CLIENT, EMSP_PARTY})
    }


async def test_a_hub_never_reads_what_another_hub_reported(world):
    http, base = world["http"], world["base"]
    put = await http.put(
        url(base, HUB_CLIENT), json=info(HUB_CLIENT, "SUSPENDED"), headers=world["auth"]["hub-1"]
    )
    assert put.json()["status_code"] == 1000
    own = await http.get(url(base, HUB_CLIENT), headers=world["auth"]["hub-1"])
    assert own.json()["data"]["status"] == "SUSPENDED"
    for who in ("hub-2", "emsp"):
        theirs = await http.get(url(base, HUB_CLIENT), headers=world["auth"][who])
        none = await http.get(url(base, ("ZZ", "ZZZ")), headers=world["auth"][who])
        assert (theirs.status_code, theirs.json()["status_code"]) == (404, 2000)
        # Indistinguishable from a party nobody reported, apart from the party named.
        assert theirs.json()["status_message"].replace("US*EMA", "X") == none.json()[
            "status_message"
        ].replace("ZZ*ZZZ", "X")
    # A second hub reporting the same party keeps its own row; hub 1's stands.
    await http.put(
        url(base, HUB_CLIENT), json=info(HUB_CLIENT, "CONNECTED"), headers=world["auth"]["hub-2"]
    )
    own = await http.get(url(base, HUB_CLIENT), headers=world["auth"]["hub-1"])
    assert own.json()["data"]["status"] == "SUSPENDED"
    assert sorted(await stored(world["sessions"])) == sorted(
        [
            (world["ids"]["hub-1"], "US", "EMA", "SUSPENDED"),
            (world["ids"]["hub-2"], "US", "EMA", "CONNECTED"),
        ]
    )


async def test_a_body_naming_another_party_than_its_url_is_refused(world):
    http, base = world["http"], world["base"]
    response = await http.put(
        url(base, ("US", "EMB")), json=info(HUB_CLIENT, "OFFLINE"), headers=world["auth"]["hub-1"]
    )
    assert response.json()["status_code"] == 2001
    assert "party_id 'EMA' differs from the URL party_id 'EMB'" in response.json()["status_message"]
    assert await stored(world["sessions"]) == []
