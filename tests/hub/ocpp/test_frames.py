"""OCPP-J framing rules: what a frame must look like, and the CallError when it does not."""

from __future__ import annotations

import json
import logging

import pytest
from ocpp.messages import Call

from hub.config import OcppSettings
from hub.ocpp.frames import MAX_NESTING, FrameError, nesting, parse_frame, read_head
from tests.hub.ocpp.fakes import station

VERSIONS = ["1.6", "2.0.1"]
RPC = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError"}


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_nesting_is_measured_without_recursion():
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    assert nesting(deep) == 50_001
    assert nesting({"a": [1, {"b": []}], "c": 2}) == 4
    assert nesting("text") == 0


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("levels", [MAX_NESTING, 1_000, 100_000])
def test_deeply_nested_frames_are_frame_errors(version, levels):
    with pytest.raises(FrameError) as refused:
        parse_frame(f'[2,"d-1","DataTransfer",{{"vendorId":"x","data":{nested(levels)}}}]', version)
    assert refused.value.code == RPC[version]
    assert refused.value.unique_id == "d-1"
    assert refused.value.answerable
    assert str(MAX_NESTING) in refused.value.description


def test_the_deepest_accepted_nesting():
    # The frame, the payload, and MAX_NESTING - 2 levels inside the payload.
    frame = f'[2,"d-1","DataTransfer",{{"data":{nested(MAX_NESTING - 2)}}}]'
    assert isinstance(parse_frame(frame, "2.0.1"), Call)


@pytest.mark.parametrize(
    ("raw", "head"),
    [
        ('[2,"abc",' + "[" * 10, (2, "abc")),
        (' [ 3 , "x-1" , {', (3, "x-1")),
        ("[2,12345,", (None, "-1")),
        ('[2,"' + "a" * 37 + '"', (None, "-1")),
        ("garbage", (None, "-1")),
    ],
)
def test_the_head_of_an_unparseable_frame(raw, head):
    assert read_head(raw) == head


