"""The CSMS websocket endpoint ``/ocpp/{charging_station_id}`` and the stations it holds.

Handshake (OCPP-J 1.6 §3.2 and 2.0.1 Part 4 §3; security profile 1), checked in this order:

1. the source address and the station must not be waiting after failed logins: else HTTP 429
   with ``Retry-After`` (nothing else is checked);
2. the station id in the URL must be known: else HTTP 404 ("SHOULD" in OCPP-J);
3. HTTP Basic credentials: the user is the station identity and the password is its password;
   else HTTP 401 with ``WWW-Authenticate``, the same answer for a wrong and a missing password;
4. a subprotocol we speak (``ocpp2.0.1`` or ``ocpp1.6``; the station's order of preference
   wins). Without one, OCPP-J says the CSMS MUST complete the handshake without a
   ``Sec-WebSocket-Protocol`` header and then close the connection: we close with 1002.

The HTTP answers use the ASGI ``websocket.http.response`` extension; under a server without it
every refusal is a plain 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
from typing import Any, cast

import ocpp.messages
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import WebsocketRouteHandler
from litestar.params import FromPath

from hub import logs
from hub.domain.stations import OcppVersion
from hub.ocpp.bridge import Bridge
from hub.ocpp.station import StationMixin
from hub.ocpp.transport import LIVENESS_EXTENSION, Liveness
from hub.ocpp.v16 import StationV16
from hub.ocpp.v201 import StationV201
from hub.services import metrics
from hub.services.stations import AuthOutcome, AuthResult

logger = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
PROTOCOL_ERROR = 1002
SUPPORTED_SUBPROTOCOLS = ", ".join(v.subprotocol for v in reversed(OcppVersion))


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


def validate_inline() -> None:
    """Have the ``ocpp`` package check payloads against their schemas in the event loop's
    thread. By default it hands every check to a thread pool: a check of a message this small
    takes less than the hand-over, and with the GIL the pool runs nothing in parallel anyway,
    so the hop and the lock traffic are pure cost (the package routes 2,700 messages/s that
    way on this machine's core and 8,800 inline). Process-wide, as the package's switch is."""
    ocpp.messages.ASYNC_VALIDATION = False


class StationRegistry:
    """The stations whose socket this process holds (``hub_ocpp_stations_connected`` counts
    them)."""

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
        if previous is None:
            metrics.OCPP_STATIONS_CONNECTED.inc()
        return previous[1] if previous else None

    def detach(self, station_id: str, station: StationMixin) -> bool:
        held = self._held.get(station_id)
        if held is not None and held[0] is station:
            del self._held[station_id]
            metrics.OCPP_STATIONS_CONNECTED.dec()
            return True
        return False

    def get(self, station_id: str) -> StationMixin:
        held = self._held.get(station_id)
        if held is None:
            raise StationNotConnected(station_id)
        return held[0]

    def ids(self) -> list[str]:
        return sorted(self._held)


def _basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    """User and password of a Basic ``Authorization`` header. The password stays bytes: an
    OCPP 1.6 AuthorizationKey is a binary 20-byte key, sent as those raw bytes."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except binascii.Error:
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def _source(socket: WebSocket[Any, Any, Any]) -> str:
    """The client address (uvicorn has already applied a trusted proxy's X-Forwarded-For)."""
    client = socket.scope.get("client")
    return str(client[0]) if client else "unknown"


async def _refuse_http(
    socket: WebSocket[Any, Any, Any],
    status: int,
    text: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer the handshake with a plain HTTP response instead of the upgrade.

    Uses the ASGI "websocket.http.response" extension; a server without it can only refuse
    the upgrade with 403.
    """
    if "websocket.http.response" not in (socket.scope.get("extensions") or {}):
        await socket.close(code=POLICY_VIOLATION)
        return
    await socket.receive()  # websocket.connect
    body = text.encode()
    header_list = [(b"content-type", b"text/plain; charset=utf-8")]
    header_list += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await socket.send(
        cast(
            "Any",
            {"type": "websocket.http.response.start", "status": status, "headers": header_list},
        )
    )
    await socket.send(
        cast("Any", {"type": "websocket.http.response.body", "body": body, "more_body": False})
    )


async def _refuse_throttled(
    socket: WebSocket[Any, Any, Any], bridge: Bridge, station_id: str, outcome: AuthOutcome
) -> None:
    wait = (outcome.retry_at - bridge.clock()).total_seconds() if outcome.retry_at else 1.0
    seconds = max(1, math.ceil(wait))
    # DEBUG: a guesser sends these by the hundred, and uvicorn logs each 429 already; the
    # failures that started the wait were logged at WARNING.
    logger.debug(
        "station %s refused at the handshake: too many failed logins (%d), retry in %ds",
        station_id,
        outcome.failures,
        seconds,
    )
    await _refuse_http(
        socket,
        429,
        f"too many failed logins; retry in {seconds} s",
        {"Retry-After": str(seconds)},
    )


def _negotiate(offered: list[str]) -> OcppVersion | None:
    for subprotocol in offered:
        version = OcppVersion.from_subprotocol(subprotocol)
        if version is not None:
            return version
    return None


def ocpp_endpoint(bridge: Bridge, registry: StationRegistry) -> WebsocketRouteHandler:
    """The websocket route handler, bound to this process's bridge and registry."""
    validate_inline()

    @websocket("/ocpp/{station_id:str}", name="ocpp")
    async def ocpp_socket(socket: WebSocket[Any, Any, Any], station_id: FromPath[str]) -> None:
        # Every line logged for this connection names the station: its handlers, the bridge
        # and the tasks they start inherit the connection task's context.
        with logs.bound(logs.station_id, station_id):
            try:
                await _serve(socket, station_id)
            except Exception:
                # The database unreachable or overloaded, say: logged, and a station still in
                # its handshake is told to come back (503) instead of being refused (403).
                logger.exception("station %s: its connection failed", station_id)
                if socket.connection_state != "init":
                    raise
                await _refuse_http(socket, 503, "temporarily unavailable; connect again")

    async def _serve(socket: WebSocket[Any, Any, Any], station_id: str) -> None:
        credentials = _basic_credentials(socket.headers.get("authorization"))
        source = _source(socket)
        password = credentials[1] if credentials and credentials[0] == station_id else None
        outcome = await bridge.authenticate(station_id, password, source)
        if outcome.result is AuthResult.THROTTLED:
            await _refuse_throttled(socket, bridge, station_id, outcome)
            return
        if outcome.result is AuthResult.UNKNOWN_STATION:
            logger.warning(
                "unknown station %s refused at the handshake from %s", station_id, source
            )
            await _refuse_http(socket, 404, "unknown charging station")
            return
        if not outcome.accepted:
            detail = "wrong password"
            if password is None:
                detail = "missing Basic credentials or user is not the station identity"
            logger.warning(
                "station %s refused at the handshake from %s: %s%s",
                station_id,
                source,
                detail,
                _failures_note(outcome),
            )
            await _refuse_http(
                socket,
                401,
                "wrong or missing credentials",
                {"WWW-Authenticate": 'Basic realm="OCPP", charset="UTF-8"'},
            )
            return
        offered = list(socket.scope.get("subprotocols") or [])
        version = _negotiate(offered)
        if version is None:
            logger.warning(
                "station %s: no supported subprotocol in %s; connection closed", station_id, offered
            )
            await socket.accept()
            await socket.close(
                code=PROTOCOL_ERROR, reason=f"supported subprotocols: {SUPPORTED_SUBPROTOCOLS}"
            )
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
        pongs = _record_pongs(socket, bridge, station_id)
        try:
            await station.start()
        except WebSocketDisconnect:
            pass
        finally:
            if pongs is not None:
                pongs.cancel()
            if registry.detach(station_id, station):
                await bridge.disconnected(station_id)
            logger.info("station %s disconnected", station_id)

    return ocpp_socket


def _record_pongs(
    socket: WebSocket[Any, Any, Any], bridge: Bridge, station_id: str
) -> asyncio.Task[None] | None:
    """Count the socket's pongs as liveness (OCPP-J 1.6 §5.3: ping/pong may replace
    Heartbeat), if the server reports them (``hub.ocpp.transport``)."""
    liveness = (socket.scope.get("extensions") or {}).get(LIVENESS_EXTENSION)
    if not isinstance(liveness, Liveness):
        return None
    signal = asyncio.Event()
    liveness.listeners.append(signal.set)

    async def record() -> None:
        try:
            while True:
                await signal.wait()
                signal.clear()
                try:
                    await bridge.alive(station_id)
                except Exception:
                    logger.exception("station %s: recording its pong failed", station_id)
        finally:
            liveness.listeners.remove(signal.set)

    return asyncio.create_task(record(), name=f"ocpp-pongs-{station_id}")


def _failures_note(outcome: AuthOutcome) -> str:
    if outcome.result is not AuthResult.REFUSED:
        return ""
    note = f" ({outcome.failures} failed logins in a row"
    if outcome.retry_at is not None:
        note += f"; the next attempt waits until {outcome.retry_at.isoformat()}"
    return note + ")"


async def _close_quietly(socket: WebSocket[Any, Any, Any]) -> None:
    try:
        await socket.close()
    except Exception:
        logger.debug("older socket already closed")


async def sweep_forever(bridge: Bridge, stop: asyncio.Event) -> None:
    """Turn silent stations offline, and close the sessions whose end will not come, every
    ``sweep_interval_seconds``."""
    while not stop.is_set():
        try:
            await bridge.sweep()
        except Exception:
            logger.exception("offline sweep failed")
        if bridge.transactions is not None:
            try:
                await bridge.transactions.sweep()
            except Exception:
                logger.exception("session sweep failed")
        try:
            await asyncio.wait_for(stop.wait(), bridge.settings.sweep_interval_seconds)
        except TimeoutError:
            continue
