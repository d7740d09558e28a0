"""Sessions module, Sender interface (``mod_sessions.asciidoc`` "Sender Interface").

``GET {sessions_url}?date_from=...`` (paginated) and
``PUT {sessions_url}/{session_id}/charging_preferences``.

``date_from`` is required here, unlike in the other Sender GETs: the request parameters table
of the Sessions GET says "date_from | DateTime | yes" (as does the official OpenAPI), although
its endpoint structure writes it in optional brackets. A GET without it is 2001.

The Charging Preferences PUT answers a ``ChargingPreferencesResponse`` value as ``data``. A
session id that is not a ``CiString(36)`` names no session and is answered like an unknown one
(HTTP 404, status 2000: OCPI 2.2.1 has no "unknown session" code; 2003 means Unknown
Location), before the port is asked.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ocpi.errors import UnknownObject, quote_input
from ocpi.headers import RoutingHeaders
from ocpi.types import is_cistring
from ocpi.v221.models.sessions import ChargingPreferences
from ocpi.v221.ports import ClientIdentity, OcpiPorts, SessionsSenderPort
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import ServerConfig, ocpi_response
from ocpi.v221.server.sender import page_response, sender_query

_ID_LENGTH = 36  # Session.id: CiString(36)


def _port(ports: OcpiPorts) -> SessionsSenderPort:
    if ports.sessions is None:  # the router only mounts this controller with a port
        raise UnknownObject("Sessions are not offered")
    return ports.sessions


def _unknown_session(session_id: str) -> UnknownObject:
    return UnknownObject(f"Unknown session {quote_input(session_id)}")


class SessionsSenderController(Controller):
    path = "/2.2.1/sessions"
    tags = ["sessions"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getSessions", summary="Sessions, paginated (date_from required)")
    async def list_sessions(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        server_config: NamedDependency[ServerConfig],
    ) -> Response[dict[str, Any]]:
        query, routing = sender_query(request, server_config, require_date_from=True)
        page = await _port(ports).list_sessions(client, query)
        return page_response(request, server_config, "sessions", query, routing, page)

    @put(
        "/{session_id:str}/charging_preferences",
        dto=OcpiBody[ChargingPreferences],
        return_dto=None,
        operation_id="putChargingPreferences",
        summary="Set the driver's Charging Preferences of an ongoing session",
    )
    async def put_charging_preferences(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        session_id: FromPath[str],
        data: JSONBody[ChargingPreferences | None] = None,
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        preferences = require_body(data)
        if not is_cistring(session_id, _ID_LENGTH):
            raise _unknown_session(session_id)
        try:
            answer = await _port(ports).put_charging_preferences(
                client, session_id, preferences, routing.receiver
            )
        except UnknownObject:
            # One wording for every unknown or invisible session, whatever the port says.
            raise _unknown_session(session_id) from None
        return ocpi_response(answer.value, headers=routing.reversed().as_headers())
