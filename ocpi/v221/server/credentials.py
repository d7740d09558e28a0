"""Credentials module, server side (``credentials.asciidoc``).

The 405 rules are enforced by guards, before the body is read: POST only for a peer that is not
registered (token A), PUT and DELETE only for a registered one. Bodies are decoded by
:class:`~ocpi.v221.server.body.OcpiBody`.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, get, post, put
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody

from ocpi.errors import MethodNotAllowed
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.ports import ClientIdentity, OcpiPorts
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import CLIENT_STATE_KEY, ocpi_response

# What the credentials endpoint offers in each registration state (the Allow header of a 405).
UNREGISTERED_METHODS = ("GET", "POST", "OPTIONS")
REGISTERED_METHODS = ("GET", "PUT", "DELETE", "OPTIONS")


def _client(connection: ASGIConnection[Any, Any, Any, Any]) -> ClientIdentity:
    client: ClientIdentity = connection.state[CLIENT_STATE_KEY]
    return client


async def not_yet_registered(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """POST is for registration only; a registered peer updates with PUT (spec: HTTP 405)."""
    if _client(connection).registered:
        raise MethodNotAllowed(
            "Already registered; use PUT to update credentials", allow=REGISTERED_METHODS
        )


async def already_registered(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """PUT and DELETE need a completed registration (spec: HTTP 405)."""
    if not _client(connection).registered:
        raise MethodNotAllowed(
            "Not registered yet; use POST to register", allow=UNREGISTERED_METHODS
        )


class CredentialsController(Controller):
    """GET/POST/PUT/DELETE ``{version}/credentials``."""

    path = "/2.2.1/credentials"
    tags = ["credentials"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getCredentials", summary="Credentials to access this platform")
    async def get_credentials(
        self, client: NamedDependency[ClientIdentity], ports: NamedDependency[OcpiPorts]
    ) -> Response[dict[str, Any]]:
        return ocpi_response(await ports.credentials.get_credentials(client))

    @post(
        guards=[not_yet_registered],
        dto=OcpiBody[Credentials],
        return_dto=None,
        operation_id="postCredentials",
        summary="Register: provide credentials to the client",
    )
    async def register(
        self,
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[Credentials | None] = None,
    ) -> Response[dict[str, Any]]:
        return ocpi_response(await ports.credentials.register(client, require_body(data)))

    @put(
        guards=[already_registered],
        dto=OcpiBody[Credentials],
        return_dto=None,
        operation_id="putCredentials",
        summary="Update credentials and rotate tokens",
    )
    async def update(
        self,
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[Credentials | None] = None,
    ) -> Response[dict[str, Any]]:
        return ocpi_response(await ports.credentials.update(client, require_body(data)))

    @delete(
        guards=[already_registered],
        status_code=200,
        operation_id="deleteCredentials",
        summary="Unregister",
    )
    async def unregister(
        self, client: NamedDependency[ClientIdentity], ports: NamedDependency[OcpiPorts]
    ) -> Response[dict[str, Any]]:
        await ports.credentials.unregister(client)
        return ocpi_response()
