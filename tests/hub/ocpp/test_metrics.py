"""The OCPP bridge's metrics: CALLs counted by action and timed to their answer, and the
stations a process holds."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY
from uvicorn.protocols.utils import ClientDisconnected

from hub.ocpp.server import StationRegistry
from hub.ocpp.station import StationDisconnected
from tests.hub.ocpp.fakes import station

VERSIONS = ["1.6", "2.0.1"]


def current(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def calls(action: str, version: str) -> float:
    return current("hub_ocpp_messages_total", action=action, version=version)


def answered(version: str) -> float:
    return current("hub_ocpp_message_seconds_count", version=version)


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_call_is_counted_and_timed_once_answered(version):
    handler, connection = station(version)
    before = (calls("Heartbeat", version), calls("unknown", version), answered(version))
    await handler.route_message(json.dumps([2, "h-1", "Heartbeat", {}]))
    await handler.route_message(json.dumps([2, "h-2", "Heartbeat", {}]))
    # An action OCPP does not define is answered (NotImplemented) and counted as "unknown": a
    # station cannot make up label values.
    await handler.route_message(json.dumps([2, "x-1", "MadeUpAction", {}]))
    # Neither an answer nor a malformed frame is a CALL.
    await handler.route_message(json.dumps([3, "nobody-asked", {}]))
    await handler.route_message("not json")
    assert [frame[1] for frame in connection.frames()[:3]] == ["h-1", "h-2", "x-1"]
    assert calls("Heartbeat", version) == before[0] + 2
    assert calls("unknown", version) == before[1] + 1
    assert current("hub_ocpp_messages_total", action="MadeUpAction", version=version) == 0
    assert answered(version) == before[2] + 3


async def test_a_call_whose_answer_cannot_be_sent_is_counted_not_timed():
    handler, connection = station("1.6")
    connection.fail_with = ClientDisconnected()
    before = (calls("Heartbeat", "1.6"), answered("1.6"))
    with pytest.raises(StationDisconnected):
        await handler.route_message(json.dumps([2, "h-1", "Heartbeat", {}]))
    assert calls("Heartbeat", "1.6") == before[0] + 1
    assert answered("1.6") == before[1]


def test_the_registry_counts_the_stations_it_holds():
    registry = StationRegistry()
    first, _ = station("1.6")
    again, _ = station("1.6")
    other, _ = station("2.0.1")
    before = current("hub_ocpp_stations_connected")
    registry.attach("CS-1", first, object())  # type: ignore[arg-type]
    registry.attach("CS-2", other, object())  # type: ignore[arg-type]
    assert current("hub_ocpp_stations_connected") == before + 2
    # CS-1 connects again: its older socket is replaced, not counted twice; the older
    # connection's end changes nothing.
    registry.attach("CS-1", again, object())  # type: ignore[arg-type]
    assert not registry.detach("CS-1", first)
    assert current("hub_ocpp_stations_connected") == before + 2
    assert registry.detach("CS-1", again)
    assert registry.detach("CS-2", other)
    assert current("hub_ocpp_stations_connected") == before
