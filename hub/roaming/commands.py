"""The Commands Receiver (``mod_commands``): OCPI command objects in, ``CommandResponse`` out;
and the ``CommandResult`` the push worker POSTs to ``response_url``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.charging_profiles import PROFILE_KINDS
from hub.domain.commands import CommandKind, Timeouts
from hub.errors import InvalidRequest, NotFound
from hub.persistence.base import utc_now
from hub.persistence.session import session_scope
from hub.persistence.tables import Command
from hub.roaming.charging_profiles import ProfileResultModel, profile_result_model
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.sessions import caller_of
from hub.services.commands import CommandRequest, CommandService, CommandToken
from ocpi.errors import InvalidOrMissingParameters, LocationNotFound
from ocpi.headers import PartyRef
from ocpi.types import DisplayText
from ocpi.v221 import models as v221
from ocpi.v221.enums import CommandResponseType, CommandResultType, CommandType, TokenType
from ocpi.v221.ports import ClientIdentity

OcpiCommand = (
    v221.StartSession
    | v221.StopSession
    | v221.ReserveNow
    | v221.CancelReservation
    | v221.UnlockConnector
)


def _words(text: str | None) -> list[DisplayText] | None:
    return [DisplayText(language="en", text=text[:512])] if text else None


def command_request(command: CommandType, body: OcpiCommand) -> CommandRequest:
    """The domain's view of an OCPI command object."""
    token = getattr(body, "token", None)
    return CommandRequest(
        kind=CommandKind(command.value),
        response_url=str(body.response_url),
        body=body.to_wire(),
        location_id=getattr(body, "location_id", None),
        evse_uid=getattr(body, "evse_uid", None),
        connector_id=getattr(body, "connector_id", None),
        token=(
            CommandToken(
                country_code=token.country_code,
                party_id=token.party_id,
                uid=token.uid,
                # An open enum: a type 2.2.1 does not define is kept as OTHER.
                type=token.type.value if isinstance(token.type, TokenType) else "OTHER",
                contract_id=token.contract_id,
            )
            if token is not None
            else None
        ),
        authorization_reference=getattr(body, "authorization_reference", None),
        session_id=getattr(body, "session_id", None),
        reservation_id=getattr(body, "reservation_id", None),
        expiry_date=getattr(body, "expiry_date", None),
    )


def command_response_model(row: Command, timeouts: Timeouts) -> v221.CommandResponse:
    return v221.CommandResponse(
        result=CommandResponseType(row.response),
        timeout=int(timeouts.of(CommandKind(row.kind)).total_seconds()),
        message=_words(row.response_message),
    )


def command_result_model(row: Command) -> v221.CommandResult | ProfileResultModel:
    """The body POSTed to a finished command's ``response_url``: a ``CommandResult``, or for
    the charging-profile kinds their own result object."""
    if CommandKind(row.kind) in PROFILE_KINDS:
        return profile_result_model(row)
    return v221.CommandResult(
        result=CommandResultType(row.result or CommandResultType.FAILED.value),
        message=_words(row.result_message),
    )


def cancellation_model(result: str, message: object) -> dict[str, Any]:
    """A second CommandResult for a RESERVE_NOW (``mod_commands`` "Reservation canceled by the
    CPO"), in wire form."""
    return v221.CommandResult(
        result=CommandResultType(result), message=_words(str(message) if message else None)
    ).to_wire()


class PartnerCommands:
    """Commands Receiver: a partner commands at locations it sees, with its own tokens, and
    stops only its own sessions (``hub.services.commands``); ``on_accepted`` wakes the process's
    command runner once the command is committed."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        timeouts: Timeouts,
        on_accepted: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = session_factory
        self._timeouts = timeouts
        self._on_accepted = on_accepted
        self._clock = clock

    async def command(
        self,
        client: ClientIdentity,
        command: CommandType,
        request: OcpiCommand,
        receiver: PartyRef | None,
    ) -> v221.CommandResponse:
        caller = caller_of(client, receiver)
        try:
            async with session_scope(self._sessions) as session:
                service = CommandService(
                    session, timeouts=self._timeouts, clock=self._clock, codec=OcpiTariffCodec()
                )
                row = await service.accept(caller, command_request(command, request))
        except NotFound as exc:
            raise LocationNotFound(str(exc)) from None
        except InvalidRequest as exc:
            raise InvalidOrMissingParameters(str(exc)) from None
        self._on_accepted()
        return command_response_model(row, self._timeouts)
