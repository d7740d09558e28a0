"""Who may charge, end to end: raw-frame OCPP 1.6 and 2.0.1 chargers over real websockets
present RFID, app and eMAID tokens to the in-process hub, which asks a real eMSP peer on
127.0.0.1 (scripted verdicts; held answers for a slow eMSP; a port nobody listens on for an eMSP
that is down). Both engines.

A slow eMSP holds its answer until the test releases it (at teardown), so "over budget" is
arranged, not raced.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select

from hub.config import AuthorizationSettings
from hub.domain.emaid import check_character
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType, uid_digest
from hub.persistence.session import session_scope
from hub.persistence.tables import AuthorizationDecisionRecord
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp_authorize import AuthorizingEmsp, register_emsp
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import asgi_server, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
A, DOWN = ("US", "EMA"), ("US", "DWN")
STAMP = "2026-12-01T10:00:00Z"
EMAID_BODY = "USEMAC12345678"
EMAID = EMAID_BODY + check_character(EMAID_BODY)
BUDGET = 0.5


def site() -> dict:
    return network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None), ("CS-201", 2, None)]
    )


class World:
    def __init__(self, hub: InProcessHub, emsp: AuthorizingEmsp, partners: dict[str, int]):
        self.hub = hub
        self.emsp = emsp
        self.partners = partners

    async def token(
        self,
        partner: str,
        party: tuple[str, str],
        uid: str,
        whitelist: WhitelistType,
        *,
        token_type: TokenType = TokenType.RFID,
        group_id: str | None = None,
    ) -> None:
        from datetime import UTC, datetime

        async with session_scope(self.hub.sessions) as session:
            await TokenService(session).put(
                self.partners[partner],
                TokenRecord(
                    key=TokenKey(*party, uid, token_type),
                    contract_id=f"{party[0]}-{party[1]}-C{uid[:8]}",
                    issuer="eMSP",
                    valid=True,
                    whitelist=whitelist,
                    last_updated=datetime(2026, 12, 1, 10, tzinfo=UTC),
                    group_id=group_id,
                    language="en",
                ),
            )

    async def decisions(self) -> list[AuthorizationDecisionRecord]:
        async with session_scope(self.hub.sessions) as session:
            rows = await session.execute(
                select(AuthorizationDecisionRecord).order_by(AuthorizationDecisionRecord.id)
            )
            return list(rows.scalars())


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    with contextlib.ExitStack() as stack:
        emsp = AuthorizingEmsp(party=A)
        emsp.base_url = stack.enter_context(asgi_server(emsp.app()))
        emsp.issued["token-for-emsp-a"] = "C"
        stack.callback(emsp.release_all)  # held answers end before the peer stops
        settings = AuthorizationSettings(realtime_budget_seconds=BUDGET)
        async with running_hub(
            database_url, authorization=settings, sweep_interval_seconds=3600
        ) as hub:
            await add_parties(hub.sessions)
            async with session_scope(hub.sessions) as session:
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site()]))
                )
                for station_id in ("CS-16", "CS-201"):
                    await StationService(session).add(station_id, PASSWORD)
            partners = {
                "emsp-a": await register_emsp(
                    hub.sessions, "emsp-a", A, f"{emsp.base_url}/ocpi/2.2.1/tokens"
                ),
                # Registered, but nothing listens where its Tokens endpoint is: it is down.
                "emsp-down": await register_emsp(
                    hub.sessions, "emsp-down", DOWN, f"http://127.0.0.1:{free_port()}/tokens"
                ),
            }
            yield World(hub, emsp, partners)


@contextlib.asynccontextmanager
async def charger(world: World, station_id: str, subprotocol: str) -> AsyncIterator[RawStation]:
    station = await RawStation.connect(world.hub.ws_url, station_id, PASSWORD, [subprotocol])
    try:
        yield station
    finally:
        await station.close()


def start_16(connector_id: int, id_tag: str) -> dict:
    return {"connectorId": connector_id, "idTag": id_tag, "meterStart": 0, "timestamp": STAMP}


def started_201(evse_id: int, id_token: dict) -> dict:
    return {
        "eventType": "Started",
        "timestamp": STAMP,
        "triggerReason": "Authorized",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "TX-1"},
        "evse": {"id": evse_id, "connectorId": 1},
        "idToken": id_token,
    }


async def test_a_stored_always_token_is_accepted_locally_with_its_parent_id_tag(world):
    await world.token("emsp-a", A, "04A1B2C3D4", WhitelistType.ALWAYS, group_id="FLEET-7")
    async with charger(world, "CS-16", "ocpp1.6") as cs16:
        authorize = await cs16.call("Authorize", {"idTag": "04A1B2C3D4"})
        start = await cs16.call("StartTransaction", start_16(2, "04A1B2C3D4"))
    assert authorize[2]["idTagInfo"]["status"] == "Accepted"
    assert authorize[2]["idTagInfo"]["parentIdTag"] == "FLEET-7"
    assert "expiryDate" in authorize[2]["idTagInfo"]
    assert start[2]["idTagInfo"]["status"] == "Accepted"
    assert isinstance(start[2]["transactionId"], int)
    assert world.emsp.requests_for() == []
    rows = await world.decisions()
    assert [(r.ocpp_action, r.path, r.evse_uid) for r in rows] == [
        ("Authorize", "LOCAL", None),
        ("StartTransaction", "LOCAL", "SITE-E2"),
    ]


async def test_allowed_offline_with_the_emsp_down_is_allowed_by_the_fallback(world):
    await world.token("emsp-down", DOWN, "0DD0FF01", WhitelistType.ALLOWED_OFFLINE)
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        answer = await cs201.call(
            "Authorize", {"idToken": {"idToken": "0DD0FF01", "type": "ISO14443"}}
        )
    assert answer[2]["idTokenInfo"]["status"] == "Accepted"
    (row,) = await world.decisions()
    assert (row.path, row.emsp_answer, row.partner_name) == (
        "OFFLINE_FALLBACK",
        "UNREACHABLE",
        "emsp-down",
    )


async def test_never_with_the_emsp_slower_than_the_budget_is_refused(world):
    await world.token("emsp-a", A, "51044A01", WhitelistType.NEVER)
    world.emsp.verdict("51044A01", gate=world.emsp.gate())  # held until teardown
    async with charger(world, "CS-16", "ocpp1.6") as cs16:
        start = await cs16.call("StartTransaction", start_16(1, "51044A01"))
    assert start[2]["idTagInfo"] == {"status": "Invalid"}
    (seen,) = world.emsp.requests_for("51044A01")
    assert seen.body == {"location_id": "SITE", "evse_uids": ["SITE-E1"]}
    (row,) = await world.decisions()
    assert row.path == "OFFLINE_FALLBACK"
    assert row.result == "Invalid"


async def test_never_is_asked_at_the_evse_in_use_and_gets_the_verdict(world):
    await world.token("emsp-a", A, "ABCD0001", WhitelistType.NEVER)
    world.emsp.verdict("ABCD0001", info="Enjoy", reference="AUTH-9")
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        event = await cs201.call(
            "TransactionEvent", started_201(2, {"idToken": "ABCD0001", "type": "ISO14443"})
        )
    info = event[2]["idTokenInfo"]
    assert info["status"] == "Accepted"
    assert info["personalMessage"]["content"] == "Enjoy"
    (seen,) = world.emsp.requests_for("ABCD0001")
    assert seen.body == {"location_id": "SITE", "evse_uids": ["SITE-E4"]}
    (row,) = await world.decisions()
    assert (row.path, row.authorization_reference, row.partner_name) == (
        "REAL_TIME",
        "AUTH-9",
        "emsp-a",
    )


async def test_an_unknown_rfid_is_broadcast_and_its_emsp_allows_it(world):
    world.emsp.verdict("CAFE0001")
    async with charger(world, "CS-16", "ocpp1.6") as cs16:
        answer = await cs16.call("Authorize", {"idTag": "CAFE0001"})
    assert answer[2]["idTagInfo"]["status"] == "Accepted"
    (seen,) = world.emsp.requests_for("CAFE0001")
    assert seen.type == "RFID"
    # 1.6 Authorize names no connector: asked about the station's one location, no EVSE.
    assert seen.body == {"location_id": "SITE"}
    (row,) = await world.decisions()
    assert (row.country_code, row.party_id, row.path) == ("US", "EMA", "REAL_TIME")
    assert row.uid_digest == uid_digest("CAFE0001")


async def test_an_app_token_is_never_asked(world):
    await world.token("emsp-a", A, "APP-USER-1", WhitelistType.NEVER, token_type=TokenType.APP_USER)
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        answer = await cs201.call(
            "Authorize", {"idToken": {"idToken": "APP-USER-1", "type": "Central"}}
        )
    assert answer[2]["idTokenInfo"]["status"] == "Accepted"
    assert world.emsp.requests_for() == []


async def test_a_malformed_emaid_is_invalid_and_never_reaches_the_emsp(world):
    wrong = EMAID_BODY + ("A" if EMAID[-1] != "A" else "B")
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        answer = await cs201.call("Authorize", {"idToken": {"idToken": wrong, "type": "eMAID"}})
    assert answer[2] == {"idTokenInfo": {"status": "Invalid"}}
    assert world.emsp.requests_for() == []
    (row,) = await world.decisions()
    assert "malformed eMAID" in row.reason


async def test_an_emaid_is_routed_by_its_prefix_and_asked_as_other(world):
    world.emsp.verdict(EMAID, token_type="OTHER")
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        answer = await cs201.call(
            "Authorize",
            {"idToken": {"idToken": f"us-ema-c12345678-{EMAID[-1].lower()}", "type": "eMAID"}},
        )
    assert answer[2]["idTokenInfo"]["status"] == "Accepted"
    assert "certificateStatus" not in answer[2]
    (seen,) = world.emsp.requests_for(EMAID)
    assert (seen.uid, seen.type) == (EMAID, "OTHER")
    assert (seen.headers["ocpi-to-country-code"], seen.headers["ocpi-to-party-id"]) == A


async def test_an_emaid_with_certificate_data_is_not_accepted_without_validation(world):
    world.emsp.verdict(EMAID, token_type="OTHER")
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        answer = await cs201.call(
            "Authorize",
            {
                "idToken": {"idToken": EMAID, "type": "eMAID"},
                "iso15118CertificateHashData": [
                    {
                        "hashAlgorithm": "SHA256",
                        "issuerNameHash": "a1",
                        "issuerKeyHash": "b2",
                        "serialNumber": "01",
                        "responderURL": "http://ocsp.example",
                    }
                ],
            },
        )
    assert answer[2] == {
        "idTokenInfo": {"status": "Invalid"},
        "certificateStatus": "NoCertificateAvailable",
    }
    assert world.emsp.requests_for() == []


# Every whitelist with the eMSP up (it answers BLOCKED, so an answer is told from a local
# decision), slow (over budget) and down: (status at the charger, path) for each.
MATRIX = {
    WhitelistType.ALWAYS: {"up": ("Accepted", "LOCAL"), "slow": ("Accepted", "LOCAL"),
                           "down": ("Accepted", "LOCAL")},
    WhitelistType.ALLOWED: {"up": ("Accepted", "LOCAL"), "slow": ("Accepted", "LOCAL"),
                            "down": ("Accepted", "LOCAL")},
    WhitelistType.ALLOWED_OFFLINE: {"up": ("Blocked", "REAL_TIME"),
                                    "slow": ("Accepted", "OFFLINE_FALLBACK"),
                                    "down": ("Accepted", "OFFLINE_FALLBACK")},
    WhitelistType.NEVER: {"up": ("Blocked", "REAL_TIME"), "slow": ("Invalid", "OFFLINE_FALLBACK"),
                          "down": ("Invalid", "OFFLINE_FALLBACK")},
}  # fmt: skip


@pytest.mark.parametrize("emsp_state", ["up", "slow", "down"])
@pytest.mark.parametrize("whitelist", list(MATRIX))
async def test_every_whitelist_with_the_emsp_up_slow_and_down(world, whitelist, emsp_state):
    uid = f"W{whitelist.value[:9]}{emsp_state}"
    partner, party = ("emsp-down", DOWN) if emsp_state == "down" else ("emsp-a", A)
    await world.token(partner, party, uid, whitelist)
    if emsp_state == "up":
        world.emsp.verdict(uid, "BLOCKED")
    elif emsp_state == "slow":
        world.emsp.verdict(uid, gate=world.emsp.gate())  # held until teardown
    async with charger(world, "CS-201", "ocpp2.0.1") as cs201:
        event = await cs201.call(
            "TransactionEvent", started_201(1, {"idToken": uid, "type": "ISO15693"})
        )
    status, path = MATRIX[whitelist][emsp_state]
    assert event[2]["idTokenInfo"]["status"] == status
    (row,) = await world.decisions()
    assert (row.path, row.evse_uid) == (path, "SITE-E3")
    asked = world.emsp.requests_for(uid)
    # The eMSP is asked exactly when the rule says so (a down eMSP receives nothing).
    asks = path != "LOCAL" and emsp_state != "down"
    assert len(asked) == (1 if asks else 0)


async def test_a_token_the_emsp_pushes_over_ocpi_decides_at_the_charger(world):
    """The eMSP's own HTTP calls to our Tokens Receiver (PUT, then PATCH valid=false) are what
    the charger's answers follow; nothing is asked in real time for an ALWAYS token."""
    partner_id, token = await register_partner(world.hub.sessions, "emsp-push", ("US", "PSH"))
    url = f"{world.hub.url}/ocpi/2.2.1/tokens/US/PSH/FEED0001"
    headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    pushed = {
        "country_code": "US",
        "party_id": "PSH",
        "uid": "FEED0001",
        "type": "RFID",
        "contract_id": "US-PSH-C00000001",
        "issuer": "Push Mobility",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": STAMP,
    }
    async with httpx.AsyncClient(timeout=10) as http:
        put = await http.put(url, json=pushed, headers=headers)
        assert put.json()["status_code"] == 1000, put.text
        async with charger(world, "CS-16", "ocpp1.6") as cs16:
            accepted = await cs16.call("Authorize", {"idTag": "FEED0001"})
            patch = await http.patch(
                url, json={"valid": False, "last_updated": "2026-12-01T10:05:00Z"}, headers=headers
            )
            assert patch.json()["status_code"] == 1000, patch.text
            refused = await cs16.call("Authorize", {"idTag": "FEED0001"})
    assert accepted[2]["idTagInfo"]["status"] == "Accepted"
    assert refused[2]["idTagInfo"]["status"] != "Accepted"
    assert world.emsp.requests_for("FEED0001") == []
    assert [(r.path, r.party_id, r.partner_id) for r in await world.decisions()] == [
        ("LOCAL", "PSH", None),
        ("LOCAL", "PSH", None),
    ]
    assert partner_id
