"""Commands module objects (``mod_commands.asciidoc`` "Object description").

The eMSP POSTs a command object to ``{commands_url}/{CommandType}``; the CPO answers at once with
a :class:`CommandResponse` and later POSTs a :class:`CommandResult` to ``response_url``.
"""

from __future__ import annotations

from typing import Annotated

from ocpi.types import URL, CiString, DateTime, DisplayText, OcpiModel
from ocpi.v221.enums import CommandResponseType, CommandResultType
from ocpi.v221.models.tokens import Token

__all__ = [
    "CancelReservation",
    "CommandResponse",
    "CommandResult",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
]

_Id = Annotated[str, CiString(36)]


class CancelReservation(OcpiModel):
    """CANCEL_RESERVATION request (``mod_commands.asciidoc`` "CancelReservation Object")."""

    response_url: URL
    reservation_id: _Id


class CommandResponse(OcpiModel):
    """The CPO's synchronous answer to a command; ``timeout`` in seconds (``"CommandResponse"``)."""

    result: CommandResponseType
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """The asynchronous outcome, POSTed to ``response_url`` (``"CommandResult Object"``)."""

    result: CommandResultType
    message: list[DisplayText] | None = None


class ReserveNow(OcpiModel):
    """RESERVE_NOW request (``mod_commands.asciidoc`` "ReserveNow Object")."""

    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: _Id
    location_id: _Id
    evse_uid: _Id | None = None
    authorization_reference: _Id | None = None


class StartSession(OcpiModel):
    """START_SESSION request (``mod_commands.asciidoc`` "StartSession Object").

    ``evse_uid`` is required when ``connector_id`` is set: the Commands server refuses the
    request otherwise (2001). ``connector_id`` is required when the EVSE has the
    START_SESSION_CONNECTOR_REQUIRED capability; that check needs the Location, so it is the
    receiver's job.
    """

    response_url: URL
    token: Token
    location_id: _Id
    evse_uid: _Id | None = None
    connector_id: _Id | None = None
    authorization_reference: _Id | None = None


class StopSession(OcpiModel):
    """STOP_SESSION request (``mod_commands.asciidoc`` "StopSession Object")."""

    response_url: URL
    session_id: _Id


class UnlockConnector(OcpiModel):
    """UNLOCK_CONNECTOR request (``mod_commands.asciidoc`` "UnlockConnector Object")."""

    response_url: URL
    location_id: _Id
    evse_uid: _Id
    connector_id: _Id
