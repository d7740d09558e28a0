"""Hub Client Info Receiver interface against in-memory fake ports.

The fake port keeps one ClientInfo per (client, country_code, party_id), refuses a client that
is not a hub as the real port does (2001), and records what reached it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ocpi.auth import TokenEncoding
from ocpi.errors import InvalidOrMissingParameters, UnknownObject
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.hub_client_info import ClientInfo
from ocpi.v221.ports import ClientIdentity, OcpiPorts
from ocpi.v221.server.common import ServerConfig, exception_handlers
from ocpi.v221.server.router import build_router
from tests.support import ocpi_openapi

BASE = "https://cpo.example/ocpi"
URL = "/ocpi/2.2.1/hubclientinfo"
HUB = ClientIdentity("1", "hub", "token-hub", registered=True)
EMSP = ClientIdentity("2", "emsp", "token-emsp", registered=True)
OTHER_HUB = ClientIdentity("3", "other hub", "token-hub2", registered=True)
INVITED = ClientIdentity("4", "invited", "token-a", registered=False)
CLIENTS = {c.token: c for c in (HUB, EMSP, OTHER_HUB, INVITED)}


def info(**changes: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "ALL",
        "role": "EMSP",
        "status": "OFFLINE",
        "last_updated": "2026-03-01T12:00:00Z",
        **changes,
    }


@dataclass
class FakePorts:
    hubs: set[str] = field(default_factory=lambda: {HUB.client_id, OTHER_HUB.client_id})
    stored: dict[tuple[str, str, str], ClientInfo] = field(default_factory=dict)
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        return next((CLIENTS[t] for t in candidates.values() if t in CLIENTS), None)

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        raise NotImplementedError

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def unregister(self, client: ClientIdentity) -> None:
        raise NotImplementedError

    async def get_client_info(
        self, client: ClientIdentity, country_code: str, party_id: str
    ) -> ClientInfo:
        self.calls.append(("get", client.client_id, country_code, party_id))
        key = (client.client_id, country_code.upper(), party_id.upper())
        if key not in self.stored:
            raise UnknownObject(f"the port's own wording for {country_code}*{party_id}")
        return self.stored[key]

    async def put_client_info(self, client: ClientIdentity, info: ClientInfo) -> None:
        self.calls.append(("put", client.client_id, info))
        if client.client_id not in self.hubs:
            raise InvalidOrMissingParameters("only a hub may report client info")
        self.stored[(client.client_id, info.country_code.upper(), info.party_id.upper())] = info


def auth(token: str = "token-hub") -> dict[str, str]:
    return {"Authorization": f"Token {base64.b64encode(token.encode()).decode()}"}


@pytest.fixture
def fake() -> FakePorts:
    return FakePorts()


def _app(ports: OcpiPorts) -> Litestar:
    return Litestar(
        route_handlers=[build_router(ports, ServerConfig(base_url=BASE))],
        exception_handlers=exception_handlers,
    )


@pytest.fixture
async def client(fake: FakePorts):
    ports = OcpiPorts(authentication=fake, credentials=fake, hub_client_info=fake)
    async with AsyncTestClient(_app(ports), base_url="http://testserver.local") as test_client:
        yield test_client


async def test_version_details_offer_hubclientinfo_as_receiver_only_with_a_port(fake):
    for ports, offered in (
        (OcpiPorts(authentication=fake, credentials=fake, hub_client_info=fake), True),
        (OcpiPorts(authentication=fake, credentials=fake), False),
    ):
        async with AsyncTestClient(_app(ports), base_url="http://testserver.local") as test_client:
            details = (await test_client.get("/ocpi/2.2.1", headers=auth())).json()["data"]
            endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["endpoints"]}
            put = await test_client.put(f"{URL}/NL/ALL", json=info(), headers=auth())
        if offered:
            assert endpoints[("hubclientinfo", "RECEIVER")] == f"{BASE}/2.2.1/hubclientinfo"
            assert put.json()["status_code"] == 1000
        else:
            assert "hubclientinfo" not in {identifier for identifier, _ in endpoints}
            assert put.status_code == 404


async def test_put_then_get_returns_the_stored_client_info(client, fake):
    response = await client.put(f"{URL}/NL/ALL", json=info(), headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert "data" not in body
    ocpi_openapi.validate("OCPIResponse", body)

    response = await client.get(f"{URL}/nl/all", headers=auth())
    assert response.status_code == 200
    data = response.json()["data"]
    ocpi_openapi.validate("ClientInfo", data, strict=True)
    assert data == info()


async def test_configuration_module_uses_no_routing_headers(client):
    routing = {
        "OCPI-from-country-code": "DE",
        "OCPI-from-party-id": "HUB",
        "OCPI-to-country-code": "US",
        "OCPI-to-party-id": "HPC",
    }
    response = await client.put(f"{URL}/NL/ALL", json=info(), headers={**auth(), **routing})
    assert response.json()["status_code"] == 1000
    assert not {h.lower() for h in response.headers} & {h.lower() for h in routing}
    response = await client.get(f"{URL}/NL/ALL", headers={**auth(), **routing})
    assert response.json()["status_code"] == 1000
    assert not {h.lower() for h in response.headers} & {h.lower() for h in routing}


@pytest.mark.parametrize(
    ("url", "body", "said"),
    [
        ("NL/ALL", info(country_code="DE"), "country_code 'DE' differs from the URL country_code"),
        ("NL/ALL", info(party_id="ABC"), "party_id 'ABC' differs from the URL party_id 'ALL'"),
        ("NLX/ALL", info(), "URL country_code must be printable ASCII of at most 2"),
        ("NL/ALLX", info(), "URL party_id must be printable ASCII of at most 3"),
        ("NL/ALL", info(status="GONE"), "status"),
        ("NL/ALL", info(role="DRIVER"), "role"),
        ("NL/ALL", {k: v for k, v in info().items() if k != "last_updated"}, "last_updated"),
    ],
)
async def test_put_with_a_body_or_url_that_does_not_fit_is_2001_and_stores_nothing(
    client, fake, url, body, said
):
    response = await client.put(f"{URL}/{url}", json=body, headers=auth())
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert said in response.json()["status_message"]
    assert fake.calls == []


async def test_party_ids_compare_case_insensitively(client, fake):
    response = await client.put(f"{URL}/nl/all", json=info(), headers=auth())
    assert response.json()["status_code"] == 1000
    assert len(fake.calls) == 1


async def test_a_client_that_is_not_a_hub_gets_the_ports_2001(client, fake):
    response = await client.put(f"{URL}/NL/ALL", json=info(), headers=auth("token-emsp"))
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"] == "only a hub may report client info"
    assert fake.stored == {}


@pytest.mark.parametrize("party", ["NL/XYZ", "NLX/ALL", "NL/ALLX", "N%00/ALL"])
async def test_unknown_or_impossible_party_is_404_2000_in_one_wording(client, party):
    await client.put(f"{URL}/NL/ALL", json=info(), headers=auth())
    response = await client.get(f"{URL}/{party}", headers=auth())
    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 2000
    assert body["status_message"].startswith("No ClientInfo for party ")
    assert "own wording" not in body["status_message"]


async def test_a_hub_never_reads_what_another_hub_reported(client, fake):
    await client.put(f"{URL}/NL/ALL", json=info(), headers=auth())
    response = await client.get(f"{URL}/NL/ALL", headers=auth("token-hub2"))
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


async def test_registration_token_is_refused(client, fake):
    response = await client.put(f"{URL}/NL/ALL", json=info(), headers=auth("token-a"))
    assert response.status_code == 401
    assert fake.calls == []


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
async def test_methods_the_module_does_not_offer_are_405(client, method):
    response = await client.request(method, f"{URL}/NL/ALL", json=info(), headers=auth())
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "PUT"}
