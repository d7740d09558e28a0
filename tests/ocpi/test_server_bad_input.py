"""Bad input at the OCPI server edge, against fake ports that record every call.

Whatever a peer sends (impossible ids, junk query parameters, broken bodies), the answer is an
OCPI envelope in words, and nothing that cannot name a stored object reaches a port.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ocpi.auth import TokenEncoding
from ocpi.errors import LocationNotFound, MethodNotAllowed
from ocpi.headers import PartyRef
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.locations import Location
from ocpi.v221.models.tariffs import Tariff
from ocpi.v221.ports import ClientIdentity, OcpiPorts, Page, SenderQuery
from ocpi.v221.server.common import ServerConfig, exception_handlers
from ocpi.v221.server.router import build_router

BASE = "https://hub.example/ocpi"

LOCATION = {
    "country_code": "US",
    "party_id": "HPC",
    "id": "LOC1",
    "publish": True,
    "address": "1 Main Street",
    "city": "Springfield",
    "country": "USA",
    "coordinates": {"latitude": "39.78373", "longitude": "-89.65063"},
    "time_zone": "America/Chicago",
    "evses": [
        {
            "uid": "E1",
            "status": "AVAILABLE",
            "connectors": [
                {
                    "id": "1",
                    "standard": "IEC_62196_T1_COMBO",
                    "format": "CABLE",
                    "power_type": "DC",
                    "max_voltage": 920,
                    "max_amperage": 500,
                    "last_updated": "2024-05-01T10:00:00Z",
                }
            ],
            "last_updated": "2024-05-01T10:00:00Z",
        }
    ],
    "last_updated": "2024-05-01T10:00:00Z",
}


@dataclass
class RecordingPorts:
    """One registered peer (token-c), one location; every port call is recorded."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    refuse_with_405: bool = False

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        if "token-c" in candidates.values():
            return ClientIdentity("2", "registered", "token-c", registered=True)
        if "token-a" in candidates.values():
            return ClientIdentity("1", "invited", "token-a", registered=False)
        return None

    def ours(self, token: str) -> Credentials:
        return Credentials.model_validate(
            {
                "token": token,
                "url": f"{BASE}/versions",
                "roles": [
                    {
                        "role": "CPO",
                        "party_id": "HPC",
                        "country_code": "US",
                        "business_details": {"name": "HPC US"},
                    }
                ],
            }
        )

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        self.calls.append(("get_credentials",))
        return self.ours(client.token)

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        self.calls.append(("register", credentials))
        return self.ours("token-c")

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        self.calls.append(("update", credentials))
        if self.refuse_with_405:
            raise MethodNotAllowed("The partner's state changed meanwhile")
        return self.ours("token-c2")

    async def unregister(self, client: ClientIdentity) -> None:
        self.calls.append(("unregister",))

    async def list_locations(self, client: ClientIdentity, query: SenderQuery) -> Page[Location]:
        self.calls.append(("list_locations", query))
        return Page(items=[Location.model_validate(LOCATION)], total=1)

    async def get_location(
        self, client: ClientIdentity, location_id: str, receiver: PartyRef | None
    ) -> Location:
        self.calls.append(("get_location", location_id))
        if self.refuse_with_405:
            raise MethodNotAllowed("Not now")
        if location_id != "LOC1":
            raise LocationNotFound(f"the port's own wording for {location_id}")
        return Location.model_validate(LOCATION)

    async def list_tariffs(self, client: ClientIdentity, query: SenderQuery) -> Page[Tariff]:
        self.calls.append(("list_tariffs", query))
        return Page(items=[], total=0)


@pytest.fixture
def ports() -> RecordingPorts:
    return RecordingPorts()


@pytest.fixture
async def client(ports: RecordingPorts):
    router = build_router(
        OcpiPorts(authentication=ports, credentials=ports, locations=ports, tariffs=ports),
        ServerConfig(base_url=BASE),
    )
    app = Litestar(route_handlers=[router], exception_handlers=exception_handlers)
    async with AsyncTestClient(app, base_url="http://testserver.local") as test_client:
        yield test_client


def auth(token: str = "token-c") -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def shape(response: Any) -> tuple[int, list[str], int]:
    body = response.json()
    return response.status_code, sorted(body), body["status_code"]


