"""The free public data feed (23 CFR 680.116(c)) as an anonymous client uses it: real HTTP to
the hub in this process, no token; the hub's clock is the test's (rate limit, cache ages)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from hub.config import PublicFeedSettings
from hub.domain.assets import EvseStatus
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpi_openapi import validate

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PUBLISHED = [f"LOC{i}" for i in range(1, 6)]
DRIVERS = {
    "parking_type": "ALONG_MOTORWAY",
    "facilities": ["CAFE", "RESTAURANT", "WIFI"],
    "opening_times": {"twentyfourseven": True},
    "energy_mix": {
        "is_green_energy": True,
        "energy_sources": [
            {"source": "WIND", "percentage": 70},
            {"source": "SOLAR", "percentage": 30},
        ],
        "supplier_name": "Prairie Wind Supply",
        "energy_product_name": "100% Renewable Wind",
    },
}


async def _populate(hub: InProcessHub) -> None:
    await add_parties(hub.sessions)
    locations = [network.location(location_id, evses=2, **DRIVERS) for location_id in PUBLISHED]
    fleet = network.location("FLEET", publish=False, visible_to=["US*EMA"])
    fleet["evses"][0]["connectors"][0]["tariff_ids"] = ["T-FLEET"]
    async with session_scope(hub.sessions) as session:
        # Locations first: a tariff nobody references yet is public.
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps([*locations, fleet]))
        )
        await TariffService(session).import_tariffs(
            parse_tariffs_json(
                json.dumps([network.tariff("T-DC"), network.tariff("T-FLEET", price="0.30")])
            )
        )


@pytest.fixture
def feed_settings() -> PublicFeedSettings:
    return PublicFeedSettings()


@pytest.fixture
async def hub(database_url: str, feed_settings: PublicFeedSettings) -> AsyncIterator[InProcessHub]:
    async with running_hub(database_url, public_feed=feed_settings) as running:
        await _populate(running)
        yield running


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # No Authorization header, ever: an anonymous third-party developer's client.
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def test_an_anonymous_client_pages_through_every_published_location(hub, http):
    url: str | None = f"{hub.url}/public/2.2.1/locations?limit=2"
    seen: list[dict[str, Any]] = []
    pages = 0
    while url:
        response = await http.get(url)
        assert response.status_code == 200, response.text
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Limit"] == "100"
        body = response.json()
        assert body["status_code"] == 1000
        assert "timestamp" in body
        seen += body["data"]
        pages += 1
        url = response.links.get("next", {}).get("url")
        if url:
            assert url.startswith(f"{hub.url}/public/2.2.1/locations?")
    assert pages == 3
    assert [location["id"] for location in seen] == PUBLISHED
    for location in seen:
        validate("Location", location)  # the official 2.2.1 schema: no NACS value in it
        for key, value in DRIVERS.items():
            assert location[key] == value
        for evse in location["evses"]:
            assert evse["status"] == "AVAILABLE"
            for connector in evse["connectors"]:
                assert connector["standard"] == "IEC_62196_T1_COMBO"  # NACS: the default, omit
                assert connector["tariff_ids"] == ["T-DC"]
                assert connector["max_electric_power"] == 350000

    response = await http.get(f"{hub.url}/public/2.2.1/locations?offset=4&limit=2")
    assert [loc["id"] for loc in response.json()["data"]] == ["LOC5"]
    assert "Link" not in response.headers
    late = await http.get(f"{hub.url}/public/2.2.1/locations?date_from=2030-01-01T00:00:00Z")
    assert (late.json()["data"], late.headers["X-Total-Count"]) == ([], "0")
    bad = await http.get(f"{hub.url}/public/2.2.1/locations?limit=-1")
    assert (bad.status_code, bad.json()["status_code"]) == (200, 2001)


async def test_one_location_and_the_tariffs(hub, http):
    response = await http.get(f"{hub.url}/public/2.2.1/locations/LOC2")
    assert response.status_code == 200
    assert response.json()["data"]["id"] == "LOC2"
    validate("Location", response.json()["data"])
    unknown = await http.get(f"{hub.url}/public/2.2.1/locations/NOPE")
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2003)
    assert unknown.headers["Cache-Control"] == "no-store"

    tariffs = await http.get(f"{hub.url}/public/2.2.1/tariffs")
    assert tariffs.status_code == 200
    assert [t["id"] for t in tariffs.json()["data"]] == ["T-DC"]  # T-FLEET: the depot's only
    assert tariffs.headers["X-Total-Count"] == "1"
    for tariff in tariffs.json()["data"]:
        validate("Tariff", tariff)


@pytest.mark.parametrize(
    "path", ["/locations", "/locations/LOC1", "/tariffs", "/locations?limit=2"]
)
async def test_etag_and_if_none_match(hub, http, path):
    url = f"{hub.url}/public/2.2.1{path}"
    first = await http.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "public, max-age=10"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = await http.get(url)
    assert again.headers["ETag"] == etag  # same data; only the envelope's timestamp moved
    for validator in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        cached = await http.get(url, headers={"If-None-Match": validator})
        assert cached.status_code == 304, validator
        assert cached.content == b""
        assert cached.headers["ETag"] == etag
        assert cached.headers["Cache-Control"] == "public, max-age=10"
    stale = await http.get(url, headers={"If-None-Match": '"not-this-one"'})
    assert stale.status_code == 200
    assert stale.json()["data"] == first.json()["data"]


@dataclass
class CachingClient:
    """A client that honours Cache-Control and revalidates with If-None-Match, its clock the
    hub's (so the test moves the time of both)."""

    http: httpx.AsyncClient
    hub: InProcessHub
    cache: dict[str, tuple[float, str, Any]] = field(default_factory=dict)
    requests: int = 0

    async def get(self, url: str) -> Any:
        now = self.hub.clock().timestamp()
        held = self.cache.get(url)
        if held is not None and now < held[0]:
            return held[2]
        headers = {"If-None-Match": held[1]} if held else {}
        response = await self.http.get(url, headers=headers)
        self.requests += 1
        max_age = int(response.headers["Cache-Control"].rsplit("=", 1)[1])
        if response.status_code == 304:
            assert held is not None
            data = held[2]
        else:
            assert response.status_code == 200
            data = response.json()["data"]
        self.cache[url] = (now + max_age, response.headers["ETag"], data)
        return data


