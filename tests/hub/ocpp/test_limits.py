"""What one station can cost us: frame size, log volume, warning rate (clock injected)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from ocpp.v16 import call as call16

from hub.config import OcppSettings
from hub.ocpp.throttle import LogThrottle
from tests.hub.ocpp.fakes import FakeClock, station

VERSIONS = ["1.6", "2.0.1"]
RPC = {"1.6": "FormationViolation", "2.0.1": "RpcFrameworkError"}


class EndOfTest(Exception):
    pass


def test_the_throttle_admits_one_line_per_interval_and_counts_the_rest():
    clock = FakeClock()
    throttle = LogThrottle(60, clock)
    assert throttle.admit("a") == 0
    assert [throttle.admit("a") for _ in range(5)] == [None] * 5
    assert throttle.admit("b") == 0  # keys are independent
    clock.advance(59.9)
    assert throttle.admit("a") is None
    clock.advance(0.1)
    assert throttle.admit("a") == 6
    assert throttle.admit("a") is None
    clock.advance(600)
    assert throttle.admit("a") == 1


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize("version", VERSIONS)
async def test_repeated_warnings_of_a_station_are_muted_for_the_interval(version, caplog):
    clock = FakeClock()
    handler, connection = station(version, clock=clock)
    with caplog.at_level(logging.WARNING, logger="hub.ocpp.station"):
        for _ in range(1_000):
            await handler.route_message("not json")
        for _ in range(10):
            await handler.route_message(json.dumps([2, "c", "MakeCoffee", {}]))
        assert len(connection.sent) == 1_010  # every CALL is still answered
        lines = warnings_of(caplog)
        assert len(lines) == 2
        assert "malformed frame" in lines[0]
        assert "MakeCoffee" in lines[1]
        caplog.clear()
        clock.advance(59)
        await handler.route_message("not json")
        assert warnings_of(caplog) == []
        clock.advance(1)
        await handler.route_message("not json")
        [line] = warnings_of(caplog)
    assert line.startswith("station CS-T: malformed frame answered with")
    assert line.endswith("(1000 similar warnings muted before this one)")


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_frame_above_the_limit_is_refused_unparsed(version, caplog):
    settings = OcppSettings(max_frame_bytes=1024)
    handler, connection = station(version, settings=settings)
    with caplog.at_level(logging.WARNING):
        # Not even valid JSON after its head: never parsed.
        await handler.route_message('[2,"big-1","DataTransfer",{"data":"' + "d" * 2000)
        # 400 characters, 1,200 bytes in UTF-8.
        euro = json.dumps([2, "big-2", "DataTransfer", {"vendorId": "€" * 400}], ensure_ascii=False)
        assert len(euro) < 1024 < len(euro.encode())
        await handler.route_message(euro)
        await handler.route_message("x" * 5000)
        fits = json.dumps([2, "ok-1", "DataTransfer", {"vendorId": "v", "data": "d" * 900}])
        await handler.route_message(fits)
    frames = connection.frames()
    assert [f[:3] for f in frames[:3]] == [
        [4, "big-1", RPC[version]],
        [4, "big-2", RPC[version]],
        [4, "-1", RPC[version]],
    ]
    assert "exceeds the limit of 1024 bytes" in frames[0][3]
    assert frames[3][:2] == [3, "ok-1"]
    assert all(len(r.getMessage()) < 1000 for r in caplog.records)


async def test_an_answer_above_the_limit_fails_our_call_at_once():
    handler, connection = station("1.6", settings=OcppSettings(max_frame_bytes=1024))
    task = asyncio.create_task(handler.call(call16.GetConfiguration(), suppress=False))
    await connection.sent_event.wait()
    [[_, unique_id, _, _]] = connection.frames()
    await handler.route_message(json.dumps([3, unique_id, {"configurationKey": ["k" * 2000]}]))
    with pytest.raises(Exception, match="exceeds the limit") as raised:
        await task
    assert getattr(raised.value, "code", None) == "GenericError"
    assert handler._pending == {}
    assert len(connection.sent) == 1  # an answer is never answered


@pytest.mark.parametrize("version", VERSIONS)
async def test_frames_are_logged_cut_to_the_configured_length(version, caplog):
    handler, connection = station(version, settings=OcppSettings(log_frame_chars=100))
    big = json.dumps([2, "d-1", "DataTransfer", {"vendorId": "v", "data": "d" * 50_000}])
    connection.incoming.put_nowait(big)
    connection.incoming.put_nowait(json.dumps([2, "m-1", "MakeCoffee", {"x": "y" * 50_000}]))
    connection.incoming.put_nowait("z" * 50_000)
    connection.incoming.put_nowait(EndOfTest())
    with caplog.at_level(logging.INFO), pytest.raises(EndOfTest):
        await handler.start()
    assert len(connection.sent) == 3
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.endswith(f"... ({len(big)} characters)") for m in messages)
    assert max(len(m) for m in messages) < 400, max(messages, key=len)