# --- ids in the path ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impossible", "unknown"),
    [
        ("LOC1%00", "LOC2"),  # NUL: PostgreSQL refuses it in text ("invalid byte sequence")
        ("LOC1%0A", "LOC2"),
        ("L%C3%A9C", "LOC2"),  # not ASCII
        ("x" * 37, "LOC2"),  # Location.id is CiString(36)
        ("LOC1/E%00", "LOC1/E2"),
        ("LOC1/" + "e" * 37, "LOC1/E2"),
        ("LOC1/E1/1%00", "LOC1/E1/2"),
        ("LOC1/E1/%E2%80%8B1", "LOC1/E1/2"),  # zero-width space
    ],
)
async def test_impossible_ids_are_answered_like_unknown_ids_before_the_port(
    client, ports, impossible, unknown
):
    answered = await client.get(f"/ocpi/2.2.1/locations/{unknown}", headers=auth())
    assert answered.status_code == 404
    assert answered.json()["status_code"] == 2003
    ports.calls.clear()
    refused = await client.get(f"/ocpi/2.2.1/locations/{impossible}", headers=auth())
    assert shape(refused) == shape(answered)
    assert "data" not in refused.json()
    assert ports.calls == []


async def test_unknown_location_has_one_wording_whatever_the_port_says(client):
    response = await client.get("/ocpi/2.2.1/locations/LOC2", headers=auth())
    assert response.json()["status_message"] == "Unknown location 'LOC2'"
    nul = await client.get("/ocpi/2.2.1/locations/LOC2%00", headers=auth())
    assert nul.json()["status_message"] == "Unknown location 'LOC2\\x00'"


async def test_ids_at_the_limits_of_their_type_reach_the_port(client, ports):
    response = await client.get("/ocpi/2.2.1/locations/" + "x" * 36, headers=auth())
    assert response.status_code == 404
    assert ports.calls == [("get_location", "x" * 36)]
    found = await client.get("/ocpi/2.2.1/locations/LOC1/E1/1", headers=auth())
    assert found.json()["data"]["id"] == "1"


async def test_unknown_path_message_quotes_the_path(client):
    response = await client.get("/ocpi/2.2.1/nothing%00here", headers=auth())
    assert response.status_code == 404
    assert (
        response.json()["status_message"] == "No such OCPI resource: '/ocpi/2.2.1/nothing\\x00here'"
    )


