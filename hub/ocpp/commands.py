"""Calls from the platform to charging stations, wherever their socket is held.

A call must never be made from inside an OCPP handler of the same station (the ``ocpp``
package would deadlock waiting for a response it cannot read); callers here are HTTP requests,
CLI commands and background tasks.

Several hub processes: each station's row records ``connected_node``, the base URL of the
process holding its socket. A process asked to call a station it does not hold forwards the call
to that node's internal endpoint ``POST /internal/ocpp/{station_id}/calls``, authenticated with
the cluster's shared ``HUB_OCPP__INTERNAL_TOKEN`` (compared in constant time); the node makes
the call on its socket and returns the station's answer.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
from typing import Any

import httpx
from litestar import Request, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case
from ocpp.exceptions import OCPPError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.ocpp.server import StationNotConnected, StationRegistry
from hub.ocpp.station import StationDisconnected
from hub.persistence.session import session_scope
from hub.services.stations import StationService

logger = logging.getLogger(__name__)

INTERNAL_TOKEN_HEADER = "X-Hub-Internal-Token"  # noqa: S105 - a header name


class StationCallFailed(Exception):
    """The station is unreachable, refused the call, or did not answer in time."""


async def call_local(
    registry: StationRegistry, station_id: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """Call a station whose socket this process holds; returns the answer in OCPP JSON form."""
    station = registry.get(station_id)
    module = __import__(
        f"ocpp.{'v16' if station.version == '1.6' else 'v201'}.call", fromlist=["call"]
    )
    request_class = getattr(module, action, None)
    if request_class is None:
        raise StationCallFailed(f"{action} is not an OCPP {station.version} call")
    try:
        request = request_class(**camel_to_snake_case(payload))
    except TypeError as exc:
        raise StationCallFailed(f"invalid {action} payload: {exc}") from exc
    try:
        response = await station.call(request, suppress=False)
    except OCPPError as exc:
        raise StationCallFailed(f"station answered {exc.code}: {exc.description}") from exc
    except TimeoutError as exc:
        raise StationCallFailed(f"station {station_id} did not answer {action} in time") from exc
    except StationDisconnected as exc:
        raise StationCallFailed(
            f"station {station_id} closed its connection before {action} was sent"
        ) from exc
    if dataclasses.is_dataclass(response) and not isinstance(response, type):
        answer = dataclasses.asdict(response)
    else:
        answer = dict(response or {})
    return dict(snake_to_camel_case({k: v for k, v in answer.items() if v is not None}))


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
    ) -> None:
        self.registry = registry
        self.sessions = sessions
        self.http = http
        self.node = node
        self.internal_token = internal_token
        self.timeout = timeout

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send ``action`` with ``payload`` (OCPP JSON, camelCase) and return the answer.

        Raises:
            StationCallFailed: not connected anywhere, refused, or timed out.
        """
        if station_id in self.registry:
            return await call_local(self.registry, station_id, action, payload)
        async with session_scope(self.sessions) as session:
            station = await StationService(session).get(station_id)
        node = station.connected_node
        if not node or node == self.node:
            raise StationCallFailed(f"station {station_id} is not connected")
        if not self.internal_token:
            raise StationCallFailed(
                f"station {station_id} is held by {node}; set HUB_OCPP__INTERNAL_TOKEN to reach it"
            )
        try:
            response = await self.http.post(
                f"{node}/internal/ocpp/{station_id}/calls",
                json={"action": action, "payload": payload},
                headers={INTERNAL_TOKEN_HEADER: self.internal_token},
                timeout=self.timeout + 5,
            )
        except httpx.HTTPError as exc:
            raise StationCallFailed(f"node {node} unreachable: {exc!r}") from exc
        body = response.json()
        if response.status_code != 200 or "response" not in body:
            # The app answers errors with an OCPI-style envelope (status_message).
            raise StationCallFailed(str(body.get("status_message") or body.get("detail") or body))
        return dict(body["response"])


def internal_calls_endpoint(commands: StationCommands) -> HTTPRouteHandler:
    """``POST /internal/ocpp/{station_id}/calls``: make a call on a socket this node holds."""

    @post("/internal/ocpp/{station_id:str}/calls", include_in_schema=False, status_code=200)
    async def station_call(
        request: Request[Any, Any, Any], station_id: FromPath[str]
    ) -> dict[str, Any]:
        token = request.headers.get(INTERNAL_TOKEN_HEADER, "")
        if not commands.internal_token or not hmac.compare_digest(token, commands.internal_token):
            raise NotAuthorizedException("internal endpoint")
        if station_id not in commands.registry:
            raise NotFoundException(f"station {station_id} is not connected to this node")
        body = await request.json()
        try:
            answer = await call_local(
                commands.registry,
                station_id,
                str(body["action"]),
                dict(body.get("payload") or {}),
            )
        except (StationCallFailed, StationNotConnected) as exc:
            return {"error": str(exc)}
        return {"response": answer}

    return station_call
