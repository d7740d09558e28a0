"""Calls from the platform to charging stations, wherever their socket is held.

A call must never be made from inside an OCPP handler of the same station (the ``ocpp``
package would deadlock waiting for a response it cannot read); callers here are HTTP requests,
CLI commands and background tasks.

Several hub processes: each station's row records ``connected_node``, the base URL of the
process holding its socket. A process asked to call a station it does not hold (``hub chargers
call`` holds none) forwards the call to that node's internal endpoint
``POST /internal/ocpp/{station_id}/calls``. The endpoint accepts either of two credentials:

* a one-time token the caller minted in the shared database (only its SHA-256 is stored, with
  a short expiry; the node deletes it as it accepts it). Whoever can write the database can
  call stations anyway, so the database is the authority and a single ``hub serve`` needs no
  secret from the operator;
* the cluster's shared ``HUB_OCPP__INTERNAL_TOKEN``, when set (compared in constant time):
  processes that have it send it instead of minting, which saves two database writes a call.

Failures are :class:`StationCallFailed` with a :class:`CallFailure` kind and a sentence saying
what happened; the node sends both back, so a forwarded call fails in the same words.
"""

from __future__ import annotations

import dataclasses
import decimal
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx
from litestar import Request, post
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from ocpp.messages import MessageType, get_validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.ocpp.server import StationNotConnected, StationRegistry
from hub.ocpp.station import StationDisconnected
from hub.persistence.base import utc_now
from hub.persistence.session import session_scope
from hub.services.stations import StationService

logger = logging.getLogger(__name__)

INTERNAL_TOKEN_HEADER = "X-Hub-Internal-Token"  # noqa: S105 - a header name

# ocpp validates these 1.6 requests with floats parsed as Decimal (their schemas give a
# precision that binary floats miss, e.g. 21.4 in a charging profile); so do we.
_DECIMAL_REQUESTS_16 = {"SetChargingProfile", "RemoteStartTransaction"}
_DECIMAL_RESPONSES_16 = {"GetCompositeSchedule"}


class CallFailure(StrEnum):
    """Why a call to a station failed."""

    NOT_SENT = "not_sent"  # refused before sending: unknown action, invalid payload
    NOT_CONNECTED = "not_connected"
    CALL_ERROR = "call_error"  # the station answered with a CallError
    INVALID_ANSWER = "invalid_answer"  # the station's answer does not fit the OCPP schema
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"  # the socket closed before the call could be sent
    NODE_UNREACHABLE = "node_unreachable"
    NODE_REFUSED = "node_refused"  # the node holding the socket refused our credentials


class StationCallFailed(Exception):
    """The station is unreachable, refused the call, or did not answer in time; ``kind`` says
    which, the message says it in words."""

    def __init__(self, message: str, kind: CallFailure) -> None:
        super().__init__(message)
        self.kind = kind


def _where(error: Any) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _in_words(error: Any) -> str:
    """One schema violation as a sentence: ``type must be one of Hard, Soft``."""
    where = _where(error)
    subject = where or "the payload"
    instance, expected = error.instance, error.validator_value
    if error.validator == "enum":
        return f"{subject} must be one of {', '.join(str(v) for v in expected)}"
    if error.validator == "required" and isinstance(instance, dict):
        missing = [key for key in expected if key not in instance]
        prefix = f"{where}." if where else ""
        return f"{', '.join(prefix + key for key in missing)} is required"
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        unknown = sorted(key for key in instance if key not in known)
        return f"{subject} has unknown field(s) {', '.join(unknown)}"
    if error.validator == "type":
        return f"{subject} must be of type {expected}, not {json.dumps(instance, default=str)}"
    if error.validator == "maxLength":
        return f"{subject} must be at most {expected} characters"
    return f"{subject}: {error.message}" if where else error.message


