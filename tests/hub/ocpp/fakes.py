"""In-memory stand-ins for the socket, the bridge and the clock of an OCPP station handler."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from hub.config import OcppSettings
from hub.ocpp.station import StationMixin
from hub.ocpp.v16 import StationV16
from hub.ocpp.v201 import StationV201


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeConnection:
    """Frames the station handler sends are kept; ``fail_with`` makes ``send`` raise."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.attempts = 0
        self.fail_with: BaseException | None = None
        self.incoming: asyncio.Queue[str | BaseException] = asyncio.Queue()
        self.sent_event = asyncio.Event()

    async def recv(self) -> str:
        item = await self.incoming.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def send(self, message: str) -> None:
        self.attempts += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
        self.sent_event.set()

    def frames(self) -> list[list[Any]]:
        return [json.loads(text) for text in self.sent]


@dataclass
class FakeBridge:
    settings: OcppSettings = field(default_factory=OcppSettings)
    boots: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    authorizer: Any = None

    async def seen(self, station_id: str) -> None:
        return None

    async def booted(self, station_id: str, **info: Any) -> None:
        self.boots.append({"station_id": station_id, **info})

    async def connector_status(self, station_id: str, **status: Any) -> Any:
        self.statuses.append({"station_id": station_id, **status})


def station(
    version: str,
    *,
    bridge: Any = None,
    clock: FakeClock | None = None,
    settings: OcppSettings | None = None,
) -> tuple[StationMixin, FakeConnection]:
    connection = FakeConnection()
    bridge = bridge or FakeBridge(settings or OcppSettings())
    station_class = StationV16 if version == "1.6" else StationV201
    handler = station_class("CS-T", connection, bridge, timeout=5, clock=clock or FakeClock())
    return handler, connection
