"""RealTimeAuthorizer against real eMSP peers on 127.0.0.1 (both databases).

Slow eMSPs are peers that hold their answer until the test releases it, so nothing here races a
clock: a held answer with a tiny budget is over budget by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
import pytest
from prometheus_client import REGISTRY

from hub.config import AuthorizationSettings
from hub.domain.realtime import RealTimeOutcome
from hub.domain.tokens import AllowedType, TokenKey, TokenType
from hub.persistence.session import session_scope
from hub.roaming.authorization import RealTimeAuthorizer
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import AuthorizingEmsp, register_emsp
from tests.support.ocpi_openapi import validate_request_body, validate_response
from tests.support.servers import asgi_server, free_port

pytestmark = pytest.mark.db

A, B, C = ("US", "EMA"), ("US", "EMB"), ("US", "EMC")
CARD = "04A1B2C3D4"
AUTHORIZE = "/tokens/{token_uid}/authorize"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def start_peer():
    """Start eMSP peers; at teardown every held answer is released before the servers stop."""
    with contextlib.ExitStack() as stack:

        def start(name: str, party: tuple[str, str]) -> AuthorizingEmsp:
            peer = AuthorizingEmsp(party=party)
            peer.base_url = stack.enter_context(asgi_server(peer.app()))
            peer.issued[f"token-for-{name}"] = "C"
            stack.callback(peer.release_all)
            return peer

        yield start


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def tokens_url(peer: AuthorizingEmsp) -> str:
    return f"{peer.base_url}/ocpi/2.2.1/tokens"


async def import_locations(sessions, *records) -> None:
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps(list(records)))
        )


@pytest.fixture
async def world(sessions, start_peer):
    """Parties, a public and a private location, and three eMSPs with real-time authorization."""
    await add_parties(sessions)
    await import_locations(
        sessions,
        network.location("PUB", evses=2),
        network.location("DEPOT-A", evses=1, publish=False, visible_to=["US*EMA"]),
    )
    peers = {}
    for name, party in (("emsp-a", A), ("emsp-b", B), ("emsp-c", C)):
        peers[name] = start_peer(name, party)
        # One of them is given its endpoint with the trailing slash version details usually have.
        url = tokens_url(peers[name]) + ("/" if name == "emsp-b" else "")
        await register_emsp(sessions, name, party, url)
    return peers


def authorizer(sessions, http, clock=None, **settings) -> RealTimeAuthorizer:
    extra = {"clock": clock} if clock is not None else {}
    return RealTimeAuthorizer(sessions, http, AuthorizationSettings(**settings), **extra)


def card_of(party, uid=CARD, token_type=TokenType.RFID) -> TokenKey:
    return TokenKey(party[0], party[1], uid, token_type)


# --- a known token: its owner is asked ------------------------------------------------------


async def test_owner_allows_with_evses_reference_info_and_latency(sessions, http, world):
    emsp_a = world["emsp-a"]
    emsp_a.verdict(CARD, location_id="PUB", evse_uids=["PUB-E2"], reference="AUTH-1", info="Hello")
    answer = await authorizer(sessions, http).authorize(
        card_of(A), location_id="PUB", evse_uids=["PUB-E1", "PUB-E2"]
    )
    assert answer.outcome is RealTimeOutcome.ANSWERED
    assert answer.is_allowed
    assert answer.authorization_reference == "AUTH-1"
    assert answer.allowed_evse_uids == ("PUB-E2",)
    assert answer.info is not None
    assert (answer.info.language, answer.info.text) == ("en", "Hello")
    assert answer.token is not None
    assert answer.token.key == card_of(A)
    assert answer.token.contract_id.startswith("US-EMA-")
    assert answer.latency_seconds > 0
    (seen,) = emsp_a.requests_for(CARD)
    assert seen.type == "RFID"
    assert seen.body == {"location_id": "PUB", "evse_uids": ["PUB-E1", "PUB-E2"]}
    # Both sides keep to the official contract: our question and the test peer's verdict.
    validate_request_body("tokens", "sender", "post", AUTHORIZE, seen.body)
    validate_response(
        "tokens", "sender", "post", AUTHORIZE, 200, emsp_a.replies[(CARD, "RFID")].body
    )
    headers = seen.headers
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == ("US", "HPC")
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ("US", "EMA")
    assert headers["x-request-id"]
    assert headers["x-correlation-id"]


@pytest.mark.parametrize("allowed", ["BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"])
async def test_owner_refusals(sessions, http, world, allowed):
    world["emsp-a"].verdict(CARD, allowed)
    answer = await authorizer(sessions, http).authorize(card_of(A), location_id="PUB")
    assert answer.outcome is RealTimeOutcome.ANSWERED
    assert answer.allowed is AllowedType(allowed)
    assert not answer.is_allowed


async def test_owner_without_location_sends_no_body_and_other_types(sessions, http, world):
    world["emsp-a"].verdict(CARD, token_type="APP_USER")
    answer = await authorizer(sessions, http).authorize(card_of(A, token_type=TokenType.APP_USER))
    assert answer.is_allowed
    assert answer.allowed_evse_uids is None
    (seen,) = world["emsp-a"].requests_for(CARD)
    assert (seen.type, seen.raw_body) == ("APP_USER", b"")
    assert "ocpi-from-country-code" not in seen.headers  # no location: no CPO party to name


@pytest.mark.parametrize(
    ("status", "body"),
    [(404, {"status_code": 2004, "timestamp": "2026-11-24T12:00:00Z"}), (200, None)],
)
async def test_owner_does_not_know_the_token(sessions, http, world, status, body):
    if body is None:
        body = {
            "status_code": 2004,
            "status_message": "Unknown Token",
            "timestamp": "2026-11-24T12:00:00Z",
        }
    world["emsp-a"].reply(CARD, status, body)
    answer = await authorizer(sessions, http).authorize(card_of(A), location_id="PUB")
    assert answer.outcome is RealTimeOutcome.UNKNOWN
    assert "emsp-a does not know the token" in (answer.reason or "")


async def test_owner_needs_more_information(sessions, http, world):
    world["emsp-a"].reply(
        CARD,
        200,
        {"status_code": 2002, "status_message": "where?", "timestamp": "2026-11-24T12:00:00Z"},
    )
    answer = await authorizer(sessions, http).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.NOT_ENOUGH_INFORMATION
    assert "where?" in (answer.reason or "")


async def test_owner_answer_released_within_budget(sessions, http, world):
    emsp_a = world["emsp-a"]
    gate = emsp_a.gate()
    emsp_a.verdict(CARD, gate=gate)
    question = asyncio.create_task(authorizer(sessions, http).authorize(card_of(A)))
    await emsp_a.until_waiting(1)
    assert not question.done()
    gate.release()
    answer = await question
    assert answer.is_allowed


async def test_owner_over_budget_is_unreachable(sessions, http, world, caplog):
    emsp_a = world["emsp-a"]
    emsp_a.verdict(CARD, gate=emsp_a.gate())  # released only at teardown
    caplog.set_level(logging.INFO, logger="hub.roaming.authorization")
    answer = await authorizer(sessions, http, realtime_budget_seconds=0.2).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "no answer within the real-time budget of 0.2 s" in (answer.reason or "")
    assert answer.latency_seconds >= 0.2
    assert emsp_a.waiting == 1  # it never answered
    assert any("UNREACHABLE" in r.getMessage() for r in caplog.records)
    assert all(CARD not in r.getMessage() for r in caplog.records)  # uids only as digests


async def test_owner_down_is_unreachable(sessions, http):
    await add_parties(sessions)
    await register_emsp(sessions, "emsp-gone", A, f"http://127.0.0.1:{free_port()}/tokens")
    answer = await authorizer(sessions, http).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "emsp-gone" in (answer.reason or "")
    assert "connection failed" in (answer.reason or "")


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (503, {"status_code": 3000, "timestamp": "2026-11-24T12:00:00Z"}, "HTTP 503"),
        (200, b"<html>proxy error</html>", "not an OCPI envelope"),
        (
            200,
            {"status_code": 1000, "timestamp": "2026-11-24T12:00:00Z", "data": {"allowed": "YES"}},
            "allowed must be one of",
        ),
        (200, {"status_code": 3001, "timestamp": "2026-11-24T12:00:00Z"}, "answered OCPI 3001"),
    ],
)
async def test_owner_garbage_is_unreachable_and_logged_with_the_partner(
    sessions, http, world, caplog, status, body, words
):
    world["emsp-a"].reply(CARD, status, body)
    answer = await authorizer(sessions, http).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert words in (answer.reason or "")
    assert any(
        "partner emsp-a" in r.getMessage() and words in r.getMessage() for r in caplog.records
    )


async def test_owner_answer_about_another_uid_is_unreachable(sessions, http, world):
    emsp_a = world["emsp-a"]
    emsp_a.verdict("SOMEONE-ELSE")
    emsp_a.replies[(CARD, "RFID")] = emsp_a.replies[("SOMEONE-ELSE", "RFID")]
    answer = await authorizer(sessions, http).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "answered about another token" in (answer.reason or "")


@pytest.mark.parametrize("uid", ["", "X" * 37, "caf\u00e9", "tab\there"])
async def test_malformed_uid_reaches_nobody(sessions, http, world, uid):
    rta = authorizer(sessions, http)
    known = await rta.authorize(card_of(A, uid=uid))
    unknown = await rta.authorize_unknown(uid, TokenType.RFID, location_id="PUB")
    assert known.outcome is unknown.outcome is RealTimeOutcome.UNKNOWN
    assert "not a valid OCPI token uid" in (known.reason or "")
    assert all(not peer.requests_for() for peer in world.values())


# --- a card nobody pushed: every eMSP with real-time authorization is asked --------------------


async def test_unknown_first_allowed_wins_and_the_rest_is_cancelled(sessions, http, world):
    slow, winner = world["emsp-a"], world["emsp-b"]
    slow.verdict(CARD, "BLOCKED", gate=slow.gate())  # held until teardown
    release_winner = winner.gate()
    winner.verdict(CARD, reference="AUTH-B", gate=release_winner)
    question = asyncio.create_task(
        authorizer(sessions, http, realtime_budget_seconds=30).authorize_unknown(
            CARD, TokenType.RFID, location_id="PUB"
        )
    )
    await slow.until_waiting(1)
    await winner.until_waiting(1)
    release_winner.release()
    answer = await question
    assert answer.is_allowed
    assert answer.authorization_reference == "AUTH-B"
    assert answer.token is not None
    assert answer.token.key == card_of(B)
    assert slow.waiting == 1  # still holding its answer: nobody waited for it
    assert world["emsp-c"].requests_for(CARD)  # asked too (and said it does not know)


@pytest.mark.parametrize(
    ("script", "outcome", "allowed"),
    [
        ({"emsp-a": "BLOCKED", "emsp-b": "unknown", "emsp-c": "down"}, "ANSWERED", "BLOCKED"),
        (
            {"emsp-a": "NOT_ALLOWED", "emsp-b": "EXPIRED", "emsp-c": "unknown"},
            "ANSWERED",
            "EXPIRED",
        ),
        ({"emsp-a": "unknown", "emsp-b": "down", "emsp-c": "down"}, "UNKNOWN", None),
        ({"emsp-a": "down", "emsp-b": "down", "emsp-c": "down"}, "UNREACHABLE", None),
    ],
)
async def test_unknown_without_allowed_keeps_the_most_telling_answer(
    sessions, http, world, script, outcome, allowed
):
    for name, what in script.items():
        if what == "down":
            world[name].reply(CARD, 502, b"bad gateway")
        elif what != "unknown":
            world[name].verdict(CARD, what)
    answer = await authorizer(sessions, http).authorize_unknown(CARD, TokenType.RFID)
    assert answer.outcome is RealTimeOutcome(outcome)
    assert answer.allowed == (AllowedType(allowed) if allowed else None)
    if outcome == "UNREACHABLE":
        for name in script:
            assert name in (answer.reason or "")


async def test_unknown_over_budget_is_unreachable(sessions, http, world):
    for peer in world.values():
        peer.verdict(CARD, gate=peer.gate())  # nobody answers before teardown
    answer = await authorizer(sessions, http, realtime_budget_seconds=0.3).authorize_unknown(
        CARD, TokenType.RFID
    )
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "no answer within the real-time budget" in (answer.reason or "")
    assert answer.latency_seconds >= 0.3


async def test_unknown_answer_is_cached_per_uid_and_type(sessions, http, world):
    clock = FakeClock()
    rta = authorizer(sessions, http, clock, unknown_answer_cache_seconds=300)
    first = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")
    assert (first.outcome, first.cached) == (RealTimeOutcome.UNKNOWN, False)
    assert len(world["emsp-a"].requests_for(CARD)) == 1
    clock.now += 299
    again = await rta.authorize_unknown(CARD.lower(), TokenType.RFID, location_id="DEPOT-A")
    assert (again.outcome, again.cached) == (RealTimeOutcome.UNKNOWN, True)
    assert len(world["emsp-a"].requests_for(CARD)) == 1  # nobody asked again
    other_type = await rta.authorize_unknown(CARD, TokenType.OTHER)
    assert not other_type.cached
    clock.now += 2
    expired = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")
    assert not expired.cached
    assert [seen.type for seen in world["emsp-a"].requests_for(CARD)] == ["RFID", "OTHER", "RFID"]


async def test_cached_decision_holds_only_where_it_was_made(sessions, http, world):
    clock = FakeClock()
    world["emsp-b"].verdict(CARD, location_id="PUB")
    rta = authorizer(sessions, http, clock)
    assert (await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")).is_allowed
    same = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")
    assert same.cached
    assert same.is_allowed
    elsewhere = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="DEPOT-A")
    assert not elsewhere.cached
    assert len(world["emsp-b"].requests_for(CARD)) == 2


async def test_unreachable_answers_are_not_cached(sessions, http, world):
    for peer in world.values():
        peer.reply(CARD, 503, b"down")
    rta = authorizer(sessions, http, FakeClock())
    assert (
        await rta.authorize_unknown(CARD, TokenType.RFID)
    ).outcome is RealTimeOutcome.UNREACHABLE
    for peer in world.values():
        peer.verdict(CARD, party=peer.party)
    recovered = await rta.authorize_unknown(CARD, TokenType.RFID)
    assert recovered.outcome is RealTimeOutcome.ANSWERED
    assert not recovered.cached


async def test_cache_can_be_switched_off(sessions, http, world):
    rta = authorizer(sessions, http, FakeClock(), unknown_answer_cache_seconds=0)
    await rta.authorize_unknown(CARD, TokenType.RFID)
    second = await rta.authorize_unknown(CARD, TokenType.RFID)
    assert not second.cached
    assert len(world["emsp-a"].requests_for(CARD)) == 2


async def test_broadcast_switched_off_asks_nobody(sessions, http, world):
    answer = await authorizer(sessions, http, ask_all_for_unknown=False).authorize_unknown(
        CARD, TokenType.RFID, location_id="PUB"
    )
    assert answer.outcome is RealTimeOutcome.UNKNOWN
    assert "HUB_AUTHORIZATION__ASK_ALL_FOR_UNKNOWN" in (answer.reason or "")
    assert all(not peer.requests_for() for peer in world.values())


async def test_broadcast_asks_only_registered_emsps_with_a_tokens_sender(
    sessions, http, world, start_peer
):
    paused = start_peer("emsp-paused", ("US", "EMP"))
    paused_id = await register_emsp(sessions, "emsp-paused", ("US", "EMP"), tokens_url(paused))
    await register_emsp(sessions, "emsp-no-rta", ("US", "EMN"), None)
    cpo_like = start_peer("not-an-emsp", ("US", "NSP"))
    await register_emsp(
        sessions, "not-an-emsp", ("US", "NSP"), tokens_url(cpo_like), roles=("NSP",)
    )
    async with session_scope(sessions) as session:
        await PartnerService(session).suspend(paused_id)
    answer = await authorizer(sessions, http).authorize_unknown(CARD, TokenType.RFID)
    assert answer.outcome is RealTimeOutcome.UNKNOWN
    assert "emsp-a" in (answer.reason or "")
    assert all(peer.requests_for(CARD) for peer in world.values())
    assert not paused.requests_for()
    assert not cpo_like.requests_for()


async def test_no_emsp_to_ask_is_unknown(sessions, http):
    await add_parties(sessions)
    answer = await authorizer(sessions, http).authorize_unknown(CARD, TokenType.RFID)
    assert answer.outcome is RealTimeOutcome.UNKNOWN
    assert "no eMSP offers real-time authorization" in (answer.reason or "")


async def test_owner_hanging_up_without_an_answer_is_unreachable(sessions, http):
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the request has started arriving: close without a word
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        await add_parties(sessions)
        await register_emsp(sessions, "emsp-mute", A, f"http://127.0.0.1:{port}/tokens/")
        answer = await authorizer(sessions, http).authorize(card_of(A))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "emsp-mute" in (answer.reason or "")
    assert "the connection broke off" in (answer.reason or "")


# --- hub_authorization_seconds ----------------------------------------------------------------


def timed(outcome: str) -> tuple[float, float]:
    labels = {"outcome": outcome}
    return (
        REGISTRY.get_sample_value("hub_authorization_seconds_count", labels) or 0.0,
        REGISTRY.get_sample_value("hub_authorization_seconds_sum", labels) or 0.0,
    )


async def test_each_answer_is_timed_under_its_verdict_and_a_cached_one_is_not(
    sessions, http, world
):
    world["emsp-a"].verdict(CARD, "BLOCKED")
    clock = FakeClock()
    rta = authorizer(sessions, http, clock, unknown_answer_cache_seconds=300)
    blocked, unknown = timed("BLOCKED"), timed("UNKNOWN")
    answer = await rta.authorize(card_of(A), location_id="PUB")
    assert answer.allowed is AllowedType.BLOCKED
    count, total = timed("BLOCKED")
    assert count == blocked[0] + 1
    assert total == pytest.approx(blocked[1] + answer.latency_seconds)

    first = await rta.authorize_unknown("0BAD0BAD", TokenType.RFID)
    assert first.outcome is RealTimeOutcome.UNKNOWN
    assert timed("UNKNOWN")[0] == unknown[0] + 1
    again = await rta.authorize_unknown("0BAD0BAD", TokenType.RFID)
    assert again.cached
    assert timed("UNKNOWN")[0] == unknown[0] + 1  # from the cache: no eMSP was asked
