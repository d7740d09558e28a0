"""PartnerClient.authorize against respx mocks: every kind of answer an eMSP can give."""

import json
import logging

import httpx
import pytest
import respx

from ocpi.v221.client import PartnerClient
from ocpi.v221.enums import AllowedType
from ocpi.v221.models.tokens import AuthorizationInfo, LocationReferences
from ocpi.v221.realtime import NotEnoughInformationAnswer, UnknownTokenAnswer, UnreachableAnswer

TOKENS = "https://emsp.example/ocpi/emsp/2.2.1/tokens"
TS = "2026-11-24T12:00:00Z"
TOKEN = {
    "country_code": "US",
    "party_id": "EMA",
    "uid": "04A1B2C3",
    "type": "RFID",
    "contract_id": "US-EMA-C12345678-X",
    "issuer": "EMA Mobility",
    "valid": True,
    "whitelist": "NEVER",
    "last_updated": TS,
}


def envelope(data=None, status_code=1000, message=None, http_status=200):
    body = {"status_code": status_code, "timestamp": TS}
    if data is not None:
        body["data"] = data
    if message is not None:
        body["status_message"] = message
    return httpx.Response(http_status, json=body)


@pytest.fixture
async def client():
    async with httpx.AsyncClient() as http:
        yield PartnerClient(http, token="tok-c")


def info(**changes):
    return {"allowed": "ALLOWED", "token": TOKEN, **changes}


@respx.mock
async def test_allowed_with_location_evses_reference_and_info(client):
    route = respx.post(f"{TOKENS}/04A1B2C3/authorize").mock(
        return_value=envelope(
            info(
                location={"location_id": "LOC1", "evse_uids": ["LOC1-E2"]},
                authorization_reference="AUTH-77",
                info={"language": "en", "text": "Welcome"},
            )
        )
    )
    answer = await client.authorize(
        TOKENS,
        "04A1B2C3",
        "RFID",
        LocationReferences(location_id="LOC1", evse_uids=["LOC1-E1", "LOC1-E2"]),
    )
    assert isinstance(answer, AuthorizationInfo)
    assert answer.allowed is AllowedType.ALLOWED
    assert answer.authorization_reference == "AUTH-77"
    assert answer.location is not None
    assert answer.location.evse_uids == ["LOC1-E2"]
    assert answer.info is not None
    assert answer.info.text == "Welcome"
    request = route.calls.last.request
    assert request.url.params["type"] == "RFID"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {
        "location_id": "LOC1",
        "evse_uids": ["LOC1-E1", "LOC1-E2"],
    }


@pytest.mark.parametrize("allowed", ["BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"])
@respx.mock
async def test_refusals_are_answers(client, allowed):
    respx.post(f"{TOKENS}/04A1B2C3/authorize").mock(return_value=envelope(info(allowed=allowed)))
    answer = await client.authorize(TOKENS, "04A1B2C3", "RFID")
    assert isinstance(answer, AuthorizationInfo)
    assert answer.allowed == allowed


@pytest.mark.parametrize("base", [TOKENS, TOKENS + "/"])
@respx.mock
async def test_trailing_slash_and_no_body_without_location(client, base):
    route = respx.post(f"{TOKENS}/04A1B2C3/authorize").mock(return_value=envelope(info()))
    await client.authorize(base, "04A1B2C3", "RFID")
    request = route.calls.last.request
    assert request.url.path == "/ocpi/emsp/2.2.1/tokens/04A1B2C3/authorize"
    assert request.content == b""
    assert "Content-Type" not in request.headers


@respx.mock
async def test_uid_is_one_quoted_path_segment(client):
    route = respx.post(url__regex=r".*").mock(return_value=envelope(status_code=2004))
    await client.authorize(TOKENS, "a/b?c#d e", "OTHER")
    request = route.calls.last.request
    assert request.url.raw_path == b"/ocpi/emsp/2.2.1/tokens/a%2Fb%3Fc%23d%20e/authorize?type=OTHER"


@respx.mock
async def test_http_404_is_unknown_token(client):
    respx.post(f"{TOKENS}/X/authorize").mock(return_value=httpx.Response(404, text="Not Found"))
    answer = await client.authorize(TOKENS, "X", "RFID")
    assert isinstance(answer, UnknownTokenAnswer)
    assert "HTTP 404" in answer.detail


@respx.mock
async def test_ocpi_2004_is_unknown_token(client):
    respx.post(f"{TOKENS}/X/authorize").mock(
        return_value=envelope(status_code=2004, message="Unknown Token")
    )
    answer = await client.authorize(TOKENS, "X", "RFID")
    assert isinstance(answer, UnknownTokenAnswer)
    assert "2004" in answer.detail


@pytest.mark.parametrize("http_status", [200, 400])
@respx.mock
async def test_ocpi_2002_is_not_enough_information(client, http_status):
    respx.post(f"{TOKENS}/X/authorize").mock(
        return_value=envelope(status_code=2002, message="location needed", http_status=http_status)
    )
    answer = await client.authorize(TOKENS, "X", "RFID")
    assert isinstance(answer, NotEnoughInformationAnswer)
    assert "location needed" in answer.detail


@pytest.mark.parametrize(
    ("response", "words"),
    [
        (httpx.Response(503, text="down"), "HTTP 503"),
        (
            envelope(status_code=3000, message="boom", http_status=500),
            "HTTP 500 (OCPI 3000 'boom')",
        ),
        (envelope(status_code=2004, http_status=502), "HTTP 502"),
        (
            httpx.Response(401, json={"status_code": 2000, "timestamp": TS}),
            "refused our credentials",
        ),
        (httpx.Response(200, text="<html>hello</html>"), "not an OCPI envelope"),
        (httpx.Response(200, content=b""), "not an OCPI envelope"),
        (envelope(status_code=2001, message="bad"), "answered OCPI 2001 'bad'"),
        (envelope(status_code=3000), "answered OCPI 3000"),
        (envelope(None), "AuthorizationInfo in the answer must be a JSON object"),
        (envelope(info(allowed="MAYBE")), "allowed must be one of"),
        (envelope({"allowed": "ALLOWED"}), "token is required"),
        (envelope(info(token={**TOKEN, "uid": "U" * 37})), "token.uid must be at most 36"),
        (envelope(info(location={"evse_uids": ["E1"]})), "location.location_id is required"),
    ],
)
@respx.mock
async def test_anything_else_is_unreachable_with_the_reason(client, response, words, caplog):
    respx.post(f"{TOKENS}/X/authorize").mock(return_value=response)
    caplog.set_level(logging.INFO, logger="ocpi.v221.client")
    # The AUTO encoding retries a 401 once with a plain token: both get the same answer here.
    answer = await client.authorize(TOKENS, "X", "RFID")
    assert isinstance(answer, UnreachableAnswer)
    assert words in answer.reason
    assert any("unusable" in r.getMessage() and words in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ConnectError("refused"), "connection failed"),
        (httpx.ReadTimeout("slow"), "no answer within the timeout"),
        (httpx.RemoteProtocolError("eof"), "connection broke off"),
    ],
)
@respx.mock
async def test_transport_failures_are_unreachable(client, error, words):
    respx.post(f"{TOKENS}/X/authorize").mock(side_effect=error)
    answer = await client.authorize(TOKENS, "X", "RFID")
    assert isinstance(answer, UnreachableAnswer)
    assert words in answer.reason


async def test_invalid_url_is_unreachable(client):
    answer = await client.authorize("not a url at all", "X", "RFID")
    assert isinstance(answer, UnreachableAnswer)
