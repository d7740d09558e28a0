"""The CSMS websocket endpoint ``/ocpp/{charging_station_id}`` and the stations it holds.

Handshake (OCPP-J; security profile 1): the station must be known, present HTTP Basic
credentials whose user is its identity, and offer a subprotocol we speak (``ocpp2.0.1`` or
``ocpp1.6``; the station's order of preference wins). Anything else is refused before the
websocket is accepted (the client sees HTTP 403).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from typing import Any

from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler
from litestar.params import FromPath

from hub.domain.stations import OcppVersion
from hub.ocpp.bridge import Bridge
from hub.ocpp.station import StationMixin
from hub.ocpp.v16 import StationV16
from hub.ocpp.v201 import StationV201

logger = logging.getLogger(__name__)

POLICY_VIOLATION = 1008


class StationNotConnected(Exception):
    """No socket to the station in this process."""


class SocketConnection:
    """The ``recv``/``send`` pair the ``ocpp`` package expects, over a Litestar WebSocket."""

    def __init__(self, socket: WebSocket[Any, Any, Any]) -> None:
        self.socket = socket

    async def recv(self) -> str:
        return await self.socket.receive_text()

    async def send(self, message: str) -> None:
        await self.socket.send_text(message)


class StationRegistry:
    """The stations whose socket this process holds."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[StationMixin, WebSocket[Any, Any, Any]]] = {}

    def __contains__(self, station_id: str) -> bool:
        return station_id in self._held

    def __len__(self) -> int:
        return len(self._held)

    def attach(
        self, station_id: str, station: StationMixin, socket: WebSocket[Any, Any, Any]
    ) -> WebSocket[Any, Any, Any] | None:
        """Hold ``station``; returns the socket of an older connection of it, to be closed."""
        previous = self._held.get(station_id)
        self._held[station_id] = (station, socket)
        return previous[1] if previous else None

    def detach(self, station_id: str, station: StationMixin) -> bool:
        held = self._held.get(station_id)
        if held is not None and held[0] is station:
            del self._held[station_id]
            return True
        return False

    def get(self, station_id: str) -> StationMixin:
        held = self._held.get(station_id)
        if held is None:
            raise StationNotConnected(station_id)
        return held[0]

    def ids(self) -> list[str]:
        return sorted(self._held)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def _negotiate(offered: list[str]) -> OcppVersion | None:
    for subprotocol in offered:
        version = OcppVersion.from_subprotocol(subprotocol)
        if version is not None:
            return version
    return None


def ocpp_endpoint(bridge: Bridge, registry: StationRegistry) -> WebsocketRouteHandler:
    """The websocket route handler, bound to this process's bridge and registry."""

    @websocket("/ocpp/{station_id:str}", name="ocpp")
    async def ocpp_socket(socket: WebSocket[Any, Any, Any], station_id: FromPath[str]) -> None:
        version = _negotiate(list(socket.scope.get("subprotocols") or []))
        credentials = _basic_credentials(socket.headers.get("authorization"))
        refusal = None
        if version is None:
            refusal = f"no supported subprotocol in {socket.scope.get('subprotocols')}"
        elif credentials is None or credentials[0] != station_id:
            refusal = "missing Basic credentials or user is not the station identity"
        elif not await bridge.authenticate(station_id, credentials[1]):
            refusal = "unknown station or wrong password"
        if refusal is not None or version is None:
            logger.warning("station %s refused at the handshake: %s", station_id, refusal)
            await socket.close(code=POLICY_VIOLATION)
            return
        await socket.accept(subprotocols=version.subprotocol)
        station_class = StationV201 if version is OcppVersion.V201 else StationV16
        station = station_class(
            station_id, SocketConnection(socket), bridge, bridge.settings.call_timeout_seconds
        )
        older = registry.attach(station_id, station, socket)
        if older is not None:
            logger.warning("station %s connected again: closing its older socket", station_id)
            await _close_quietly(older)
        logger.info("station %s connected (OCPP %s)", station_id, version.value)
        await bridge.connected(station_id, version)
        try:
            await station.start()
        except WebSocketDisconnect:
            pass
        finally:
            if registry.detach(station_id, station):
                await bridge.disconnected(station_id)
            logger.info("station %s disconnected", station_id)

    return ocpp_socket


async def _close_quietly(socket: WebSocket[Any, Any, Any]) -> None:
    try:
        await socket.close()
    except Exception:
        logger.debug("older socket already closed")


async def sweep_forever(bridge: Bridge, stop: asyncio.Event) -> None:
    """Turn silent stations offline every ``sweep_interval_seconds``."""
    while not stop.is_set():
        try:
            await bridge.sweep()
        except Exception:
            logger.exception("offline sweep failed")
        try:
            await asyncio.wait_for(stop.wait(), bridge.settings.sweep_interval_seconds)
        except TimeoutError:
            continue
