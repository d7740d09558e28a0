"""Commands from eMSPs (``hub.domain.commands``): taking them, recording what the charger
answered, correlating START_SESSION with the transaction it starts, timing them out, and
queueing each result to the eMSP's ``response_url``. Never commits.

Who may do what (``mod_commands``): an eMSP commands only at locations it may see (the
visibility rule of ``hub.domain.access``, through ``LocationService.get_visible``), may use
only tokens of its own parties, and may stop only sessions of its own tokens
(``SessionRepository.owned_by_session_id``); anything else is indistinguishable from a missing
location (2003) or session (UNKNOWN_SESSION). The tokens in commands are not validated: the eMSP
authorized them before sending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import PartyScope
from hub.domain.authorization import REMOTE_START_GRACE
from hub.domain.commands import (
    NO_SESSION,
    SESSION_STARTED,
    TIMED_OUT,
    UNKNOWN_RESERVATION,
    CommandKind,
    CommandState,
    Outcome,
    Response,
    Result,
    Timeouts,
    command_of_alias,
)
from hub.domain.push import JobKind, command_queue
from hub.domain.reservations import RESERVABLE, ReservationState
from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenKey, TokenType
from hub.errors import InvalidRequest, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.commands import CommandRepository
from hub.persistence.repositories.locations import LocationFilter
from hub.persistence.repositories.parties import PartyRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.repositories.sessions import OPEN, SessionRepository
from hub.persistence.repositories.stations import StationRepository
from hub.persistence.tables import ChargingSession, Command, Evse
from hub.services.authorizations import note_remote_authorization
from hub.services.locations import LocationService, LocationView
from hub.services.push import Change, PushService
from hub.services.reservations import ReservationService
from hub.services.sessions import TariffCodec

START_CAPABILITY = "REMOTE_START_STOP_CAPABLE"
UNLOCK_CAPABILITY = "UNLOCK_CAPABLE"
CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
FREE_STATUSES = ("AVAILABLE",)


@dataclass(frozen=True, slots=True)
class CommandToken:
    """The token a START_SESSION names (OCPI ``Token``; only what the session needs)."""

    country_code: str
    party_id: str
    uid: str
    type: str
    contract_id: str | None = None


@dataclass(frozen=True, slots=True)
class CommandRequest:
    """A command as the eMSP sent it, already valid OCPI (``body``: its wire form, kept)."""

    kind: CommandKind
    response_url: str
    body: dict[str, Any]
    location_id: str | None = None
    evse_uid: str | None = None
    connector_id: str | None = None
    token: CommandToken | None = None
    authorization_reference: str | None = None
    session_id: str | None = None
    reservation_id: str | None = None
    expiry_date: datetime | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """The eMSP sending the command: its partner id, the parties it owns, and the party of
    ours it addressed (``OCPI-to-*``; None: any)."""

    partner_id: int
    scope: PartyScope
    receiver: tuple[str, str] | None = None


class CommandService:
    """Commands' use cases (see the module docstring)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        timeouts: Timeouts | None = None,
        clock: Callable[[], datetime] = utc_now,
        push: PushService | None = None,
        codec: TariffCodec | None = None,
    ) -> None:
        self.session = session
        self.repository = CommandRepository(session)
        self.timeouts = timeouts or Timeouts()
        self.clock = clock
        self.push = push or PushService(session, clock=clock)
        self.codec = codec

    def _reservations(self) -> ReservationService:
        if self.codec is None:  # pragma: no cover - wiring: every caller that reserves has one
            raise RuntimeError("reservations need a TariffCodec (their sessions are priced)")
        return ReservationService(self.session, codec=self.codec, clock=self.clock, push=self.push)

    # --- arrival ------------------------------------------------------------------------------

    async def accept(self, caller: Caller, request: CommandRequest) -> Command:
        """Store the command and decide the ``CommandResponse`` (the row's ``response``).

        Raises ``NotFound`` for a location, EVSE or connector the caller cannot see, and
        ``InvalidRequest`` for a START_SESSION without the connector its EVSE requires.
        """
        now = self.clock()
        if request.kind is CommandKind.RESERVE_NOW and (
            request.expiry_date is None or request.expiry_date <= now
        ):
            raise InvalidRequest(f"expiry_date {_iso(request.expiry_date)} is not in the future")
        row = Command(
            partner_id=caller.partner_id,
            kind=request.kind.value,
            response=Response.ACCEPTED.value,
            response_url=request.response_url,
            request=request.body,
            country_code="",
            party_id="",
            location_id=request.location_id,
            evse_uid=request.evse_uid,
            connector_id=request.connector_id,
            authorization_reference=request.authorization_reference,
            received_at=now,
            deadline=now + self.timeouts.of(request.kind),
        )
        if request.token is not None:
            row.token_country_code = request.token.country_code.upper()
            row.token_party_id = request.token.party_id.upper()
            row.token_uid = request.token.uid.upper()
            row.token_type = request.token.type
            row.contract_id = request.token.contract_id
        if request.kind is CommandKind.STOP_SESSION:
            await self._stop_target(row, caller, request)
        elif request.kind is CommandKind.CANCEL_RESERVATION:
            await self._cancel_target(row, caller, request)
        else:
            await self._at_location(row, caller, request)
        if row.response == Response.ACCEPTED.value and row.station_id is not None:
            await self._check_online(row)
        if row.response == Response.ACCEPTED.value and request.kind is CommandKind.RESERVE_NOW:
            await self._reserve(row, request)
        if row.response != Response.ACCEPTED.value:
            row.state = CommandState.FINISHED.value
            row.finished_at = now
        await self.repository.add(row)
        unknown = request.kind is CommandKind.CANCEL_RESERVATION and row.reservation_ref is None
        if unknown and row.response == Response.ACCEPTED.value:
            # Nothing of the eMSP's holds under that id: no charger to ask.
            await self.finish(row, UNKNOWN_RESERVATION)
        reserving = (CommandKind.START_SESSION, CommandKind.RESERVE_NOW)
        if row.response == Response.ACCEPTED.value and request.kind in reserving:
            assert request.token is not None  # noqa: S101 - the OCPI model requires it
            await note_remote_authorization(
                self.session,
                command=request.kind.value,
                token=TokenKey(
                    row.token_country_code or "",
                    row.token_party_id or "",
                    request.token.uid,
                    TokenType(request.token.type),
                ),
                location_id=row.location_id or "",
                evse_uid=row.evse_uid,
                received_at=now,
                authorization_reference=request.authorization_reference,
            )
        return row

    async def _at_location(self, row: Command, caller: Caller, request: CommandRequest) -> None:
        location_id = request.location_id or ""
        view = await LocationService(self.session).get_visible(
            location_id, LocationFilter(scope=caller.scope, owner=caller.receiver)
        )
        if view is None:
            raise NotFound(f"Unknown location {location_id!r}")
        row.country_code = view.location.country_code
        row.party_id = view.location.party_id
        if request.token is not None and not caller.scope.owns(
            request.token.country_code, request.token.party_id
        ):
            _refuse(
                row,
                Response.REJECTED,
                f"token party {request.token.country_code}/{request.token.party_id} is not "
                "yours: an eMSP may only use its own tokens",
            )
            return
        if request.kind is CommandKind.START_SESSION and request.evse_uid is None:
            evse = _free_evse(view)
            if evse is None:
                _refuse(row, Response.REJECTED, f"no EVSE of location {location_id} is free")
                return
            row.evse_uid = evse.uid
        elif request.kind is CommandKind.RESERVE_NOW and request.evse_uid is None:
            evse = _reservable_evse(view)
            if evse is None:
                _refuse(row, Response.NOT_SUPPORTED, f"no EVSE of {location_id} is {RESERVABLE}")
                return
            row.evse_uid = evse.uid
        else:
            evse = next((e for e in view.evses if e.uid == request.evse_uid), None)
            if evse is None:
                raise NotFound(f"Unknown evse_uid {request.evse_uid!r} at location {location_id}")
        capabilities = _capabilities(evse)
        if request.connector_id is not None:
            if not any(str(c.get("id")) == request.connector_id for c in evse.connectors or []):
                raise NotFound(f"Unknown connector_id {request.connector_id!r} at EVSE {evse.uid}")
        elif request.kind is CommandKind.START_SESSION and CONNECTOR_REQUIRED in capabilities:
            raise InvalidRequest(
                f"connector_id is required: EVSE {evse.uid} has {CONNECTOR_REQUIRED}"
            )
        needed = {
            CommandKind.START_SESSION: START_CAPABILITY,
            CommandKind.UNLOCK_CONNECTOR: UNLOCK_CAPABILITY,
            CommandKind.RESERVE_NOW: RESERVABLE,
        }.get(request.kind)
        if needed is not None and needed not in capabilities:
            _refuse(row, Response.NOT_SUPPORTED, f"EVSE {evse.uid} is not {needed}")
            return
        if evse.charging_station_id is None:
            _refuse(row, Response.NOT_SUPPORTED, f"EVSE {evse.uid} has no charger linked")
            return
        row.station_id = evse.charging_station_id
        row.ocpp_evse_id = evse.ocpp_evse_id
        row.ocpp_connector_id = _ocpp_connector(evse, request.connector_id)

    async def _reserve(self, row: Command, request: CommandRequest) -> None:
        """RESERVE_NOW: its reservation, made or replaced (``hub.domain.reservations``)."""
        why = await self._reservations().request(
            row,
            request.reservation_id or "",
            request.expiry_date or row.deadline,
            any_evse=request.evse_uid is None,
        )
        if why is not None:
            _refuse(row, Response.REJECTED, why)

    async def _cancel_target(self, row: Command, caller: Caller, request: CommandRequest) -> None:
        """CANCEL_RESERVATION: the caller's own reservation of that id (an unknown one is
        accepted and answered UNKNOWN_RESERVATION without asking a charger)."""
        held = await self._reservations().live_of(caller.partner_id, request.reservation_id or "")
        if held is None:
            row.country_code, row.party_id = await self._any_party(caller)
            return
        row.reservation_ref = held.id
        row.country_code, row.party_id = held.country_code, held.party_id
        row.location_id, row.evse_uid = held.location_id, held.evse_uid
        row.station_id = held.station_id

    async def _any_party(self, caller: Caller) -> tuple[str, str]:
        """Our party to answer from when the command names none we can find: the one the
        caller addressed, else our first CPO party (the result's ``OCPI-from-*`` routing
        headers must name a party; an empty one is no answer a hub can route)."""
        if caller.receiver is not None:
            return caller.receiver
        ours = await PartyRepository(self.session).first_of_role("CPO")
        return (ours.country_code, ours.party_id) if ours is not None else ("", "")

    async def _stop_target(self, row: Command, caller: Caller, request: CommandRequest) -> None:
        sessions = SessionRepository(self.session)
        target = await sessions.owned_by_session_id(
            caller.scope, request.session_id or "", caller.receiver
        )
        if target is None:
            _refuse(row, Response.UNKNOWN_SESSION, f"unknown session {request.session_id!r}")
            return
        row.country_code, row.party_id = target.country_code, target.party_id
        row.session_ref = target.id
        row.location_id, row.evse_uid = target.location_id, target.evse_uid
        row.connector_id = target.connector_id
        if target.status not in OPEN or target.transaction_id is None:
            _refuse(row, Response.REJECTED, f"session {target.session_id} is {target.status}")
            return
        row.station_id = target.station_id
        row.ocpp_evse_id, row.ocpp_connector_id = target.ocpp_evse_id, target.ocpp_connector_id

    async def _check_online(self, row: Command) -> None:
        station = await StationRepository(self.session).get(row.station_id or "")
        if station is None or not station.online:
            # Documented rule (README "Commands"): a charger offline when the command arrives
            # is refused at once; one that goes offline later gets FAILED.
            _refuse(row, Response.REJECTED, f"charger {row.station_id} is offline")

    # --- the charger's side -------------------------------------------------------------------

    async def pending(self, limit: int = 50) -> list[int]:
        return await self.repository.pending(self.clock(), limit)

    async def claim(self, pk: int, worker: str, lease: timedelta) -> Command | None:
        """The command, now CALLING under ``worker``; None when another process has it."""
        if not await self.repository.claim(pk, worker, self.clock() + lease):
            return None
        row = await self.repository.get(pk)
        if row is not None:
            await self.session.refresh(row)
        return row

    async def get(self, pk: int, *, for_update: bool = False) -> Command | None:
        """``for_update``: locked until the unit of work ends. The charger's answer and the
        transaction a START_SESSION began come in concurrently; each takes the lock, so the
        second sees what the first wrote (else both read CALLING, and nobody finishes it)."""
        return await self.repository.get(pk, for_update=for_update)

    async def called(
        self,
        row: Command,
        *,
        action: str,
        request: dict[str, Any],
        answer: dict[str, Any] | None,
        outcome: Outcome,
    ) -> None:
        """What the charger answered (``answer``; None: no answer, see ``outcome``)."""
        now = self.clock()
        row.ocpp_action, row.ocpp_request, row.ocpp_answer = action, request, answer
        row.called_at = row.called_at or now
        row.answered_at = now if answer is not None else None
        row.claimed_by = row.claimed_until = None
        if row.state == CommandState.FINISHED.value:
            return  # timed out meanwhile (the result is sent already)
        if row.kind == CommandKind.RESERVE_NOW.value:
            if outcome.result is Result.ACCEPTED:
                expiry = _parse_time(row.request.get("expiry_date")) or row.deadline
                await self._reservations().accepted_by_charger(row, session_token(row), expiry)
            else:
                await self._reservations().refused_by_charger(row, outcome.message)
        elif row.kind == CommandKind.CANCEL_RESERVATION.value:
            # Accepted: cancelled there; Rejected: the charger no longer held it. Either way
            # it holds nothing for the driver any more.
            await self._reservations().cancelled(row, outcome.message)
        if outcome.waits_for_session:
            if row.session_ref is not None:  # the transaction began before the answer came
                await self.finish(row, SESSION_STARTED)
            else:
                row.state = CommandState.WAITING.value
                row.result_message = outcome.message
            return
        await self.finish(row, outcome)

    async def call_again(self, row: Command) -> None:
        """The charger could not be reached: the command waits for the next round."""
        if row.state == CommandState.CALLING.value:
            row.state = CommandState.PENDING.value
            row.claimed_by = row.claimed_until = None

    async def finish(self, row: Command, outcome: Outcome) -> None:
        """Decide the result and queue it to ``response_url`` (once: a finished command
        keeps its result)."""
        if row.state == CommandState.FINISHED.value:
            return
        row.state = CommandState.FINISHED.value
        row.result = outcome.result.value
        row.result_message = outcome.message[:255]
        row.finished_at = self.clock()
        row.claimed_by = row.claimed_until = None
        if row.operator:
            return  # the operator's own: its result is in `hub commands show`, for nobody else
        pk = row.require_id()
        await self.push.fanout(
            [
                Change(
                    JobKind.COMMAND_RESULT,
                    command_queue(pk),
                    {"command": pk, "country_code": row.country_code, "party_id": row.party_id},
                    recipients=frozenset({row.partner_id}),
                )
            ],
            only=row.partner_id,
            fresh=True,
        )

    async def time_out(self, limit: int = 100) -> list[Command]:
        """Finish every command past its deadline with TIMEOUT; returns them."""
        rows = await self.repository.overdue(self.clock(), limit)
        for row in rows:
            waiting = row.state == CommandState.WAITING.value
            await self.finish(row, NO_SESSION if waiting else TIMED_OUT)
        return rows

    async def result_sent(self, pk: int) -> None:
        row = await self.repository.get(pk)
        if row is not None:
            row.result_sent_at = self.clock()

    # --- START_SESSION and its transaction ----------------------------------------------------

    async def start_for_transaction(
        self,
        station_id: str,
        *,
        id_tag: str | None = None,
        connector_id: int | None = None,
        remote_start_id: int | None = None,
    ) -> Command | None:
        """The START_SESSION a new transaction answers (1.6: its idTag at that connector, or
        the idTag alias of ``ocpp16_id_tag``; 2.0.1: its ``remoteStartId``), received at most
        15 minutes ago and not answered by another transaction yet."""
        since = self.clock() - REMOTE_START_GRACE
        command_id = remote_start_id
        if command_id is None and id_tag is not None:
            command_id = command_of_alias(id_tag)
            if command_id is not None:
                found = await self.repository.start_for_transaction(
                    station_id, since=since, command_id=command_id
                )
                if found is not None:
                    return found
                command_id = None
        return await self.repository.start_for_transaction(
            station_id,
            since=since,
            id_tag=id_tag,
            connector_id=connector_id,
            command_id=command_id,
        )

    async def session_started(self, row: Command, session: ChargingSession) -> None:
        """The transaction ``row`` asked for has begun as ``session``: ACCEPTED, unless the
        command timed out already (the session still carries the command's token and
        ``authorization_reference``; the result stays TIMEOUT)."""
        if row.session_ref is not None:
            return  # another transaction answered it first
        row.session_ref = session.id
        if row.state == CommandState.WAITING.value:
            await self.finish(row, SESSION_STARTED)

    async def cancel_reservation_as_operator(self, reservation_pk: int, why: str) -> Command:
        """``hub reservations cancel``: the eMSP is told CANCELED_RESERVATION and the charger
        gets CancelReservation (an operator command, whose result goes to nobody).

        Raises ``NotFound`` for an unknown reservation, ``InvalidState`` for one that ended.
        """
        reservations = self._reservations()
        held = await reservations.get(reservation_pk)
        if held is None:
            raise NotFound(f"no reservation {reservation_pk}")
        if not ReservationState(held.state).live:
            raise InvalidState(f"reservation {reservation_pk} is {held.state} already")
        await reservations.cancel_by_cpo(held, f"by the operator: {why}")
        now = self.clock()
        row = Command(
            partner_id=held.partner_id,
            kind=CommandKind.CANCEL_RESERVATION.value,
            response=Response.ACCEPTED.value,
            response_url="",
            request={"reservation_id": held.reservation_id, "operator_reason": why},
            country_code=held.country_code,
            party_id=held.party_id,
            location_id=held.location_id,
            evse_uid=held.evse_uid,
            station_id=held.station_id,
            reservation_ref=held.id,
            operator=True,
            received_at=now,
            deadline=now + self.timeouts.call,
        )
        return await self.repository.add(row)

    async def described(self, pk: int) -> tuple[Command, str] | None:
        """One command and the name of the eMSP that sent it (``hub commands show``)."""
        row = await self.repository.get(pk)
        if row is None:
            return None
        partner = await PartnerRepository(self.session).get(row.partner_id)
        return row, partner.name if partner is not None else f"#{row.partner_id}"

    async def operator_listing(
        self,
        *,
        partner: str | None = None,
        station: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[tuple[Command, str]]:
        """Commands for the operator (``hub commands list``), newest first, with the name of
        the eMSP that sent each. Raises ``NotFound`` for an unknown partner name."""
        partners = PartnerRepository(self.session)
        partner_id = None
        if partner is not None:
            found = await partners.get_by_name(partner)
            if found is None:
                raise NotFound(f"no partner named {partner!r}")
            partner_id = found.require_id()
        rows = await self.repository.listing(
            partner_id=partner_id, station_id=station, kind=kind, since=since, limit=limit
        )
        names = {p.require_id(): p.name for p in await partners.list()}
        return [(row, names.get(row.partner_id, f"#{row.partner_id}")) for row in rows]


def session_token(row: Command) -> SessionToken:
    """The ``cdr_token`` a START_SESSION gives its session: the eMSP's token, as it sent it."""
    return SessionToken(
        uid=str((row.request.get("token") or {}).get("uid") or row.token_uid or ""),
        token_type=TokenType(row.token_type) if row.token_type else None,
        accepted=True,
        auth_method="COMMAND",
        presented_type=row.token_type or "",
        country_code=row.token_country_code,
        party_id=row.token_party_id,
        contract_id=row.contract_id,
        partner_id=row.partner_id,
        authorization_reference=row.authorization_reference,
    )


def _refuse(row: Command, response: Response, message: str) -> None:
    if row.response == Response.ACCEPTED.value:
        row.response = response.value
        row.response_message = message[:255]


def _capabilities(evse: Evse) -> list[str]:
    return list(evse.attributes.get("capabilities") or [])


def _free_evse(view: LocationView) -> Evse | None:
    """An EVSE for a START_SESSION that names none (README "Commands"): the first AVAILABLE
    one, in the location's order, that can be started remotely and has a charger."""
    for evse in view.evses:
        if (
            evse.status in FREE_STATUSES
            and START_CAPABILITY in _capabilities(evse)
            and evse.charging_station_id is not None
        ):
            return evse
    return None


def _ocpp_connector(evse: Evse, connector_id: str | None) -> int | None:
    """The OCPP connector to address: 1.6 the EVSE's connector; 2.0.1 the connector's position
    on the EVSE (1-based), when the command named one."""
    if evse.ocpp_evse_id is None:
        return evse.ocpp_connector_id
    if connector_id is None:
        return None
    for index, connector in enumerate(evse.connectors or [], start=1):
        if str(connector.get("id")) == connector_id:
            return index
    return None


def _reservable_evse(view: LocationView) -> Evse | None:
    """The EVSE a reservation for any EVSE of the location holds (README "Reservations"): the
    first AVAILABLE reservable one with a charger, else the first reservable one."""
    reservable = [e for e in view.evses if RESERVABLE in _capabilities(e) and e.charging_station_id]
    free = [e for e in reservable if e.status in FREE_STATUSES]
    chosen = free or reservable
    return chosen[0] if chosen else None


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "(none)"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
