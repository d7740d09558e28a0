"""Sessions and CDRs Sender interfaces against in-memory fake ports.

The fake ports filter and page the way the spec asks (``last_updated`` in [date_from, date_to),
oldest first), so the tests can follow the ``Link`` headers the server writes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ocpi.auth import TokenEncoding
from ocpi.envelope import parse_next_link
from ocpi.errors import ChargingPreferencesNotSupported, UnknownObject
from ocpi.headers import PartyRef
from ocpi.v221.enums import ChargingPreferencesResponse, ProfileType
from ocpi.v221.models.cdrs import CDR
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.sessions import ChargingPreferences, Session
from ocpi.v221.ports import ClientIdentity, OcpiPorts, Page, SenderQuery
from ocpi.v221.server.common import ServerConfig, exception_handlers
from ocpi.v221.server.router import build_router
from tests.ocpi.test_models_examples import _json, _load, _normalize
from tests.support import ocpi_openapi

BASE = "https://hub.example/ocpi"
MAX_LIMIT = 5
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

SESSION_EXAMPLE = json.loads(_load("session_example_1_simple_start.json"))
CDR_EXAMPLE = json.loads(_load("cdr_example.json"))

ObjectT = TypeVar("ObjectT", Session, CDR)


def session_at(index: int, last_updated: datetime) -> Session:
    return Session.model_validate(
        {
            **SESSION_EXAMPLE,
            "id": f"S{index}",
            "last_updated": last_updated.isoformat(),
        }
    )


def cdr_at(index: int, last_updated: datetime) -> CDR:
    return CDR.model_validate(
        {**CDR_EXAMPLE, "id": f"C{index}", "last_updated": last_updated.isoformat()}
    )


def _page(objects: Sequence[ObjectT], query: SenderQuery) -> Page[ObjectT]:
    matching = sorted(
        (
            item
            for item in objects
            if (query.page.date_from is None or item.last_updated >= query.page.date_from)
            and (query.page.date_to is None or item.last_updated < query.page.date_to)
        ),
        key=lambda item: item.last_updated,
    )
    start = query.page.offset
    return Page(items=matching[start : start + query.page.limit], total=len(matching))


@dataclass
class FakePorts:
    """One registered eMSP (token-c) and one invited one (token-a); calls are recorded."""

    sessions: list[Session] = field(default_factory=list)
    cdrs: list[CDR] = field(default_factory=list)
    answer: ChargingPreferencesResponse = ChargingPreferencesResponse.ACCEPTED
    refuse: Exception | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        if "token-c" in candidates.values():
            return ClientIdentity("2", "registered", "token-c", registered=True)
        if "token-a" in candidates.values():
            return ClientIdentity("1", "invited", "token-a", registered=False)
        return None

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        raise NotImplementedError

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def unregister(self, client: ClientIdentity) -> None:
        raise NotImplementedError

    async def list_sessions(self, client: ClientIdentity, query: SenderQuery) -> Page[Session]:
        self.calls.append(("list_sessions", query))
        return _page(self.sessions, query)

    async def put_charging_preferences(
        self,
        client: ClientIdentity,
        session_id: str,
        preferences: ChargingPreferences,
        receiver: PartyRef | None,
    ) -> ChargingPreferencesResponse:
        self.calls.append(("put_charging_preferences", session_id, preferences, receiver))
        if self.refuse is not None:
            raise self.refuse
        if session_id not in {session.id for session in self.sessions}:
            raise UnknownObject(f"the port's own wording for {session_id}")
        return self.answer

    async def list_cdrs(self, client: ClientIdentity, query: SenderQuery) -> Page[CDR]:
        self.calls.append(("list_cdrs", query))
        return _page(self.cdrs, query)


def auth(token: str = "token-c") -> dict[str, str]:
    return {"Authorization": f"Token {base64.b64encode(token.encode()).decode()}"}


@pytest.fixture
def fake() -> FakePorts:
    return FakePorts(
        sessions=[session_at(i, T0 + timedelta(minutes=i)) for i in range(7)],
        cdrs=[cdr_at(i, T0 + timedelta(hours=i)) for i in range(3)],
    )


def _app(ports: OcpiPorts) -> Litestar:
    config = ServerConfig(base_url=BASE, max_page_limit=MAX_LIMIT)
    return Litestar(
        route_handlers=[build_router(ports, config)], exception_handlers=exception_handlers
    )


@pytest.fixture
async def client(fake: FakePorts):
    ports = OcpiPorts(authentication=fake, credentials=fake, sessions=fake, cdrs=fake)
    async with AsyncTestClient(_app(ports), base_url="http://internal.local") as test_client:
        yield test_client


def _query(link: str) -> dict[str, list[str]]:
    url = parse_next_link(link)
    assert url is not None
    return parse_qs(urlsplit(url).query)


# --- Version details: offered only with a port --------------------------------------------------


async def test_version_details_offer_sessions_and_cdrs_as_sender(client):
    endpoints = (await client.get("/ocpi/2.2.1", headers=auth())).json()["data"]["endpoints"]
    assert {"identifier": "sessions", "role": "SENDER", "url": f"{BASE}/2.2.1/sessions"} in (
        endpoints
    )
    assert {"identifier": "cdrs", "role": "SENDER", "url": f"{BASE}/2.2.1/cdrs"} in endpoints


async def test_without_ports_sessions_and_cdrs_are_neither_offered_nor_mounted(fake):
    ports = OcpiPorts(authentication=fake, credentials=fake)
    async with AsyncTestClient(_app(ports)) as test_client:
        details = await test_client.get("/ocpi/2.2.1", headers=auth())
        identifiers = {e["identifier"] for e in details.json()["data"]["endpoints"]}
        assert identifiers == {"credentials"}
        for path in ("/ocpi/2.2.1/sessions?date_from=2026-01-01T00:00:00Z", "/ocpi/2.2.1/cdrs"):
            response = await test_client.get(path, headers=auth())
            assert response.status_code == 404
            assert response.json()["status_code"] == 2000
    assert fake.calls == []


@pytest.mark.parametrize(
    "path",
    [
        "/ocpi/2.2.1/sessions?date_from=2026-01-01T00:00:00Z",
        "/ocpi/2.2.1/cdrs",
    ],
)
async def test_a_registration_token_is_refused(client, fake, path):
    response = await client.get(path, headers=auth("token-a"))
    assert response.status_code == 401
    assert fake.calls == []


# --- Sessions GET ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?date_to=2026-03-02T00:00:00Z", "?date_from="])
async def test_sessions_without_date_from_are_2001_before_the_port(client, fake, query):
    response = await client.get(f"/ocpi/2.2.1/sessions{query}", headers=auth())
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert "date_from" in envelope["status_message"]
    assert "data" not in envelope
    assert fake.calls == []


async def test_sessions_date_filters_are_inclusive_from_and_exclusive_to(client, fake):
    # Sessions were last updated at T0 + 0..6 minutes: [T0+2, T0+5) holds 2, 3 and 4.
    date_from = (T0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    date_to = (T0 + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = await client.get(
        "/ocpi/2.2.1/sessions",
        params={"date_from": date_from, "date_to": date_to},
        headers=auth(),
    )
    assert response.json()["status_code"] == 1000
    assert [s["id"] for s in response.json()["data"]] == ["S2", "S3", "S4"]
    assert response.headers["X-Total-Count"] == "3"
    [(_, query)] = fake.calls
    assert query.page.date_from == T0 + timedelta(minutes=2)
    assert query.page.date_to == T0 + timedelta(minutes=5)
    assert query.page.date_from.tzinfo is not None


async def test_sessions_pages_follow_the_link_with_every_filter(client):
    # 7 sessions, server maximum 5, a client asking for 3: pages of 3, 3 and 1.
    path = "/ocpi/2.2.1/sessions?date_from=2026-03-01T12:00:00Z&limit=3"
    first = await client.get(path, headers=auth())
    assert [s["id"] for s in first.json()["data"]] == ["S0", "S1", "S2"]
    assert first.headers["X-Total-Count"] == "7"
    assert first.headers["X-Limit"] == str(MAX_LIMIT)
    link = first.headers["Link"]
    # On the public base URL, not the internal one the request came to.
    assert link.startswith(f"<{BASE}/2.2.1/sessions?")
    assert link.endswith('>; rel="next"')
    assert _query(link) == {
        "date_from": ["2026-03-01T12:00:00Z"],
        "offset": ["3"],
        "limit": ["3"],
    }
    ids = [s["id"] for s in first.json()["data"]]
    page = first
    while "Link" in page.headers:
        next_url = parse_next_link(page.headers["Link"])
        assert next_url is not None
        page = await client.get("/ocpi" + next_url.removeprefix(BASE), headers=auth())
        assert page.headers["X-Total-Count"] == "7"
        ids += [s["id"] for s in page.json()["data"]]
    assert ids == [f"S{i}" for i in range(7)]


async def test_sessions_limit_above_the_maximum_is_lowered_to_it(client, fake):
    response = await client.get(
        "/ocpi/2.2.1/sessions?date_from=2026-03-01T12:00:00Z&limit=1000", headers=auth()
    )
    assert len(response.json()["data"]) == MAX_LIMIT
    assert response.headers["X-Limit"] == str(MAX_LIMIT)
    assert _query(response.headers["Link"])["limit"] == [str(MAX_LIMIT)]
    assert fake.calls[0][1].page.limit == MAX_LIMIT


async def test_sessions_last_page_has_no_link(client):
    response = await client.get(
        "/ocpi/2.2.1/sessions?date_from=2026-03-01T12:00:00Z&offset=5", headers=auth()
    )
    assert [s["id"] for s in response.json()["data"]] == ["S5", "S6"]
    assert "Link" not in response.headers
    assert response.headers["X-Total-Count"] == "7"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("date_from=yesterday", "date_from"),
        ("date_from=2026-03-01T12:00:00Z&date_to=2026-13-01T00:00:00Z", "date_to"),
        ("date_from=2026-03-01T12:00:00Z&offset=-1", "offset"),
        ("date_from=2026-03-01T12:00:00Z&limit=ten", "limit"),
    ],
)
async def test_sessions_junk_parameters_are_2001_naming_them(client, fake, query, named):
    response = await client.get(f"/ocpi/2.2.1/sessions?{query}", headers=auth())
    assert response.json()["status_code"] == 2001
    assert named in response.json()["status_message"]
    assert fake.calls == []


async def test_sessions_routing_headers_select_the_party_and_come_back_swapped(client, fake):
    response = await client.get(
        "/ocpi/2.2.1/sessions?date_from=2026-03-01T12:00:00Z",
        headers={
            **auth(),
            "OCPI-from-country-code": "NL",
            "OCPI-from-party-id": "TST",
            "OCPI-to-country-code": "nl",
            "OCPI-to-party-id": "stk",
        },
    )
    assert response.json()["status_code"] == 1000
    assert fake.calls[0][1].receiver == PartyRef("NL", "STK")
    assert response.headers["OCPI-to-country-code"] == "NL"
    assert response.headers["OCPI-to-party-id"] == "TST"
    assert response.headers["OCPI-from-party-id"] == "STK"


async def test_sessions_page_is_the_spec_example_and_matches_the_official_schema(client, fake):
    fake.sessions = [Session.model_validate(SESSION_EXAMPLE)]
    response = await client.get(
        "/ocpi/2.2.1/sessions?date_from=2020-03-09T10:17:09Z", headers=auth()
    )
    body = response.json()
    [served] = body["data"]
    assert _normalize(_json(json.dumps(served))) == _normalize(
        _json(_load("session_example_1_simple_start.json"))
    )
    ocpi_openapi.validate_response("sessions", "sender", "GET", "/sessions", 200, body)
    ocpi_openapi.validate("Session", served, strict=True)


# --- CDRs GET --------------------------------------------------------------------------------


async def test_cdrs_date_from_is_optional(client, fake):
    response = await client.get("/ocpi/2.2.1/cdrs", headers=auth())
    assert response.json()["status_code"] == 1000
    assert [c["id"] for c in response.json()["data"]] == ["C0", "C1", "C2"]
    assert response.headers["X-Total-Count"] == "3"
    assert response.headers["X-Limit"] == str(MAX_LIMIT)
    assert "Link" not in response.headers
    [(_, query)] = fake.calls
    assert (query.page.date_from, query.page.date_to) == (None, None)


async def test_cdrs_date_filters_and_pagination(client, fake):
    response = await client.get(
        "/ocpi/2.2.1/cdrs?date_from=2026-03-01T13:00:00Z&limit=1", headers=auth()
    )
    assert [c["id"] for c in response.json()["data"]] == ["C1"]
    assert response.headers["X-Total-Count"] == "2"
    link = response.headers["Link"]
    assert link.startswith(f"<{BASE}/2.2.1/cdrs?")
    assert _query(link) == {
        "date_from": ["2026-03-01T13:00:00Z"],
        "offset": ["1"],
        "limit": ["1"],
    }
    to = await client.get(
        "/ocpi/2.2.1/cdrs?date_from=2026-03-01T12:00:00Z&date_to=2026-03-01T14:00:00Z",
        headers=auth(),
    )
    assert [c["id"] for c in to.json()["data"]] == ["C0", "C1"]


async def test_cdrs_page_is_the_spec_example_and_matches_the_official_schema(client, fake):
    fake.cdrs = [CDR.model_validate(CDR_EXAMPLE)]
    body = (await client.get("/ocpi/2.2.1/cdrs", headers=auth())).json()
    [served] = body["data"]
    assert _normalize(_json(json.dumps(served))) == _normalize(_json(_load("cdr_example.json")))
    ocpi_openapi.validate_response("cdrs", "sender", "GET", "/cdrs", 200, body)
    ocpi_openapi.validate("CDR", served, strict=True)


async def test_cdrs_junk_parameters_are_2001(client, fake):
    response = await client.get("/ocpi/2.2.1/cdrs?date_to=soon", headers=auth())
    assert response.json()["status_code"] == 2001
    assert "date_to" in response.json()["status_message"]
    assert fake.calls == []


# --- Charging Preferences PUT ----------------------------------------------------------------

PREFERENCES = {
    "profile_type": "FAST",
    "departure_time": "2026-03-01T18:00:00Z",
    "energy_need": 42.5,
    "discharge_allowed": False,
}


@pytest.mark.parametrize("answer", list(ChargingPreferencesResponse))
async def test_charging_preferences_answer_the_ports_response(client, fake, answer):
    fake.answer = answer
    response = await client.put(
        "/ocpi/2.2.1/sessions/S1/charging_preferences", json=PREFERENCES, headers=auth()
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == answer.value
    ocpi_openapi.validate_response(
        "sessions", "sender", "PUT", "/sessions/{session_id}/charging_preferences", 200, body
    )
    [(name, session_id, preferences, receiver)] = fake.calls
    assert (name, session_id, receiver) == ("put_charging_preferences", "S1", None)
    assert preferences.profile_type is ProfileType.FAST
    assert preferences.departure_time == datetime(2026, 3, 1, 18, tzinfo=UTC)
    assert str(preferences.energy_need) == "42.5"
    assert preferences.discharge_allowed is False


async def test_charging_preferences_pass_the_addressed_party(client, fake):
    response = await client.put(
        "/ocpi/2.2.1/sessions/S1/charging_preferences",
        json={"profile_type": "REGULAR"},
        headers={
            **auth(),
            "OCPI-from-country-code": "NL",
            "OCPI-from-party-id": "TST",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "STK",
        },
    )
    assert response.json()["data"] == "ACCEPTED"
    assert fake.calls[0][3] == PartyRef("NL", "STK")
    assert response.headers["OCPI-to-party-id"] == "TST"


async def test_charging_preferences_of_an_unknown_session_are_404_in_one_wording(client, fake):
    response = await client.put(
        "/ocpi/2.2.1/sessions/NOPE/charging_preferences", json=PREFERENCES, headers=auth()
    )
    assert response.status_code == 404
    envelope = response.json()
    assert envelope["status_code"] == UnknownObject.status_code == 2000
    assert envelope["status_message"] == "Unknown session 'NOPE'"
    assert len(fake.calls) == 1


@pytest.mark.parametrize("session_id", ["S" * 37, "S%01"])
async def test_charging_preferences_of_an_impossible_id_are_404_before_the_port(
    client, fake, session_id
):
    response = await client.put(
        f"/ocpi/2.2.1/sessions/{session_id}/charging_preferences", json=PREFERENCES, headers=auth()
    )
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000
    assert response.json()["status_message"].startswith("Unknown session")
    assert fake.calls == []


async def test_charging_preferences_at_an_evse_that_cannot_take_them_are_404_2001(client, fake):
    fake.refuse = ChargingPreferencesNotSupported()
    response = await client.put(
        "/ocpi/2.2.1/sessions/S1/charging_preferences", json=PREFERENCES, headers=auth()
    )
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert "not supported" in response.json()["status_message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "profile_type"),
        ({"profile_type": "SLOW"}, "profile_type"),
        ({"profile_type": "FAST", "energy_need": "lots"}, "energy_need"),
        ({"profile_type": "FAST", "departure_time": "tonight"}, "departure_time"),
        ({"profile_type": "FAST", "discharge_allowed": "maybe"}, "discharge_allowed"),
        ([PREFERENCES], "JSON object"),
    ],
)
async def test_charging_preferences_bad_body_is_2001_naming_the_field(client, fake, body, named):
    response = await client.put(
        "/ocpi/2.2.1/sessions/S1/charging_preferences", json=body, headers=auth()
    )
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert named in envelope["status_message"], envelope["status_message"]
    assert fake.calls == []


@pytest.mark.parametrize("content", [b"", b"{not json"])
async def test_charging_preferences_empty_or_non_json_body_is_400_2001(client, fake, content):
    response = await client.put(
        "/ocpi/2.2.1/sessions/S1/charging_preferences",
        content=content,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert fake.calls == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ocpi/2.2.1/sessions"),
        ("PATCH", "/ocpi/2.2.1/sessions/S1/charging_preferences"),
        ("POST", "/ocpi/2.2.1/cdrs"),
    ],
)
async def test_methods_the_sender_interfaces_do_not_offer_are_405(client, fake, method, path):
    response = await client.request(method, path, json={}, headers=auth())
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
    assert "Allow" in response.headers
    assert fake.calls == []
