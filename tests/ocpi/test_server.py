"""The OCPI server layer (router, guards, envelopes, 405 rules) against in-memory fake ports."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar, Router, get
from litestar.testing import AsyncTestClient

from ocpi.auth import TokenEncoding
from ocpi.errors import UnableToUseClientApi
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.ports import ClientIdentity, OcpiPorts
from ocpi.v221.server.common import ClientGuards, ServerConfig, exception_handlers
from ocpi.v221.server.router import build_router

BASE = "https://hub.example/ocpi"
OUR_ROLES = [
    {
        "role": "CPO",
        "party_id": "HPC",
        "country_code": "US",
        "business_details": {"name": "HPC US"},
    },
    {
        "role": "CPO",
        "party_id": "HPC",
        "country_code": "CA",
        "business_details": {"name": "HPC CA"},
    },
]


def their_credentials(token: str = "token-b") -> dict[str, Any]:
    return {
        "token": token,
        "url": "https://emsp.example/ocpi/versions",
        "roles": [
            {
                "role": "EMSP",
                "party_id": "EMS",
                "country_code": "US",
                "business_details": {"name": "Example eMSP"},
            }
        ],
    }


@dataclass
class FakePorts:
    """Tokens map to clients; the credentials port records what it was asked."""

    clients: dict[str, ClientIdentity] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_register: bool = False

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        for token in candidates.values():
            if token in self.clients:
                return self.clients[token]
        return None

    def ours(self, token: str) -> Credentials:
        return Credentials.model_validate(
            {"token": token, "url": f"{BASE}/versions", "roles": OUR_ROLES}
        )

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        self.calls.append(("get", client.client_id))
        return self.ours(client.token)

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        self.calls.append(("register", credentials.token))
        if self.fail_register:
            raise UnableToUseClientApi("versions endpoint unreachable")
        return self.ours("token-c")

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        self.calls.append(("update", credentials.token))
        return self.ours("token-c2")

    async def unregister(self, client: ClientIdentity) -> None:
        self.calls.append(("unregister", client.client_id))


@get("/2.2.1/functional", sync_to_thread=False)
def functional_module() -> dict[str, str]:
    return {"reached": "yes"}


@pytest.fixture
def fake() -> FakePorts:
    return FakePorts(
        clients={
            "token-a": ClientIdentity("1", "invited", "token-a", registered=False),
            "token-c": ClientIdentity("2", "registered", "token-c", registered=True),
            "token-s": ClientIdentity("3", "suspended", "token-s", registered=True, active=False),
        }
    )


@pytest.fixture
async def client(fake: FakePorts):
    ports = OcpiPorts(authentication=fake, credentials=fake)
    guards = ClientGuards(ports)
    # A stand-in functional module, guarded like the real ones will be.
    functional = Router(
        "/ocpi", route_handlers=[functional_module], guards=[guards.registered_client]
    )
    app = Litestar(
        route_handlers=[build_router(ports, ServerConfig(base_url=BASE)), functional],
        exception_handlers=exception_handlers,
    )
    async with AsyncTestClient(app, base_url="http://testserver.local") as test_client:
        yield test_client


def auth(token: str, plain: bool = False) -> dict[str, str]:
    value = token if plain else base64.b64encode(token.encode()).decode()
    return {"Authorization": f"Token {value}"}


async def test_versions_lists_221_with_our_url(client):
    response = await client.get("/ocpi/versions", headers=auth("token-a"))
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == [{"version": "2.2.1", "url": f"{BASE}/2.2.1"}]
    assert body["timestamp"].endswith("Z")


async def test_version_details_offers_credentials_as_sender(client):
    response = await client.get("/ocpi/2.2.1", headers=auth("token-c"))
    assert response.json()["data"] == {
        "version": "2.2.1",
        "endpoints": [
            {"identifier": "credentials", "role": "SENDER", "url": f"{BASE}/2.2.1/credentials"}
        ],
    }


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer x"}, auth("unknown-token"), {"Authorization": "Token "}],
)
async def test_missing_or_unknown_token_is_http_401(client, headers):
    response = await client.get("/ocpi/versions", headers=headers)
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000
    assert response.headers["WWW-Authenticate"] == "Token"


async def test_plain_token_is_accepted_from_peers_that_do_not_encode(client):
    response = await client.get("/ocpi/versions", headers=auth("token-c", plain=True))
    assert response.status_code == 200


async def test_token_a_is_refused_on_functional_modules(client):
    refused = await client.get("/ocpi/2.2.1/functional", headers=auth("token-a"))
    assert refused.status_code == 401
    assert "versions and credentials" in refused.json()["status_message"]
    allowed = await client.get("/ocpi/2.2.1/functional", headers=auth("token-c"))
    assert allowed.status_code == 200


async def test_suspended_partner_is_refused_on_functional_modules(client):
    response = await client.get("/ocpi/2.2.1/functional", headers=auth("token-s"))
    assert response.status_code == 401
    assert "suspended" in response.json()["status_message"]


async def test_get_credentials_echoes_the_callers_token(client):
    response = await client.get("/ocpi/2.2.1/credentials", headers=auth("token-c"))
    data = response.json()["data"]
    assert data["token"] == "token-c"
    assert [(r["country_code"], r["party_id"]) for r in data["roles"]] == [
        ("US", "HPC"),
        ("CA", "HPC"),
    ]


async def test_post_with_token_a_registers(client, fake):
    response = await client.post(
        "/ocpi/2.2.1/credentials", json=their_credentials(), headers=auth("token-a")
    )
    assert response.status_code == 200
    assert response.json()["data"]["token"] == "token-c"
    assert fake.calls == [("register", "token-b")]


async def test_post_when_registered_is_405(client, fake):
    response = await client.post(
        "/ocpi/2.2.1/credentials", json=their_credentials(), headers=auth("token-c")
    )
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
    assert fake.calls == []


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
async def test_put_and_delete_when_not_registered_are_405(client, fake, method):
    response = await client.request(
        method,
        "/ocpi/2.2.1/credentials",
        json=their_credentials() if method == "PUT" else None,
        headers=auth("token-a"),
    )
    assert response.status_code == 405
    assert fake.calls == []


async def test_put_when_registered_updates(client, fake):
    response = await client.put(
        "/ocpi/2.2.1/credentials", json=their_credentials("token-b2"), headers=auth("token-c")
    )
    assert response.json()["data"]["token"] == "token-c2"
    assert fake.calls == [("update", "token-b2")]


async def test_delete_when_registered_unregisters(client, fake):
    response = await client.delete("/ocpi/2.2.1/credentials", headers=auth("token-c"))
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert fake.calls == [("unregister", "2")]


async def test_malformed_json_is_http_400_status_2001(client, fake, caplog):
    caplog.set_level(logging.WARNING, logger="ocpi.server")
    response = await client.post(
        "/ocpi/2.2.1/credentials",
        content=b'{"token": "x", ',
        headers={**auth("token-a"), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert fake.calls == []
    assert "2001" in caplog.text


@pytest.mark.parametrize(
    ("mutate", "field_name"),
    [
        (lambda c: c.pop("token"), "token"),
        (lambda c: c.update(token="x" * 65), "token"),
        (lambda c: c["roles"][0].update(party_id="TOOLONG"), "party_id"),
        (lambda c: c["roles"][0].update(role="DRIVER"), "role"),
        (lambda c: c.update(roles="EMSP"), "roles"),
    ],
)
async def test_field_violating_the_spec_is_2001_naming_the_field(client, fake, mutate, field_name):
    body = their_credentials()
    mutate(body)
    response = await client.post("/ocpi/2.2.1/credentials", json=body, headers=auth("token-a"))
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 2001
    assert field_name in envelope["status_message"]
    assert fake.calls == []


async def test_port_errors_become_their_status_code(client, fake):
    fake.fail_register = True
    response = await client.post(
        "/ocpi/2.2.1/credentials", json=their_credentials(), headers=auth("token-a")
    )
    assert response.json()["status_code"] == 3001
    assert "unreachable" in response.json()["status_message"]


async def test_message_ids_are_echoed(client):
    response = await client.get(
        "/ocpi/versions",
        headers={**auth("token-a"), "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"},
    )
    assert response.headers["X-Request-ID"] == "req-1"
    assert response.headers["X-Correlation-ID"] == "corr-1"


async def test_message_ids_are_generated_when_absent_even_on_errors(client):
    response = await client.get("/ocpi/versions")
    assert response.status_code == 401
    assert response.headers["X-Request-ID"]
    assert response.headers["X-Correlation-ID"]


async def test_unknown_module_is_404_envelope(client):
    response = await client.get("/ocpi/2.2.1/nothing-here", headers=auth("token-c"))
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


async def test_405_comes_before_reading_the_body(client, fake):
    response = await client.post(
        "/ocpi/2.2.1/credentials", content=b"not json", headers=auth("token-c")
    )
    assert response.status_code == 405
    assert fake.calls == []
