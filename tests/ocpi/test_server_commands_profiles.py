"""Commands and ChargingProfiles Receiver interfaces against in-memory fake ports.

The bodies and URLs are the spec's where it gives some (its example URLs of
``mod_charging_profiles.asciidoc``; it has no JSON examples for these modules) and are checked
against the official request schemas, so a test cannot pass on a body no eMSP would send.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from ocpi.auth import TokenEncoding
from ocpi.errors import OcpiError, UnknownLocation, UnknownObject, quote_input
from ocpi.headers import PartyRef
from ocpi.v221.enums import (
    ChargingProfileResponseType,
    ChargingRateUnit,
    CommandResponseType,
    CommandType,
)
from ocpi.v221.models.charging_profiles import ChargingProfileResponse, SetChargingProfile
from ocpi.v221.models.commands import (
    CancelReservation,
    CommandResponse,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.ports import ClientIdentity, CommandRequest, OcpiPorts
from ocpi.v221.server.common import ServerConfig, exception_handlers
from ocpi.v221.server.router import build_router
from tests.ocpi.test_models_examples import _load
from tests.support import ocpi_openapi

BASE = "https://hub.example/ocpi"
COMMANDS = "/ocpi/2.2.1/commands"
PROFILES = "/ocpi/2.2.1/chargingprofiles"
TOKEN = json.loads(_load("token_example_1_app_user.json"))
RESULT_URL = "https://www.server.com/ocpi/emsp/2.2.1/commands/{command}/1234"

# One valid body per command, all fields the spec defines.
BODIES: dict[CommandType, dict[str, Any]] = {
    CommandType.CANCEL_RESERVATION: {
        "response_url": RESULT_URL.format(command="CANCEL_RESERVATION"),
        "reservation_id": "RES-1",
    },
    CommandType.RESERVE_NOW: {
        "response_url": RESULT_URL.format(command="RESERVE_NOW"),
        "token": TOKEN,
        "expiry_date": "2026-03-01T13:00:00Z",
        "reservation_id": "RES-1",
        "location_id": "LOC1",
        "evse_uid": "3256",
        "authorization_reference": "AUTH-1",
    },
    CommandType.START_SESSION: {
        "response_url": RESULT_URL.format(command="START_SESSION"),
        "token": TOKEN,
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
        "authorization_reference": "AUTH-1",
    },
    CommandType.STOP_SESSION: {
        "response_url": RESULT_URL.format(command="STOP_SESSION"),
        "session_id": "SESSION-1",
    },
    CommandType.UNLOCK_CONNECTOR: {
        "response_url": RESULT_URL.format(command="UNLOCK_CONNECTOR"),
        "location_id": "LOC1",
        "evse_uid": "3256",
        "connector_id": "1",
    },
}
MODELS: dict[CommandType, type[CommandRequest]] = {
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}

PROFILE_BODY: dict[str, Any] = {
    "charging_profile": {
        "start_date_time": "2026-03-01T12:00:00Z",
        "duration": 3600,
        "charging_rate_unit": "A",
        "min_charging_rate": 6.0,
        "charging_profile_period": [
            {"start_period": 0, "limit": 32.0},
            {"start_period": 900, "limit": 16.5},
            {"start_period": 1800, "limit": 0},
        ],
    },
    "response_url": "https://www.server.com/ocpi/2.2.1/chargingprofiles/chargingprofile/12345678",
}
# The spec's GET and DELETE examples (mod_charging_profiles.asciidoc, "GET/DELETE Method").
GET_RESULT_URL = "https://www.msp.com/ocpi/2.2.1/chargingprofile/response?request_id=5678"
SPEC_GET = f"{PROFILES}/1234?duration=900&response_url={GET_RESULT_URL}"
SPEC_DELETE = f"{PROFILES}/1234?response_url=https://www.server.com/example"


@dataclass
class FakePorts:
    """One registered eMSP (token-c) and one invited one (token-a); calls are recorded."""

    command_answer: CommandResponse = field(
        default_factory=lambda: CommandResponse(result=CommandResponseType.ACCEPTED, timeout=30)
    )
    profile_answer: ChargingProfileResponse = field(
        default_factory=lambda: ChargingProfileResponse(
            result=ChargingProfileResponseType.ACCEPTED, timeout=60
        )
    )
    refuse: OcpiError | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        if "token-c" in candidates.values():
            return ClientIdentity("2", "registered", "token-c", registered=True)
        if "token-a" in candidates.values():
            return ClientIdentity("1", "invited", "token-a", registered=False)
        return None

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        raise NotImplementedError

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        raise NotImplementedError

    async def unregister(self, client: ClientIdentity) -> None:
        raise NotImplementedError

    async def command(
        self,
        client: ClientIdentity,
        command: CommandType,
        request: CommandRequest,
        receiver: PartyRef | None,
    ) -> CommandResponse:
        self.calls.append(("command", client.client_id, command, request, receiver))
        if self.refuse is not None:
            raise self.refuse
        return self.command_answer

    async def set_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        request: SetChargingProfile,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        self.calls.append(("set", session_id, request, receiver))
        if self.refuse is not None:
            raise self.refuse
        return self.profile_answer

    async def get_active_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        duration: int,
        response_url: str,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        self.calls.append(("get", session_id, duration, response_url, receiver))
        if self.refuse is not None:
            raise self.refuse
        return self.profile_answer

    async def clear_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        response_url: str,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        self.calls.append(("clear", session_id, response_url, receiver))
        if self.refuse is not None:
            raise self.refuse
        return self.profile_answer


def auth(token: str = "token-c") -> dict[str, str]:
    return {"Authorization": f"Token {base64.b64encode(token.encode()).decode()}"}


ROUTED = {
    "OCPI-from-country-code": "NL",
    "OCPI-from-party-id": "TST",
    "OCPI-to-country-code": "nl",
    "OCPI-to-party-id": "stk",
}


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
    ports = OcpiPorts(authentication=fake, credentials=fake, commands=fake, charging_profiles=fake)
    async with AsyncTestClient(_app(ports)) as test_client:
        yield test_client


def _body(command: CommandType) -> dict[str, Any]:
    return copy.deepcopy(BODIES[command])


def _profile_body() -> dict[str, Any]:
    return copy.deepcopy(PROFILE_BODY)


def _assert_2001(response: Any, *named: str) -> None:
    assert response.status_code == 200, response.text
    envelope = response.json()
    assert envelope["status_code"] == 2001, envelope
    for name in named:
        assert name in envelope["status_message"], envelope["status_message"]
    assert "data" not in envelope


# --- Version details: offered only with a port --------------------------------------------------


async def test_version_details_offer_commands_and_charging_profiles_as_receiver(client):
    endpoints = (await client.get("/ocpi/2.2.1", headers=auth())).json()["data"]["endpoints"]
    assert {"identifier": "commands", "role": "RECEIVER", "url": f"{BASE}/2.2.1/commands"} in (
        endpoints
    )
    assert {
        "identifier": "chargingprofiles",
        "role": "RECEIVER",
        "url": f"{BASE}/2.2.1/chargingprofiles",
    } in endpoints


@pytest.mark.parametrize(
    ("with_commands", "with_profiles"), [(False, False), (True, False), (False, True)]
)
async def test_each_module_is_offered_and_mounted_only_with_its_port(
    fake, with_commands, with_profiles
):
    ports = OcpiPorts(
        authentication=fake,
        credentials=fake,
        commands=fake if with_commands else None,
        charging_profiles=fake if with_profiles else None,
    )
    async with AsyncTestClient(_app(ports)) as test_client:
        details = await test_client.get("/ocpi/2.2.1", headers=auth())
        identifiers = {e["identifier"] for e in details.json()["data"]["endpoints"]}
        expected = {"credentials"}
        expected |= {"commands"} if with_commands else set()
        expected |= {"chargingprofiles"} if with_profiles else set()
        assert identifiers == expected
        command = await test_client.post(
            f"{COMMANDS}/STOP_SESSION", json=_body(CommandType.STOP_SESSION), headers=auth()
        )
        unknown = await test_client.post(f"{COMMANDS}/FOO", json={}, headers=auth())
        profile = await test_client.put(f"{PROFILES}/S1", json=_profile_body(), headers=auth())
    for response, offered in ((command, with_commands), (unknown, with_commands)):
        if not offered:
            assert response.status_code == 404
            assert response.json()["status_code"] == 2000
    assert (profile.status_code == 404) is not with_profiles
    assert [call[0] for call in fake.calls] == ["command"] * with_commands + ["set"] * (
        with_profiles
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"{COMMANDS}/START_SESSION"),
        ("POST", f"{COMMANDS}/FOO"),
        ("GET", SPEC_GET),
        ("PUT", f"{PROFILES}/1234"),
        ("DELETE", SPEC_DELETE),
    ],
)
async def test_a_registration_token_is_refused(client, fake, method, path):
    response = await client.request(method, path, json={}, headers=auth("token-a"))
    assert response.status_code == 401
    assert fake.calls == []


# --- Commands: every command reaches the port with its model -----------------------------------


@pytest.mark.parametrize("command", list(CommandType))
async def test_every_command_reaches_the_port_as_its_model(client, fake, command):
    body = _body(command)
    path = f"/commands/{command.value}"
    ocpi_openapi.validate_request_body("commands", "receiver", "POST", path, body)
    response = await client.post(f"{COMMANDS}/{command.value}", json=body, headers=auth())
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 1000
    assert envelope["data"] == {"result": "ACCEPTED", "timeout": 30}
    ocpi_openapi.validate_response("commands", "receiver", "POST", path, 200, envelope)
    [(name, client_id, passed_command, request, receiver)] = fake.calls
    assert (name, client_id, passed_command, receiver) == ("command", "2", command, None)
    assert type(request) is MODELS[command]
    assert request == MODELS[command].model_validate(body)
    assert request.response_url == body["response_url"]


async def test_the_command_objects_carry_every_field(client, fake):
    await client.post(
        f"{COMMANDS}/RESERVE_NOW", json=_body(CommandType.RESERVE_NOW), headers=auth()
    )
    [(_, _, _, reserve, _)] = fake.calls
    assert isinstance(reserve, ReserveNow)
    assert reserve.expiry_date == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert (reserve.reservation_id, reserve.location_id, reserve.evse_uid) == (
        "RES-1",
        "LOC1",
        "3256",
    )
    assert reserve.authorization_reference == "AUTH-1"
    assert reserve.token.uid == TOKEN["uid"]


@pytest.mark.parametrize("result", list(CommandResponseType))
async def test_the_ports_command_response_is_the_data(client, fake, result):
    fake.command_answer = CommandResponse.model_validate(
        {"result": result.value, "timeout": 0, "message": [{"language": "en", "text": "why"}]}
    )
    response = await client.post(
        f"{COMMANDS}/STOP_SESSION", json=_body(CommandType.STOP_SESSION), headers=auth()
    )
    assert response.json()["data"] == {
        "result": result.value,
        "timeout": 0,
        "message": [{"language": "en", "text": "why"}],
    }


async def test_start_session_without_evse_or_connector_is_the_ports_to_judge(client, fake):
    body = _body(CommandType.START_SESSION)
    del body["evse_uid"], body["connector_id"]
    response = await client.post(f"{COMMANDS}/START_SESSION", json=body, headers=auth())
    assert response.json()["status_code"] == 1000
    [(_, _, _, request, _)] = fake.calls
    assert (request.evse_uid, request.connector_id) == (None, None)


async def test_commands_pass_the_addressed_party_and_swap_the_routing_headers(client, fake):
    response = await client.post(
        f"{COMMANDS}/UNLOCK_CONNECTOR",
        json=_body(CommandType.UNLOCK_CONNECTOR),
        headers={**auth(), **ROUTED},
    )
    assert response.json()["status_code"] == 1000
    assert fake.calls[0][4] == PartyRef("NL", "STK")
    assert response.headers["OCPI-to-country-code"] == "NL"
    assert response.headers["OCPI-to-party-id"] == "TST"
    assert response.headers["OCPI-from-party-id"] == "STK"


async def test_a_port_error_becomes_its_status_code(client, fake):
    fake.refuse = UnknownLocation("Unknown Location 'LOC1'")
    response = await client.post(
        f"{COMMANDS}/START_SESSION", json=_body(CommandType.START_SESSION), headers=auth()
    )
    assert response.status_code == 200
    assert response.json()["status_code"] == 2003
    assert response.json()["status_message"] == "Unknown Location 'LOC1'"


# --- Commands: refused before the port ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("FOO", False),
        ("start_session", True),
        ("Stop_Session", True),
        ("START-SESSION", False),
        ("RESERVE_NOW_PLEASE", False),
        ("x" * 500, False),
    ],
)
async def test_an_unknown_command_is_2001_naming_it(client, fake, name, hint):
    response = await client.post(
        f"{COMMANDS}/{name}", json=_body(CommandType.START_SESSION), headers=auth()
    )
    _assert_2001(response, "Unknown command", quote_input(name), "START_SESSION")
    assert ("upper case" in response.json()["status_message"]) is hint
    assert len(response.json()["status_message"]) < 300
    assert fake.calls == []


async def test_an_unknown_command_is_answered_without_reading_the_body(client, fake):
    response = await client.post(
        f"{COMMANDS}/FOO",
        content=b"{not json",
        headers={**auth(), "Content-Type": "application/json"},
    )
    _assert_2001(response, "'FOO'")


def _without(command: CommandType, *keys: str) -> dict[str, Any]:
    body = _body(command)
    for key in keys:
        del body[key]
    return body


def _with(command: CommandType, **changes: Any) -> dict[str, Any]:
    return {**_body(command), **changes}


BAD_COMMANDS: list[tuple[CommandType, Any, tuple[str, ...]]] = [
    *((command, _without(command, "response_url"), ("response_url",)) for command in CommandType),
    *(
        (command, _with(command, response_url=url), ("response_url", "absolute"))
        for command in (CommandType.START_SESSION, CommandType.CANCEL_RESERVATION)
        for url in ("/ocpi/emsp/result", "ftp://emsp.example/result", "https://", "result")
    ),
    (CommandType.STOP_SESSION, _with(CommandType.STOP_SESSION, response_url=""), ("response_url",)),
    (
        CommandType.STOP_SESSION,
        _with(CommandType.STOP_SESSION, response_url="https://emsp.example/a b"),
        ("response_url",),
    ),
    (
        CommandType.STOP_SESSION,
        _with(CommandType.STOP_SESSION, response_url="https://e.example/" + "x" * 255),
        ("response_url", "255"),
    ),
    (CommandType.STOP_SESSION, _without(CommandType.STOP_SESSION, "session_id"), ("session_id",)),
    (
        CommandType.STOP_SESSION,
        _with(CommandType.STOP_SESSION, session_id="S" * 37),
        ("session_id", "36"),
    ),
    (
        CommandType.STOP_SESSION,
        _with(CommandType.STOP_SESSION, session_id="S\n1"),
        ("session_id", "printable"),
    ),
    (
        CommandType.RESERVE_NOW,
        _with(CommandType.RESERVE_NOW, expiry_date="tomorrow"),
        ("expiry_date",),
    ),
    (
        CommandType.RESERVE_NOW,
        _with(CommandType.RESERVE_NOW, expiry_date="2026-03-01 13:00:00"),
        ("expiry_date",),
    ),
    (CommandType.RESERVE_NOW, _without(CommandType.RESERVE_NOW, "expiry_date"), ("expiry_date",)),
    (
        CommandType.RESERVE_NOW,
        _without(CommandType.RESERVE_NOW, "reservation_id", "location_id"),
        ("reservation_id", "location_id"),
    ),
    (
        CommandType.RESERVE_NOW,
        _with(CommandType.RESERVE_NOW, token={**TOKEN, "whitelist": "SOMETIMES"}),
        ("token.whitelist",),
    ),
    (CommandType.START_SESSION, _without(CommandType.START_SESSION, "token"), ("token",)),
    (
        CommandType.START_SESSION,
        _with(CommandType.START_SESSION, token={k: v for k, v in TOKEN.items() if k != "uid"}),
        ("token.uid",),
    ),
    (
        CommandType.START_SESSION,
        _with(CommandType.START_SESSION, location_id="L" * 37),
        ("location_id",),
    ),
    (
        CommandType.START_SESSION,
        _without(CommandType.START_SESSION, "evse_uid"),
        ("evse_uid", "connector_id"),
    ),
    (
        CommandType.UNLOCK_CONNECTOR,
        _without(CommandType.UNLOCK_CONNECTOR, "connector_id"),
        ("connector_id",),
    ),
    (
        CommandType.UNLOCK_CONNECTOR,
        _with(CommandType.UNLOCK_CONNECTOR, evse_uid=3256),
        ("evse_uid",),
    ),
    # Another command's object is missing this one's fields.
    (CommandType.START_SESSION, _body(CommandType.STOP_SESSION), ("token", "location_id")),
    (CommandType.CANCEL_RESERVATION, [_body(CommandType.CANCEL_RESERVATION)], ("JSON object",)),
    (CommandType.CANCEL_RESERVATION, "RES-1", ("JSON object",)),
]


@pytest.mark.parametrize(
    ("command", "body", "named"),
    BAD_COMMANDS,
    ids=[f"{command.value}-{index}" for index, (command, _, _) in enumerate(BAD_COMMANDS)],
)
async def test_a_bad_command_body_is_2001_naming_the_field(client, fake, command, body, named):
    response = await client.post(f"{COMMANDS}/{command.value}", json=body, headers=auth())
    _assert_2001(response, *named)
    assert fake.calls == []


@pytest.mark.parametrize("content", [b"", b"  ", b"{not json", b'{"response_url": "x"'])
async def test_an_empty_or_non_json_command_body_is_400_2001(client, fake, content):
    response = await client.post(
        f"{COMMANDS}/STOP_SESSION",
        content=content,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert fake.calls == []


async def test_bad_routing_headers_on_a_command_are_2001(client, fake):
    response = await client.post(
        f"{COMMANDS}/STOP_SESSION",
        json=_body(CommandType.STOP_SESSION),
        headers={**auth(), "OCPI-to-country-code": "NL"},
    )
    _assert_2001(response, "OCPI-to-party-id")
    assert fake.calls == []


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
async def test_commands_take_only_post(client, fake, method):
    response = await client.request(method, f"{COMMANDS}/START_SESSION", headers=auth())
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
    assert "POST" in response.headers["Allow"]
    assert fake.calls == []


# --- Charging profiles: PUT, GET, DELETE ----------------------------------------------------


@pytest.mark.parametrize("result", list(ChargingProfileResponseType))
async def test_put_sets_the_profile_and_answers_the_ports_response(client, fake, result):
    fake.profile_answer = ChargingProfileResponse(result=result, timeout=45)
    body = _profile_body()
    ocpi_openapi.validate_request_body(
        "chargingprofiles", "receiver", "PUT", "/chargingprofiles/{session_id}", body
    )
    response = await client.put(f"{PROFILES}/1234", json=body, headers=auth())
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["status_code"] == 1000
    assert envelope["data"] == {"result": result.value, "timeout": 45}
    ocpi_openapi.validate_response(
        "chargingprofiles", "receiver", "PUT", "/chargingprofiles/{session_id}", 200, envelope
    )
    [(name, session_id, request, receiver)] = fake.calls
    assert (name, session_id, receiver) == ("set", "1234", None)
    assert request == SetChargingProfile.model_validate(body)
    profile = request.charging_profile
    assert profile.charging_rate_unit is ChargingRateUnit.A
    assert profile.start_date_time == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert [(p.start_period, p.limit) for p in profile.charging_profile_period or []] == [
        (0, Decimal("32")),
        (900, Decimal("16.5")),
        (1800, Decimal("0")),
    ]


@pytest.mark.parametrize(
    "profile",
    [
        {"charging_rate_unit": "W"},  # no periods: the host decides what that means
        {"charging_rate_unit": "W", "charging_profile_period": []},
        # The spec does not make the first period start at 0 (OCPP does).
        {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 60, "limit": 1}]},
        {"charging_rate_unit": "A", "duration": 0, "min_charging_rate": 0},
        {
            "charging_rate_unit": "A",
            "charging_profile_period": [{"start_period": 0, "limit": 8.10}],
        },
    ],
)
async def test_put_accepts_every_profile_the_spec_allows(client, fake, profile):
    response = await client.put(
        f"{PROFILES}/S1", json={**_profile_body(), "charging_profile": profile}, headers=auth()
    )
    assert response.json()["status_code"] == 1000
    assert len(fake.calls) == 1


async def test_get_asks_for_the_active_profile_with_the_spec_example(client, fake):
    response = await client.get(SPEC_GET, headers=auth())
    assert response.status_code == 200
    envelope = response.json()
    assert envelope == {
        **envelope,
        "status_code": 1000,
        "data": {"result": "ACCEPTED", "timeout": 60},
    }
    ocpi_openapi.validate_response(
        "chargingprofiles", "receiver", "GET", "/chargingprofiles/{session_id}", 200, envelope
    )
    # The response_url of the example carries its own query: it arrives whole.
    assert fake.calls == [("get", "1234", 900, GET_RESULT_URL, None)]


async def test_get_takes_an_encoded_response_url(client, fake):
    url = "https://emsp.example/result?request_id=5678&kind=active"
    response = await client.get(
        f"{PROFILES}/S1", params={"duration": "0", "response_url": url}, headers=auth()
    )
    assert response.json()["status_code"] == 1000
    assert fake.calls == [("get", "S1", 0, url, None)]


async def test_delete_clears_the_profile_with_the_spec_example(client, fake):
    fake.profile_answer = ChargingProfileResponse(
        result=ChargingProfileResponseType.UNKNOWN_SESSION, timeout=0
    )
    response = await client.delete(SPEC_DELETE, headers=auth())
    assert response.status_code == 200
    envelope = response.json()
    assert envelope["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
    ocpi_openapi.validate_response(
        "chargingprofiles", "receiver", "DELETE", "/chargingprofiles/{session_id}", 200, envelope
    )
    assert fake.calls == [("clear", "1234", "https://www.server.com/example", None)]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"{PROFILES}/S1", PROFILE_BODY),
        ("GET", f"{PROFILES}/S1?duration=60&response_url=https://e.example/r", None),
        ("DELETE", f"{PROFILES}/S1?response_url=https://e.example/r", None),
    ],
)
async def test_profiles_pass_the_addressed_party_and_swap_the_routing_headers(
    client, fake, method, path, body
):
    response = await client.request(method, path, json=body, headers={**auth(), **ROUTED})
    assert response.json()["status_code"] == 1000
    assert fake.calls[0][-1] == PartyRef("NL", "STK")
    assert response.headers["OCPI-to-party-id"] == "TST"
    assert response.headers["OCPI-from-party-id"] == "STK"


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("PUT", "", PROFILE_BODY),
        ("GET", "?duration=60&response_url=https://e.example/r", None),
        ("DELETE", "?response_url=https://e.example/r", None),
    ],
)
@pytest.mark.parametrize("session_id", ["S" * 37, "S%01", "%C3%A9t%C3%A9"])
async def test_an_impossible_session_id_is_an_unknown_session_before_the_port(
    client, fake, method, query, body, session_id
):
    response = await client.request(
        method, f"{PROFILES}/{session_id}{query}", json=body, headers=auth()
    )
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000
    assert response.json()["status_message"].startswith("Unknown session")
    assert fake.calls == []


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("PUT", "", PROFILE_BODY),
        ("GET", "?duration=60&response_url=https://e.example/r", None),
        ("DELETE", "?response_url=https://e.example/r", None),
    ],
)
async def test_a_session_the_port_does_not_know_is_404_in_one_wording(
    client, fake, method, query, body
):
    fake.refuse = UnknownObject("the port's own wording")
    response = await client.request(method, f"{PROFILES}/NOPE{query}", json=body, headers=auth())
    assert response.status_code == 404
    assert response.json()["status_message"] == "Unknown session 'NOPE'"
    assert len(fake.calls) == 1


# --- Charging profiles: refused before the port ---------------------------------------------

GOOD_URL = "response_url=https://e.example/r"


@pytest.mark.parametrize(
    ("query", "named"),
    [
        (f"?{GOOD_URL}", ("duration", "required")),
        (f"?duration=&{GOOD_URL}", ("duration",)),
        (f"?duration=-1&{GOOD_URL}", ("duration", "'-1'")),
        (f"?duration=1.5&{GOOD_URL}", ("duration",)),
        (f"?duration=%2B5&{GOOD_URL}", ("duration", "'+5'")),
        (f"?duration=%205&{GOOD_URL}", ("duration",)),
        (f"?duration=1_000&{GOOD_URL}", ("duration",)),
        (f"?duration=ten&{GOOD_URL}", ("duration",)),
        (f"?duration=%D9%A3&{GOOD_URL}", ("duration",)),  # an Arabic-Indic digit
        (f"?duration=2147483648&{GOOD_URL}", ("duration", "2147483647")),
        (f"?duration=60&duration=-1&{GOOD_URL}", ("duration", "2 times")),
        ("?duration=60", ("response_url", "required")),
        ("?duration=60&response_url=", ("response_url",)),
        ("?duration=60&response_url=/relative/result", ("response_url", "absolute")),
        ("?duration=60&response_url=mailto:emsp@example.com", ("response_url",)),
        ("?duration=60&response_url=https://e.example/" + "x" * 250, ("response_url", "255")),
        ("?duration=60&response_url=https://e.example/%0Ax", ("response_url",)),
        (f"?duration=60&{GOOD_URL}&{GOOD_URL}", ("response_url", "2 times")),
    ],
)
async def test_get_with_bad_parameters_is_2001_naming_them(client, fake, query, named):
    response = await client.get(f"{PROFILES}/S1{query}", headers=auth())
    _assert_2001(response, *named)
    assert fake.calls == []


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("", ("response_url", "required")),
        ("?response_url=ftp://e.example/r", ("response_url", "absolute")),
        (f"?{GOOD_URL}&response_url=https://e.example/s", ("response_url", "2 times")),
    ],
)
async def test_delete_with_bad_parameters_is_2001_naming_them(client, fake, query, named):
    response = await client.delete(f"{PROFILES}/S1{query}", headers=auth())
    _assert_2001(response, *named)
    assert fake.calls == []


def _profile_with(**changes: Any) -> dict[str, Any]:
    body = _profile_body()
    body["charging_profile"].update(changes)
    return body


def _periods(*periods: tuple[Any, Any]) -> dict[str, Any]:
    return _profile_with(
        charging_profile_period=[{"start_period": s, "limit": limit} for s, limit in periods]
    )


_PERIOD = "charging_profile.charging_profile_period"

BAD_PROFILES: list[tuple[Any, tuple[str, ...]]] = [
    (_profile_with(duration=-1), ("charging_profile.duration", "0 or more")),
    (_profile_with(duration=1.5), ("charging_profile.duration", "whole number")),
    (_profile_with(min_charging_rate=-6), ("charging_profile.min_charging_rate", "negative")),
    (_profile_with(min_charging_rate=6.25), ("charging_profile.min_charging_rate", "one decimal")),
    (_profile_with(min_charging_rate="six"), ("charging_profile.min_charging_rate",)),
    (_profile_with(charging_rate_unit="kW"), ("charging_profile.charging_rate_unit",)),
    (_periods((0, -16)), (f"{_PERIOD}[0].limit", "negative")),
    (_periods((0, 16.05)), (f"{_PERIOD}[0].limit", "one decimal")),
    (_periods((0, 16), (600, 0.25)), (f"{_PERIOD}[1].limit", "one decimal")),
    (_periods((-60, 16)), (f"{_PERIOD}[0].start_period", "0 or more")),
    (_periods((0, 16), (0, 8)), (f"{_PERIOD}[1].start_period", "greater", "(0)")),
    (_periods((0, 16), (600, 8), (300, 4)), (f"{_PERIOD}[2].start_period", "(600)")),
    (_periods((0, 16), (1.5, 8)), (f"{_PERIOD}[1].start_period", "whole number")),
    (_periods((0, None)), (f"{_PERIOD}[0].limit",)),
    # Several problems are all named.
    (
        _periods((0, -1), (0, 8.88)),
        (f"{_PERIOD}[0].limit", f"{_PERIOD}[1].start_period", f"{_PERIOD}[1].limit"),
    ),
    ({"charging_profile": PROFILE_BODY["charging_profile"]}, ("response_url", "required")),
    ({**PROFILE_BODY, "response_url": "result/1"}, ("response_url", "absolute")),
    ({"response_url": PROFILE_BODY["response_url"]}, ("charging_profile", "required")),
    ({**PROFILE_BODY, "charging_profile": []}, ("charging_profile",)),
    ([PROFILE_BODY], ("JSON object",)),
]


@pytest.mark.parametrize(
    ("body", "named"), BAD_PROFILES, ids=[str(index) for index in range(len(BAD_PROFILES))]
)
async def test_put_with_a_bad_profile_is_2001_naming_the_field(client, fake, body, named):
    response = await client.put(f"{PROFILES}/S1", json=body, headers=auth())
    _assert_2001(response, *named)
    assert fake.calls == []


@pytest.mark.parametrize("content", [b"", b"{not json"])
async def test_put_with_an_empty_or_non_json_body_is_400_2001(client, fake, content):
    response = await client.put(
        f"{PROFILES}/S1",
        content=content,
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001
    assert fake.calls == []


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_charging_profiles_do_not_offer_post_or_patch(client, fake, method):
    response = await client.request(method, f"{PROFILES}/S1", json={}, headers=auth())
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PUT", "DELETE"}
    assert fake.calls == []
