"""Tariffs module, Sender interface (``mod_tariffs.asciidoc`` "Sender Interface"): paginated GET."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from ocpi.errors import UnknownObject
from ocpi.v221.ports import ClientIdentity, OcpiPorts
from ocpi.v221.server.common import ServerConfig
from ocpi.v221.server.sender import page_response, sender_query


class TariffsSenderController(Controller):
    path = "/2.2.1/tariffs"
    tags = ["tariffs"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getTariffs", summary="Tariffs, paginated")
    async def list_tariffs(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        server_config: NamedDependency[ServerConfig],
    ) -> Response[dict[str, Any]]:
        if ports.tariffs is None:  # the router only mounts this controller with a port
            raise UnknownObject("Tariffs are not offered")
        query, routing = sender_query(request, server_config)
        page = await ports.tariffs.list_tariffs(client, query)
        return page_response(request, server_config, "tariffs", query, routing, page)
