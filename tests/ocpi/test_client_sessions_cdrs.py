"""The partner client pushing Sessions and CDRs to an eMSP's Receiver interfaces (respx)."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from ocpi.errors import PartnerHttpError, PartnerProtocolError, PartnerRejected, PartnerUnreachable
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v221.client import PartnerClient, object_url
from ocpi.v221.models.cdrs import CDR
from ocpi.v221.models.sessions import Session, SessionPatch
from tests.ocpi.test_models_examples import _json, _load, _normalize
from tests.support import ocpi_openapi

SESSIONS = "https://emsp.example/ocpi/emsp/2.2.1/sessions"
CDRS = "https://emsp.example/ocpi/emsp/2.2.1/cdrs/"
TS = "2026-11-24T12:00:00Z"
ROUTING = RoutingHeaders(sender=PartyRef("NL", "STK"), receiver=PartyRef("NL", "TST"))


def ok(status: int = 200, data=None, headers=None) -> httpx.Response:
    body = {"status_code": 1000, "timestamp": TS}
    if data is not None:
        body["data"] = data
    return httpx.Response(status, json=body, headers=headers)


def same_json(sent: bytes, example: str) -> bool:
    return bool(_normalize(_json(sent.decode())) == _normalize(_json(_load(example))))


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def session() -> Session:
    return Session.model_validate_json(_load("session_example_1_simple_start.json"))


@pytest.fixture
def cdr() -> CDR:
    return CDR.model_validate_json(_load("cdr_example.json"))


@pytest.mark.parametrize(
    ("segments", "url"),
    [
        (("NL", "STK", "101"), f"{SESSIONS}/NL/STK/101"),
        (("NL", "STK", "a/b?c#d"), f"{SESSIONS}/NL/STK/a%2Fb%3Fc%23d"),
        (("NL", "STK", "sp ace"), f"{SESSIONS}/NL/STK/sp%20ace"),
    ],
)
def test_object_url_joins_quoted_segments(segments, url):
    assert object_url(SESSIONS, *segments) == url
    assert object_url(SESSIONS + "/", *segments) == url


# --- Sessions ---------------------------------------------------------------------------------


@respx.mock
async def test_put_session_sends_the_session_to_its_client_owned_url(http, session):
    route = respx.put(f"{SESSIONS}/NL/STK/101").mock(return_value=ok(201))
    await PartnerClient(http, token="t").put_session(SESSIONS, session, routing=ROUTING)
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["OCPI-from-country-code"] == "NL"
    assert request.headers["OCPI-from-party-id"] == "STK"
    assert request.headers["OCPI-to-party-id"] == "TST"
    assert same_json(request.content, "session_example_1_simple_start.json")
    ocpi_openapi.validate("Session", json.loads(request.content), strict=True)


@respx.mock
async def test_put_session_on_an_endpoint_with_a_trailing_slash(http, session):
    route = respx.put(f"{SESSIONS}/NL/STK/101").mock(return_value=ok())
    await PartnerClient(http, token="t").put_session(f"{SESSIONS}/", session)
    assert route.called


@respx.mock
async def test_patch_session_sends_only_the_patch(http):
    patch = SessionPatch.model_validate_json(_load("session_patch_example_charging_period.json"))
    route = respx.patch(f"{SESSIONS}/NL/STK/101").mock(return_value=ok())
    await PartnerClient(http, token="t").patch_session(
        SESSIONS, "NL", "STK", "101", patch, routing=ROUTING
    )
    request = route.calls.last.request
    assert same_json(request.content, "session_patch_example_charging_period.json")
    sent = json.loads(request.content)
    assert "last_updated" in sent
    assert set(sent) == {"kwh", "charging_periods", "total_cost", "last_updated"}
    ocpi_openapi.validate_patch("Session", sent, strict=True)


@respx.mock
async def test_get_session_reads_the_emsps_copy(http):
    example = json.loads(_load("session_example_1_simple_start.json"))
    route = respx.get(f"{SESSIONS}/NL/STK/101").mock(return_value=ok(data=example))
    got = await PartnerClient(http, token="t").get_session(SESSIONS, "NL", "STK", "101")
    assert got == Session.model_validate(example)
    assert route.calls.last.request.content == b""


@respx.mock
async def test_a_refused_session_push_raises_with_the_emsps_code(http, session):
    respx.put(f"{SESSIONS}/NL/STK/101").mock(
        return_value=httpx.Response(
            200, json={"status_code": 2001, "status_message": "bad kwh", "timestamp": TS}
        )
    )
    with pytest.raises(PartnerRejected) as caught:
        await PartnerClient(http, token="t").put_session(SESSIONS, session)
    assert caught.value.partner_status_code == 2001
    assert "bad kwh" in caught.value.message


@respx.mock
async def test_a_session_patch_of_an_unknown_session_is_an_http_error(http):
    patch = SessionPatch.model_validate_json(_load("session_patch_example_total_cost.json"))
    respx.patch(f"{SESSIONS}/NL/STK/101").mock(
        return_value=httpx.Response(404, json={"status_code": 2000, "timestamp": TS})
    )
    with pytest.raises(PartnerHttpError) as caught:
        await PartnerClient(http, token="t").patch_session(SESSIONS, "NL", "STK", "101", patch)
    assert caught.value.response_status == 404


# --- CDRs -------------------------------------------------------------------------------------


@respx.mock
async def test_post_cdr_returns_the_location_the_emsp_answers(http, cdr):
    stored = "https://emsp.example/ocpi/emsp/2.2.1/cdrs/123456"
    route = respx.post(CDRS).mock(return_value=ok(201, headers={"Location": stored}))
    location = await PartnerClient(http, token="t").post_cdr(CDRS, cdr, routing=ROUTING)
    assert location == stored
    request = route.calls.last.request
    assert str(request.url) == CDRS  # the endpoint as given: the spec defines no sub-path
    assert request.headers["OCPI-to-party-id"] == "TST"
    assert same_json(request.content, "cdr_example.json")
    ocpi_openapi.validate("CDR", json.loads(request.content), strict=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("/ocpi/emsp/2.2.1/cdrs/7", "https://emsp.example/ocpi/emsp/2.2.1/cdrs/7"),
        ("7", "https://emsp.example/ocpi/emsp/2.2.1/cdrs/7"),
        (" https://other.example/c/7 ", "https://other.example/c/7"),
    ],
)
@respx.mock
async def test_post_cdr_makes_a_relative_location_absolute(http, cdr, header, expected):
    respx.post(CDRS).mock(return_value=ok(201, headers={"Location": header}))
    assert await PartnerClient(http, token="t").post_cdr(CDRS, cdr) == expected


@respx.mock
async def test_post_cdr_without_a_location_is_accepted_but_none(http, cdr, caplog):
    respx.post(CDRS).mock(return_value=ok(200))
    assert await PartnerClient(http, token="t").post_cdr(CDRS, cdr) is None
    assert "without a Location header" in caplog.text


@respx.mock
async def test_post_cdr_refused_raises_and_returns_no_location(http, cdr):
    respx.post(CDRS).mock(
        return_value=httpx.Response(
            200,
            json={"status_code": 2001, "status_message": "duplicate", "timestamp": TS},
            headers={"Location": "https://emsp.example/x"},
        )
    )
    with pytest.raises(PartnerRejected) as caught:
        await PartnerClient(http, token="t").post_cdr(CDRS, cdr)
    assert caught.value.partner_status_code == 2001


@respx.mock
async def test_post_cdr_failures_are_the_client_error_tree(http, cdr):
    client = PartnerClient(http, token="t")
    respx.post(CDRS).mock(return_value=httpx.Response(503, text="down"))
    with pytest.raises(PartnerHttpError):
        await client.post_cdr(CDRS, cdr)
    respx.post(CDRS).mock(return_value=httpx.Response(201, text="created"))
    with pytest.raises(PartnerProtocolError):
        await client.post_cdr(CDRS, cdr)
    respx.post(CDRS).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(PartnerUnreachable):
        await client.post_cdr(CDRS, cdr)


@respx.mock
async def test_get_cdr_reads_it_back_at_its_location(http):
    location = "https://emsp.example/ocpi/emsp/2.2.1/cdrs/123456"
    example = json.loads(_load("cdr_example.json"))
    route = respx.get(location).mock(return_value=ok(data=example))
    got = await PartnerClient(http, token="t").get_cdr(location, routing=ROUTING)
    assert got == CDR.model_validate(example)
    assert route.calls.last.request.headers["OCPI-to-country-code"] == "NL"


@respx.mock
async def test_get_cdr_with_invalid_data_is_a_protocol_error(http):
    location = "https://emsp.example/ocpi/emsp/2.2.1/cdrs/1"
    respx.get(location).mock(return_value=ok(data={"id": "1"}))
    with pytest.raises(PartnerProtocolError) as caught:
        await PartnerClient(http, token="t").get_cdr(location)
    assert "country_code" in caught.value.message
