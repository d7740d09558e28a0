"""Commands and ChargingProfiles objects against the official schemas, and their round trip.

The 2.2.1-d2 spec has no JSON examples for these two modules (none in ``examples/``, none in
the chapters; the errata branch adds none), so each object is written here with every field of
its spec table. Each must parse, come back from ``to_wire()`` as the same JSON document (compared
as in ``test_models_examples``), and pass the official schema in ``strict`` mode; what the CPO
sends (responses, results, the ActiveChargingProfile PUT) must also pass the official operation
that receives it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from ocpi.types import OcpiModel
from ocpi.v221.enums import (
    ChargingProfileResponseType,
    ChargingProfileResultType,
    CommandResponseType,
    CommandResultType,
)
from ocpi.v221.models.charging_profiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResponse,
    ChargingProfileResult,
    ClearProfileResult,
    SetChargingProfile,
)
from ocpi.v221.models.commands import CommandResponse, CommandResult
from tests.ocpi.test_models_examples import _json, _normalize
from tests.ocpi.test_server_commands_profiles import BODIES, MODELS, PROFILE_BODY
from tests.support import ocpi_openapi

ACTIVE_PROFILE: dict[str, Any] = {
    "start_date_time": "2026-03-01T12:05:00Z",
    "charging_profile": {
        "start_date_time": "2026-03-01T12:05:00Z",
        "duration": 900,
        "charging_rate_unit": "W",
        "min_charging_rate": 1380.5,
        "charging_profile_period": [
            {"start_period": 0, "limit": 11000},
            {"start_period": 300, "limit": 7400.5},
        ],
    },
}

# (model, official schema name, the object)
OBJECTS: list[tuple[type[OcpiModel], str, dict[str, Any]]] = [
    *((MODELS[command], MODELS[command].__name__, body) for command, body in BODIES.items()),
    (
        CommandResponse,
        "CommandResponse",
        {
            "result": "ACCEPTED",
            "timeout": 30,
            "message": [{"language": "en", "text": "Sent to the Charge Point"}],
        },
    ),
    (CommandResult, "CommandResult", {"result": "EVSE_OCCUPIED"}),
    (
        CommandResult,
        "CommandResult",
        {"result": "CANCELED_RESERVATION", "message": [{"language": "nl", "text": "Defect"}]},
    ),
    (SetChargingProfile, "SetChargingProfile", PROFILE_BODY),
    (
        SetChargingProfile,
        "SetChargingProfile",
        {"charging_profile": {"charging_rate_unit": "A"}, "response_url": "https://e.example/r"},
    ),
    (ActiveChargingProfile, "ActiveChargingProfile", ACTIVE_PROFILE),
    (ChargingProfileResponse, "ChargingProfileResponse", {"result": "TOO_OFTEN", "timeout": 0}),
    (
        ActiveChargingProfileResult,
        "ActiveChargingProfileResult",
        {"result": "ACCEPTED", "profile": ACTIVE_PROFILE},
    ),
    (ActiveChargingProfileResult, "ActiveChargingProfileResult", {"result": "UNKNOWN"}),
    (ChargingProfileResult, "ChargingProfileResult", {"result": "REJECTED"}),
    (ClearProfileResult, "ClearProfileResult", {"result": "ACCEPTED"}),
]


@pytest.mark.parametrize(
    ("model", "name", "payload"),
    OBJECTS,
    ids=[f"{name}-{index}" for index, (_, name, _) in enumerate(OBJECTS)],
)
def test_objects_round_trip_and_match_the_official_schema(model, name, payload):
    ocpi_openapi.validate(name, payload, strict=True)
    parsed = model.model_validate_json(json.dumps(payload))
    wire = json.loads(json.dumps(parsed.to_wire()))
    assert _normalize(_json(json.dumps(wire))) == _normalize(_json(json.dumps(payload)))
    ocpi_openapi.validate(name, wire, strict=True)


@pytest.mark.parametrize(
    "result",
    [
        CommandResult(result=result)
        for result in CommandResultType  # every result the CPO can POST to response_url
    ],
)
def test_every_command_result_is_what_the_emsps_sender_interface_takes(result):
    ocpi_openapi.validate_request_body(
        "commands", "sender", "POST", "/commands/{command}/{uid}", result.to_wire()
    )


@pytest.mark.parametrize(
    "result",
    [
        *(ChargingProfileResult(result=result) for result in ChargingProfileResultType),
        *(ClearProfileResult(result=result) for result in ChargingProfileResultType),
        ActiveChargingProfileResult.model_validate(
            {"result": "ACCEPTED", "profile": ACTIVE_PROFILE}
        ),
    ],
)
def test_charging_profile_results_and_the_official_sender_post(result):
    # The official file's body is oneOf ActiveChargingProfileResult, ChargingProfileResult,
    # ClearProfileResult. The last two are the same object ({result}) and the first takes it
    # too (profile is optional), so every body matches two or three of them and no body can
    # pass: a defect of the official file (anyOf was meant). Each result passes its own schema.
    with pytest.raises(ocpi_openapi.SchemaViolation) as violation:
        ocpi_openapi.validate_request_body(
            "chargingprofiles", "sender", "POST", "/chargingprofiles/result/{uid}", result.to_wire()
        )
    assert violation.value.paths == {"$"}
    assert "oneOf" in str(violation.value)
    ocpi_openapi.validate(type(result).__name__, result.to_wire(), strict=True)


def test_the_active_charging_profile_put_is_what_the_senders_interface_takes():
    profile = ActiveChargingProfile.model_validate(ACTIVE_PROFILE)
    ocpi_openapi.validate_request_body(
        "chargingprofiles", "sender", "PUT", "/chargingprofiles/{session_id}", profile.to_wire()
    )


@pytest.mark.parametrize(
    ("model", "enum"),
    [
        (CommandResponse, CommandResponseType),
        (ChargingProfileResponse, ChargingProfileResponseType),
    ],
)
def test_every_response_value_is_official(model, enum):
    for value in enum:
        wire = model.model_validate({"result": value.value, "timeout": 10}).to_wire()
        ocpi_openapi.validate(model.__name__, wire, strict=True)


@pytest.mark.parametrize(
    ("model", "payload", "field"),
    [
        (CommandResponse, {"result": "ACCEPTED"}, "timeout"),
        (CommandResponse, {"result": "MAYBE", "timeout": 1}, "result"),
        (CommandResult, {"result": "OK"}, "result"),
        (ChargingProfileResponse, {"result": "ACCEPTED", "timeout": "soon"}, "timeout"),
        (
            ActiveChargingProfile,
            {"charging_profile": {"charging_rate_unit": "W"}},
            "start_date_time",
        ),
    ],
)
def test_broken_objects_are_refused_by_our_models_and_the_official_schema(model, payload, field):
    with pytest.raises(ValidationError) as exc_info:
        model.model_validate(payload)
    assert field in {str(error["loc"][0]) for error in exc_info.value.errors()}
    with pytest.raises(ocpi_openapi.SchemaViolation) as violation:
        ocpi_openapi.validate(model.__name__, payload)
    assert violation.value.paths == {f"$.{field}"}
