"""The partner client PUTting a changed ActiveChargingProfile to a peer's Sender interface."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from ocpi.errors import PartnerHttpError, PartnerRejected
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v221.client import PartnerClient
from ocpi.v221.models.charging_profiles import ActiveChargingProfile, ChargingProfileResult
from tests.ocpi.test_models_commands_profiles import ACTIVE_PROFILE
from tests.ocpi.test_models_examples import _json, _normalize
from tests.support import ocpi_openapi

# The spec's example (mod_charging_profiles.asciidoc, Sender interface "PUT Method").
PROFILES = "https://www.server.com/ocpi/2.2.1/chargingprofiles"
TS = "2026-11-24T12:00:00Z"
ROUTING = RoutingHeaders(sender=PartyRef("NL", "STK"), receiver=PartyRef("NL", "TST"))


def ok(status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"status_code": 1000, "timestamp": TS})


@pytest.fixture
async def http():
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def profile() -> ActiveChargingProfile:
    return ActiveChargingProfile.model_validate(ACTIVE_PROFILE)


@respx.mock
async def test_put_active_charging_profile_sends_it_to_the_sessions_url(http, profile):
    route = respx.put(f"{PROFILES}/1234").mock(return_value=ok())
    await PartnerClient(http, token="t").put_active_charging_profile(
        PROFILES, "1234", profile, routing=ROUTING
    )
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["OCPI-from-party-id"] == "STK"
    assert request.headers["OCPI-to-party-id"] == "TST"
    sent = json.loads(request.content)
    assert _normalize(_json(request.content.decode())) == _normalize(
        _json(json.dumps(ACTIVE_PROFILE))
    )
    ocpi_openapi.validate_request_body(
        "chargingprofiles", "sender", "PUT", "/chargingprofiles/{session_id}", sent
    )
    ocpi_openapi.validate("ActiveChargingProfile", sent, strict=True)


@pytest.mark.parametrize(
    ("endpoint", "session_id", "url"),
    [
        (f"{PROFILES}/", "1234", f"{PROFILES}/1234"),
        (PROFILES, "a/b?c#d", f"{PROFILES}/a%2Fb%3Fc%23d"),
    ],
)
@respx.mock
async def test_put_active_charging_profile_builds_one_segment(
    http, profile, endpoint, session_id, url
):
    route = respx.put(url).mock(return_value=ok())
    await PartnerClient(http, token="t").put_active_charging_profile(endpoint, session_id, profile)
    assert route.called


@respx.mock
async def test_a_refused_profile_put_raises_with_the_peers_code(http, profile):
    respx.put(f"{PROFILES}/1234").mock(
        return_value=httpx.Response(
            200, json={"status_code": 2001, "status_message": "no such session", "timestamp": TS}
        )
    )
    with pytest.raises(PartnerRejected) as caught:
        await PartnerClient(http, token="t").put_active_charging_profile(PROFILES, "1234", profile)
    assert caught.value.partner_status_code == 2001
    assert "no such session" in caught.value.message


@respx.mock
async def test_a_profile_put_to_a_missing_endpoint_is_an_http_error(http, profile):
    respx.put(f"{PROFILES}/1234").mock(
        return_value=httpx.Response(404, json={"status_code": 2000, "timestamp": TS})
    )
    with pytest.raises(PartnerHttpError) as caught:
        await PartnerClient(http, token="t").put_active_charging_profile(PROFILES, "1234", profile)
    assert caught.value.response_status == 404


@respx.mock
async def test_a_result_goes_to_the_response_url_with_the_generic_call(http):
    # The way the host sends asynchronous results: the peer's own URL, as given.
    response_url = "https://www.server.com/ocpi/2.2.1/chargingprofiles/chargingprofile/12345678"
    route = respx.post(response_url).mock(return_value=ok())
    result = ChargingProfileResult.model_validate({"result": "ACCEPTED"})
    await PartnerClient(http, token="t").call("POST", response_url, body=result.to_wire())
    assert json.loads(route.calls.last.request.content) == {"result": "ACCEPTED"}
