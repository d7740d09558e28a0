"""A station that closes its socket while we answer it: normal life, logged at INFO."""

from __future__ import annotations

import json
import logging

import pytest
from litestar.exceptions import WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected

from tests.hub.ocpp.fakes import FakeBridge, station

BOOTS = {
    "1.6": {"chargePointVendor": "Acme", "chargePointModel": "M"},
    "2.0.1": {"reason": "PowerUp", "chargingStation": {"vendorName": "Acme", "model": "M"}},
}


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
@pytest.mark.parametrize(
    "failure",
    [ClientDisconnected(), WebSocketDisconnect(detail="gone"), RuntimeError("after close")],
    ids=["uvicorn", "litestar", "runtime"],
)
async def test_a_reply_to_a_closed_socket_ends_the_loop_quietly(version, failure, caplog):
    handler, connection = station(version)
    connection.fail_with = failure
    connection.incoming.put_nowait(json.dumps([2, "b-1", "BootNotification", BOOTS[version]]))
    with caplog.at_level(logging.INFO):
        await handler.start()  # returns: the socket is gone
    assert connection.attempts == 1  # no second (InternalError) answer
    assert handler.bridge.boots  # the message itself was handled
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info]
    [closed] = [r for r in caplog.records if "closed its socket" in r.getMessage()]
    assert closed.levelno == logging.INFO
    assert closed.getMessage().startswith("station CS-T closed its socket")


async def test_a_closed_socket_while_answering_a_bad_frame_is_quiet_too(caplog):
    handler, connection = station("1.6")
    connection.fail_with = ClientDisconnected()
    connection.incoming.put_nowait("not json")
    with caplog.at_level(logging.INFO):
        await handler.start()
    assert connection.attempts == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


class SlowDatabaseBridge(FakeBridge):
    """Its first sign of life cannot be recorded (the pool timed out), the next ones can."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def seen(self, station_id: str) -> None:
        if self.failures:
            self.failures -= 1
            raise TimeoutError("QueuePool limit reached, connection timed out")


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_database_failure_before_the_handler_is_an_internal_error_not_a_closed_socket(
    version, caplog
):
    bridge = SlowDatabaseBridge()
    handler, connection = station(version, bridge=bridge)
    connection.incoming.put_nowait(json.dumps([2, "b-1", "BootNotification", BOOTS[version]]))
    connection.incoming.put_nowait(json.dumps([2, "b-2", "BootNotification", BOOTS[version]]))
    connection.incoming.put_nowait(WebSocketDisconnect(detail="done"))
    with pytest.raises(WebSocketDisconnect):
        await handler.start()  # the loop went on to the station's next frame
    first, second = connection.frames()
    assert first[:3] == [4, "b-1", "InternalError"]
    assert second[:2] == [3, "b-2"]
    assert len(bridge.boots) == 1
    assert "QueuePool limit reached" in caplog.text
