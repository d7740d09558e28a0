"""Shared behaviour of our OCPP 1.6 and 2.0.1 charge point handlers.

Replaces the ``ocpp`` package's ``route_message`` error handling, which (2.1.0) only logs
unparseable frames, sends NotImplemented/NotSupported the wrong way round (OCPP-J 1.6 §4.2.3:
NotImplemented = action not known, NotSupported = known but not supported), uses the 2.0.1 code
FormatViolation on 1.6 connections, and can fail to serialise its own error details. Every CALL
gets exactly one answer and the connection stays up.

Answers (CALLRESULT/CALLERROR) are matched to our outstanding calls by message id; the
``ocpp`` package would queue every answer, solicited or not, on a queue nothing drains, so a
station could grow our memory without bound. An answer to no outstanding call is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ocpp.exceptions import OCPPError
from ocpp.messages import CallError, MessageType

from hub.ocpp.bridge import Bridge
from hub.ocpp.frames import (
    FrameError,
    frame_error_code,
    parse_frame,
    read_head,
    schema_error_code,
)
from hub.ocpp.throttle import LogThrottle
from hub.services import metrics

logger = logging.getLogger(__name__)


class StationDisconnected(ConnectionError):
    """The station's socket is gone: what we had to send cannot reach it."""


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, message: str) -> None: ...


def excerpt(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters for a log line, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def utf8_size(text: str) -> int:
    # A lone surrogate cannot come out of a websocket text frame, but this must not raise.
    return len(text.encode("utf-8", "surrogatepass"))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_V16_SPELLING = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}
_V201_SPELLING = {value: key for key, value in _V16_SPELLING.items()}