def schema_problem(
    message_type: MessageType, action: str, version: str, payload: dict[str, Any]
) -> str | None:
    """What is wrong with ``payload`` as the ``action`` request (``Call``) or response
    (``CallResult``) of OCPP ``version``, in words; None if it fits the schema."""
    decimals = _DECIMAL_REQUESTS_16 if message_type is MessageType.Call else _DECIMAL_RESPONSES_16
    if version == "1.6" and action in decimals:
        validator = get_validator(message_type, action, version, parse_float=decimal.Decimal)
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    else:
        validator = get_validator(message_type, action, version)
    # The shallowest violation says the most (jsonschema's best_match does the same; jsonschema
    # comes with ocpp, its errors are used untyped here rather than imported).
    errors = sorted(validator.iter_errors(payload), key=lambda error: len(error.absolute_path))
    return _in_words(errors[0]) if errors else None


def _request_class(version: str, action: str) -> type[Any]:
    module = __import__(f"ocpp.{'v16' if version == '1.6' else 'v201'}.call", fromlist=["call"])
    request_class = getattr(module, action, None)
    if isinstance(request_class, type) and dataclasses.is_dataclass(request_class):
        return request_class
    names = [n for n in dir(module) if n.lower() == action.lower() and n != action]
    hint = f" (did you mean {names[0]}?)" if names else ""
    raise StationCallFailed(
        f"not sent: {action} is not an OCPP {version} call{hint}", CallFailure.NOT_SENT
    )


