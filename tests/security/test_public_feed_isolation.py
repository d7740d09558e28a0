"""The public data feed leaks nothing private and accepts no writes.

Anyone may call it, so it must answer with what the public sees, whatever the query, the
headers or the token sent along: published locations, and the tariffs a published location (or
no location) references. Private fleet depots, and the tariffs only they reference, never
appear. The hub runs in this process on a real port, on both databases.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from hub.config import PublicFeedSettings
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.inprocess_hub import InProcessHub, running_hub

pytestmark = pytest.mark.db

LOCATIONS = [
    ("PUB", True, None, ["T-PUB", "T-SHARED"]),
    ("DEPOT-A", False, ["US*EMA"], ["T-FLEET-A", "T-SHARED"]),
    ("DEPOT-B", False, ["US*EMB"], ["T-FLEET-B"]),
    ("DEPOT-X", False, None, ["T-FLEET-X"]),  # shared with nobody
]
TARIFFS = ["T-PUB", "T-SHARED", "T-FLEET-A", "T-FLEET-B", "T-FLEET-X", "T-FUTURE"]
PUBLIC_LOCATIONS = {"PUB"}
PUBLIC_TARIFFS = {"T-PUB", "T-SHARED", "T-FUTURE"}  # T-FUTURE: referenced by no location yet
PRIVATE_WORDS = ("DEPOT", "FLEET", "US*EMA", "US*EMB", "hub_visible_to")

QUERIES = [
    "",
    "?limit=1",
    "?offset=1&limit=1",
    "?offset=3",
    "?limit=1000",
    "?date_from=2000-01-01T00:00:00Z",
    "?date_to=2100-01-01T00:00:00Z",
    "?date_from=2026-11-01T00:00:00Z&date_to=2026-11-01T00:00:01Z",
    "?publish=false",
    "?country_code=US&party_id=EMA",
]
HEADERS: list[dict[str, str]] = [
    {},
    {"OCPI-to-country-code": "US", "OCPI-to-party-id": "HPC"},
    {"OCPI-from-country-code": "US", "OCPI-from-party-id": "EMA"},
    {"OCPI-to-country-code": "US", "OCPI-to-party-id": "EMA"},
]


def location_record(location_id: str, publish: bool, visible_to, tariff_ids) -> dict[str, Any]:
    record = network.location(location_id, evses=1, publish=publish, visible_to=visible_to)
    record["evses"][0]["connectors"][0]["tariff_ids"] = list(tariff_ids)
    return record


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[tuple[InProcessHub, str]]:
    # Thousands of requests from one address: no rate limit in the way (tests/e2e has its own).
    feed = PublicFeedSettings(rate_limit_burst=1_000_000)
    async with running_hub(database_url, public_feed=feed) as hub:
        await add_parties(hub.sessions)
        _, token = await register_partner(hub.sessions, "emsp-a", ("US", "EMA"))
        async with session_scope(hub.sessions) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps([location_record(*spec) for spec in LOCATIONS]))
            )
            await TariffService(session).import_tariffs(
                parse_tariffs_json(json.dumps([network.tariff(t) for t in TARIFFS]))
            )
        yield hub, token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


async def pull(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> list[dict]:
    items: list[dict] = []
    next_url: str | None = url
    while next_url:
        response = await http.get(next_url, headers=headers)
        assert response.status_code == 200, response.text
        assert not any(word in response.text for word in PRIVATE_WORDS), response.text
        if response.json()["status_code"] != 1000:
            return items
        items += response.json()["data"]
        next_url = response.links.get("next", {}).get("url")
    return items


async def test_private_locations_and_their_tariffs_never_appear(world):
    hub, token = world
    # emsp-a may see DEPOT-A through the OCPI interface; its token opens nothing more here.
    every_headers = [*HEADERS, auth(token), {**auth(token), **HEADERS[3]}]
    async with httpx.AsyncClient(timeout=10) as http:
        ocpi = await http.get(f"{hub.url}/ocpi/2.2.1/locations", headers=auth(token))
        assert {loc["id"] for loc in ocpi.json()["data"]} == {"PUB", "DEPOT-A"}
        for query in QUERIES:
            for headers in every_headers:
                locations = await pull(http, f"{hub.url}/public/2.2.1/locations{query}", headers)
                assert {loc["id"] for loc in locations} <= PUBLIC_LOCATIONS, (query, headers)
                tariffs = await pull(http, f"{hub.url}/public/2.2.1/tariffs{query}", headers)
                assert {t["id"] for t in tariffs} <= PUBLIC_TARIFFS, (query, headers)
        everything = await pull(http, f"{hub.url}/public/2.2.1/tariffs", {})
        assert {t["id"] for t in everything} == PUBLIC_TARIFFS
        for location_id, *_ in LOCATIONS:
            for variant in (
                location_id,
                location_id.lower(),
                f"{location_id} ",
                f"{location_id}%00",
            ):
                for headers in every_headers:
                    response = await http.get(
                        f"{hub.url}/public/2.2.1/locations/{quote(variant, safe='%')}",
                        headers=headers,
                    )
                    if location_id in PUBLIC_LOCATIONS:
                        # Ids are CiString: a variant may name it too; only it, if anything.
                        if variant == location_id or response.status_code == 200:
                            assert response.json()["data"]["id"] == location_id
                        continue
                    # A private location answers exactly like one that does not exist.
                    assert response.status_code == 404, (variant, headers)
                    assert response.json()["status_code"] == 2003
                    assert "data" not in response.json()


async def test_unpublishing_a_location_takes_it_and_its_own_tariffs_off_the_feed(world):
    hub, _ = world
    async with session_scope(hub.sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(
                json.dumps([location_record("PUB", False, ["US*EMA"], ["T-PUB", "T-SHARED"])])
            )
        )
    async with httpx.AsyncClient(timeout=10) as http:
        assert await pull(http, f"{hub.url}/public/2.2.1/locations", {}) == []
        tariffs = await pull(http, f"{hub.url}/public/2.2.1/tariffs", {})
        assert {t["id"] for t in tariffs} == {"T-FUTURE"}
        response = await http.get(f"{hub.url}/public/2.2.1/locations/PUB")
        assert response.status_code == 404


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "path", ["/locations", "/locations/PUB", "/locations/NEW", "/tariffs", "/tariffs/US/HPC/T-PUB"]
)
async def test_the_feed_accepts_no_writes(world, method, path):
    hub, token = world
    body = json.dumps(location_record("NEW", True, None, ["T-PUB"]))
    async with httpx.AsyncClient(timeout=10) as http:
        for headers in ({}, auth(token)):
            response = await http.request(
                method,
                f"{hub.url}/public/2.2.1{path}",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            if path == "/tariffs/US/HPC/T-PUB":
                assert response.status_code == 404  # no such resource at all
            else:
                assert response.status_code == 405, response.text
                assert "GET" in response.headers["Allow"]
                assert method not in response.headers["Allow"]
            assert response.json()["status_code"] == 2000
        locations = await pull(http, f"{hub.url}/public/2.2.1/locations", {})
    assert {loc["id"] for loc in locations} == PUBLIC_LOCATIONS
    async with session_scope(hub.sessions) as session:
        assert (await LocationService(session).counts())[0] == len(LOCATIONS)
