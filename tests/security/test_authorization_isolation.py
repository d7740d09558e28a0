"""Real-time authorization never shows one partner's driver to another (both databases).

Three automakers' eMSPs run as real servers on 127.0.0.1 and record every request. A token of
party A is asked of A only, never of B or C, whatever the state of A (no owner, suspended, no
Tokens endpoint: nobody is asked). The one documented exception, the broadcast of a card no
partner pushed, shows each eMSP only the card's uid and type, and the location only to eMSPs
that may see it (a private depot stays hidden from everyone it is not shared with). An eMSP
cannot authorize (and so be billed for) a token of a party it does not own.
"""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest

from hub.config import AuthorizationSettings
from hub.domain.realtime import RealTimeOutcome
from hub.domain.tokens import TokenKey, TokenType
from hub.persistence.session import session_scope
from hub.roaming.authorization import RealTimeAuthorizer
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import AuthorizingEmsp, register_emsp
from tests.support.servers import asgi_server

pytestmark = pytest.mark.db

PARTIES = {"emsp-a": ("US", "EMA"), "emsp-b": ("US", "EMB"), "emsp-c": ("US", "EMC")}
CARD = "CAFE0001"
# Headers an authorization request may carry; anything else would be new information.
ALLOWED_HEADERS = {
    "host",
    "accept",
    "accept-encoding",
    "connection",
    "user-agent",
    "content-length",
    "content-type",
    "authorization",
    "x-request-id",
    "x-correlation-id",
    "ocpi-from-country-code",
    "ocpi-from-party-id",
    "ocpi-to-country-code",
    "ocpi-to-party-id",
}


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(
                json.dumps(
                    [
                        network.location("PUB", evses=1),
                        network.location("DEPOT-A", evses=1, publish=False, visible_to=["US*EMA"]),
                    ]
                )
            )
        )
    with contextlib.ExitStack() as stack:
        peers: dict[str, AuthorizingEmsp] = {}
        ids: dict[str, int] = {}
        for name, party in PARTIES.items():
            peer = AuthorizingEmsp(party=party)
            peer.base_url = stack.enter_context(asgi_server(peer.app()))
            peer.issued[f"token-for-{name}"] = "C"
            stack.callback(peer.release_all)
            peers[name] = peer
            ids[name] = await register_emsp(
                sessions, name, party, f"{peer.base_url}/ocpi/2.2.1/tokens"
            )
        async with httpx.AsyncClient(timeout=10) as http:
            yield RealTimeAuthorizer(sessions, http, AuthorizationSettings()), peers, ids


def asked(peers: dict[str, AuthorizingEmsp]) -> dict[str, int]:
    return {name: len(peer.requests_for()) for name, peer in peers.items()}


@pytest.mark.parametrize("owner", list(PARTIES))
async def test_a_token_is_asked_of_its_owner_only(world, owner):
    rta, peers, _ = world
    for name, peer in peers.items():
        peer.verdict(CARD, party=PARTIES[owner] if name == owner else None)
    answer = await rta.authorize(TokenKey(*PARTIES[owner], CARD, TokenType.RFID), location_id="PUB")
    assert answer.is_allowed
    assert asked(peers) == {name: int(name == owner) for name in peers}


async def test_a_token_of_a_party_nobody_owns_is_asked_of_nobody(world):
    rta, peers, _ = world
    answer = await rta.authorize(TokenKey("US", "ZZZ", CARD, TokenType.RFID), location_id="PUB")
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "no partner owns party US*ZZZ" in (answer.reason or "")
    assert asked(peers) == dict.fromkeys(peers, 0)  # and certainly not broadcast


async def test_a_token_of_a_suspended_owner_is_asked_of_nobody(world, sessions):
    rta, peers, ids = world
    async with session_scope(sessions) as session:
        await PartnerService(session).suspend(ids["emsp-a"])
    answer = await rta.authorize(TokenKey("US", "EMA", CARD, TokenType.RFID))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "suspended" in (answer.reason or "")
    assert asked(peers) == dict.fromkeys(peers, 0)