async def test_a_status_or_price_change_is_seen_once_the_cache_age_passes(hub, http):
    client = CachingClient(http, hub)
    location_url = f"{hub.url}/public/2.2.1/locations/LOC1"
    tariffs_url = f"{hub.url}/public/2.2.1/tariffs"
    assert (await client.get(location_url))["evses"][0]["status"] == "AVAILABLE"
    assert (await client.get(tariffs_url))[0]["elements"][0]["price_components"][0]["price"] == 0.48
    async with session_scope(hub.sessions) as session:
        await LocationService(session).set_evse_status("LOC1-E1", EvseStatus.CHARGING)
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC", price="0.52")]))
        )
    hub.clock.advance(5)  # still fresh: the client rightly shows what it has
    assert (await client.get(location_url))["evses"][0]["status"] == "AVAILABLE"
    assert client.requests == 2
    hub.clock.advance(5)  # max-age (10 s) passed: the next look revalidates and sees the change
    assert (await client.get(location_url))["evses"][0]["status"] == "CHARGING"
    assert (await client.get(tariffs_url))[0]["elements"][0]["price_components"][0]["price"] == 0.52
    hub.clock.advance(10)  # nothing changed since: revalidated with a 304, the data kept
    assert (await client.get(location_url))["evses"][0]["status"] == "CHARGING"
    assert client.requests == 5


@pytest.mark.parametrize(
    "feed_settings", [PublicFeedSettings(rate_limit_per_hour=360, rate_limit_burst=3)]
)
async def test_rate_limit_per_client(hub, http):
    url = f"{hub.url}/public/2.2.1/locations"
    first = await http.get(url)
    assert first.status_code == 200
    assert (
        await http.get(url, headers={"If-None-Match": first.headers["ETag"]})
    ).status_code == 304
    assert (await http.get(f"{hub.url}/public/2.2.1/tariffs")).status_code == 200
    refused = await http.get(url)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "10"  # 360 per hour: one every 10 s
    assert refused.headers["Cache-Control"] == "no-store"
    body = refused.json()
    assert body["status_code"] == 2000
    assert "360 requests per hour" in body["status_message"]
    hub.clock.advance(9)
    assert (await http.get(url)).status_code == 429
    assert (await http.get(url)).headers["Retry-After"] == "1"
    hub.clock.advance(1)
    assert (await http.get(url)).status_code == 200
    assert (await http.get(url)).status_code == 429
    # The OCPI interface of partners is not limited by it.
    assert (await http.get(f"{hub.url}/ocpi/versions")).status_code == 401
