"""The demo eMSP as a Sessions and CDRs Receiver (``mod_sessions``, ``mod_cdrs``): what it
offers, what it keeps, and how it answers; and its drivers' tokens."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from litestar.testing import AsyncTestClient

from hub.sim.emsp import DEMO_EMSP_PARTY, DemoEmsp, driver_tokens

BASE = "http://emsp.test"
SESSION_URL = "/ocpi/2.2.1/sessions/US/HPC/S1"


@pytest.fixture
def emsp() -> DemoEmsp:
    return DemoEmsp(base_url=BASE)


@pytest.fixture
async def client(emsp: DemoEmsp) -> AsyncIterator[AsyncTestClient]:
    headers = {"Authorization": "Token " + base64.b64encode(emsp.token.encode()).decode()}
    async with AsyncTestClient(emsp.app(), base_url=BASE) as client:
        client.headers.update(headers)
        yield client


def period(start: str, kwh: float) -> dict:
    return {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}]}


def session(**changes: object) -> dict:
    return {
        "country_code": "US",
        "party_id": "HPC",
        "id": "S1",
        "start_date_time": "2026-11-24T10:00:00Z",
        "kwh": 0,
        "evse_uid": "LOC-E01",
        "status": "ACTIVE",
        "charging_periods": [period("2026-11-24T10:00:00Z", 0)],
        "last_updated": "2026-11-24T10:00:00Z",
        **changes,
    }


async def test_the_demo_emsp_offers_sessions_and_cdrs_receivers(client):
    details = (await client.get("/ocpi/2.2.1")).json()["data"]
    offered = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("sessions", "RECEIVER"), ("cdrs", "RECEIVER")} <= offered
    assert ("tokens", "SENDER") not in offered  # it pushes its tokens instead


async def test_a_patch_adds_its_charging_periods_and_replaces_the_other_fields(client, emsp):
    assert (await client.put(SESSION_URL, json=session())).json()["status_code"] == 1000
    patch = {
        "kwh": 4.5,
        "charging_periods": [period("2026-11-24T10:05:00Z", 4.5)],
        "last_updated": "2026-11-24T10:05:00Z",
    }
    assert (await client.patch(SESSION_URL, json=patch)).json()["status_code"] == 1000
    await client.patch(SESSION_URL, json={"status": "COMPLETED", "last_updated": "2026-11-24"})
    kept = emsp.sessions[("US", "HPC", "S1")]
    assert kept["kwh"] == 4.5
    assert kept["status"] == "COMPLETED"
    assert [p["start_date_time"] for p in kept["charging_periods"]] == [
        "2026-11-24T10:00:00Z",
        "2026-11-24T10:05:00Z",
    ]
    # A PUT replaces the whole session, periods included.
    await client.put(SESSION_URL, json=session(charging_periods=[]))
    assert emsp.sessions[("US", "HPC", "S1")]["charging_periods"] == []
    assert emsp.counts["PUT sessions"] == 2
    assert emsp.counts["PATCH sessions"] == 2
    started = datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert emsp.session_of_charge("LOC-E01", started) is emsp.sessions[("US", "HPC", "S1")]


async def test_a_patch_of_a_session_it_does_not_know_asks_for_the_whole_session(client, emsp):
    answer = await client.patch(SESSION_URL, json={"kwh": 1, "last_updated": "2026-11-24"})
    assert (answer.status_code, answer.json()["status_code"]) == (404, 2003)
    assert emsp.sessions == {}


def cdr(cdr_id: str = "C1") -> dict:
    return {
        "country_code": "US",
        "party_id": "HPC",
        "id": cdr_id,
        "start_date_time": "2026-11-24T10:00:00Z",
        "cdr_location": {"id": "LOC", "evse_uid": "LOC-E01"},
        "currency": "USD",
        "total_cost": {"excl_vat": 9.6, "incl_vat": 9.6},
    }


async def test_a_cdr_is_kept_once_at_the_url_its_location_header_names(client, emsp):
    posted = await client.post("/ocpi/2.2.1/cdrs", json=cdr())
    assert (posted.status_code, posted.json()["status_code"]) == (201, 1000)
    assert posted.headers["Location"] == f"{BASE}/ocpi/2.2.1/cdrs/US/HPC/C1"
    fetched = await client.get("/ocpi/2.2.1/cdrs/US/HPC/C1")
    assert fetched.json()["data"] == cdr()

    again = await client.post("/ocpi/2.2.1/cdrs", json={**cdr(), "total_cost": {"excl_vat": 1}})
    assert again.json()["status_code"] == 2001
    assert "Location" not in again.headers
    assert emsp.cdrs[("US", "HPC", "C1")] == cdr()  # the first one stands
    assert len(emsp.duplicate_cdrs) == 1
    assert emsp.counts["POST cdrs"] == 2
    assert emsp.cdr_of_charge("LOC-E01", datetime(2026, 11, 24, 10, tzinfo=UTC)) == [cdr()]
    assert (await client.get("/ocpi/2.2.1/cdrs/US/HPC/NOPE")).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/ocpi/2.2.1/cdrs", cdr()),
        ("PUT", SESSION_URL, session()),
        ("GET", "/ocpi/2.2.1/cdrs/US/HPC/C1", None),
        ("POST", "/ocpi/2.2.1/commands/START_SESSION/R1", {"result": "ACCEPTED"}),
    ],
)
async def test_only_the_hub_may_push(emsp, method, path, body):
    async with AsyncTestClient(emsp.app(), base_url=BASE) as client:
        answer = await client.request(
            method, path, json=body, headers={"Authorization": "Token bm9wZQ=="}
        )
    assert answer.status_code == 401
    assert emsp.sessions == emsp.cdrs == emsp.command_results == {}


async def test_a_malformed_cdr_or_session_is_refused(client, emsp):
    assert (await client.post("/ocpi/2.2.1/cdrs", json={"id": 1})).json()["status_code"] == 2001
    answer = await client.put("/ocpi/2.2.1/sessions/US/HPC", json=session())
    assert answer.json()["status_code"] == 2001
    assert emsp.sessions == emsp.cdrs == {}


def test_drivers_have_cards_the_hub_accepts_without_asking():
    emsp = DemoEmsp()
    assert emsp.drivers == driver_tokens(4) == [f"DMO000000{n}" for n in range(1, 5)]
    token = emsp.driver_token("DMO0000001").to_wire()
    assert (token["country_code"], token["party_id"]) == DEMO_EMSP_PARTY
    assert (token["type"], token["whitelist"], token["valid"]) == ("RFID", "ALWAYS", True)
    assert token["contract_id"] == "US-DMO-C0000001"


async def test_command_results_are_kept_per_response_url(client, emsp):
    url = emsp.command_url("START_SESSION", "R1")
    assert url == f"{BASE}/ocpi/2.2.1/commands/START_SESSION/R1"
    for result in ("ACCEPTED", "TIMEOUT"):
        answer = await client.post(url.removeprefix(BASE), json={"result": result})
        assert answer.json()["status_code"] == 1000
    malformed = await client.post(url.removeprefix(BASE), json={"message": []})
    assert malformed.json()["status_code"] == 2001
    assert emsp.command_results == {"R1": [{"result": "ACCEPTED"}, {"result": "TIMEOUT"}]}
    assert emsp.counts["POST START_SESSION result"] == 2


def test_app_drivers_have_app_tokens_the_app_authorizes():
    token = DemoEmsp().app_token("6F1C2A8E-7B0D-4C1E-9F3A-5D6E7F809A1B").to_wire()
    assert (token["country_code"], token["party_id"]) == DEMO_EMSP_PARTY
    assert (token["type"], token["whitelist"]) == ("APP_USER", "NEVER")
    assert token["contract_id"] == "US-DMO-CAPP809A1B"