async def test_an_owner_without_tokens_endpoint_is_not_replaced_by_another(sessions):
    await add_parties(sessions)
    with contextlib.ExitStack() as stack:
        other = AuthorizingEmsp(party=("US", "EMB"))
        other.base_url = stack.enter_context(asgi_server(other.app()))
        other.issued["token-for-emsp-b"] = "C"
        await register_emsp(sessions, "emsp-a", ("US", "EMA"), None)
        await register_emsp(
            sessions, "emsp-b", ("US", "EMB"), f"{other.base_url}/ocpi/2.2.1/tokens"
        )
        async with httpx.AsyncClient(timeout=10) as http:
            rta = RealTimeAuthorizer(sessions, http, AuthorizationSettings())
            answer = await rta.authorize(TokenKey("US", "EMA", CARD, TokenType.RFID))
        assert answer.outcome is RealTimeOutcome.UNREACHABLE
        assert "offers no Tokens Sender endpoint" in (answer.reason or "")
        assert not other.requests_for()


async def test_an_owner_answering_for_another_partys_token_is_not_believed(world):
    rta, peers, _ = world
    peers["emsp-a"].verdict(CARD, party=PARTIES["emsp-b"])
    answer = await rta.authorize(TokenKey("US", "EMA", CARD, TokenType.RFID))
    assert answer.outcome is RealTimeOutcome.UNREACHABLE
    assert "which it does not own" in (answer.reason or "")


@pytest.mark.parametrize(
    ("location_id", "sees_location"),
    [
        ("PUB", {"emsp-a", "emsp-b", "emsp-c"}),
        ("DEPOT-A", {"emsp-a"}),
        ("SITE-WE-DO-NOT-KNOW", set()),
        (None, set()),
    ],
)
async def test_the_broadcast_shows_uid_and_type_and_the_location_only_to_who_may_see_it(
    world, location_id, sees_location
):
    rta, peers, _ = world
    answer = await rta.authorize_unknown(
        CARD, TokenType.RFID, location_id=location_id, evse_uids=["E-1"]
    )
    assert answer.outcome is RealTimeOutcome.UNKNOWN
    for name, peer in peers.items():
        (seen,) = peer.requests_for()
        assert (seen.uid, seen.type) == (CARD, "RFID")
        if name in sees_location:
            assert seen.body == {"location_id": location_id, "evse_uids": ["E-1"]}
        else:
            assert seen.raw_body == b""
        assert set(seen.headers) <= ALLOWED_HEADERS
        # Each eMSP is addressed as itself; no other partner is named.
        to = (seen.headers["ocpi-to-country-code"], seen.headers["ocpi-to-party-id"])
        assert to == PARTIES[name]


async def test_the_broadcast_tells_an_emsp_needing_a_hidden_location_why(world):
    rta, peers, _ = world
    peers["emsp-b"].reply(CARD, 200, {"status_code": 2002, "timestamp": "2026-11-24T12:00:00Z"})
    answer = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="DEPOT-A")
    assert answer.outcome is RealTimeOutcome.NOT_ENOUGH_INFORMATION
    assert "the location was not sent: emsp-b may not see it" in (answer.reason or "")


async def test_a_broadcast_answer_for_another_partys_token_does_not_win(world):
    rta, peers, _ = world
    # B claims the card is one of A's and allows it; A does not know it.
    peers["emsp-b"].verdict(CARD, party=PARTIES["emsp-a"])
    answer = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")
    assert not answer.is_allowed
    assert answer.outcome is RealTimeOutcome.UNKNOWN


async def test_the_broadcast_answer_names_only_the_winner(world):
    rta, peers, ids = world
    peers["emsp-c"].verdict(CARD)
    answer = await rta.authorize_unknown(CARD, TokenType.RFID, location_id="PUB")
    assert answer.is_allowed
    assert answer.partner_id == ids["emsp-c"]
    assert answer.token is not None
    assert answer.token.key.party_id == "EMC"
    # The eMSPs that did not know the card appear nowhere in the answer that is kept.
    assert "emsp-a" not in repr(answer)
    assert "emsp-b" not in repr(answer)
