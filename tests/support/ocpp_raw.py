"""A raw OCPP-J client for tests: plain JSON frames over ``websockets``, no ``ocpp`` package.

Tests send exactly the frames they want (malformed ones included) and read what the CSMS
answers, so the hub is checked against the wire format itself.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

_ids = itertools.count(1)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class RawStation:
    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.calls_received: list[list[Any]] = []

    @classmethod
    async def connect(
        cls,
        url: str,
        station_id: str,
        password: str,
        subprotocols: list[str],
        user: str | None = None,
    ) -> RawStation:
        socket = await connect(
            f"{url}/ocpp/{station_id}",
            subprotocols=[Subprotocol(s) for s in subprotocols] or None,
            additional_headers=basic(user or station_id, password),
            open_timeout=10,
        )
        return cls(socket)

    @property
    def subprotocol(self) -> str | None:
        return self.socket.subprotocol

    async def send_raw(self, text: str) -> list[Any]:
        await self.socket.send(text)
        return await self.receive_answer()

    async def receive_answer(self) -> list[Any]:
        """The next CALLRESULT/CALLERROR; CALLs from the CSMS are kept for the test."""
        while True:
            frame = json.loads(await asyncio.wait_for(self.socket.recv(), 10))
            if frame[0] == 2:
                self.calls_received.append(frame)
                continue
            return frame

    async def call(self, action: str, payload: dict[str, Any]) -> list[Any]:
        unique_id = f"m{next(_ids)}"
        return await self.send_raw(json.dumps([2, unique_id, action, payload]))

    async def next_call(self) -> list[Any]:
        """The next CALL from the CSMS, unanswered: one that came while this station waited
        for an answer of its own (kept in ``calls_received``), else the next to come."""
        if self.calls_received:
            return self.calls_received.pop(0)
        frame = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
        assert frame[0] == 2, frame
        return list(frame)

    async def answer_next_call(self, payload: dict[str, Any]) -> list[Any]:
        """Answer the next CALL from the CSMS (``next_call``) with ``payload``."""
        frame = await self.next_call()
        await self.socket.send(json.dumps([3, frame[1], payload]))
        return frame

    async def close(self) -> None:
        await self.socket.close()
