"""Locations module, Sender interface (``mod_locations.asciidoc`` "Sender Interface").

``GET {url}`` (paginated), ``GET {url}/{location_id}``, ``.../{evse_uid}``,
``.../{evse_uid}/{connector_id}``. Unknown or invisible objects are 2003 with HTTP 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from ocpi.errors import LocationNotFound
from ocpi.headers import RoutingHeaders
from ocpi.v221.models.locations import EVSE, Location
from ocpi.v221.ports import ClientIdentity, LocationsSenderPort, OcpiPorts
from ocpi.v221.server.common import ServerConfig, ocpi_response
from ocpi.v221.server.sender import page_response, sender_query


def _port(ports: OcpiPorts) -> LocationsSenderPort:
    if ports.locations is None:  # the router only mounts this controller with a port
        raise LocationNotFound("Locations are not offered")
    return ports.locations


def _evse(location: Location, evse_uid: str) -> EVSE:
    for evse in location.evses or []:
        if evse.uid == evse_uid:
            return evse
    raise LocationNotFound(f"Location {location.id} has no EVSE {evse_uid}")


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
        location_id: FromPath[str],
    ) -> tuple[Location, RoutingHeaders]:
        routing = RoutingHeaders.parse(request.headers)
        return await _port(ports).get_location(client, location_id, routing.receiver), routing

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
        location, routing = await self._location(request, client, ports, location_id)
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
        location, routing = await self._location(request, client, ports, location_id)
        for connector in _evse(location, evse_uid).connectors:
            if connector.id == connector_id:
                return ocpi_response(connector, headers=routing.reversed().as_headers())
        raise LocationNotFound(f"EVSE {evse_uid} has no connector {connector_id}")