def test_an_unparseable_answer_is_not_answered():
    with pytest.raises(FrameError) as refused:
        parse_frame('[3,"r-1",' + nested(5000) + "]", "1.6")
    assert not refused.value.answerable


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_sending_a_100000_level_frame_gets_a_call_error_and_stays(version, caplog):
    # 200 KB: above the default frame limit, which would refuse it before any parsing.
    handler, connection = station(version, settings=OcppSettings(max_frame_bytes=1024 * 1024))
    with caplog.at_level(logging.WARNING, logger="hub.ocpp.station"):
        await handler.route_message(nested(100_000))
        await handler.route_message(f'[2,"d-2","Heartbeat",{nested(100_000)}]')
        await handler.route_message(json.dumps([2, "h-1", "Heartbeat", {}]))
    frames = connection.frames()
    assert [f[:3] for f in frames[:2]] == [[4, "-1", RPC[version]], [4, "d-2", RPC[version]]]
    assert frames[2][:2] == [3, "h-1"]
    assert any("nested deeper" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("bad_id", [12345, None, "x" * 37, "x" * 40, ["a"], {"id": "a"}, 1.5, True])
def test_a_message_id_is_a_string_of_at_most_36_characters(version, bad_id):
    with pytest.raises(FrameError) as refused:
        parse_frame(json.dumps([2, bad_id, "Heartbeat", {}]), version)
    assert (refused.value.code, refused.value.unique_id) == (RPC[version], "-1")
    assert "36" in refused.value.description


@pytest.mark.parametrize("good_id", ["", "1", "y" * 36, "6c1b8d1e-6d3f-4b55-9c1a-0a6a1f1e2b3c"])
def test_message_ids_that_are_fine(good_id):
    assert parse_frame(json.dumps([2, good_id, "Heartbeat", {}]), "1.6").unique_id == good_id


@pytest.mark.parametrize(
    ("frame", "answerable"),
    [
        ([2], True),
        ([2, "a", "Heartbeat"], True),
        ([2, "a", "Heartbeat", {}, "extra"], True),
        ([2, "a", 7, {}], True),
        ([2, "a", "", {}], True),
        (["2", "a", "Heartbeat", {}], True),
        ([True, "a", "Heartbeat", {}], True),
        ([3, "a"], False),
        ([3, 17, {}], False),
        ([4, "a", "GenericError", "x"], False),
    ],
)
@pytest.mark.parametrize("version", VERSIONS)
def test_frames_of_the_wrong_shape(version, frame, answerable):
    with pytest.raises(FrameError) as refused:
        parse_frame(json.dumps(frame), version)
    assert refused.value.code == RPC[version]
    assert refused.value.answerable is answerable


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_numeric_id_is_not_echoed(version):
    handler, connection = station(version)
    await handler.route_message(json.dumps([2, 12345, "Heartbeat", {}]))
    await handler.route_message(json.dumps([3, 12345, {}]))  # an answer: not answered
    await handler.route_message(json.dumps([2, "ok", "Heartbeat", {}]))
    frames = connection.frames()
    assert [f[:3] for f in frames[:1]] == [[4, "-1", RPC[version]]]
    assert frames[1][:2] == [3, "ok"]
    assert len(frames) == 2


def test_a_null_payload_is_an_empty_payload_on_ocpp16():
    call = parse_frame('[2,"n-1","Heartbeat",null]', "1.6")
    assert isinstance(call, Call)
    assert call.payload == {}
    assert parse_frame('[3,"n-2",null]', "1.6").payload == {}


@pytest.mark.parametrize(
    ("raw", "version", "code"),
    [
        ('[2,"n-1","Heartbeat",null]', "2.0.1", "FormatViolation"),
        ('[2,"n-1","Heartbeat",[]]', "2.0.1", "FormatViolation"),
        ('[2,"n-1","Heartbeat",[]]', "1.6", "FormationViolation"),
        ('[2,"n-1","Heartbeat","x"]', "1.6", "FormationViolation"),
    ],
)
def test_a_payload_is_an_object(raw, version, code):
    with pytest.raises(FrameError) as refused:
        parse_frame(raw, version)
    assert (refused.value.code, refused.value.unique_id) == (code, "n-1")


@pytest.mark.parametrize(
    ("raw", "version", "code", "unique_id"),
    [
        ('[7,"t-1","Heartbeat",{}]', "2.0.1", "MessageTypeNotSupported", "t-1"),
        ('[6,"t-1"]', "2.0.1", "MessageTypeNotSupported", "t-1"),
        ("[5]", "2.0.1", "MessageTypeNotSupported", "-1"),
        ('["2","t-1","Heartbeat",{}]', "2.0.1", "RpcFrameworkError", "t-1"),
        ('[7,"t-1","Heartbeat",{}]', "1.6", "FormationViolation", "t-1"),
    ],
)
def test_unknown_message_types(raw, version, code, unique_id):
    with pytest.raises(FrameError) as refused:
        parse_frame(raw, version)
    assert (refused.value.code, refused.value.unique_id) == (code, unique_id)
    assert refused.value.answerable


STATUS = {
    "1.6": {"connectorId": 1, "errorCode": "NoError", "status": "Exploded"},
    "2.0.1": {
        "timestamp": "2026-11-24T10:00:00Z",
        "connectorStatus": "Exploded",
        "evseId": 1,
        "connectorId": 1,
    },
}


@pytest.mark.parametrize("version", VERSIONS)
async def test_an_invalid_enum_value_is_a_property_constraint_violation(version):
    handler, connection = station(version)
    await handler.route_message(json.dumps([2, "s-1", "StatusNotification", STATUS[version]]))
    [answer] = connection.frames()
    assert answer[:3] == [4, "s-1", "PropertyConstraintViolation"]
    assert "Exploded" in answer[3]
    assert handler.bridge.statuses == []


@pytest.mark.parametrize(
    ("version", "action", "payload", "code"),
    [
        # Other schema violations keep their codes (spelled as each version spells them).
        ("1.6", "Heartbeat", {"unexpected": 1}, "FormationViolation"),
        ("2.0.1", "Heartbeat", {"unexpected": 1}, "FormatViolation"),
        (
            "1.6",
            "BootNotification",
            {"chargePointVendor": 1, "chargePointModel": "M"},
            "TypeConstraintViolation",
        ),
        (
            "2.0.1",
            "NotifyEvent",
            {"generatedAt": "2026-11-24T10:00:00Z", "seqNo": 0, "eventData": []},
            "OccurrenceConstraintViolation",
        ),
        (
            "1.6",
            "MeterValues",
            {"connectorId": 1, "meterValue": []},
            "OccurenceConstraintViolation",
        ),
        (
            "2.0.1",
            "NotifyEVChargingNeeds",
            {
                "evseId": 1,
                "chargingNeeds": {
                    "requestedEnergyTransfer": "DC",
                    "dcChargingParameters": {
                        "evMaxCurrent": 100,
                        "evMaxVoltage": 400,
                        "stateOfCharge": 101,
                    },
                },
            },
            "PropertyConstraintViolation",
        ),
    ],
)
async def test_schema_violations_get_the_spec_code(version, action, payload, code):
    handler, connection = station(version)
    await handler.route_message(json.dumps([2, "v-1", action, payload]))
    [answer] = connection.frames()
    assert answer[:3] == [4, "v-1", code]
