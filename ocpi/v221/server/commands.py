"""Commands module, Receiver interface (``mod_commands.asciidoc`` "Receiver Interface").

``POST {commands_url}/{command}`` with the object of that ``CommandType`` as body
(``CANCEL_RESERVATION``: CancelReservation, ``RESERVE_NOW``: ReserveNow, ``START_SESSION``:
StartSession, ``STOP_SESSION``: StopSession, ``UNLOCK_CONNECTOR``: UnlockConnector). The answer's
``data`` is the port's ``CommandResponse``; the Charge Point's ``CommandResult`` goes later to
the body's ``response_url``, which is the host's job.

One route per command, as the official OpenAPI files have it (``/commands/START_SESSION``...):
each parses its own body, and the document shows each body. The command name is matched as the
spec writes it, upper case.

Any other name in the path gets OCPI status 2001 with HTTP 200, naming the command, and its
body is not read. The spec makes ``command`` a request parameter of type ``CommandType``
("Request Parameters"), so a value outside that enum is an invalid parameter (2001) of a request
that reached the module's endpoint; ``status_codes.asciidoc`` forbids an HTTP error for a valid
request addressing an existing resource (the 404 it allows is for a GET of an object that does
not exist), and the official OpenAPI describes no answer for other names. That is also how this
server answers every other invalid parameter (a Tokens ``type``, pagination values). The route
catching these names is left out of the OpenAPI document: it never succeeds.

Beyond the objects' field rules (2001 naming the field, the port not called), the server checks
what needs no knowledge of the host: ``response_url`` is an absolute http(s) URL, and a
StartSession ``connector_id`` comes with an ``evse_uid`` ("Required when connector_id is
set"). Whether the EVSE requires ``connector_id`` (capability START_SESSION_CONNECTOR_REQUIRED),
the Location, the session and the reservation exist is the port's to judge.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ocpi.errors import InvalidOrMissingParameters, UnknownObject, quote_input
from ocpi.headers import RoutingHeaders
from ocpi.v221.enums import CommandType
from ocpi.v221.models.commands import (
    CancelReservation,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.ports import ClientIdentity, CommandRequest, CommandsReceiverPort, OcpiPorts
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import ocpi_response, require_response_url

__all__ = ["COMMAND_MODELS", "CommandsReceiverController"]

COMMAND_MODELS: dict[CommandType, type[CommandRequest]] = {
    CommandType.CANCEL_RESERVATION: CancelReservation,
    CommandType.RESERVE_NOW: ReserveNow,
    CommandType.START_SESSION: StartSession,
    CommandType.STOP_SESSION: StopSession,
    CommandType.UNLOCK_CONNECTOR: UnlockConnector,
}
"""The body model of each command (``mod_commands.asciidoc`` "Request Body")."""

_NAMES = ", ".join(sorted(command.value for command in CommandType))


def _port(ports: OcpiPorts) -> CommandsReceiverPort:
    if ports.commands is None:  # the router only mounts this controller with a port
        raise UnknownObject("Commands are not offered")
    return ports.commands


def _require_possible(request: CommandRequest) -> None:
    if (
        isinstance(request, StartSession)
        and request.connector_id is not None
        and request.evse_uid is None
    ):
        raise InvalidOrMissingParameters(
            "Invalid request body: evse_uid is required when connector_id is set"
        )
    require_response_url(request.response_url, where="Invalid request body: response_url")


async def _command(
    request: Request[Any, Any, Any],
    client: ClientIdentity,
    ports: OcpiPorts,
    command: CommandType,
    body: CommandRequest,
) -> Response[dict[str, Any]]:
    routing = RoutingHeaders.parse(request.headers)
    _require_possible(body)
    answer = await _port(ports).command(client, command, body, routing.receiver)
    return ocpi_response(answer, headers=routing.reversed().as_headers())


class CommandsReceiverController(Controller):
    path = "/2.2.1/commands"
    tags = ["commands"]  # noqa: RUF012 - litestar reads it as a class attribute

    @post(
        f"/{CommandType.CANCEL_RESERVATION.value}",
        dto=OcpiBody[CancelReservation],
        return_dto=None,
        status_code=200,
        operation_id="postCancelReservation",
        summary="Cancel a reservation made with RESERVE_NOW",
    )
    async def cancel_reservation(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[CancelReservation | None] = None,
    ) -> Response[dict[str, Any]]:
        return await _command(
            request, client, ports, CommandType.CANCEL_RESERVATION, require_body(data)
        )

    @post(
        f"/{CommandType.RESERVE_NOW.value}",
        dto=OcpiBody[ReserveNow],
        return_dto=None,
        status_code=200,
        operation_id="postReserveNow",
        summary="Reserve an EVSE of a Location for a Token until expiry_date",
    )
    async def reserve_now(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[ReserveNow | None] = None,
    ) -> Response[dict[str, Any]]:
        return await _command(request, client, ports, CommandType.RESERVE_NOW, require_body(data))

    @post(
        f"/{CommandType.START_SESSION.value}",
        dto=OcpiBody[StartSession],
        return_dto=None,
        status_code=200,
        operation_id="postStartSession",
        summary="Start a session at a Location (EVSE, Connector) for a Token",
    )
    async def start_session(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[StartSession | None] = None,
    ) -> Response[dict[str, Any]]:
        return await _command(request, client, ports, CommandType.START_SESSION, require_body(data))

    @post(
        f"/{CommandType.STOP_SESSION.value}",
        dto=OcpiBody[StopSession],
        return_dto=None,
        status_code=200,
        operation_id="postStopSession",
        summary="Stop an ongoing session",
    )
    async def stop_session(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[StopSession | None] = None,
    ) -> Response[dict[str, Any]]:
        return await _command(request, client, ports, CommandType.STOP_SESSION, require_body(data))

    @post(
        f"/{CommandType.UNLOCK_CONNECTOR.value}",
        dto=OcpiBody[UnlockConnector],
        return_dto=None,
        status_code=200,
        operation_id="postUnlockConnector",
        summary="Unlock a Connector (for help desk operators, never for drivers)",
    )
    async def unlock_connector(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        data: JSONBody[UnlockConnector | None] = None,
    ) -> Response[dict[str, Any]]:
        return await _command(
            request, client, ports, CommandType.UNLOCK_CONNECTOR, require_body(data)
        )

    @post("/{command:str}", status_code=200, include_in_schema=False)
    async def unknown_command(self, command: FromPath[str]) -> Response[dict[str, Any]]:
        # The named routes above take precedence over this one (static segments first).
        hint = " (command names are upper case)" if command.upper() in set(CommandType) else ""
        raise InvalidOrMissingParameters(
            f"Unknown command {quote_input(command)}{hint}: the command must be one of {_NAMES}"
        )