# --- query parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["locations", "tariffs"])
@pytest.mark.parametrize(
    "query",
    [
        "date_from=2020-01-01T00:00:00%00",  # fromisoformat() took this as a date
        "date_to=0001-01-01T00:00:00%2B01:00",  # OverflowError when made UTC
        "date_from=9999-12-31T23:59:59-01:00",
        "date_from=2020-W01-1T00:00:00",
        "offset=1%00",
        "limit=%EF%BC%91",  # fullwidth digit one
    ],
)
async def test_junk_query_parameters_are_2001_before_the_port(client, ports, module, query):
    response = await client.get(f"/ocpi/2.2.1/{module}?{query}", headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 2001
    assert query.split("=")[0] in body["status_message"]
    assert ports.calls == []


# --- request bodies -----------------------------------------------------------------------------

CREDENTIALS_CALLS = [("POST", "token-a"), ("PUT", "token-c")]


def credentials_body(**overrides: Any) -> dict[str, Any]:
    return {
        "token": "token-b",
        "url": "https://emsp.example/ocpi/versions",
        "roles": [
            {
                "role": "EMSP",
                "party_id": "EMS",
                "country_code": "US",
                "business_details": {"name": "Example eMSP"},
            }
        ],
        **overrides,
    }


def assert_in_words(message: str) -> None:
    # No class names, exception reprs or framework wording reach the peer.
    for internal in ("Credentials", "Error(", "Exception", "'data'", "instance of", "msgspec"):
        assert internal not in message, message


@pytest.mark.parametrize(("method", "token"), CREDENTIALS_CALLS)
async def test_deeply_nested_body_is_400_2001(client, ports, method, token):
    # 100,000 levels: a recursive decoder raises RecursionError, which was HTTP 500.
    body = b"[" * 100_000 + b"]" * 100_000
    response = await client.request(
        method,
        "/ocpi/2.2.1/credentials",
        content=body,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert "nested too deeply" in envelope["status_message"]
    assert_in_words(envelope["status_message"])
    assert ports.calls == []


@pytest.mark.parametrize(("method", "token"), CREDENTIALS_CALLS)
@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "empty"),
        (b"  \r\n ", "empty"),
        (b"hello", "not valid JSON"),
        (b'{"token": "x", ', "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b'{"token": "\\ud800"}', "not valid JSON"),  # a lone surrogate is not text
    ],
)
async def test_empty_or_non_json_body_is_400_2001(client, ports, method, token, content, said):
    response = await client.request(
        method,
        "/ocpi/2.2.1/credentials",
        content=content,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert said in envelope["status_message"]
    assert_in_words(envelope["status_message"])
    assert ports.calls == []


@pytest.mark.parametrize(("method", "token"), CREDENTIALS_CALLS)
@pytest.mark.parametrize("content", [b"null", b"[]", b"42", b'"token"'])
async def test_json_that_is_not_an_object_is_2001_in_words(client, ports, method, token, content):
    response = await client.request(
        method,
        "/ocpi/2.2.1/credentials",
        content=content,
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert envelope["status_message"] == "Request body must be a JSON object"
    assert ports.calls == []


async def test_field_errors_name_every_field_in_words(client, ports):
    body = credentials_body(token=12)
    body["roles"][0].update(role="DRIVER", party_id="TOOLONG")
    del body["url"]
    response = await client.post("/ocpi/2.2.1/credentials", json=body, headers=auth("token-a"))
    message = response.json()["status_message"]
    assert response.json()["status_code"] == 2001
    assert message.startswith("Invalid request body: ")
    assert "token must be a string" in message
    assert "url is required" in message
    assert "roles[0].role must be one of 'CPO', 'EMSP'" in message
    assert "roles[0].party_id" in message
    assert_in_words(message)
    assert ports.calls == []


async def test_valid_body_reaches_the_port(client, ports):
    response = await client.put(
        "/ocpi/2.2.1/credentials", json=credentials_body(), headers=auth("token-c")
    )
    assert response.status_code == 200
    assert response.json()["data"]["token"] == "token-c2"
    assert [call[0] for call in ports.calls] == ["update"]


def small_limit_app(ports: RecordingPorts) -> Litestar:
    router = build_router(
        OcpiPorts(authentication=ports, credentials=ports),
        ServerConfig(base_url=BASE, max_body_bytes=2048),
    )
    return Litestar(route_handlers=[router], exception_handlers=exception_handlers)


@pytest.fixture
async def small_limit_client(ports: RecordingPorts):
    async with AsyncTestClient(small_limit_app(ports), base_url="http://t.local") as test_client:
        yield test_client


def padded(size: int) -> bytes:
    body = json.dumps(credentials_body()).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


TOO_LARGE = "Request body is larger than this server's limit of 2048 bytes"


async def test_body_over_the_limit_is_http_413_with_an_envelope(small_limit_client, ports):
    response = await small_limit_client.put(
        "/ocpi/2.2.1/credentials",
        content=padded(2049),
        headers={**auth("token-c"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    envelope = response.json()
    assert envelope["status_code"] == 2000
    assert envelope["status_message"] == TOO_LARGE
    assert response.headers["X-Request-ID"]
    assert ports.calls == []


async def asgi_put(
    app: Litestar, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[list[dict[str, Any]], list[int]]:
    """PUT /ocpi/2.2.1/credentials at the ASGI level: the test client always sends a body in one
    piece with a correct Content-Length, which is exactly what these tests must avoid."""
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk = chunks[len(received)]
        received.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": len(received) < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": "/ocpi/2.2.1/credentials",
        "raw_path": b"/ocpi/2.2.1/credentials",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"t.local"),
            (b"authorization", auth("token-c")["Authorization"].encode()),
            (b"content-type", b"application/json"),
            *headers,
        ],
        "client": ("127.0.0.1", 1),
        "server": ("t.local", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent, received


async def test_streamed_body_over_the_limit_is_cut_off_at_the_limit(ports):
    # No Content-Length (chunked upload): the limit holds while the body arrives.
    chunks = [b"{" + b" " * 511] + [b" " * 512] * 9  # 5 KiB, never completed
    sent, received = await asgi_put(
        small_limit_app(ports), [(b"transfer-encoding", b"chunked")], chunks
    )
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["status_message"] == TOO_LARGE
    assert sum(received) == 2560  # read up to the chunk that crossed 2048 bytes, no further
    assert ports.calls == []


async def test_framework_refusals_are_envelopes_in_words(ports):
    # Litestar answers a malformed Content-Length with "Invalid content-length: '12abc'",
    # quoting the request back; the peer gets the HTTP status in words instead.
    sent, _ = await asgi_put(
        small_limit_app(ports), [(b"content-length", b"12abc")], [json.dumps({}).encode()]
    )
    assert sent[0]["status"] == 400
    envelope = json.loads(sent[1]["body"])
    assert envelope["status_code"] == 2000
    assert envelope["status_message"] == "Request refused: Bad Request"
    assert ports.calls == []


async def test_body_at_the_limit_is_read(small_limit_client, ports):
    response = await small_limit_client.put(
        "/ocpi/2.2.1/credentials",
        content=padded(2048),
        headers={**auth("token-c"), "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert [call[0] for call in ports.calls] == ["update"]


# --- credentials: token, country_code, party_id (credentials.asciidoc) -----------------------


@pytest.mark.parametrize(("method", "token"), CREDENTIALS_CALLS)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token": "with space"}, "token must be 1 to 64 printable ASCII characters"),
        ({"token": ""}, "token must be 1 to 64 printable ASCII characters"),
        ({"token": "tökén"}, "token must be 1 to 64 printable ASCII characters"),
        ({"token": "tab\tinside"}, "token must be 1 to 64 printable ASCII characters"),
        ({"token": "x" * 65}, "token must be 1 to 64 printable ASCII characters"),
        ({"country_code": "U1"}, "roles[0].country_code must be an ISO 3166-1 alpha-2"),
        ({"country_code": "U "}, "roles[0].country_code must be an ISO 3166-1 alpha-2"),
        ({"country_code": "ÜS"}, "roles[0].country_code must be an ISO 3166-1 alpha-2"),
        ({"country_code": "USA"}, "roles[0].country_code must be an ISO 3166-1 alpha-2"),
        ({"party_id": "E-M"}, "roles[0].party_id must be an ISO 15118 party id"),
        ({"party_id": "EM "}, "roles[0].party_id must be an ISO 15118 party id"),
        ({"party_id": "ÉMS"}, "roles[0].party_id must be an ISO 15118 party id"),
        ({"party_id": "EM"}, "roles[0].party_id must be an ISO 15118 party id"),
    ],
)
async def test_credentials_outside_the_spec_character_sets_are_2001(
    client, ports, method, token, change, message
):
    body = credentials_body()
    if "token" in change:
        body.update(change)
    else:
        body["roles"][0].update(change)
    response = await client.request(
        method, "/ocpi/2.2.1/credentials", json=body, headers=auth(token)
    )
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert message in envelope["status_message"]
    assert_in_words(envelope["status_message"])
    assert ports.calls == []


@pytest.mark.parametrize(
    "change",
    [
        {"token": "!" + "~" * 63},  # U+0021..U+007E, 64 characters
        {"country_code": "us", "party_id": "e1s"},  # CiString: any case
    ],
)
async def test_credentials_at_the_edges_of_the_character_sets_are_accepted(client, ports, change):
    body = credentials_body()
    if "token" in change:
        body.update(change)
    else:
        body["roles"][0].update(change)
    response = await client.post("/ocpi/2.2.1/credentials", json=body, headers=auth("token-a"))
    assert response.json()["status_code"] == 1000
    assert [call[0] for call in ports.calls] == ["register"]


# --- 405 and Allow (RFC 9110 §15.5.6) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/ocpi/2.2.1/credentials", "DELETE, GET, OPTIONS, POST, PUT"),
        ("POST", "/ocpi/2.2.1/locations", "GET, OPTIONS"),
        ("DELETE", "/ocpi/2.2.1/locations/LOC1", "GET, OPTIONS"),
        ("PUT", "/ocpi/2.2.1/locations/LOC1/E1/1", "GET, OPTIONS"),
        ("PUT", "/ocpi/2.2.1/tariffs", "GET, OPTIONS"),
        ("POST", "/ocpi/versions", "GET, OPTIONS"),
    ],
)
async def test_unoffered_methods_are_405_with_allow(client, ports, method, path, allow):
    response = await client.request(method, path, headers=auth())
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    envelope = response.json()
    assert envelope["status_code"] == 2000
    assert envelope["status_message"] == f"Method {method} is not offered here; allowed: {allow}"
    assert ports.calls == []


@pytest.mark.parametrize(
    ("method", "token", "allow"),
    [
        ("POST", "token-c", "DELETE, GET, OPTIONS, PUT"),  # registered: update, not register
        ("PUT", "token-a", "GET, OPTIONS, POST"),  # token A: register first
        ("DELETE", "token-a", "GET, OPTIONS, POST"),
    ],
)
async def test_credentials_405_in_the_wrong_state_carries_allow(
    client, ports, method, token, allow
):
    response = await client.request(
        method,
        "/ocpi/2.2.1/credentials",
        content=None if method == "DELETE" else json.dumps(credentials_body()).encode(),
        headers={**auth(token), "Content-Type": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    assert ports.calls == []


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/ocpi/2.2.1/credentials", "DELETE, GET, OPTIONS, POST, PUT"),
        ("GET", "/ocpi/2.2.1/locations/LOC1/E1", "GET, OPTIONS"),
    ],
)
async def test_405_raised_by_a_port_gets_the_routes_methods(client, ports, method, path, allow):
    ports.refuse_with_405 = True
    response = await client.request(
        method,
        path,
        content=json.dumps(credentials_body()).encode() if method == "PUT" else None,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