async def call_local(
    registry: StationRegistry, station_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Call a station whose socket this process holds; returns the answer in OCPP JSON form.

    The payload is checked against the OCPP schema here, before anything is sent, so that a
    payload we refuse is not mistaken for a station's CallError.
    """
    try:
        station = registry.get(station_id)
    except StationNotConnected as exc:
        raise StationCallFailed(
            f"station {station_id} is not connected", CallFailure.NOT_CONNECTED
        ) from exc
    version = station.version
    request_class = _request_class(version, action)
    problem = schema_problem(MessageType.Call, action, version, payload)
    if problem is not None:
        raise StationCallFailed(
            f"not sent: the payload is not a valid OCPP {version} {action} request: {problem}",
            CallFailure.NOT_SENT,
        )
    try:
        request = request_class(**camel_to_snake_case(payload))
    except TypeError as exc:  # the schema allows what the ocpp dataclass does not know
        raise StationCallFailed(
            f"not sent: the payload is not a valid OCPP {version} {action} request: {exc}",
            CallFailure.NOT_SENT,
        ) from exc
    try:
        # Validated above; the answer is validated below, where we can say what is wrong.
        response = await station.call(request, suppress=False, skip_schema_validation=True)
    except OCPPError as exc:
        description = f": {exc.description}" if exc.description else ""
        details = f" (details: {json.dumps(exc.details, default=str)})" if exc.details else ""
        raise StationCallFailed(
            f"the station answered CallError {exc.code}{description}{details}",
            CallFailure.CALL_ERROR,
        ) from exc
    except UnknownCallErrorCodeError as exc:
        raise StationCallFailed(
            f"the station answered a CallError with a code OCPP {version} does not define: {exc}",
            CallFailure.CALL_ERROR,
        ) from exc
    except TimeoutError as exc:
        raise StationCallFailed(
            f"station {station_id} did not answer {action} in time", CallFailure.TIMEOUT
        ) from exc
    except StationDisconnected as exc:
        raise StationCallFailed(
            f"station {station_id} closed its connection before {action} was sent",
            CallFailure.DISCONNECTED,
        ) from exc
    except TypeError as exc:  # ocpp could not build its result class from the answer
        raise StationCallFailed(
            f"the station's answer is not a valid OCPP {version} {action} response: {exc}",
            CallFailure.INVALID_ANSWER,
        ) from exc
    if dataclasses.is_dataclass(response) and not isinstance(response, type):
        answer = dataclasses.asdict(response)
    else:
        answer = dict(response or {})
    answer = dict(snake_to_camel_case({k: v for k, v in answer.items() if v is not None}))
    problem = schema_problem(MessageType.CallResult, action, version, answer)
    if problem is not None:
        raise StationCallFailed(
            f"the station's answer is not a valid OCPP {version} {action} response: {problem}",
            CallFailure.INVALID_ANSWER,
        )
    return answer


class StationCommands:
    """Call any station of the cluster (see module docstring)."""

    def __init__(
        self,
        registry: StationRegistry,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        *,
        node: str,
        internal_token: str,
        timeout: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.http = http
        self.node = node
        self.internal_token = internal_token
        self.timeout = timeout
        self.clock = clock

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``action`` with ``payload`` (OCPP JSON, camelCase) and return the answer.

        Raises:
            NotFound: no such station.
            StationCallFailed: not connected anywhere, refused, or timed out.
        """
        if station_id in self.registry:
            return await call_local(self.registry, station_id, action, payload)
        async with session_scope(self.sessions) as session:
            service = StationService(session, clock=self.clock)
            station = await service.get(station_id)
            node = station.connected_node
            if not node or node == self.node:
                raise StationCallFailed(
                    f"station {station_id} is not connected", CallFailure.NOT_CONNECTED
                )
            token = self.internal_token or await service.mint_call_token()
        try:
            response = await self.http.post(
                f"{node}/internal/ocpp/{station_id}/calls",
                json={"action": action, "payload": payload},
                headers={INTERNAL_TOKEN_HEADER: token},
                timeout=self.timeout + 5,
            )
        except httpx.HTTPError as exc:
            raise StationCallFailed(
                f"station {station_id} is held by the hub process at {node}, which cannot be "
                f"reached: {exc or type(exc).__name__}",
                CallFailure.NODE_UNREACHABLE,
            ) from exc
        return _answer_of(response, station_id, node, shared=bool(self.internal_token))

    async def authorized(self, token: str) -> bool:
        """Whether ``token`` may use this node's internal endpoint (see module docstring)."""
        if self.internal_token and hmac.compare_digest(
            token.encode(), self.internal_token.encode()
        ):
            return True
        async with session_scope(self.sessions) as session:
            return await StationService(session, clock=self.clock).redeem_call_token(token)


def _answer_of(
    response: httpx.Response, station_id: str, node: str, *, shared: bool
) -> dict[str, Any]:
    """The station's answer in the node's reply, or the failure the node reported."""
    if response.status_code == 401:
        hint = (
            "HUB_OCPP__INTERNAL_TOKEN differs between this process and that one; unset it "
            "here to use a one-time token from the database instead"
            if shared
            else "is that process using the same database?"
        )
        raise StationCallFailed(
            f"the hub process at {node} refused our internal call token ({hint})",
            CallFailure.NODE_REFUSED,
        )
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        if isinstance(body.get("response"), dict):
            return dict(body["response"])
        if isinstance(body.get("error"), str):
            try:
                kind = CallFailure(str(body.get("kind")))
            except ValueError:
                kind = CallFailure.CALL_ERROR
            raise StationCallFailed(body["error"], kind)
    raise StationCallFailed(
        f"the hub process at {node} answered HTTP {response.status_code} to the call for "
        f"station {station_id}: {response.text[:200]}",
        CallFailure.NODE_UNREACHABLE,
    )


def internal_calls_endpoint(commands: StationCommands) -> HTTPRouteHandler:
    """``POST /internal/ocpp/{station_id}/calls``: make a call on a socket this node holds."""

    @post("/internal/ocpp/{station_id:str}/calls", include_in_schema=False, status_code=200)
    async def station_call(
        request: Request[Any, Any, Any], station_id: FromPath[str]
    ) -> dict[str, Any]:
        if not await commands.authorized(request.headers.get(INTERNAL_TOKEN_HEADER, "")):
            raise NotAuthorizedException("internal endpoint")
        body = await request.json()
        try:
            answer = await call_local(
                commands.registry,
                station_id,
                str(body["action"]),
                dict(body.get("payload") or {}),
            )
        except StationCallFailed as exc:
            return {"error": str(exc), "kind": exc.kind.value}
        return {"response": answer}

    return station_call
