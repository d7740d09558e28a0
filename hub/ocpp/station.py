"""Shared behaviour of our OCPP 1.6 and 2.0.1 charge point handlers.

Replaces the ``ocpp`` package's ``route_message`` error handling, which (2.1.0) only logs
unparseable frames, sends NotImplemented/NotSupported the wrong way round (OCPP-J 1.6 §4.2.3:
NotImplemented = action not known, NotSupported = known but not supported), uses the 2.0.1 code
FormatViolation on 1.6 connections, and can fail to serialise its own error details. Every CALL
gets exactly one answer and the connection stays up.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, unpack

from hub.ocpp.bridge import Bridge

logger = logging.getLogger(__name__)


class Connection(Protocol):
    async def recv(self) -> str: ...

    async def send(self, message: str) -> None: ...


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _unique_id(raw: str) -> str:
    """The message id of a frame we could not unpack, if it can be read at all."""
    try:
        frame = json.loads(raw)
    except (ValueError, TypeError):
        return "-1"
    if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str | int):
        return str(frame[1])
    return "-1"


class StationMixin:
    """Mixed into ``ocpp.v16.ChargePoint`` / ``ocpp.v201.ChargePoint`` subclasses."""

    id: str
    bridge: Bridge
    version: str
    known_actions: frozenset[str]
    route_map: dict[str, Any]
    _response_queue: Any

    if TYPE_CHECKING:  # provided by ocpp's ChargePoint, which follows this mixin in the MRO

        async def _send(self, message: str) -> None: ...

        async def _handle_call(self, msg: Any) -> Any: ...

    def _code(self, code: str) -> str:
        if self.version == "1.6" and code == "FormatViolation":
            return "FormationViolation"
        if self.version != "1.6" and code == "FormationViolation":
            return "FormatViolation"
        return code

    async def call_error(self, unique_id: str, code: str, description: str) -> None:
        await self._send(
            json.dumps(
                [4, unique_id, self._code(code), description[:255], {}], separators=(",", ":")
            )
        )

    async def route_message(self, raw_msg: str) -> None:
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            frame_code = "FormationViolation" if self.version == "1.6" else "RpcFrameworkError"
            logger.warning(
                "station %s: malformed frame answered with %s: %s: %.300r",
                self.id,
                frame_code,
                error.description,
                raw_msg,
            )
            await self.call_error(_unique_id(raw_msg), frame_code, f"Malformed message: {error}")
            return
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        await self.bridge.seen(self.id)
        if msg.action not in self.route_map:
            code = "NotSupported" if msg.action in self.known_actions else "NotImplemented"
            logger.warning(
                "station %s: %s %s answered with %s", self.id, msg.action, msg.unique_id, code
            )
            await self.call_error(msg.unique_id, code, f"{msg.action} is not handled by this CSMS")
            return
        try:
            await self._handle_call(msg)
        except OCPPError as error:
            logger.warning(
                "station %s: %s %s rejected with %s: %s %s",
                self.id,
                msg.action,
                msg.unique_id,
                error.code,
                error.description,
                error.details,
            )
            cause = error.details.get("cause") if isinstance(error.details, dict) else None
            await self.call_error(msg.unique_id, error.code, str(cause or error.description))
        except Exception:
            logger.exception("station %s: %s %s failed", self.id, msg.action, msg.unique_id)
            await self.call_error(msg.unique_id, "InternalError", "Internal error")