class StationMixin:
    """Mixed into ``ocpp.v16.ChargePoint`` / ``ocpp.v201.ChargePoint`` subclasses."""

    id: str
    bridge: Bridge
    version: str
    known_actions: frozenset[str]
    route_map: dict[str, Any]
    _pending: dict[str, asyncio.Future[Any]]
    _warnings: LogThrottle

    _connection: Connection
    logger: logging.Logger

    if TYPE_CHECKING:  # provided by ocpp's ChargePoint, which follows this mixin in the MRO

        async def _handle_call(self, msg: Any) -> Any: ...

    def __init__(
        self,
        station_id: str,
        connection: Connection,
        bridge: Bridge,
        timeout: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # The next class in the MRO is the version's ``ocpp`` ChargePoint.
        super().__init__(station_id, connection, response_timeout=timeout)  # type: ignore[call-arg]
        self.bridge = bridge
        # Our calls waiting for their answer, by message id.
        self._pending = {}
        self._warnings = LogThrottle(bridge.settings.warning_interval_seconds, clock)
        self._answer_seconds = metrics.OCPP_MESSAGE_SECONDS.labels(self.version)

    def _warn(self, kind: str, message: str, *args: Any) -> None:
        """A warning the station can repeat at will: at most one per kind and interval."""
        muted = self._warnings.admit(kind)
        if muted is None:
            return
        if muted:
            message += " (%d similar warnings muted before this one)"
            args = (*args, muted)
        logger.warning(message, *args)

    async def call(
        self,
        payload: Any,
        suppress: bool = True,
        unique_id: str | None = None,
        skip_schema_validation: bool = False,
    ) -> Any:
        """``ocpp``'s ``call``, with the answer awaited by message id (see module docstring)."""
        unique_id = unique_id or str(uuid.uuid4())
        # Registered before the CALL is sent: the answer may be read before ``send`` returns.
        self._pending[unique_id] = asyncio.get_running_loop().create_future()
        try:
            return await super().call(  # type: ignore[misc]
                payload, suppress, unique_id, skip_schema_validation
            )
        finally:
            self._pending.pop(unique_id, None)

    # Overrides ocpp's method of this name and signature.
    async def _get_specific_response(self, unique_id: str, timeout: float) -> Any:  # noqa: ASYNC109
        return await asyncio.wait_for(self._pending[unique_id], timeout)

    def _answer_received(self, msg: Any) -> None:
        future = self._pending.get(msg.unique_id)
        if future is None or future.done():
            self._warn(
                "unsolicited",
                "station %s: message type %s %.40r answers no outstanding call: dropped",
                self.id,
                msg.message_type_id,
                msg.unique_id,
            )
            return
        future.set_result(msg)

    async def start(self) -> None:
        """Read and route frames until the socket closes.

        A station closing its socket while we answer it is normal life, not an error: the
        answer is lost, nothing else is tried on that socket, and the loop ends.
        """
        try:
            while True:
                message = await self._connection.recv()
                self.logger.info("%s: receive message %s", self.id, self._excerpt(message))
                await self.route_message(message)
        except StationDisconnected as gone:
            logger.info(
                "station %s closed its socket before our answer could be sent (%s)",
                self.id,
                type(gone.__cause__).__name__,
            )

    async def _send(self, message: str) -> None:
        self.logger.info("%s: send %s", self.id, self._excerpt(message))
        try:
            await self._connection.send(message)
        except Exception as exc:
            # Whatever the server stack raises (uvicorn's ClientDisconnected, litestar's
            # WebSocketDisconnect, a RuntimeError after the close), the socket is unusable.
            raise StationDisconnected(self.id) from exc

    def _excerpt(self, text: str) -> str:
        return excerpt(text, self.bridge.settings.log_frame_chars)

    async def _refuse_frame(self, raw_msg: str, error: FrameError) -> None:
        if not error.answerable:
            self._warn(
                "malformed answer",
                "station %s: malformed answer dropped: %s: %r",
                self.id,
                error.description,
                self._excerpt(raw_msg),
            )
            return
        self._warn(
            "malformed",
            "station %s: malformed frame answered with %s: %s: %r",
            self.id,
            self._code(error.code),
            error.description,
            self._excerpt(raw_msg),
        )
        await self.call_error(error.unique_id, error.code, f"Malformed message: {error}")

    async def _refuse_oversize(self, raw_msg: str, size: int) -> None:
        """A frame above ``max_frame_bytes``: not parsed, only its head is read."""
        limit = self.bridge.settings.max_frame_bytes
        message_type, unique_id = read_head(raw_msg)
        description = f"frame of {size} bytes exceeds the limit of {limit} bytes"
        if message_type in (MessageType.CallResult, MessageType.CallError):
            future = self._pending.get(unique_id)
            if future is not None and not future.done():
                # Our caller learns at once why there is no answer, instead of timing out.
                future.set_result(CallError(unique_id, "GenericError", f"answer {description}"))
            self._warn("oversize", "station %s: answer dropped: %s", self.id, description)
            return
        self._warn(
            "oversize",
            "station %s: %s, answered with %s: %r",
            self.id,
            description,
            frame_error_code(self.version),
            self._excerpt(raw_msg),
        )
        await self.call_error(unique_id, frame_error_code(self.version), description)

    def _code(self, code: str) -> str:
        """The code as this version spells it (1.6 has "Formation" and "Occurence")."""
        return (_V16_SPELLING if self.version == "1.6" else _V201_SPELLING).get(code, code)

    async def call_error(self, unique_id: str, code: str, description: str) -> None:
        await self._send(
            json.dumps(
                [4, unique_id, self._code(code), description[:255], {}], separators=(",", ":")
            )
        )

    async def route_message(self, raw_msg: str) -> None:
        received = time.perf_counter()
        limit = self.bridge.settings.max_frame_bytes
        if len(raw_msg) > limit // 4 and (size := utf8_size(raw_msg)) > limit:
            await self._refuse_oversize(raw_msg, size)
            return
        try:
            msg = parse_frame(raw_msg, self.version)
        except FrameError as error:
            await self._refuse_frame(raw_msg, error)
            return
        if msg.message_type_id != MessageType.Call:
            self._answer_received(msg)
            return
        # Known actions only as label values: a station must not create series at will.
        action = msg.action if msg.action in self.known_actions else "unknown"
        metrics.OCPP_MESSAGES.labels(action, self.version).inc()
        await self._answer_call(msg)
        self._answer_seconds.observe(time.perf_counter() - received)

    async def _answer_call(self, msg: Any) -> None:
        """Answer a CALL: exactly one CALLRESULT or CALLERROR is sent when this returns."""
        try:
            await self.bridge.seen(self.id)
        except Exception:
            # The database overloaded or down: the station is told (it retries) and keeps its
            # socket; closing it would turn a slow database into a reconnect storm.
            logger.exception("station %s: %.60r %r failed", self.id, msg.action, msg.unique_id)
            await self.call_error(msg.unique_id, "InternalError", "Internal error")
            return
        if msg.action not in self.route_map:
            code = "NotSupported" if msg.action in self.known_actions else "NotImplemented"
            self._warn(
                "unknown action",
                "station %s: %.60r %r answered with %s",
                self.id,
                msg.action,
                msg.unique_id,
                code,
            )
            await self.call_error(msg.unique_id, code, f"{msg.action} is not handled by this CSMS")
            return
        try:
            await self._handle_call(msg)
        except StationDisconnected:
            raise  # no second answer on a socket that is gone
        except OCPPError as error:
            code = error.code
            if code == "FormatViolation":
                code = schema_error_code(msg, self.version) or code
            logger.warning(
                "station %s: %.60r %r rejected with %s: %s %s",
                self.id,
                msg.action,
                msg.unique_id,
                self._code(code),
                error.description,
                error.details,
            )
            cause = error.details.get("cause") if isinstance(error.details, dict) else None
            await self.call_error(msg.unique_id, code, str(cause or error.description))
        except Exception:
            logger.exception("station %s: %.60r %r failed", self.id, msg.action, msg.unique_id)
            await self.call_error(msg.unique_id, "InternalError", "Internal error")
