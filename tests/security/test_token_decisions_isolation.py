"""Decisions about one partner's driver never involve another partner, and the trail of
decisions is the operator's alone (both databases).

Two eMSPs run as real servers on 127.0.0.1 and record every request; the hub's real
authorization flow (``IdTokenAuthorizer`` over the real ``RealTimeAuthorizer``) decides. A
token of A's party, stored or routed by its eMAID prefix, is asked of A only: not when A
refuses, not when A is down (then the whitelist rule decides; the unknown-card broadcast is
for cards nobody pushed). No OCPI route, and no module partners can reach, serves the trail or
the operator's blocks.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from hub.app import create_app
from hub.config import AuthorizationSettings, DatabaseSettings, PushSettings, Settings
from hub.domain.emaid import check_character
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.persistence.session import session_scope
from hub.roaming.authorization import RealTimeAuthorizer
from hub.roaming.importer import parse_locations_json
from hub.services.authorizations import TokenAdminService
from hub.services.locations import LocationService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp_authorize import AuthorizingEmsp, register_emsp
from tests.support.servers import asgi_server, free_port

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
A, B = ("US", "EMA"), ("US", "EMB")
CARD = "04A1B2C3D4"
EMAID_BODY = "USEMAC12345678"
EMAID = EMAID_BODY + check_character(EMAID_BODY)


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    site = network.location("SITE", evses=1)
    site["evses"][0]["hub_ocpp"] = {"charging_station_id": "CS-1", "connector_id": 1}
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site])))
    with contextlib.ExitStack() as stack:
        peers = {}
        for name, party in (("emsp-a", A), ("emsp-b", B)):
            peer = AuthorizingEmsp(party=party)
            peer.base_url = stack.enter_context(asgi_server(peer.app()))
            peer.issued[f"token-for-{name}"] = "C"
            stack.callback(peer.release_all)
            peers[name] = peer
        ids = {}
        for name, party in (("emsp-a", A), ("emsp-b", B)):
            url = f"{peers[name].base_url}/ocpi/2.2.1/tokens"
            ids[name] = await register_emsp(sessions, name, party, url)
        yield peers, ids


async def put_token(sessions, partner_id: int, party, uid: str, **fields) -> TokenKey:
    key = TokenKey(*party, uid, fields.pop("token_type", TokenType.RFID))
    async with session_scope(sessions) as session:
        await TokenService(session).put(
            partner_id,
            TokenRecord(
                key=key,
                contract_id=fields.pop("contract_id", f"{party[0]}-{party[1]}-C1"),
                issuer="eMSP",
                valid=True,
                whitelist=fields.pop("whitelist", WhitelistType.NEVER),
                last_updated=datetime(2026, 12, 1, tzinfo=UTC),
            ),
        )
    return key


def authorizer(sessions, http) -> IdTokenAuthorizer:
    settings = AuthorizationSettings()
    return IdTokenAuthorizer(sessions, RealTimeAuthorizer(sessions, http, settings), settings)


@pytest.mark.parametrize("a_answers", ["BLOCKED", "unknown", "down"])
async def test_a_token_of_a_is_asked_of_a_only_whatever_a_answers(sessions, http, world, a_answers):
    peers, ids = world
    await put_token(sessions, ids["emsp-a"], A, CARD)
    peers["emsp-b"].verdict(CARD, party=B)  # B would allow it: it must never be asked
    if a_answers == "BLOCKED":
        peers["emsp-a"].verdict(CARD, "BLOCKED")
    elif a_answers == "down":
        async with session_scope(sessions) as session:
            from hub.persistence.tables import Partner

            partner = await session.get(Partner, ids["emsp-a"])
            partner.endpoints = [
                {**e, "url": f"http://127.0.0.1:{free_port()}/tokens"}
                if e.get("identifier") == "tokens"
                else e
                for e in partner.endpoints
            ]
    info = await authorizer(sessions, http).id_tag_info(
        "CS-1", CARD, action="StartTransaction", connector_id=1
    )
    assert info["status"] != "Accepted"
    assert peers["emsp-b"].requests_for() == []
    if a_answers != "down":
        assert len(peers["emsp-a"].requests_for(CARD)) == 1


async def test_an_emaid_routed_to_a_is_never_asked_of_b(sessions, http, world):
    peers, _ = world
    peers["emsp-a"].verdict(EMAID, token_type="OTHER")
    peers["emsp-b"].verdict(EMAID, token_type="OTHER", party=B)
    info, _ = await authorizer(sessions, http).id_token_info(
        "CS-1", {"id_token": EMAID, "type": "eMAID"}, action="Authorize"
    )
    assert info["status"] == "Accepted"
    assert peers["emsp-b"].requests_for() == []


async def test_a_uid_both_parties_hold_is_asked_of_one_owner_only(sessions, http, world):
    peers, ids = world
    await put_token(sessions, ids["emsp-a"], A, CARD)
    await put_token(sessions, ids["emsp-b"], B, CARD)
    peers["emsp-a"].verdict(CARD)
    peers["emsp-b"].verdict(CARD, party=B)
    await authorizer(sessions, http).id_tag_info("CS-1", CARD, action="Authorize")
    asked = [len(peers[name].requests_for(CARD)) for name in ("emsp-a", "emsp-b")]
    assert sorted(asked) == [0, 1]


async def test_no_ocpi_route_serves_decisions_or_blocks(database_url, sessions, http, world):
    """``hub tokens explain`` is operator-only: a partner with valid credentials finds no
    route to the trail, the blocks, or anyone's decisions."""
    _, ids = world
    key = await put_token(sessions, ids["emsp-a"], A, CARD)
    async with session_scope(sessions) as session:
        await TokenAdminService(session).block(key, "operator note: lost card")
    await authorizer(sessions, http).id_tag_info("CS-1", CARD, action="Authorize")
    _, token = await register_partner(sessions, "emsp-reader", ("US", "EMR"))
    settings = Settings(
        database=DatabaseSettings(url=database_url), push=PushSettings(enabled=False)
    )
    app = create_app(settings)
    paths = [route.path for route in app.routes]
    words = ("decision", "explain", "block", "audit", "authorization_decisions")
    assert not [p for p in paths if any(word in p.lower() for word in words)]
    schema = json.dumps(app.openapi_schema.to_schema())
    assert "authorization_decisions" not in schema
    assert "uid_digest" not in schema
    headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    async with AsyncTestClient(app, base_url="http://hub.local") as client:
        for path in (
            "/ocpi/2.2.1/tokens/decisions",
            f"/ocpi/2.2.1/tokens/US/EMA/{CARD}/decisions",
            "/ocpi/2.2.1/decisions",
            "/ocpi/2.2.1/tokens/blocks",
        ):
            response = await client.get(path, headers=headers)
            assert "lost card" not in response.text
            assert response.status_code in (404, 405) or response.json().get("data") in (None, [])


def test_no_partner_facing_module_reads_the_trail():
    """Only the OCPP flow (which writes it) and the CLI (the operator) reach the trail's
    service, repository and tables; the OCPI layer and the roaming adapter never do."""
    trail = {
        "hub.services.authorizations",
        "hub.persistence.repositories.authorization",
        "hub.persistence.tables.authorization",
    }
    names = {"AuthorizationDecisionRecord", "OperatorTokenBlock", "TokenAdminService"}
    offenders = []
    for folder in ("ocpi", "hub/roaming"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (
                    node.module in trail
                    or (
                        node.module == "hub.persistence.tables"
                        and names & {a.name for a in node.names}
                    )
                ):
                    offenders.append(str(path.relative_to(ROOT)))
                if isinstance(node, ast.Import) and trail & {a.name for a in node.names}:
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
