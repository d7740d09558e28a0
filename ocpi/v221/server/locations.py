"""Locations module, Sender interface (``mod_locations.asciidoc`` "Sender Interface").

``GET {url}`` (paginated), ``GET {url}/{location_id}``, ``.../{evse_uid}``,
``.../{evse_uid}/{connector_id}``. Unknown or invisible objects are 2003 with HTTP 404.

The three ids are ``CiString(36)`` (``Location.id``, ``EVSE.uid``, ``Connector.id``). An id that
is not one (too long, not printable ASCII: a NUL byte, say) names no object, so it is answered
exactly like an unknown id, before the port is asked.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from ocpi.errors import LocationNotFound, quote_input
from ocpi.headers import RoutingHeaders
from ocpi.types import is_cistring
from ocpi.v221.models.locations import EVSE, Location
from ocpi.v221.ports import ClientIdentity, LocationsSenderPort, OcpiPorts
from ocpi.v221.server.common import ServerConfig, ocpi_response
from ocpi.v221.server.sender import page_response, sender_query


def _port(ports: OcpiPorts) -> LocationsSenderPort:
    if ports.locations is None:  # the router only mounts this controller with a port
        raise LocationNotFound("Locations are not offered")
    return ports.locations


_ID_LENGTH = 36


def _unknown_location(location_id: str) -> LocationNotFound:
    return LocationNotFound(f"Unknown location {quote_input(location_id)}")


def _unknown_evse(location_id: str, evse_uid: str) -> LocationNotFound:
    return LocationNotFound(
        f"Unknown EVSE {quote_input(evse_uid)} at location {quote_input(location_id)}"
    )


def _unknown_connector(evse_uid: str, connector_id: str) -> LocationNotFound:
    return LocationNotFound(
        f"Unknown connector {quote_input(connector_id)} at EVSE {quote_input(evse_uid)}"
    )


def _require_possible_ids(
    location_id: str, evse_uid: str | None = None, connector_id: str | None = None
) -> None:
    if not is_cistring(location_id, _ID_LENGTH):
        raise _unknown_location(location_id)
    if evse_uid is not None and not is_cistring(evse_uid, _ID_LENGTH):
        raise _unknown_evse(location_id, evse_uid)
    if (
        evse_uid is not None
        and connector_id is not None
        and not is_cistring(connector_id, _ID_LENGTH)
    ):
        raise _unknown_connector(evse_uid, connector_id)


def _evse(location: Location, evse_uid: str) -> EVSE:
    for evse in location.evses or []:
        if evse.uid == evse_uid:
            return evse
    raise _unknown_evse(location.id, evse_uid)


class LocationsSenderController(Controller):
    path = "/2.2.1/locations"
    tags = ["locations"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getLocations", summary="Locations, paginated")
    async def list_locations(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        server_config: NamedDependency[ServerConfig],
    ) -> Response[dict[str, Any]]:
        query, routing = sender_query(request, server_config)
        page = await _port(ports).list_locations(client, query)
        return page_response(request, server_config, "locations", query, routing, page)

    async def _location(
        self,
        request: Request[Any, Any, Any],
        client: ClientIdentity,
        ports: OcpiPorts,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> tuple[Location, RoutingHeaders]:
        routing = RoutingHeaders.parse(request.headers)
        _require_possible_ids(location_id, evse_uid, connector_id)
        try:
            location = await _port(ports).get_location(client, location_id, routing.receiver)
        except LocationNotFound:
            # One wording for every unknown or invisible location, whatever the port says.
            raise _unknown_location(location_id) from None
        return location, routing

    @get("/{location_id:str}", operation_id="getLocation", summary="One Location")
    async def get_location(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        location_id: FromPath[str],
    ) -> Response[dict[str, Any]]:
        location, routing = await self._location(request, client, ports, location_id)
        return ocpi_response(location, headers=routing.reversed().as_headers())

    @get("/{location_id:str}/{evse_uid:str}", operation_id="getEvse", summary="One EVSE")
    async def get_evse(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        location_id: FromPath[str],
        evse_uid: FromPath[str],
    ) -> Response[dict[str, Any]]:
        location, routing = await self._location(request, client, ports, location_id, evse_uid)
        return ocpi_response(_evse(location, evse_uid), headers=routing.reversed().as_headers())

    @get(
        "/{location_id:str}/{evse_uid:str}/{connector_id:str}",
        operation_id="getConnector",
        summary="One Connector",
    )
    async def get_connector(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        location_id: FromPath[str],
        evse_uid: FromPath[str],
        connector_id: FromPath[str],
    ) -> Response[dict[str, Any]]:
        location, routing = await self._location(
            request, client, ports, location_id, evse_uid, connector_id
        )
        for connector in _evse(location, evse_uid).connectors:
            if connector.id == connector_id:
                return ocpi_response(connector, headers=routing.reversed().as_headers())
        raise _unknown_connector(evse_uid, connector_id)
