"""Bad input at the OCPI edge, through the real app and database (SQLite and PostgreSQL).

What the database drivers refuse (integers beyond 64 bits, NUL bytes in text) must be refused
by the protocol layer first, in OCPI terms, never reach a query and never become HTTP 500.
"""

from __future__ import annotations

import base64
import json

import pytest
from litestar.testing import AsyncTestClient

from hub.app import create_app
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner

pytestmark = pytest.mark.db

BASE = "https://ocpi.example.net"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
async def hub(database_url, sessions):
    await add_parties(sessions)
    _, token = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps([network.location("LOC1")]))
        )
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
        )
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=BASE),
        push=PushSettings(enabled=False),
    )
    async with AsyncTestClient(create_app(settings), base_url="http://hub.local") as client:
        yield client, auth(token)


@pytest.mark.parametrize("module", ["locations", "tariffs"])
@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775808",  # 2**63: SQLite OverflowError, asyncpg int64 out of range
        "offset=99999999999999999999",
        "limit=99999999999999999999",
        "offset=" + "9" * 5000,  # Python's 4,300-digit int() guard
        "limit=%C2%B2",  # "²": str.isdigit() is true, int() refuses it
    ],
)
async def test_page_integers_beyond_64_bits_are_2001_on_both_engines(hub, module, query):
    client, headers = hub
    response = await client.get(f"/ocpi/2.2.1/{module}?{query}", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status_code"] == 2001
    assert query.split("=")[0] in body["status_message"]
    assert "data" not in body


@pytest.mark.parametrize("module", ["locations", "tariffs"])
async def test_largest_64_bit_offset_is_an_empty_page_on_both_engines(hub, module):
    client, headers = hub
    response = await client.get(
        f"/ocpi/2.2.1/{module}?offset=9223372036854775807&limit=9223372036854775807",
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == []
    assert response.headers["X-Total-Count"] == "1"
    assert "Link" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "LOC1%00",  # PostgreSQL: invalid byte sequence for encoding "UTF8": 0x00 (was HTTP 500)
        "LOC1%00/LOC1-E1",
        "LOC1/LOC1-E1%00",
        "LOC1/LOC1-E1/1%00",
        "x" * 37,
        "L%C3%A9C1",
    ],
)
async def test_impossible_location_ids_are_404_2003_on_both_engines(hub, path):
    client, headers = hub
    unknown = await client.get("/ocpi/2.2.1/locations/NOPE", headers=headers)
    response = await client.get(f"/ocpi/2.2.1/locations/{path}", headers=headers)
    assert response.status_code == unknown.status_code == 404, response.text
    assert response.json()["status_code"] == unknown.json()["status_code"] == 2003
    assert sorted(response.json()) == sorted(unknown.json())


@pytest.mark.parametrize(
    "query",
    [
        "date_from=2020-01-01T00:00:00%00",
        "date_to=2020-01-01T00:00:00Z%00",
        "date_from=0001-01-01T00:00:00%2B01:00",  # OverflowError when made UTC (was HTTP 500)
        "date_to=9999-12-31T23:59:59-01:00",
    ],
)
async def test_junk_dates_are_2001_on_both_engines(hub, query):
    client, headers = hub
    response = await client.get(f"/ocpi/2.2.1/locations?{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 2001
    assert query.split("=")[0] in response.json()["status_message"]


def credentials(url: str = "http://127.0.0.1:9/ocpi/versions") -> dict[str, object]:
    return {
        "token": "token-b-2",
        "url": url,
        "roles": [
            {
                "role": "EMSP",
                "party_id": "EMA",
                "country_code": "US",
                "business_details": {"name": "emsp-a"},
            }
        ],
    }


@pytest.mark.parametrize("size", [10 * 1024 * 1024, 1024 * 1024 + 1])
async def test_body_over_the_default_limit_is_413_with_an_envelope(hub, size):
    client, headers = hub
    body = json.dumps(credentials()).encode()
    body = body[:-1] + b" " * (size - len(body)) + b"}"
    response = await client.put(
        "/ocpi/2.2.1/credentials",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text[:300]
    assert response.json()["status_code"] == 2000
    assert response.json()["status_message"] == (
        "Request body is larger than this server's limit of 1048576 bytes"
    )
    # The partner's credentials are untouched: its token still works.
    assert (await client.get("/ocpi/2.2.1/credentials", headers=headers)).status_code == 200


async def test_body_limit_is_a_setting(database_url, sessions):
    await add_parties(sessions)
    _, token = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=BASE, max_body_bytes=4096),
        push=PushSettings(enabled=False),
    )
    body = json.dumps(credentials()).encode()
    async with AsyncTestClient(create_app(settings), base_url="http://hub.local") as client:
        response = await client.put(
            "/ocpi/2.2.1/credentials",
            content=body[:-1] + b" " * 4096 + b"}",
            headers={**auth(token), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["status_message"].endswith("limit of 4096 bytes")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:9/ocpi/versions", "connection failed"),  # nothing listens on 9
        ("http://[::1/ocpi/versions", "the URL is not valid"),  # httpx.InvalidURL escaped
        ("ftp://emsp.example/versions", "the URL is not http or https"),
    ],
)
async def test_unusable_partner_url_is_3001_in_words_on_both_engines(hub, url, words):
    client, headers = hub
    response = await client.put("/ocpi/2.2.1/credentials", json=credentials(url), headers=headers)
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["status_code"] == 3001
    assert words in envelope["status_message"]
    for internal in ("Error(", "Exception", "httpx"):
        assert internal not in envelope["status_message"]
    # Nothing was changed: the partner's current token still works.
    assert (await client.get("/ocpi/2.2.1/credentials", headers=headers)).status_code == 200
