"""Charging profiles from eMSPs (``hub.domain.charging_profiles``): taking a PUT, GET or DELETE
of ``mod_charging_profiles`` as a command (the commands core calls the charger, times it out
and queues its result to ``response_url``), recording what the charger accepted, and queueing
the ActiveChargingProfile to the eMSP's ChargingProfiles Sender interface. Never commits.

Who may do what: a profile request concerns one session, and only the eMSP that owns the
session's token may make it (``SessionRepository.owned_by_session_id``, the one ownership rule,
as for STOP_SESSION and charging preferences); any other session is indistinguishable from a
missing one (``UNKNOWN_SESSION``). Refusals, in the order checked:

* no such session of the caller's: ``UNKNOWN_SESSION``;
* a profile OCPP cannot carry (no period, more than 1024, nothing left after its duration):
  ``InvalidRequest`` (the port answers 2001), nothing stored;
* the session is not PENDING or ACTIVE (ended, or never had a transaction): ``REJECTED``;
* its EVSE lacks ``CHARGING_PROFILE_CAPABLE`` (or no charger is linked): ``NOT_SUPPORTED``;
* its charger is offline: ``REJECTED``.

A refused request is stored FINISHED without a result (as refused commands are: the eMSP had
its answer) and reaches no charger.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.charging_profiles import (
    CAPABILITY,
    STACK_LEVEL,
    ProfileResult,
    profile_problem,
)
from hub.domain.commands import CommandKind, CommandState, Response, Timeouts
from hub.domain.push import JobKind
from hub.errors import InvalidRequest, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.charging_profiles import ChargingProfileRepository
from hub.persistence.repositories.commands import CommandRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.repositories.sessions import OPEN, SessionRepository
from hub.persistence.repositories.stations import StationRepository
from hub.persistence.tables import ChargingSession, Command, SessionChargingProfile
from hub.services.commands import Caller
from hub.services.push import Change, PushService

ACTIVE, CLEARED = "ACTIVE", "CLEARED"


@dataclass(frozen=True, slots=True)
class ProfileRequest:
    """A request as the eMSP sent it, already valid OCPI. ``body`` is kept on the command: the
    SetChargingProfile (PUT), or the query parameters (GET, DELETE)."""

    kind: CommandKind
    session_id: str
    response_url: str
    body: dict[str, Any]
    profile: dict[str, Any] | None = None
    """PUT: the OCPI ChargingProfile (wire form)."""


def profile_queue(session_ref: int) -> str:
    return f"chargingprofiles/{session_ref}"


class ChargingProfileService:
    """Charging profiles' use cases (see the module docstring)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        timeouts: Timeouts | None = None,
        clock: Callable[[], datetime] = utc_now,
        push: PushService | None = None,
    ) -> None:
        self.session = session
        self.commands = CommandRepository(session)
        self.repository = ChargingProfileRepository(session)
        self.sessions = SessionRepository(session)
        self.timeouts = timeouts or Timeouts()
        self.clock = clock
        self.push = push or PushService(session, clock=clock)

    async def accept(self, caller: Caller, request: ProfileRequest) -> Command:
        """Store the request as a command and decide the ``ChargingProfileResponse`` (the
        row's ``response``). Raises ``InvalidRequest`` for a profile OCPP cannot carry."""
        now = self.clock()
        row = Command(
            partner_id=caller.partner_id,
            kind=request.kind.value,
            response=Response.ACCEPTED.value,
            response_url=request.response_url,
            request=dict(request.body),
            country_code="",
            party_id="",
            received_at=now,
            deadline=now + self.timeouts.of(request.kind),
        )
        target = await self.sessions.owned_by_session_id(
            caller.scope, request.session_id, caller.receiver
        )
        if target is None:
            _refuse(row, Response.UNKNOWN_SESSION, f"unknown session {request.session_id!r}")
        else:
            if request.profile is not None:
                problem = profile_problem(request.profile)
                if problem is not None:
                    raise InvalidRequest(problem)
            await self._check(row, target)
        if row.response == Response.ACCEPTED.value and request.kind is (
            CommandKind.GET_ACTIVE_CHARGING_PROFILE
        ):
            # Asked in the unit of the profile set on the session, if any (else the charger's).
            active = await self.repository.of_session(row.session_ref or 0)
            if active is not None and active.status == ACTIVE:
                row.request["charging_rate_unit"] = active.profile.get("charging_rate_unit")
        if row.response != Response.ACCEPTED.value:
            row.state = CommandState.FINISHED.value
            row.finished_at = now
        return await self.commands.add(row)

    async def _check(self, row: Command, target: ChargingSession) -> None:
        row.country_code, row.party_id = target.country_code, target.party_id
        row.session_ref = target.id
        row.location_id, row.evse_uid = target.location_id, target.evse_uid
        row.connector_id = target.connector_id
        if target.status not in OPEN or target.transaction_id is None:
            _refuse(row, Response.REJECTED, f"session {target.session_id} is {target.status}")
            return
        evses = await self.sessions.station_evses(target.station_id)
        evse = next((e for e, _ in evses if e.uid == target.evse_uid), None)
        capabilities = (evse.attributes.get("capabilities") or []) if evse is not None else []
        if CAPABILITY not in capabilities:
            _refuse(row, Response.NOT_SUPPORTED, f"EVSE {target.evse_uid} is not {CAPABILITY}")
            return
        station = await StationRepository(self.session).get(target.station_id)
        if station is None or not station.online:
            # As for commands (README "Commands"): offline when it arrives is refused at once.
            _refuse(row, Response.REJECTED, f"charger {target.station_id} is offline")
            return
        row.station_id = target.station_id
        row.ocpp_evse_id, row.ocpp_connector_id = target.ocpp_evse_id, target.ocpp_connector_id

    async def answered(self, row: Command) -> None:
        """The charger's answer to ``row`` is recorded (``ocpp_answer``): keep what it set or
        cleared, and once a set profile is ACCEPTED for the eMSP, queue its ActiveChargingProfile
        to the eMSP's Sender interface. The table follows the charger even when the eMSP heard
        otherwise (an answer after the timeout): it says what the charger holds."""
        kind = CommandKind(row.kind)
        status = (row.ocpp_answer or {}).get("status")
        if row.session_ref is None or status is None:
            return
        current = await self.repository.of_session(row.session_ref)
        now = self.clock()
        if kind is CommandKind.SET_CHARGING_PROFILE and status == "Accepted":
            profile = dict(row.request.get("charging_profile") or {})
            if current is None:
                current = await self.repository.add(
                    SessionChargingProfile(
                        session_ref=row.session_ref,
                        partner_id=row.partner_id,
                        station_id=row.station_id or "",
                        ocpp_profile_id=row.session_ref,
                        stack_level=STACK_LEVEL,
                        profile=profile,
                        status=ACTIVE,
                        command_ref=row.id,
                        set_at=now,
                    )
                )
            else:
                current.profile, current.status, current.command_ref = profile, ACTIVE, row.id
                current.partner_id, current.set_at, current.cleared_at = row.partner_id, now, None
            if row.result == ProfileResult.ACCEPTED.value:
                await self._queue_active_profile(row)
        elif (
            kind is CommandKind.CLEAR_CHARGING_PROFILE
            # Unknown: the charger holds none of ours (any more); either way it is gone.
            and status in {"Accepted", "Unknown"}
            and current is not None
            and current.status == ACTIVE
        ):
            current.status, current.cleared_at, current.command_ref = CLEARED, now, row.id

    async def _queue_active_profile(self, row: Command) -> None:
        """The eMSP successfully set a profile on its session: it SHALL be kept up to date
        (``mod_charging_profiles`` Sender "PUT Method"); queued only to that eMSP, and sent only
        if it lists a ChargingProfiles Sender endpoint."""
        session_ref = row.session_ref or 0
        await self.push.fanout(
            [
                Change(
                    JobKind.ACTIVE_PROFILE_PUT,
                    profile_queue(session_ref),
                    {
                        "session": session_ref,
                        "country_code": row.country_code,
                        "party_id": row.party_id,
                    },
                    recipients=frozenset({row.partner_id}),
                )
            ],
            only=row.partner_id,
        )

    async def active(self, session_ref: int) -> SessionChargingProfile | None:
        """The profile held for a session, if one is active."""
        found = await self.repository.of_session(session_ref)
        return found if found is not None and found.status == ACTIVE else None

    async def at_station(
        self, station_id: str, *, limit: int = 100
    ) -> list[tuple[SessionChargingProfile, ChargingSession, str]]:
        """The profiles set on a station's sessions, newest first, with the name of the eMSP
        that set each (``hub chargers profiles``). Raises ``NotFound`` for an unknown station."""
        if await StationRepository(self.session).get(station_id) is None:
            raise NotFound(f"no charging station {station_id!r}")
        rows = await self.repository.at_station(station_id, limit)
        names = {p.require_id(): p.name for p in await PartnerRepository(self.session).list()}
        return [
            (held, charge, names.get(held.partner_id, f"#{held.partner_id}"))
            for held, charge in rows
        ]


def _refuse(row: Command, response: Response, message: str) -> None:
    if row.response == Response.ACCEPTED.value:
        row.response = response.value
        row.response_message = message[:255]
