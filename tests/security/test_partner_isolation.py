"""Three automakers attack each other's private data: locations, tariffs, sessions and CDRs,
every way of asking.

The hub runs as a real HTTP server on 127.0.0.1 (both databases); each partner has a real
receiver (``EmspPeer``) for pushes and for its side of the credentials handshake. Every object
any partner obtains, by any route, is collected and compared with what it may see: zero leaks.

Each of A's and B's drivers has charged once at the public site (a finished session with its
CDR); C's none. Later modules (commands) add their object types and routes here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx
import pytest

from hub.app import create_app
from hub.config import DatabaseSettings, OcpiSettings, PushSettings, Settings
from hub.domain.partners import PartnerStatus
from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenType
from hub.persistence.session import session_scope
from hub.roaming.handshake import CredentialsHandshake, HandshakeFailed
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.push import PushWorker
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from hub.services.sessions import SessionService, TransactionStart
from hub.services.tariffs import TariffService
from ocpi.envelope import parse_next_link
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp import EmspPeer
from tests.support.servers import asgi_server, free_port

pytestmark = pytest.mark.db

PARTNERS = {"emsp-a": ("US", "EMA"), "emsp-b": ("US", "EMB"), "emsp-c": ("US", "EMC")}

# Locations: one public, one private depot per automaker A and B (C has none).
LOCATIONS = [
    ("PUB", True, None, ["T-PUB", "T-SHARED"]),
    ("DEPOT-A", False, ["US*EMA"], ["T-FLEET-A", "T-SHARED"]),
    ("DEPOT-B", False, ["US*EMB"], ["T-FLEET-B"]),
]
TARIFFS = ["T-PUB", "T-SHARED", "T-FLEET-A", "T-FLEET-B", "T-FUTURE"]  # T-FUTURE: unreferenced

MAY_SEE_LOCATIONS = {
    "emsp-a": {"PUB", "DEPOT-A"},
    "emsp-b": {"PUB", "DEPOT-B"},
    "emsp-c": {"PUB"},
}
MAY_SEE_TARIFFS = {
    "emsp-a": {"T-PUB", "T-SHARED", "T-FUTURE", "T-FLEET-A"},
    "emsp-b": {"T-PUB", "T-SHARED", "T-FUTURE", "T-FLEET-B"},
    "emsp-c": {"T-PUB", "T-SHARED", "T-FUTURE"},
}


def role(name: str, country_code: str, party_id: str) -> dict[str, Any]:
    return {"role": name, "country_code": country_code, "party_id": party_id,
            "business_details": {"name": f"{country_code}*{party_id}"}}  # fmt: skip


def auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def location_record(location_id: str, publish: bool, visible_to, tariff_ids) -> dict[str, Any]:
    record = network.location(location_id, evses=1, publish=publish, visible_to=visible_to)
    record["evses"][0]["connectors"][0]["tariff_ids"] = list(tariff_ids)
    record["evses"][0]["hub_ocpp"] = {"charging_station_id": f"CS-{location_id}", "connector_id": 1}
    return record


async def charge(sessions: Any, partner_id: int, party: tuple[str, str], minute: int) -> str:
    """A finished 10 kWh charge at PUB by a driver of ``party``; its session (and CDR) id."""
    started = datetime(2026, 11, 24, 10, minute, tzinfo=UTC)
    driver = SessionToken(
        uid=f"CARD-{party[1]}", token_type=TokenType.RFID, accepted=True,
        auth_method="WHITELIST", presented_type="idTag", country_code=party[0],
        party_id=party[1], contract_id=f"{party[0]}-{party[1]}-C1", partner_id=partner_id,
    )  # fmt: skip
    async with session_scope(sessions) as session:
        service = SessionService(session, codec=OcpiTariffCodec(), clock=lambda: started)
        row = await service.start(
            TransactionStart(
                station_id="CS-PUB", ocpp_version="1.6", started_at=started,
                ocpp_connector_id=1, token=driver, meter_start_kwh=Decimal(0),
            )
        )  # fmt: skip
        cdr = await service.end(row, at=started + timedelta(minutes=20), meter_stop_kwh=Decimal(10))
        assert cdr is not None
        return row.session_id


@dataclass
class Seen:
    """Everything one partner obtained from the hub, by any route."""

    locations: set[str] = field(default_factory=set)
    tariffs: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    cdrs: set[str] = field(default_factory=set)
    requests: int = 0


@dataclass
class World:
    hub_url: str
    sessions: Any
    tokens: dict[str, str]
    peers: dict[str, EmspPeer]
    partner_ids: dict[str, int]
    http: httpx.AsyncClient
    charges: dict[str, str]
    """Each partner's drivers' session ids (= CDR ids); C has none."""
    seen: dict[str, Seen] = field(default_factory=lambda: {n: Seen() for n in PARTNERS})

    def may_see_charges(self, name: str) -> set[str]:
        return {self.charges[name]} if name in self.charges else set()

    async def get(self, name: str, path: str, headers: dict[str, str] | None = None):
        response = await self.http.get(
            f"{self.hub_url}/ocpi/2.2.1{path}",
            headers={**auth(self.tokens[name]), **(headers or {})},
        )
        self.record(name, path, response)
        return response

    def record(self, name: str, path: str, response: httpx.Response) -> None:
        self.seen[name].requests += 1
        if response.status_code != 200:
            return
        body = response.json()
        data = body.get("data")
        items = data if isinstance(data, list) else [data]
        for item in items:
            if not isinstance(item, dict):
                continue
            if path.startswith("/tariffs"):
                self.seen[name].tariffs.add(item["id"])
            elif path.startswith("/sessions"):
                self.seen[name].sessions.add(item["id"])
            elif path.startswith("/cdrs"):
                self.seen[name].cdrs.add(item["id"])
            elif "uid" in item or "standard" in item:  # an EVSE or a connector of a location
                self.seen[name].locations.add(path.split("?")[0].split("/")[2])
            elif "id" in item:
                self.seen[name].locations.add(item["id"])

    async def pull_all(self, name: str, path: str, headers=None) -> None:
        url: str | None = path
        while url:
            response = await self.get(name, url, headers)
            assert response.status_code == 200, response.text
            next_url = parse_next_link(response.headers.get("Link"))
            url = None
            if next_url:
                parts = urlsplit(next_url)
                url = parts.path.removeprefix("/ocpi/2.2.1") + (
                    f"?{parts.query}" if parts.query else ""
                )

    def assert_no_leak(self) -> None:
        for name, seen in self.seen.items():
            assert seen.locations <= MAY_SEE_LOCATIONS[name], (name, seen.locations)
            assert seen.tariffs <= MAY_SEE_TARIFFS[name], (name, seen.tariffs)
            assert seen.sessions <= self.may_see_charges(name), (name, seen.sessions)
            assert seen.cdrs <= self.may_see_charges(name), (name, seen.cdrs)


@pytest.fixture
async def world(database_url, sessions):
    await add_parties(sessions)
    peers = {name: EmspPeer() for name in PARTNERS}
    with (
        asgi_server(peers["emsp-a"].app()) as url_a,
        asgi_server(peers["emsp-b"].app()) as url_b,
        asgi_server(peers["emsp-c"].app()) as url_c,
    ):
        tokens, partner_ids = {}, {}
        for (name, party), url in zip(PARTNERS.items(), (url_a, url_b, url_c), strict=True):
            peers[name].base_url = url
            peers[name].roles = [role("EMSP", *party)]
            partner_ids[name], tokens[name] = await register_partner(
                sessions,
                name,
                party,
                base_url=f"{url}/ocpi/2.2.1",
                modules=("locations", "tariffs", "sessions", "cdrs"),
            )
            peers[name].issued[f"token-for-{name}"] = "C"
            peers[name].our_token = f"token-for-{name}"
        # Locations first: a tariff that no location references yet is public (published ahead
        # of use), so importing private tariffs before their depots would publish them.
        async with session_scope(sessions) as session:
            await LocationService(session).import_locations(
                parse_locations_json(json.dumps([location_record(*spec) for spec in LOCATIONS]))
            )
            await TariffService(session).import_tariffs(
                parse_tariffs_json(json.dumps([network.tariff(t) for t in TARIFFS]))
            )
        charges = {
            name: await charge(sessions, partner_ids[name], PARTNERS[name], minute)
            for minute, name in enumerate(("emsp-a", "emsp-b"))
        }
        port = free_port()
        settings = Settings(
            database=DatabaseSettings(url=database_url),
            ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}", max_page_limit=2),
            push=PushSettings(enabled=False),
        )
        with asgi_server(create_app(settings), port) as hub_url:
            for name, peer in peers.items():
                peer.hub_token = tokens[name]
                peer.hub_credentials_url = f"{hub_url}/ocpi/2.2.1/credentials"
                peer.hub_versions_url = f"{hub_url}/ocpi/versions"
            async with httpx.AsyncClient(timeout=10) as http:
                yield World(hub_url, sessions, tokens, peers, partner_ids, http, charges)


async def deliver_pushes(world: World) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        worker = PushWorker(world.sessions, http, PushSettings(lease_seconds=30))
        for _ in range(50):
            if await worker.run_once() == 0:
                return
    raise AssertionError("push queue did not drain")


def pushed_ids(peer: EmspPeer) -> tuple[set[str], set[str]]:
    locations, tariffs = set(), set()
    for received in peer.pushes():
        module, *ids = received.path.split("/")[3:]
        if module in {"locations", "tariffs"}:
            (tariffs if module == "tariffs" else locations).add(ids[2])
    return locations, tariffs


def pushed_charges(peer: EmspPeer) -> tuple[set[str], set[str]]:
    sessions = {r.path.rsplit("/", 1)[1] for r in peer.pushes(prefix="/ocpi/2.2.1/sessions/")}
    cdrs = {r.body["id"] for r in peer.pushes("POST", "/ocpi/2.2.1/cdrs")}
    return sessions, cdrs


LIST_QUERIES = [
    "",
    "?limit=1",
    "?offset=1&limit=1",
    "?offset=0&limit=100",
    "?date_from=2000-01-01T00:00:00Z",
    "?date_to=2100-01-01T00:00:00Z",
    "?date_from=2000-01-01T00:00:00Z&date_to=2100-01-01T00:00:00Z&offset=0",
]


def routing_headers(victim_party: tuple[str, str]) -> list[dict[str, str]]:
    return [
        {},
        {"OCPI-to-country-code": "US", "OCPI-to-party-id": "HPC"},
        {"OCPI-to-country-code": victim_party[0], "OCPI-to-party-id": victim_party[1]},
        {"OCPI-from-country-code": victim_party[0], "OCPI-from-party-id": victim_party[1]},
        {
            "OCPI-from-country-code": victim_party[0],
            "OCPI-from-party-id": victim_party[1],
            "OCPI-to-country-code": "US",
            "OCPI-to-party-id": "HPC",
        },
    ]


async def test_every_way_of_asking_leaks_nothing(world: World):
    for name in PARTNERS:
        for victim, victim_party in PARTNERS.items():
            if victim == name:
                continue
            for headers in routing_headers(victim_party):
                for query in LIST_QUERIES:
                    for module in ("locations", "tariffs", "sessions", "cdrs"):
                        await world.pull_all(name, f"/{module}{query}", headers)
                for location_id, *_ in LOCATIONS:
                    for path in (
                        f"/locations/{location_id}",
                        f"/locations/{location_id}/{location_id}-E1",
                        f"/locations/{location_id}/{location_id}-E1/1",
                    ):
                        response = await world.get(name, path, headers)
                        if location_id not in MAY_SEE_LOCATIONS[name]:
                            # Indistinguishable from an object that does not exist.
                            unknown = await world.get(name, path.replace(location_id, "NOPE", 1))
                            assert response.status_code == unknown.status_code == 404
                            assert response.json()["status_code"] == 2003
    world.assert_no_leak()
    # Each partner did see all it may see (the attack surface was really exercised).
    for name, seen in world.seen.items():
        assert seen.locations == MAY_SEE_LOCATIONS[name]
        assert seen.tariffs == MAY_SEE_TARIFFS[name]
        assert seen.sessions == seen.cdrs == world.may_see_charges(name)
        assert seen.requests > 100


async def test_pushes_reach_only_the_owner_and_follow_visibility_changes(world: World):
    await deliver_pushes(world)
    for name, peer in world.peers.items():
        locations, tariffs = pushed_ids(peer)
        assert locations == MAY_SEE_LOCATIONS[name]
        assert tariffs == MAY_SEE_TARIFFS[name]
        sessions, cdrs = pushed_charges(peer)
        assert sessions == cdrs == world.may_see_charges(name), name

    # DEPOT-A stops being shared with A; DEPOT-B is shared with C as well.
    changed = [
        location_record("DEPOT-A", False, [], ["T-FLEET-A", "T-SHARED"]),
        location_record("DEPOT-B", False, ["US*EMB", "US*EMC"], ["T-FLEET-B"]),
    ]
    for peer in world.peers.values():
        peer.received.clear()
    async with session_scope(world.sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps(changed)))
    await deliver_pushes(world)
    a, c = world.peers["emsp-a"], world.peers["emsp-c"]
    assert [r.path.rsplit("/", 1)[1] for r in a.pushes("DELETE")] == ["T-FLEET-A"]
    assert ("US", "HPC", "T-FLEET-A") not in a.tariffs
    assert [r.path.rsplit("/", 1)[1] for r in c.pushes("PUT", "/ocpi/2.2.1/tariffs")] == [
        "T-FLEET-B"
    ]
    assert set(c.locations) == {("US", "HPC", "PUB"), ("US", "HPC", "DEPOT-B")}
    assert not world.peers["emsp-b"].pushes("DELETE")
    assert ("US", "HPC", "DEPOT-A") not in {k for r in a.pushes() for k in [r.path]}


async def test_a_private_depot_referencing_a_public_tariff_withdraws_nothing_else(world: World):
    """A tariff referenced by a private location only is private: attaching it to a depot of A
    (it was unreferenced, so public) withdraws it from B and C."""
    await deliver_pushes(world)
    for peer in world.peers.values():
        peer.received.clear()
    async with session_scope(world.sessions) as session:
        await LocationService(session).set_connector_tariffs("DEPOT-A-E1", "1", ["T-FUTURE"])
    await deliver_pushes(world)
    for name in ("emsp-b", "emsp-c"):
        deleted = [r.path.rsplit("/", 1)[1] for r in world.peers[name].pushes("DELETE")]
        assert deleted == ["T-FUTURE"], name
    assert not world.peers["emsp-a"].pushes("DELETE")
    for name in ("emsp-b", "emsp-c"):
        response = await world.get(name, "/tariffs?limit=100")
        assert "T-FUTURE" not in {t["id"] for t in response.json()["data"]}
        # T-FLEET-A lost its other reference too: it follows DEPOT-A only.
        assert "T-FLEET-A" not in {t["id"] for t in response.json()["data"]}


async def test_claiming_another_partners_party_under_a_second_role_is_refused(world: World):
    """The reported attack: B PUTs credentials declaring A's party as OTHER. Refused, nothing
    stored, B's token unchanged, and B still sees nothing of A's."""
    b = world.peers["emsp-b"]
    b.roles = [role("EMSP", "US", "EMB"), role("OTHER", "US", "EMA")]
    response = await world.http.put(
        b.hub_credentials_url,
        json=b.credentials(b._new_token()),
        headers=auth(world.tokens["emsp-b"]),
    )
    body = response.json()
    assert body["status_code"] == 2001, body
    assert "US*EMA" in body["status_message"]
    async with session_scope(world.sessions) as session:
        service = PartnerService(session)
        partner = await service.get_by_name("emsp-b")
        assert [(r.role, r.country_code, r.party_id) for r in await service.roles(partner)] == [
            ("EMSP", "US", "EMB")
        ]
        assert await service.owned_parties(partner) == [("US", "EMB")]
        assert partner.outbound_token == "token-for-emsp-b"
    await world.pull_all("emsp-b", "/locations")
    assert (await world.get("emsp-b", "/locations/DEPOT-A")).status_code == 404
    world.assert_no_leak()


@pytest.mark.parametrize("role_name", ["CPO", "HUB", "NAP", "NSP", "OTHER", "SCSP", "EMSP"])
async def test_no_role_declares_a_party_that_is_not_pinned(world: World, role_name):
    c = world.peers["emsp-c"]
    c.roles = [role("EMSP", "US", "EMC"), role(role_name, "US", "EMA")]
    response = await world.http.put(
        c.hub_credentials_url,
        json=c.credentials(c._new_token()),
        headers=auth(world.tokens["emsp-c"]),
    )
    assert response.json()["status_code"] == 2001
    assert (await world.get("emsp-c", "/locations/DEPOT-A")).status_code == 404


async def test_revoked_suspended_rotated_and_registration_tokens_see_nothing(world: World):
    async with session_scope(world.sessions) as session:
        service = PartnerService(session)
        _, registration_token = await service.invite("emsp-d", parties=[("US", "EMD")])
        await service.suspend(world.partner_ids["emsp-b"])
        await service.unregister(world.partner_ids["emsp-c"])
    old_a = world.tokens["emsp-a"]
    async with session_scope(world.sessions) as session:
        from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartyRole

        partner = await PartnerService(session).partners.get(world.partner_ids["emsp-a"])
        endpoints = tuple(PartnerEndpoint(**e) for e in partner.endpoints)
        await PartnerService(session).update_inbound(
            world.partner_ids["emsp-a"],
            PartnerConnection(
                versions_url=partner.versions_url,
                version="2.2.1",
                endpoints=endpoints,
                roles=(PartyRole("EMSP", "US", "EMA", {"name": "A"}),),
                token="token-for-emsp-a",
            ),
        )
    for token in (registration_token, world.tokens["emsp-b"], world.tokens["emsp-c"], old_a, "x"):
        for path in ("/locations", "/locations/DEPOT-A", "/locations/PUB", "/tariffs"):
            response = await world.http.get(
                f"{world.hub_url}/ocpi/2.2.1{path}", headers=auth(token)
            )
            assert response.status_code == 401, (token, path, response.text)
            assert "data" not in response.json() or not response.json()["data"]
    # Suspended and removed partners receive no pushes either.
    await deliver_pushes(world)
    assert not world.peers["emsp-b"].pushes()
    assert not world.peers["emsp-c"].pushes()


async def test_registering_with_a_token_a_cannot_claim_another_partners_party(world: World):
    """Credentials POST (token A of an invited partner pinned to US*EMD) declaring A's party."""
    async with session_scope(world.sessions) as session:
        _, token_a = await PartnerService(session).invite("emsp-d", parties=[("US", "EMD")])
    d = EmspPeer(roles=[role("EMSP", "US", "EMD"), role("NSP", "US", "EMA")])
    with asgi_server(d.app()) as url:
        d.base_url = url
        response = await anyio.to_thread.run_sync(
            d.register_with_hub, f"{world.hub_url}/ocpi/versions", token_a
        )
    assert response.json()["status_code"] == 2001
    assert "US*EMA" in response.json()["status_message"]
    async with session_scope(world.sessions) as session:
        service = PartnerService(session)
        partner = await service.get_by_name("emsp-d")
        assert partner.partner_status is PartnerStatus.INVITED
        assert await service.roles(partner) == []
    # Token A still only opens versions and credentials.
    locations = await world.http.get(f"{world.hub_url}/ocpi/2.2.1/locations", headers=auth(token_a))
    assert locations.status_code == 401


async def test_a_partner_we_register_with_cannot_answer_with_another_partners_party(world: World):
    """We POST to a partner pinned to US*EME; it answers with roles for US*EMA: not kept, and
    our registration at the partner is deleted again."""
    e = EmspPeer(roles=[role("EMSP", "US", "EMA")])
    with asgi_server(e.app()) as url:
        e.base_url = url
        token_a = e.issue_registration_token()
        settings = Settings(ocpi=OcpiSettings(public_url=world.hub_url))
        handshake = CredentialsHandshake(world.sessions, world.http, settings)
        with pytest.raises(HandshakeFailed, match=r"US\*EMA"):
            await handshake.register_with(
                "emsp-e", e.versions_url, token_a, parties=[("US", "EME")]
            )
        assert "DELETE credentials" in e.log
    async with session_scope(world.sessions) as session:
        service = PartnerService(session)
        partner = await service.get_by_name("emsp-e")
        assert partner.partner_status is PartnerStatus.UNREGISTERED
        assert await service.roles(partner) == []
        owner_of_a = await service.partners.owners_of([("US", "EMA")])
        assert owner_of_a[("US", "EMA")].name == "emsp-a"
