"""A CSMS of the test's own on 127.0.0.1, raw frames over ``websockets`` (no hub, no database):
it answers every CALL of a simulated station as a CSMS that accepts everything would, records
each frame in arrival order, and sends the station the calls the test makes. Tests of the
simulated chargers' OCPP behaviour read what the station sent from it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

WAIT_SECONDS = 10.0


@dataclass
class FakeCsms:
    log: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    """Every frame in arrival order: ("call", action, payload) from the station, or
    ("answer", action, payload) of a call the test made."""
    socket: ServerConnection | None = None
    url: str = ""
    _connected: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: dict[str, tuple[str, asyncio.Future[dict[str, Any]]]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _transactions: itertools.count[int] = field(default_factory=lambda: itertools.count(101))

    def calls(self, action: str) -> list[dict[str, Any]]:
        """The payloads of the station's ``action`` CALLs, oldest first."""
        return [payload for kind, name, payload in self.log if kind == "call" and name == action]

    def statuses(self, ocpp_id: int) -> list[str]:
        """The statuses the station reported for one connector (1.6) or EVSE (2.0.1)."""
        return [
            p.get("status") or p.get("connectorStatus", "")
            for p in self.calls("StatusNotification")
            if p.get("connectorId" if "status" in p else "evseId") == ocpp_id
        ]

    def position(self, kind: str, action: str, nth: int = 0) -> int:
        """Where the ``nth`` frame of that kind and action is in ``log``."""
        places = [i for i, (k, a, _) in enumerate(self.log) if (k, a) == (kind, action)]
        return places[nth]

    async def until(
        self,
        action: str,
        test: Callable[[dict[str, Any]], bool] = lambda _: True,
        count: int = 1,
    ) -> list[dict[str, Any]]:
        """Wait until the station sent ``count`` ``action`` CALLs passing ``test``."""
        async with asyncio.timeout(WAIT_SECONDS):
            while len(found := [p for p in self.calls(action) if test(p)]) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return found

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send the station a CALL and return its CALLRESULT payload."""
        await asyncio.wait_for(self._connected.wait(), WAIT_SECONDS)
        assert self.socket is not None
        unique_id = f"csms-{next(self._ids)}"
        answered: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[unique_id] = (action, answered)
        await self.socket.send(json.dumps([2, unique_id, action, payload]))
        return await asyncio.wait_for(answered, WAIT_SECONDS)

    async def _serve(self, socket: ServerConnection) -> None:
        self.socket = socket
        self._connected.set()
        async for message in socket:
            frame = json.loads(message)
            if frame[0] == 2:
                _, unique_id, action, payload = frame
                self.log.append(("call", action, payload))
                await socket.send(json.dumps([3, unique_id, self._answer(action, payload)]))
            elif frame[1] in self._pending:
                action, answered = self._pending.pop(frame[1])
                payload = frame[2] if frame[0] == 3 else {"error": frame[2:]}
                self.log.append(("answer", action, payload))
                answered.set_result(payload)
            self._arrived.set()

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        accepted = {"status": "Accepted"}
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": now, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": now}
        if action == "StartTransaction":
            return {"transactionId": next(self._transactions), "idTagInfo": accepted}
        if action == "StopTransaction":
            return {"idTagInfo": accepted}
        if action == "TransactionEvent" and payload.get("eventType") == "Started":
            return {"idTokenInfo": accepted}
        return {}


@contextlib.asynccontextmanager
async def fake_csms() -> AsyncIterator[FakeCsms]:
    csms = FakeCsms()
    async with serve(
        csms._serve,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")],
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        csms.url = f"ws://127.0.0.1:{port}/ocpp"
        yield csms


class SteppedTime:
    """Time that moves only when the test moves it (:meth:`advance`): whatever sleeps waits
    for the next move, then looks at the time again."""

    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.elapsed = 0.0
        self._moved = asyncio.Event()

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return self.wall + timedelta(seconds=self.elapsed)

    async def sleep(self, _seconds: float) -> None:
        await self._moved.wait()

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
