"""CDRs module, Sender interface (``mod_cdrs.asciidoc`` "Sender Interface"): paginated GET.

``date_from`` and ``date_to`` are optional here ("If additional parameters: {date_from} and/or
{date_to} are provided, only CDRs with last_updated between ..."); a CDR's ``last_updated`` is
its creation, as CDRs never change.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from ocpi.errors import UnknownObject
from ocpi.v221.ports import ClientIdentity, OcpiPorts
from ocpi.v221.server.common import ServerConfig
from ocpi.v221.server.sender import page_response, sender_query


class CdrsSenderController(Controller):
    path = "/2.2.1/cdrs"
    tags = ["cdrs"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getCdrs", summary="CDRs, paginated")
    async def list_cdrs(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        server_config: NamedDependency[ServerConfig],
    ) -> Response[dict[str, Any]]:
        if ports.cdrs is None:  # the router only mounts this controller with a port
            raise UnknownObject("CDRs are not offered")
        query, routing = sender_query(request, server_config)
        page = await ports.cdrs.list_cdrs(client, query)
        return page_response(request, server_config, "cdrs", query, routing, page)
