"""Tokens Receiver (``mod_tokens.asciidoc``): PUT, PATCH and GET through the real app and
database (both engines), with the spec's examples and every kind of bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient
from sqlmodel import select

from hub.app import create_app
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings, TokenPullSettings
from hub.persistence.session import session_scope
from hub.persistence.tables import Token
from tests.hub.conftest import add_parties, register_partner
from tests.support.ocpi_openapi import validate_response

pytestmark = pytest.mark.db

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "ocpi" / "examples-2.2.1-d2"
URL = "/ocpi/2.2.1/tokens"
ONE = "/tokens/{country_code}/{party_id}/{token_uid}"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
async def world(database_url, sessions):
    await add_parties(sessions)
    nl_id, nl_token = await register_partner(sessions, "emsp-nl", ("NL", "TNM"))
    de_id, de_token = await register_partner(sessions, "emsp-de", ("DE", "TNM"))
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url="https://ocpi.example.net"),
        push=PushSettings(enabled=False),
        token_pull=TokenPullSettings(enabled=False),
    )
    async with AsyncTestClient(create_app(settings), base_url="http://hub.local") as client:
        yield client, auth(nl_token), auth(de_token), sessions, (nl_id, de_id)


async def stored(sessions) -> list[Token]:
    async with session_scope(sessions) as session:
        return list((await session.execute(select(Token).order_by(Token.id))).scalars())


async def test_put_then_get_returns_every_field_of_the_spec_examples(world):
    client, nl, de, sessions, (_, de_id) = world
    put = await client.put(
        f"{URL}/NL/TNM/012345678", json=example("token_put_example.json"), headers=nl
    )
    assert put.status_code == 200
    assert put.json()["status_code"] == 1000, put.text
    full = example("token_example_2_full_rfid.json")
    put = await client.put(f"{URL}/DE/TNM/{full['uid']}?type=RFID", json=full, headers=de)
    assert put.json()["status_code"] == 1000, put.text

    got = await client.get(f"{URL}/DE/TNM/{full['uid']}", headers=de)
    assert got.status_code == 200
    validate_response("tokens", "receiver", "GET", ONE, 200, got.json())
    assert got.json()["data"] == full
    got = await client.get(f"{URL}/NL/TNM/012345678?type=RFID", headers=nl)
    assert got.json()["data"] == example("token_put_example.json")
    rows = await stored(sessions)
    assert [(r.country_code, r.uid, r.type) for r in rows] == [
        ("NL", "012345678", "RFID"),
        ("DE", full["uid"], "RFID"),
    ]
    assert rows[1].partner_id == de_id
    assert rows[1].energy_contract == {
        "supplier_name": "Greenpeace Energy eG",
        "contract_id": "0123456789",
    }


async def test_app_user_token_needs_its_type_in_the_url(world):
    client, _, de, _, _ = world
    app_user = {**example("token_example_1_app_user.json"), "country_code": "DE", "party_id": "TNM"}
    uid = app_user["uid"]
    refused = await client.put(f"{URL}/DE/TNM/{uid}", json=app_user, headers=de)
    assert refused.json()["status_code"] == 2001
    assert "type" in refused.json()["status_message"]
    accepted = await client.put(f"{URL}/DE/TNM/{uid}?type=APP_USER", json=app_user, headers=de)
    assert accepted.json()["status_code"] == 1000, accepted.text
    assert (await client.get(f"{URL}/DE/TNM/{uid}?type=APP_USER", headers=de)).json()[
        "data"
    ] == app_user
    # The same uid as an RFID is another token, which does not exist.
    assert (await client.get(f"{URL}/DE/TNM/{uid}", headers=de)).status_code == 404


async def test_put_of_an_existing_token_replaces_it_and_valid_false_invalidates(world):
    client, nl, _, sessions, _ = world
    first = example("token_put_example.json")
    await client.put(f"{URL}/NL/TNM/012345678", json=first, headers=nl)
    replacement = {k: v for k, v in first.items() if k not in {"visual_number", "group_id"}}
    replacement.update(valid=False, whitelist="NEVER", last_updated="2016-01-01T00:00:00Z")
    response = await client.put(f"{URL}/NL/TNM/012345678", json=replacement, headers=nl)
    assert response.json()["status_code"] == 1000
    data = (await client.get(f"{URL}/NL/TNM/012345678", headers=nl)).json()["data"]
    assert data == replacement  # omitted optional fields are cleared by a PUT
    assert len(await stored(sessions)) == 1


async def test_patch_changes_only_the_fields_sent(world):
    client, nl, _, _, _ = world
    await client.put(f"{URL}/NL/TNM/012345678", json=example("token_put_example.json"), headers=nl)
    response = await client.patch(
        f"{URL}/NL/TNM/012345678", json=example("token_patch_example.json"), headers=nl
    )
    assert response.json()["status_code"] == 1000, response.text
    data = (await client.get(f"{URL}/NL/TNM/012345678", headers=nl)).json()["data"]
    assert data == {**example("token_put_example.json"), **example("token_patch_example.json")}
    energy = {
        "energy_contract": {"supplier_name": "Acme Power"},
        "last_updated": "2020-01-01T00:00:00Z",
    }
    await client.patch(f"{URL}/NL/TNM/012345678", json=energy, headers=nl)
    data = (await client.get(f"{URL}/NL/TNM/012345678", headers=nl)).json()["data"]
    assert data["energy_contract"] == {"supplier_name": "Acme Power"}
    assert data["valid"] is False


async def test_patch_of_an_unknown_token_is_2004_and_creates_nothing(world):
    client, nl, _, sessions, _ = world
    response = await client.patch(
        f"{URL}/NL/TNM/NOPE", json=example("token_patch_example.json"), headers=nl
    )
    assert response.status_code == 404
    assert response.json()["status_code"] == 2004
    assert await stored(sessions) == []


def _put_body(**changes):
    body = example("token_put_example.json")
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(
    ("url", "body", "named"),
    [
        ("NL/TNM/012345678", _put_body(contract_id=None), "contract_id is required"),
        ("NL/TNM/012345678", _put_body(issuer=None), "issuer is required"),
        ("NL/TNM/012345678", _put_body(last_updated=None), "last_updated is required"),
        ("NL/TNM/012345678", _put_body(whitelist="SOMETIMES"), "whitelist must be one of"),
        ("NL/TNM/012345678", _put_body(valid="maybe"), "valid must be true or false"),
        (f"NL/TNM/{'1' * 37}", _put_body(uid="1" * 37), "uid must be at most 36 characters"),
        ("NL/TNM/012345678", _put_body(type="EMAID"), "type must be one of"),
        ("NL/TNM/012345678", _put_body(country_code="DE"), "country_code 'DE' differs"),
        ("NL/TNM/012345678", _put_body(party_id="XXX"), "party_id 'XXX' differs"),
        ("NL/TNM/999", _put_body(), "uid '012345678' differs"),
        ("NL/TNM/012345678?type=OTHER", _put_body(), "type 'RFID' differs"),
        ("NL/TNM/012345678", [], "Request body must be a JSON object"),
    ],
)
async def test_bad_put_is_2001_naming_the_field_and_stores_nothing(world, url, body, named):
    client, nl, _, sessions, _ = world
    response = await client.put(f"{URL}/{url}", json=body, headers=nl)
    assert response.json()["status_code"] == 2001, response.text
    assert named in response.json()["status_message"]
    assert await stored(sessions) == []


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"valid": False}, "last_updated is required"),
        ({"valid": None, "last_updated": "2020-01-01T00:00:00Z"}, "valid cannot be null"),
        ({"uid": "OTHER", "last_updated": "2020-01-01T00:00:00Z"}, "uid 'OTHER' differs"),
        ({"type": "FOO", "last_updated": "2020-01-01T00:00:00Z"}, "type must be one of"),
        (
            {"group_id": "G" * 37, "last_updated": "2020-01-01T00:00:00Z"},
            "group_id must be at most 36",
        ),
    ],
)
async def test_bad_patch_is_2001_and_changes_nothing(world, body, named):
    client, nl, _, _, _ = world
    original = example("token_put_example.json")
    await client.put(f"{URL}/NL/TNM/012345678", json=original, headers=nl)
    response = await client.patch(f"{URL}/NL/TNM/012345678", json=body, headers=nl)
    assert response.json()["status_code"] == 2001, response.text
    assert named in response.json()["status_message"]
    assert (await client.get(f"{URL}/NL/TNM/012345678", headers=nl)).json()["data"] == original


async def test_unknown_type_in_the_query_is_2001(world):
    client, nl, _, sessions, _ = world
    response = await client.put(
        f"{URL}/NL/TNM/012345678?type=EMAID", json=example("token_put_example.json"), headers=nl
    )
    assert response.json()["status_code"] == 2001
    assert "type" in response.json()["status_message"]
    assert await stored(sessions) == []


async def test_get_of_an_impossible_id_is_an_unknown_token(world):
    client, nl, _, _, _ = world
    for path in (f"NL/TNM/{'X' * 37}", "NLX/TNM/1", "NL/TNMX/1"):
        response = await client.get(f"{URL}/{path}", headers=nl)
        assert response.status_code == 404
        assert response.json()["status_code"] == 2004


async def test_version_details_list_tokens_as_receiver(world):
    client, nl, _, _, _ = world
    details = (await client.get("/ocpi/2.2.1", headers=nl)).json()["data"]
    tokens = [e for e in details["endpoints"] if e["identifier"] == "tokens"]
    assert tokens == [
        {
            "identifier": "tokens",
            "role": "RECEIVER",
            "url": "https://ocpi.example.net/ocpi/2.2.1/tokens",
        }
    ]
