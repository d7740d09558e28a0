"""Locations and Tariffs Sender GET through the real app and database (both engines)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from hub.app import create_app
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings
from hub.domain.assets import EvseStatus
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from hub.services.tariffs import TariffService
from ocpi.envelope import parse_next_link
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.ocpi_openapi import validate_response

pytestmark = pytest.mark.db

BASE = "https://ocpi.example.net"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


@pytest.fixture
async def world(database_url, sessions):
    await add_parties(sessions)
    _, token_a = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    _, token_b = await register_partner(sessions, "emsp-b", ("US", "EMB"), nacs_mode="SAE_J3400")
    locations = [network.location(f"LOC{i}", evses=2) for i in range(1, 6)]
    locations.append(network.location("CA1", country_code="CA"))
    locations.append(network.location("FLEET", publish=False, visible_to=["US*EMA"]))
    locations.append(network.location("NACS", nacs_only_evse=True))
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC"), network.tariff("T-IDLE")]))
        )
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=BASE, max_page_limit=3),
        push=PushSettings(enabled=False),
    )
    # The app owns its engine: the test client runs it on an event loop of its own.
    async with AsyncTestClient(create_app(settings), base_url="http://hub.local") as client:
        yield client, auth(token_a), auth(token_b), sessions


async def pull(client, headers, url, *, official_schema=True):
    """Every page through Link. ``official_schema=False`` for partners that opted in to
    SAE_J3400, a value the 2.2.1 schema does not know."""
    ids, pages = [], 0
    while url:
        response = await client.get(url.replace(BASE, ""), headers=headers)
        assert response.status_code == 200, response.text
        if official_schema:
            validate_response("locations", "sender", "GET", "/locations", 200, response.json())
        ids += [item["id"] for item in response.json()["data"]]
        pages += 1
        url = parse_next_link(response.headers.get("Link"))
    return ids, pages


async def test_list_is_paginated_with_total_limit_and_link(world):
    client, emsp_a, _, _ = world
    response = await client.get("/ocpi/2.2.1/locations?limit=2", headers=emsp_a)
    assert response.headers["X-Total-Count"] == "8"  # 7 published + FLEET shared with EMA
    assert response.headers["X-Limit"] == "3"
    assert parse_next_link(response.headers["Link"]) == (
        f"{BASE}/ocpi/2.2.1/locations?offset=2&limit=2"
    )
    ids, pages = await pull(client, emsp_a, f"{BASE}/ocpi/2.2.1/locations?limit=50")
    assert pages == 3  # capped at the server maximum of 3 per page
    # Creation order, each location once (LOC1 is the first imported).
    assert ids == ["LOC1", "LOC2", "LOC3", "LOC4", "LOC5", "CA1", "FLEET", "NACS"]


async def test_date_filters_keep_every_parameter_in_the_link(world):
    client, emsp_a, _, sessions = world
    async with session_scope(sessions) as session:
        await LocationService(session).set_evse_status("LOC2-E1", EvseStatus.CHARGING)
        await LocationService(session).set_evse_status("LOC4-E1", EvseStatus.CHARGING)
        changed_at = (await LocationService(session).get("LOC2")).location.last_updated
    date_from = (changed_at - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = await client.get(
        f"/ocpi/2.2.1/locations?date_from={date_from}&limit=1", headers=emsp_a
    )
    assert response.headers["X-Total-Count"] == "2"
    assert [item["id"] for item in response.json()["data"]] == ["LOC2"]
    link = parse_next_link(response.headers["Link"])
    assert link is not None
    assert "date_from=" in link
    assert "limit=1" in link
    assert "offset=1" in link
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    to_before = await client.get(f"/ocpi/2.2.1/locations?date_to={date_from}", headers=emsp_a)
    assert "LOC2" not in [item["id"] for item in to_before.json()["data"]]
    none = await client.get(f"/ocpi/2.2.1/locations?date_from={future}", headers=emsp_a)
    assert none.headers["X-Total-Count"] == "0"
    assert "Link" not in none.headers


async def test_single_location_evse_and_connector(world):
    client, emsp_a, _, _ = world
    location = await client.get("/ocpi/2.2.1/locations/LOC1", headers=emsp_a)
    validate_response(
        "locations", "sender", "GET", "/locations/{location_id}", 200, location.json()
    )
    assert location.json()["data"]["id"] == "LOC1"
    evse = await client.get("/ocpi/2.2.1/locations/LOC1/LOC1-E1", headers=emsp_a)
    validate_response(
        "locations", "sender", "GET", "/locations/{location_id}/{evse_uid}", 200, evse.json()
    )
    assert evse.json()["data"]["uid"] == "LOC1-E1"
    connector = await client.get("/ocpi/2.2.1/locations/LOC1/LOC1-E1/1", headers=emsp_a)
    validate_response(
        "locations",
        "sender",
        "GET",
        "/locations/{location_id}/{evse_uid}/{connector_id}",
        200,
        connector.json(),
    )
    assert connector.json()["data"]["standard"] == "IEC_62196_T1_COMBO"


@pytest.mark.parametrize("path", ["/NOPE", "/LOC1/NOPE", "/LOC1/LOC1-E1/9", "/NACS/LOC1-NACS"])
async def test_unknown_objects_are_2003_with_http_404(world, path):
    client, emsp_a, _, _ = world
    response = await client.get(f"/ocpi/2.2.1/locations{path}", headers=emsp_a)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2003


async def test_unpublished_location_is_invisible_to_other_parties(world):
    client, emsp_a, emsp_b, _ = world
    for suffix in ("", "/FLEET-E1", "/FLEET-E1/1"):
        hidden = await client.get(f"/ocpi/2.2.1/locations/FLEET{suffix}", headers=emsp_b)
        assert hidden.status_code == 404
        assert hidden.json()["status_code"] == 2003
        shown = await client.get(f"/ocpi/2.2.1/locations/FLEET{suffix}", headers=emsp_a)
        assert shown.status_code == 200
    ids, _ = await pull(client, emsp_b, f"{BASE}/ocpi/2.2.1/locations", official_schema=False)
    assert "FLEET" not in ids
    assert len(ids) == 7


async def test_nacs_connectors_follow_the_partner_setting(world):
    client, emsp_a, emsp_b, _ = world
    omitted = (await client.get("/ocpi/2.2.1/locations/NACS", headers=emsp_a)).json()["data"]
    assert "NACS-NACS" not in [e["uid"] for e in omitted["evses"]]
    assert all(c["standard"] != "SAE_J3400" for e in omitted["evses"] for c in e["connectors"])
    sent = (await client.get("/ocpi/2.2.1/locations/NACS", headers=emsp_b)).json()["data"]
    assert sent["evses"][-1]["uid"] == "NACS-NACS"
    assert sent["evses"][-1]["connectors"][0]["standard"] == "SAE_J3400"


async def test_routing_header_selects_one_of_our_parties(world):
    client, emsp_a, _, _ = world
    headers = {
        **emsp_a,
        "OCPI-from-country-code": "US",
        "OCPI-from-party-id": "EMA",
        "OCPI-to-country-code": "CA",
        "OCPI-to-party-id": "HPC",
    }
    response = await client.get("/ocpi/2.2.1/locations", headers=headers)
    assert [item["id"] for item in response.json()["data"]] == ["CA1"]
    assert response.headers["OCPI-from-country-code"] == "CA"
    assert response.headers["OCPI-to-party-id"] == "EMA"
    bad = await client.get(
        "/ocpi/2.2.1/locations", headers={**emsp_a, "OCPI-to-country-code": "CA"}
    )
    assert bad.json()["status_code"] == 2001


async def test_tariffs_are_served_paginated(world):
    client, emsp_a, _, _ = world
    response = await client.get("/ocpi/2.2.1/tariffs?limit=1", headers=emsp_a)
    validate_response("tariffs", "sender", "GET", "/tariffs", 200, response.json())
    assert response.headers["X-Total-Count"] == "2"
    assert [t["id"] for t in response.json()["data"]] == ["T-DC"]
    assert "offset=1" in response.headers["Link"]


@pytest.mark.parametrize("query", ["limit=abc", "offset=-1", "date_from=yesterday"])
async def test_bad_query_parameters_are_2001(world, query):
    client, emsp_a, _, _ = world
    response = await client.get(f"/ocpi/2.2.1/locations?{query}", headers=emsp_a)
    assert response.json()["status_code"] == 2001
    assert query.split("=")[0] in response.json()["status_message"]


async def test_token_a_and_suspended_partners_get_401(world):
    client, emsp_a, _, sessions = world
    async with session_scope(sessions) as session:
        _, token = await PartnerService(session).invite("newcomer", parties=[("US", "NEW")])
    assert (await client.get("/ocpi/2.2.1/locations", headers=auth(token))).status_code == 401
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        await service.suspend((await service.get_by_name("emsp-a")).require_id())
    assert (await client.get("/ocpi/2.2.1/tariffs", headers=emsp_a)).status_code == 401


async def test_version_details_offer_every_module_we_implement(world):
    client, emsp_a, _, _ = world
    endpoints = (await client.get("/ocpi/2.2.1", headers=emsp_a)).json()["data"]["endpoints"]
    assert {(e["identifier"], e["role"]) for e in endpoints} == {
        ("credentials", "SENDER"),
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("chargingprofiles", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
    }
