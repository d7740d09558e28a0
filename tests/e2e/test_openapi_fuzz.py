"""Schemathesis against the live hub, from the document it serves (= the committed one).

The hub runs under uvicorn on a real port (``asgi_server``) on a migrated database, with our
parties, some locations and tariffs, and three partners: a registered eMSP whose token opens
every module, an invited one (token A) for the credentials POST, and a registered one kept for
the credentials DELETE (the first accepted DELETE unregisters it; every later one is answered
401, which is documented). Calls from the hub to partners (the handshake of POST/PUT) go to a
transport that refuses them, so the run is hermetic: they end in a documented 3001 envelope.

Each response must conform to the document (status code, content type, headers, body), no
response may be a 5xx, a request without a token must be 401 and an undeclared method 405 with
``Allow``. Not checked, by design: ``negative_data_rejection``, since OCPI answers an invalid
parameter with HTTP 200 and status_code 2001 (``status_codes.asciidoc``), not with a 4xx; and
``positive_data_acceptance``, since a schema-valid id of an object that does not exist is
rightly 404.

Budget (the whole module should stay within about a minute on a 2-core machine): on SQLite,
every operation runs every phase but the stateful one (schema examples; the coverage phase:
boundary and out-of-schema values of every parameter and body field, missing parts, undeclared
methods; and MAX_EXAMPLES generated cases, positive and negative), except the credentials POST,
which decodes the same body as the PUT and gets generated cases only. On PostgreSQL, where ids,
filters and page numbers reach different SQL, the Locations, Tariffs and Tokens operations get the
generated cases only: running the coverage phase there too would double the run time.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case

from hub.app import create_app, openapi_document
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.fixtures.databases import DatabaseFactory
from tests.hub.conftest import add_parties, register_partner
from tests.support.servers import asgi_server

pytestmark = [pytest.mark.e2e, pytest.mark.db]

# Bounded: generated cases per operation and generation mode, on top of the coverage phase.
MAX_EXAMPLES = 10
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
    "unsupported_method",
)


@dataclass(frozen=True)
class LiveHub:
    base_url: str
    token: str  # registered eMSP: every module
    registration_token: str  # invited partner (token A): credentials POST
    leaving_token: str  # registered partner for the credentials DELETE


def encoded(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


async def _populate(database_url: str) -> tuple[str, str, str]:
    engine = create_engine(database_url)
    try:
        sessions = create_session_factory(engine)
        await add_parties(sessions)
        _, token = await register_partner(sessions, "emsp-fuzz", ("US", "EMF"))
        _, leaving = await register_partner(sessions, "emsp-leaving", ("US", "EML"))
        locations = [network.location(f"LOC{i}", evses=2) for i in range(1, 4)]
        locations.append(network.location("FLEET", publish=False, visible_to=["US*EMF"]))
        async with session_scope(sessions) as session:
            _, registration = await PartnerService(session).invite(
                "emsp-new", parties=[("US", "EMN")]
            )
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps(locations))
            )
            await TariffService(session).import_tariffs(
                parse_tariffs_json(json.dumps([network.tariff("T-DC"), network.tariff("T-IDLE")]))
            )
    finally:
        await dispose_engine(engine)
    return token, registration, leaving


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("partners are not reachable from this test", request=request)


class Hubs:
    """Live hubs by engine, started on first use and kept for the module (Hypothesis runs many
    cases per test; the server and its data must outlive them)."""

    def __init__(self, factory: DatabaseFactory, stack: ExitStack) -> None:
        self.factory = factory
        self.stack = stack
        self.started: dict[str, LiveHub] = {}

    def get(self, engine: str) -> LiveHub:
        if engine not in self.started:
            self.factory.require(engine)  # skips (or fails under CI) without PostgreSQL
            database_url = self.factory.create(engine)
            self.stack.callback(self.factory.drop, database_url)
            token, registration, leaving = asyncio.run(_populate(database_url))
            settings = Settings(
                database=DatabaseSettings(url=database_url),
                ocpi=OcpiSettings(max_page_limit=2, partner_timeout_seconds=1),
                push=PushSettings(enabled=False),
            )
            http = httpx.AsyncClient(transport=httpx.MockTransport(_refuse))
            base_url = self.stack.enter_context(asgi_server(create_app(settings, http=http)))
            served = httpx.get(f"{base_url}/schema/openapi.json").json()
            assert served == DOCUMENT, "the live hub serves another document than `hub openapi`"
            self.started[engine] = LiveHub(base_url, token, registration, leaving)
        return self.started[engine]


@pytest.fixture(scope="module")
def hubs(database_factory: DatabaseFactory) -> Iterator[Hubs]:
    with ExitStack() as stack:
        yield Hubs(database_factory, stack)


@pytest.fixture(scope="module")
def live_hub(request: pytest.FixtureRequest, hubs: Hubs) -> LiveHub:
    return hubs.get(request.param)


on_sqlite = pytest.mark.parametrize("live_hub", ["sqlite"], indirect=True)
on_postgresql = pytest.mark.parametrize("live_hub", ["postgresql"], indirect=True)


def _schema(*, coverage: bool) -> Any:
    phases: dict[str, Any] = {"stateful": {"enabled": False}}
    if not coverage:
        phases["coverage"] = {"enabled": False}
    config = {
        "seed": 2211,
        # Timing-based, so not for a shared machine; the other health checks depend on the
        # generated data only, which the seed fixes.
        "suppress-health-check": ["too_slow"],
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
        "phases": phases,
        "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    }
    return schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(config))


DOCUMENT = openapi_document(Settings())
EVERY_PHASE = _schema(coverage=True)
GENERATED_ONLY = _schema(coverage=False)

# The token each operation is called with (the registered eMSP's for all others).
TOKEN_FOR = {"postCredentials": "registration_token", "deleteCredentials": "leaving_token"}


def call_and_validate(case: Case, hub: LiveHub) -> None:
    token = getattr(hub, TOKEN_FOR.get(case.operation.definition.raw["operationId"], "token"))
    case.call_and_validate(base_url=hub.base_url, headers={"Authorization": encoded(token)})


@on_sqlite
@EVERY_PHASE.exclude(operation_id="postCredentials").parametrize()
def test_every_operation_conforms(case: Case, live_hub: LiveHub) -> None:
    """Every phase; the credentials POST, which decodes the same body as the PUT, below."""
    call_and_validate(case, live_hub)


@on_sqlite
@GENERATED_ONLY.include(operation_id="postCredentials").parametrize()
def test_registration_conforms(case: Case, live_hub: LiveHub) -> None:
    call_and_validate(case, live_hub)


@on_postgresql
@GENERATED_ONLY.include(tag=["locations", "tariffs", "tokens"]).parametrize()
def test_functional_modules_conform_on_postgresql(case: Case, live_hub: LiveHub) -> None:
    """Where ids, filters and pages reach SQL, generated cases on PostgreSQL too."""
    call_and_validate(case, live_hub)
