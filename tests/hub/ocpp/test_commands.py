"""Station calls from the platform: failures are StationCallFailed in words, never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.messages import MessageType

from hub.ocpp.commands import CallFailure, StationCallFailed, call_local, schema_problem
from hub.ocpp.server import StationRegistry
from hub.ocpp.station import StationDisconnected


class ClosedStation:
    version = "1.6"

    async def call(
        self, request: Any, suppress: bool = True, skip_schema_validation: bool = False
    ) -> Any:
        raise StationDisconnected("CS-1")


async def test_a_station_that_disconnected_fails_the_call_in_words():
    registry = StationRegistry()
    registry.attach("CS-1", ClosedStation(), object())  # type: ignore[arg-type]
    with pytest.raises(StationCallFailed, match="closed its connection before Reset was sent"):
        await call_local(registry, "CS-1", "Reset", {"type": "Soft"})


async def test_a_station_this_process_does_not_hold_is_not_connected():
    with pytest.raises(StationCallFailed, match=r"^station CS-1 is not connected$") as failed:
        await call_local(StationRegistry(), "CS-1", "Reset", {"type": "Soft"})
    assert failed.value.kind is CallFailure.NOT_CONNECTED


@pytest.mark.parametrize(
    ("version", "action", "payload", "words"),
    [
        ("1.6", "Reset", {"type": "Soft"}, None),
        ("1.6", "Reset", {"type": "Hardest"}, "type must be one of Hard, Soft"),
        ("1.6", "Reset", {}, "type is required"),
        ("1.6", "Reset", {"type": "Soft", "why": 1}, "the payload has unknown field(s) why"),
        ("1.6", "RemoteStartTransaction", {"idTag": 7}, "idTag must be of type string, not 7"),
        ("1.6", "RemoteStartTransaction", {"idTag": "X" * 21}, "idTag must be at most 20"),
        (
            "2.0.1",
            "RequestStartTransaction",
            {"remoteStartId": 1, "idToken": {"idToken": "A"}},
            "idToken.type is required",
        ),
    ],
)
def test_schema_problems_are_said_in_words(version, action, payload, words):
    problem = schema_problem(MessageType.Call, action, version, payload)
    if words is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(words)
