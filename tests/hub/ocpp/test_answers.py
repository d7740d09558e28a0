"""Answers (CALLRESULT/CALLERROR) from a station: matched to our calls by id, the rest dropped."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import tracemalloc

import pytest
from ocpp.v16 import call as call16

from tests.hub.ocpp.fakes import station

VERSIONS = ["1.6", "2.0.1"]


def unsolicited(i: int, blob: str) -> str:
    if i % 2:
        return json.dumps([3, f"u-{i}", {"data": blob}])
    return json.dumps([4, f"u-{i}", "GenericError", "nope", {"blob": blob}])


@pytest.mark.parametrize("version", VERSIONS)
async def test_unsolicited_answers_are_dropped_and_retain_no_memory(version, caplog):
    handler, connection = station(version)
    blob = "x" * 10_000
    for i in range(100):  # warm-up: caches, the logging machinery
        await handler.route_message(unsolicited(i, blob))
    gc.collect()
    caplog.clear()
    # Only what was allocated by this test or under the handler counts: the process traced is
    # shared with other threads (the fixture dropping an earlier test's database, say), whose
    # memory is not the handler's.
    tracemalloc.start(16)
    try:
        before = tracemalloc.take_snapshot()
        with caplog.at_level(logging.WARNING, logger="hub.ocpp.station"):
            for i in range(5_000):
                await handler.route_message(unsolicited(i, blob))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    under_the_handler = [
        tracemalloc.Filter(True, "*/hub/ocpp/*", all_frames=True),
        tracemalloc.Filter(True, __file__, all_frames=True),  # the frames themselves
    ]
    growth = sum(
        stat.size_diff
        for stat in after.filter_traces(under_the_handler).compare_to(
            before.filter_traces(under_the_handler), "filename"
        )
    )
    # 5,000 frames of 10 KB: 50 MB if anything kept them (the e2e test floods 20,000 and
    # measures the hub's RSS).
    assert growth < 256 * 1024, f"{growth} bytes retained"
    assert handler._pending == {}
    assert handler._response_queue.qsize() == 0  # type: ignore[attr-defined]
    assert connection.sent == []  # an answer is never answered
    # Muted for the interval: the warm-up's warning was the only one.
    assert [r for r in caplog.records if "answers no outstanding call" in r.message] == []


async def test_the_answer_to_our_call_reaches_the_caller_and_a_duplicate_is_dropped(caplog):
    handler, connection = station("1.6")
    task = asyncio.create_task(handler.call(call16.Heartbeat(), suppress=False))
    await connection.sent_event.wait()
    [[message_type, unique_id, action, payload]] = connection.frames()
    assert (message_type, action, payload) == (2, "Heartbeat", {})
    assert list(handler._pending) == [unique_id]
    await handler.route_message(json.dumps([3, "someone-else", {"currentTime": "x"}]))
    assert not task.done()
    answer = [3, unique_id, {"currentTime": "2026-11-24T10:00:00Z"}]
    await handler.route_message(json.dumps(answer))
    result = await task
    assert result.current_time == "2026-11-24T10:00:00Z"
    assert handler._pending == {}
    with caplog.at_level(logging.WARNING, logger="hub.ocpp.station"):
        await handler.route_message(json.dumps(answer))
    assert handler._response_queue.qsize() == 0  # type: ignore[attr-defined]
    assert handler._pending == {}


async def test_an_answer_after_the_timeout_is_dropped():
    handler, connection = station("1.6")
    handler._response_timeout = 0.01  # type: ignore[attr-defined]
    with pytest.raises(TimeoutError):
        await handler.call(call16.Heartbeat(), suppress=False)
    [[_, unique_id, _, _]] = connection.frames()
    await handler.route_message(json.dumps([3, unique_id, {"currentTime": "late"}]))
    assert handler._pending == {}
    assert handler._response_queue.qsize() == 0  # type: ignore[attr-defined]


async def test_a_call_error_answer_raises_in_the_caller():
    handler, connection = station("1.6")
    task = asyncio.create_task(handler.call(call16.Heartbeat(), suppress=False))
    await connection.sent_event.wait()
    [[_, unique_id, _, _]] = connection.frames()
    await handler.route_message(json.dumps([4, unique_id, "NotSupported", "no", {}]))
    with pytest.raises(Exception, match="no") as raised:
        await task
    assert getattr(raised.value, "code", None) == "NotSupported"
