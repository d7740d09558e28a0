"""The OCPP authorization flow (``hub.ocpp.authorization``) with a fake real-time port, on both
databases: what is asked (and of whom, about which EVSE), what the charger is answered, and what
the audit trail keeps.

A slow eMSP is a port that never answers: with a small budget it is over budget by
construction, nothing races a clock.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from hub.config import AuthorizationSettings
from hub.domain.contract_certificates import CertificateStatus, ContractCertificateQuestion
from hub.domain.emaid import check_character
from hub.domain.tokens import (
    AllowedType,
    TokenKey,
    TokenRecord,
    TokenType,
    WhitelistType,
    uid_digest,
)
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.persistence.session import session_scope
from hub.persistence.tables import AuthorizationDecisionRecord, Partner
from hub.roaming.importer import parse_locations_json
from hub.services.authorizations import TokenAdminService, note_remote_authorization
from hub.services.locations import LocationService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import register_emsp
from tests.support.fake_realtime import FakeRealTime, allowed, unreachable

pytestmark = pytest.mark.db

A, B = ("US", "EMA"), ("US", "EMB")
CARD = "04A1B2C3D4"
EMAID_BODY = "USEMAC12345678"
EMAID = EMAID_BODY + check_character(EMAID_BODY)
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def site() -> dict:
    location = network.location("SITE", evses=4)
    links = [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None), ("CS-201", 2, None)]
    for evse, (station, evse_id, connector_id) in zip(location["evses"], links, strict=True):
        evse["hub_ocpp"] = {
            "charging_station_id": station,
            "evse_id": evse_id,
            "connector_id": connector_id,
        }
    return location


@dataclass
class World:
    sessions: object
    port: FakeRealTime
    clock: Clock
    partners: dict[str, int]

    def authorizer(self, **settings) -> IdTokenAuthorizer:
        return IdTokenAuthorizer(
            self.sessions,  # type: ignore[arg-type]
            self.port,
            AuthorizationSettings(**settings),
            clock=self.clock,
        )

    async def token(
        self,
        partner: str,
        party: tuple[str, str],
        uid: str = CARD,
        *,
        whitelist: WhitelistType = WhitelistType.NEVER,
        valid: bool = True,
        token_type: TokenType = TokenType.RFID,
        group_id: str | None = None,
        contract_id: str | None = None,
    ) -> TokenKey:
        key = TokenKey(party[0], party[1], uid, token_type)
        async with session_scope(self.sessions) as session:  # type: ignore[arg-type]
            await TokenService(session).put(
                self.partners[partner],
                TokenRecord(
                    key=key,
                    contract_id=contract_id or f"{party[0]}-{party[1]}-C{uid[:8]}",
                    issuer="eMSP",
                    valid=valid,
                    whitelist=whitelist,
                    last_updated=NOW,
                    group_id=group_id,
                    language="en",
                ),
            )
        return key

    async def decisions(self) -> list[AuthorizationDecisionRecord]:
        async with session_scope(self.sessions) as session:  # type: ignore[arg-type]
            rows = await session.execute(
                select(AuthorizationDecisionRecord).order_by(AuthorizationDecisionRecord.id)
            )
            return list(rows.scalars())


@pytest.fixture
async def world(sessions) -> World:
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
    partners = {
        "emsp-a": await register_emsp(sessions, "emsp-a", A, "http://127.0.0.1:9/a/tokens"),
        "emsp-b": await register_emsp(sessions, "emsp-b", B, "http://127.0.0.1:9/b/tokens"),
    }
    return World(sessions, FakeRealTime(), Clock(), partners)


# --- stored tokens: the whitelist rule --------------------------------------------------------


async def test_an_always_token_is_accepted_locally_and_the_trail_keeps_only_its_digest(world):
    await world.token("emsp-a", A, whitelist=WhitelistType.ALWAYS, group_id="FLEET-7")
    info = await world.authorizer().id_tag_info(
        "CS-16", CARD, action="StartTransaction", connector_id=2
    )
    assert info["status"] == "Accepted"
    assert info["parentIdTag"] == "FLEET-7"
    assert info["expiryDate"] == "2026-12-01T10:10:00Z"
    assert world.port.questions == []
    (row,) = await world.decisions()
    assert (row.path, row.auth_method, row.allowed, row.result) == (
        "LOCAL",
        "WHITELIST",
        "ALLOWED",
        "Accepted",
    )
    assert (row.station_id, row.ocpp_action, row.evse_uid, row.location_id) == (
        "CS-16",
        "StartTransaction",
        "SITE-E2",
        "SITE",
    )
    assert (row.country_code, row.party_id, row.token_type) == ("US", "EMA", "RFID")
    assert row.uid_digest == uid_digest(CARD)
    assert row.partner_name is None
    assert CARD not in json.dumps(row.model_dump(mode="json"))


async def test_concurrent_decisions_each_find_their_row_committed_when_answered(world):
    cards = [f"CAFE{n:04X}" for n in range(8)]
    for card in cards:
        await world.token("emsp-a", A, card, whitelist=WhitelistType.ALWAYS)
    authorizer = world.authorizer()

    async def decide(card: str) -> list[str]:
        info = await authorizer.id_tag_info("CS-16", card, action="Authorize", connector_id=1)
        recorded = [row.uid_digest for row in await world.decisions()]  # another session
        assert uid_digest(card) in recorded
        return [info["status"]]

    answers = await asyncio.gather(*(decide(card) for card in cards))
    assert answers == [["Accepted"]] * len(cards)
    rows = await world.decisions()
    assert sorted(row.uid_digest for row in rows) == sorted(uid_digest(card) for card in cards)
    assert {(row.evse_uid, row.location_id) for row in rows} == {("SITE-E1", "SITE")}


async def test_allowed_offline_with_the_emsp_down_is_allowed_by_the_fallback(world):
    key = await world.token("emsp-a", A, whitelist=WhitelistType.ALLOWED_OFFLINE)
    world.port.answers[CARD] = unreachable(world.partners["emsp-a"])
    info = await world.authorizer().id_tag_info(
        "CS-16", CARD, action="StartTransaction", connector_id=1
    )
    assert info["status"] == "Accepted"
    (question,) = world.port.questions
    assert (question.kind, question.key) == ("issuer", key)
    assert (question.location_id, question.evse_uids) == ("SITE", ("SITE-E1",))
    (row,) = await world.decisions()
    assert (row.path, row.emsp_answer, row.partner_name) == (
        "OFFLINE_FALLBACK",
        "UNREACHABLE",
        "emsp-a",
    )
    assert "connection refused" in row.reason


async def test_never_with_the_emsp_over_budget_is_refused(world):
    await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    world.port.hang = True
    info = await world.authorizer(realtime_budget_seconds=0.05).id_tag_info(
        "CS-16", CARD, action="Authorize"
    )
    assert info == {"status": "Invalid"}
    (row,) = await world.decisions()
    assert (row.path, row.emsp_answer, row.result) == ("OFFLINE_FALLBACK", "TIMEOUT", "Invalid")


async def test_a_port_that_raises_counts_as_unreachable(world):
    await world.token("emsp-a", A, whitelist=WhitelistType.ALLOWED_OFFLINE)
    world.port.fail = True
    info = await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    assert info["status"] == "Accepted"
    (row,) = await world.decisions()
    assert (row.path, row.emsp_answer) == ("OFFLINE_FALLBACK", "UNREACHABLE")


async def test_the_emsps_verdict_is_answered_with_its_group_and_message(world):
    key = await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    world.port.answers[CARD] = allowed(
        key, partner_id=world.partners["emsp-a"], group_id="G-NEW", info="Welcome"
    )
    info, certificate_status = await world.authorizer().id_token_info(
        "CS-201", {"id_token": CARD, "type": "ISO14443"}, action="TransactionEvent", evse_id=2
    )
    assert certificate_status is None
    assert info["status"] == "Accepted"
    assert info["groupIdToken"] == {"idToken": "G-NEW", "type": "Central"}
    assert info["personalMessage"] == {"format": "UTF8", "content": "Welcome", "language": "en"}
    assert world.port.questions[0].evse_uids == ("SITE-E4",)
    (row,) = await world.decisions()
    assert (row.path, row.emsp_answer, row.authorization_reference) == (
        "REAL_TIME",
        "ALLOWED",
        "REF-1",
    )
    assert row.emsp_latency_ms == pytest.approx(42.0)


@pytest.mark.parametrize(
    ("verdict", "v16", "v201"),
    [
        (AllowedType.BLOCKED, "Blocked", "Blocked"),
        (AllowedType.EXPIRED, "Expired", "Expired"),
        (AllowedType.NO_CREDIT, "Invalid", "NoCredit"),
        (AllowedType.NOT_ALLOWED, "Invalid", "NotAtThisLocation"),
    ],
)
async def test_refusals_map_to_each_ocpp_version(world, verdict, v16, v201):
    key = await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    world.port.answers[CARD] = allowed(key, verdict)
    authorizer = world.authorizer()
    assert (await authorizer.id_tag_info("CS-16", CARD, action="Authorize"))["status"] == v16
    info, _ = await authorizer.id_token_info(
        "CS-201", {"id_token": CARD, "type": "ISO14443"}, action="Authorize"
    )
    assert info["status"] == v201
    assert "cacheExpiryDateTime" not in info


async def test_an_allowed_for_other_evses_is_not_allowed_here(world):
    key = await world.token("emsp-a", A)
    world.port.answers[CARD] = allowed(key, evses=("SITE-E1",))
    authorizer = world.authorizer()
    at_e2 = await authorizer.id_tag_info("CS-16", CARD, action="StartTransaction", connector_id=2)
    at_e1 = await authorizer.id_tag_info("CS-16", CARD, action="StartTransaction", connector_id=1)
    assert (at_e2["status"], at_e1["status"]) == ("Invalid", "Accepted")


async def test_16_authorize_without_connector_still_asks_without_evse(world):
    """SPEC_NOTES §5.4 pitfall: an unknown EVSE never skips the real-time check."""
    key = await world.token("emsp-a", A)
    world.port.answers[CARD] = allowed(key)
    info = await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    assert info["status"] == "Accepted"
    (question,) = world.port.questions
    # The station serves one location: it is named; no EVSE is.
    assert (question.location_id, question.evse_uids) == ("SITE", ())


async def test_a_station_of_several_locations_is_asked_about_without_location(world):
    other = network.location("OTHER", evses=1)
    other["evses"][0]["hub_ocpp"] = {"charging_station_id": "CS-16", "connector_id": 3}
    async with session_scope(world.sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([other])))
    await world.token("emsp-a", A)
    await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    (question,) = world.port.questions
    assert (question.location_id, question.evse_uids) == (None, ())


async def test_long_group_ids_are_left_out_of_16_answers(world):
    await world.token("emsp-a", A, whitelist=WhitelistType.ALWAYS, group_id="G" * 21)
    info = await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    assert info["status"] == "Accepted"
    assert "parentIdTag" not in info


async def test_app_and_ad_hoc_tokens_are_never_asked(world):
    await world.token("emsp-a", A, "APP-1", token_type=TokenType.APP_USER)
    authorizer = world.authorizer()
    app, _ = await authorizer.id_token_info(
        "CS-201", {"id_token": "APP-1", "type": "Central"}, action="Authorize"
    )
    unknown_local, _ = await authorizer.id_token_info(
        "CS-201", {"id_token": "ADHOC-9", "type": "Local"}, action="Authorize"
    )
    assert (app["status"], unknown_local["status"]) == ("Accepted", "Unknown")
    assert world.port.questions == []


async def test_an_unknown_rfid_is_broadcast_and_the_first_allowed_wins(world):
    key_b = TokenKey(*B, "CAFE0001", TokenType.RFID)
    world.port.answers["CAFE0001"] = allowed(key_b, partner_id=world.partners["emsp-b"])
    info = await world.authorizer().id_tag_info(
        "CS-16", "CAFE0001", action="StartTransaction", connector_id=1
    )
    assert info["status"] == "Accepted"
    (question,) = world.port.questions
    assert (question.kind, question.uid, question.token_type) == ("every", "CAFE0001", "RFID")
    (row,) = await world.decisions()
    assert (row.country_code, row.party_id, row.partner_name) == ("US", "EMB", "emsp-b")


async def test_no_broadcast_when_the_operator_switched_it_off(world):
    info = await world.authorizer(ask_all_for_unknown=False).id_tag_info(
        "CS-16", "CAFE0001", action="Authorize"
    )
    assert info == {"status": "Invalid"}
    assert world.port.questions == []


async def test_keycode_is_refused_and_no_authorization_is_free(world):
    authorizer = world.authorizer()
    keycode, _ = await authorizer.id_token_info(
        "CS-201", {"id_token": "1234", "type": "KeyCode"}, action="Authorize"
    )
    free, _ = await authorizer.id_token_info(
        "CS-201", {"id_token": "", "type": "NoAuthorization"}, action="Authorize"
    )
    assert (keycode["status"], free["status"]) == ("Invalid", "Accepted")
    assert world.port.questions == []


# --- the 15-minute rule -------------------------------------------------------------------


async def test_a_recent_remote_start_at_the_evse_exempts_the_token(world):
    key = await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    async with session_scope(world.sessions) as session:
        await note_remote_authorization(
            session,
            command="START_SESSION",
            token=key,
            location_id="SITE",
            evse_uid="SITE-E2",
            received_at=NOW - timedelta(minutes=14),
        )
    authorizer = world.authorizer()
    here = await authorizer.id_tag_info("CS-16", CARD, action="StartTransaction", connector_id=2)
    assert here["status"] == "Accepted"
    assert world.port.questions == []
    # Another EVSE is asked as usual.
    await authorizer.id_tag_info("CS-16", CARD, action="StartTransaction", connector_id=1)
    assert len(world.port.questions) == 1
    # 16 minutes after the command, the same EVSE is asked again.
    world.clock.now = NOW + timedelta(minutes=2)
    await authorizer.id_tag_info("CS-16", CARD, action="StartTransaction", connector_id=2)
    assert len(world.port.questions) == 2
    rows = await world.decisions()
    assert (rows[0].path, rows[0].auth_method) == ("COMMAND", "COMMAND")


async def test_a_reservation_without_evse_covers_the_location_and_any_case_of_the_uid(world):
    await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    async with session_scope(world.sessions) as session:
        await note_remote_authorization(
            session,
            command="RESERVE_NOW",
            token=TokenKey(*A, CARD.lower(), TokenType.RFID),
            location_id="SITE",
            evse_uid=None,
            received_at=NOW - timedelta(minutes=1),
        )
    info, _ = await world.authorizer().id_token_info(
        "CS-201", {"id_token": CARD, "type": "ISO14443"}, action="Authorize"
    )
    assert info["status"] == "Accepted"
    assert world.port.questions == []


async def test_note_remote_authorization_refuses_other_commands_and_naive_times(sessions):
    key = TokenKey(*A, CARD, TokenType.RFID)
    async with session_scope(sessions) as session:
        with pytest.raises(ValueError, match="START_SESSION or RESERVE_NOW"):
            await note_remote_authorization(
                session, command="STOP_SESSION", token=key, location_id="X", evse_uid=None,
                received_at=NOW,
            )  # fmt: skip
        with pytest.raises(ValueError, match="aware"):
            await note_remote_authorization(
                session, command="START_SESSION", token=key, location_id="X", evse_uid=None,
                received_at=NOW.replace(tzinfo=None),
            )  # fmt: skip


# --- operator blocks ----------------------------------------------------------------------


async def test_an_operator_block_refuses_locally_and_asks_nobody(world):
    key = await world.token("emsp-a", A, whitelist=WhitelistType.NEVER)
    async with session_scope(world.sessions) as session:
        await TokenAdminService(session).block(key, "lost card")
    info = await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    assert info["status"] == "Blocked"
    assert world.port.questions == []
    # A new push of the token by its eMSP does not lift the block.
    await world.token("emsp-a", A, whitelist=WhitelistType.ALWAYS)
    info = await world.authorizer().id_tag_info("CS-16", CARD, action="Authorize")
    assert info["status"] == "Blocked"


# --- Plug & Charge --------------------------------------------------------------------------


async def test_a_malformed_emaid_is_invalid_and_never_asked(world):
    wrong_check = EMAID_BODY + ("X" if EMAID[-1] != "X" else "Y")
    for text in (wrong_check, "US-EMA-C123", "12EMAC12345678"):
        info, _ = await world.authorizer().id_token_info(
            "CS-201", {"id_token": text, "type": "eMAID"}, action="Authorize"
        )
        assert info == {"status": "Invalid"}
    assert world.port.questions == []
    rows = await world.decisions()
    assert all("malformed eMAID" in row.reason for row in rows)


async def test_an_emaid_routes_by_its_prefix_and_is_asked_as_other(world):
    world.port.answers[EMAID] = allowed(TokenKey(*A, EMAID, TokenType.OTHER))
    info, _ = await world.authorizer().id_token_info(
        "CS-201",
        {"id_token": "us-ema-c12345678-" + EMAID[-1].lower(), "type": "eMAID"},
        action="Authorize",
    )
    assert info["status"] == "Accepted"
    (question,) = world.port.questions
    assert (question.kind, question.key) == ("issuer", TokenKey(*A, EMAID, TokenType.OTHER))
    (row,) = await world.decisions()
    assert row.uid_digest == uid_digest(EMAID)
    assert (row.token_type, row.presented_type) == ("OTHER", "eMAID")


async def test_an_emaid_goes_as_rfid_to_a_partner_that_asks_for_it(world):
    async with session_scope(world.sessions) as session:
        partner = await session.get(Partner, world.partners["emsp-a"])
        partner.emaid_token_type = "RFID"
    await world.authorizer().id_token_info(
        "CS-201", {"id_token": EMAID, "type": "eMAID"}, action="Authorize"
    )
    (question,) = world.port.questions
    assert question.key == TokenKey(*A, EMAID, TokenType.RFID)


async def test_an_emaid_matches_a_pushed_token_by_contract_id(world):
    dashed = f"US-EMA-C12345678-{EMAID[-1]}"
    await world.token(
        "emsp-a", A, "PNC-UID-1", token_type=TokenType.OTHER, contract_id=dashed,
        whitelist=WhitelistType.ALWAYS,
    )  # fmt: skip
    info, _ = await world.authorizer().id_token_info(
        "CS-201", {"id_token": EMAID, "type": "eMAID"}, action="Authorize"
    )
    assert info["status"] == "Accepted"
    assert world.port.questions == []
    (row,) = await world.decisions()
    assert row.path == "LOCAL"


async def test_an_emaid_of_no_routed_partner_is_unknown_and_not_broadcast(world):
    body = "DEXYZC12345678"
    info, _ = await world.authorizer().id_token_info(
        "CS-201", {"id_token": body + check_character(body), "type": "eMAID"}, action="Authorize"
    )
    assert info == {"status": "Unknown"}
    assert world.port.questions == []


async def test_certificate_data_needs_a_validation_before_anything_is_accepted(world):
    await world.token(
        "emsp-a", A, "PNC-UID-1", token_type=TokenType.OTHER, contract_id=EMAID,
        whitelist=WhitelistType.ALWAYS,
    )  # fmt: skip
    hash_data = [
        {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": "aa",
            "issuer_key_hash": "bb",
            "serial_number": "01",
            "responder_url": "http://ocsp.example",
        }
    ]
    info, status = await world.authorizer().id_token_info(
        "CS-201", {"id_token": EMAID, "type": "eMAID"}, action="Authorize", hash_data=hash_data
    )
    assert (info["status"], status) == ("Invalid", "NoCertificateAvailable")
    assert world.port.questions == []
    (row,) = await world.decisions()
    assert row.certificate_status == "NoCertificateAvailable"


async def test_a_validator_that_accepts_lets_the_emaid_be_authorized(world):
    class Accepting:
        def __init__(self) -> None:
            self.asked: list[ContractCertificateQuestion] = []

        async def validate(self, question: ContractCertificateQuestion) -> CertificateStatus:
            self.asked.append(question)
            return CertificateStatus.ACCEPTED

    world.port.answers[EMAID] = allowed(TokenKey(*A, EMAID, TokenType.OTHER))
    validator = Accepting()
    authorizer = IdTokenAuthorizer(
        world.sessions, world.port, AuthorizationSettings(), clock=world.clock,
        certificates=validator,
    )  # fmt: skip
    info, status = await authorizer.id_token_info(
        "CS-201",
        {"id_token": EMAID, "type": "eMAID"},
        action="Authorize",
        certificate="-----BEGIN CERTIFICATE-----",
    )
    assert (info["status"], status) == ("Accepted", "Accepted")
    assert validator.asked[0].emaid == EMAID
