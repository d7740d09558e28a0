"""Two automakers' eMSPs attack each other's tokens through the Tokens Receiver: writing under
the other's party (in the URL, the body or both, any case, with forged routing headers),
patching its tokens and reading them. Every attempt is an OCPI error, nothing is stored or
changed, and a read of another's token is indistinguishable from a read of no token at all.

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
from hub.persistence.tables import Token
from tests.hub.conftest import add_parties, register_partner
from tests.support.servers import asgi_server, free_port

pytestmark = pytest.mark.db

A, B = ("US", "EMA"), ("US", "EMB")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def token(party: tuple[str, str], uid: str, **changes: Any) -> dict[str, Any]:
    body = {
        "country_code": party[0],
        "party_id": party[1],
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{party[0]}-{party[1]}-C{uid}",
        "issuer": f"{party[1]} Motors",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-11-30T10:00:00Z",
    }
    body.update(changes)
    return body


def url(hub: str, country_code: str, party_id: str, uid: str) -> str:
    return f"{hub}/ocpi/2.2.1/tokens/{country_code}/{party_id}/{uid}"


@pytest.fixture
async def world(database_url, sessions):
    await add_parties(sessions)
    _, token_a = await register_partner(sessions, "emsp-a", A)
    _, token_b = await register_partner(sessions, "emsp-b", B)
    port = free_port()
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(enabled=False),
        token_pull=TokenPullSettings(enabled=False),
    )
    with asgi_server(create_app(settings), port) as hub:
        async with httpx.AsyncClient(timeout=10) as http:
            yield hub, http, auth(token_a), auth(token_b), sessions


async def all_tokens(sessions) -> list[dict[str, Any]]:
    async with session_scope(sessions) as session:
        rows = (await session.execute(select(Token).order_by(Token.id))).scalars()
        return [
            {
                "party": (r.country_code, r.party_id),
                "uid": r.uid,
                "valid": r.valid,
                "issuer": r.issuer,
            }
            for r in rows
        ]


def forged_headers(victim: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {},
        {"OCPI-from-country-code": victim[0], "OCPI-from-party-id": victim[1]},
        {
            "OCPI-from-country-code": victim[0],
            "OCPI-from-party-id": victim[1],
            "OCPI-to-country-code": "US",
            "OCPI-to-party-id": "HPC",
        },
    ]


async def test_an_emsp_can_neither_write_nor_read_another_emsps_tokens(world):
    hub, http, emsp_a, emsp_b, sessions = world
    # B's own token, legitimately pushed.
    response = await http.put(url(hub, *B, "B-CARD"), json=token(B, "B-CARD"), headers=emsp_b)
    assert response.json()["status_code"] == 1000, response.text
    before = await all_tokens(sessions)

    attempts = 0
    for forged in forged_headers(B):
        headers = {**emsp_a, **forged}
        for cc, pid in (B, ("us", "emb"), ("US", "ZZZ"), ("US", "HPC")):
            for body_party in ((cc, pid), A):
                # A new token, and an overwrite of B's, under a party A does not own.
                for uid in ("A-EVIL", "B-CARD"):
                    body = token(body_party, uid, issuer="forged", valid=False)
                    response = await http.put(url(hub, cc, pid, uid), json=body, headers=headers)
                    attempts += 1
                    assert response.json()["status_code"] == 2001, response.text
            patch = {"valid": False, "issuer": "forged", "last_updated": "2026-12-01T00:00:00Z"}
            response = await http.patch(url(hub, cc, pid, "B-CARD"), json=patch, headers=headers)
            attempts += 1
            assert response.json()["status_code"] == 2001, response.text
        # A's own party in the URL, B's in the body: the body must name the URL's token.
        response = await http.put(
            url(hub, *A, "B-CARD"), json=token(B, "B-CARD", issuer="forged"), headers=headers
        )
        attempts += 1
        assert response.json()["status_code"] == 2001
        assert (
            "country_code" in response.json()["status_message"]
            or "party_id" in response.json()["status_message"]
        )

        # Reading B's token looks exactly like reading a token that does not exist.
        for cc, pid in (B, ("us", "emb")):
            theirs = await http.get(url(hub, cc, pid, "B-CARD"), headers=headers)
            nothing = await http.get(url(hub, cc, pid, "NO-SUCH-CARD"), headers=headers)
            attempts += 1
            assert theirs.status_code == nothing.status_code == 404
            assert theirs.json()["status_code"] == nothing.json()["status_code"] == 2004
            assert "data" not in theirs.json()
            assert theirs.json()["status_message"].replace("B-CARD", "?") == nothing.json()[
                "status_message"
            ].replace("NO-SUCH-CARD", "?")

    assert attempts > 50
    assert await all_tokens(sessions) == before  # nothing stored, nothing changed
    # B still reads its own token, untouched.
    own = await http.get(url(hub, *B, "B-CARD"), headers=emsp_b)
    assert own.json()["data"] == token(B, "B-CARD")


async def test_patch_by_the_owner_still_works_after_the_attacks(world):
    hub, http, emsp_a, _, sessions = world
    await http.put(url(hub, *A, "A-CARD"), json=token(A, "A-CARD"), headers=emsp_a)
    response = await http.patch(
        url(hub, *A, "A-CARD"),
        json={"valid": False, "last_updated": "2026-12-01T00:00:00Z"},
        headers=emsp_a,
    )
    assert response.json()["status_code"] == 1000
    assert [t["valid"] for t in await all_tokens(sessions)] == [False]
