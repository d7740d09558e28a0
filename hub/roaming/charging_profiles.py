"""The ChargingProfiles Receiver (``mod_charging_profiles``): PUT/GET/DELETE
``chargingprofiles/{session_id}`` in, ``ChargingProfileResponse`` out (``hub.services.
charging_profiles``); the results the push worker POSTs to ``response_url``; and the
ActiveChargingProfile it PUTs to the eMSP's ChargingProfiles Sender interface."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.access import PartyScope
from hub.domain.charging_profiles import (
    active_profile_as_set,
    active_profile_of_schedule,
    wire_result,
)
from hub.domain.commands import CommandKind, Timeouts
from hub.errors import InvalidRequest
from hub.persistence.base import utc_now
from hub.persistence.repositories.sessions import SessionRepository
from hub.persistence.session import session_scope
from hub.persistence.tables import Command, Partner
from hub.roaming.sessions import caller_of
from hub.services.charging_profiles import ChargingProfileService, ProfileRequest
from ocpi.errors import InvalidOrMissingParameters
from ocpi.headers import PartyRef
from ocpi.v221 import models as v221
from ocpi.v221.client import object_url
from ocpi.v221.enums import ChargingProfileResponseType, ChargingProfileResultType
from ocpi.v221.ports import ClientIdentity

ProfileResultModel = (
    v221.ChargingProfileResult | v221.ActiveChargingProfileResult | v221.ClearProfileResult
)


def profile_result_model(row: Command) -> ProfileResultModel:
    """The body POSTed to ``response_url`` for a finished charging-profile command (the
    ``ChargingProfileResult`` / ``ActiveChargingProfileResult`` / ``ClearProfileResult`` of
    ``mod_charging_profiles``)."""
    result = ChargingProfileResultType(wire_result(row.result).value)
    kind = CommandKind(row.kind)
    if kind is CommandKind.SET_CHARGING_PROFILE:
        return v221.ChargingProfileResult(result=result)
    if kind is CommandKind.CLEAR_CHARGING_PROFILE:
        return v221.ClearProfileResult(result=result)
    profile = None
    if result is ChargingProfileResultType.ACCEPTED and row.ocpp_answer is not None:
        active = active_profile_of_schedule(
            row.ocpp_answer, answered_at=row.answered_at or row.finished_at or utc_now()
        )
        profile = v221.ActiveChargingProfile.model_validate(active) if active else None
    if profile is None and result is ChargingProfileResultType.ACCEPTED:
        # "profile: the requested ActiveChargingProfile, if the result field is set to
        # ACCEPTED": without one there is nothing the eMSP could use.
        result = ChargingProfileResultType.UNKNOWN
    return v221.ActiveChargingProfileResult(result=result, profile=profile)


def sender_endpoint(partner: Partner) -> str | None:
    """The partner's ChargingProfiles *Sender* endpoint, if it lists one."""
    for endpoint in partner.endpoints:
        if endpoint.get("identifier") == "chargingprofiles" and endpoint.get("role") == "SENDER":
            return str(endpoint["url"])
    return None


async def active_profile_put(
    session: AsyncSession, partner: Partner, scope: PartyScope, session_ref: int
) -> tuple[str, dict[str, object]] | None:
    """URL and body of the ActiveChargingProfile PUT for a session (the profile as set: the
    charger tells us no composite schedule unless asked), or None when there is nothing to
    send: no Sender endpoint, the session is not this partner's (checked again when sent), or
    its profile is no longer active."""
    url = sender_endpoint(partner)
    charge = await SessionRepository(session).get(session_ref)
    if url is None or charge is None or charge.partner_id != partner.id:
        return None
    if not scope.owns(charge.token_country_code or "", charge.token_party_id or ""):
        return None
    held = await ChargingProfileService(session).active(session_ref)
    if held is None or held.partner_id != partner.id:
        return None
    active = v221.ActiveChargingProfile.model_validate(
        active_profile_as_set(held.profile, charge.start_date_time)
    )
    return object_url(url, charge.session_id), active.to_wire()


class PartnerChargingProfiles:
    """ChargingProfiles Receiver: a partner sets, reads and clears profiles only on its own
    sessions (``hub.services.charging_profiles``); ``on_accepted`` wakes the process's command
    runner once the request is committed."""

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

    async def _accept(
        self, client: ClientIdentity, receiver: PartyRef | None, request: ProfileRequest
    ) -> v221.ChargingProfileResponse:
        caller = caller_of(client, receiver)
        try:
            async with session_scope(self._sessions) as session:
                service = ChargingProfileService(
                    session, timeouts=self._timeouts, clock=self._clock
                )
                row = await service.accept(caller, request)
        except InvalidRequest as exc:
            raise InvalidOrMissingParameters(f"Invalid request body: {exc}") from None
        if row.response == ChargingProfileResponseType.ACCEPTED.value:
            self._on_accepted()
        return v221.ChargingProfileResponse(
            result=ChargingProfileResponseType(row.response),
            timeout=int(self._timeouts.of(request.kind).total_seconds()),
        )

    async def set_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        request: v221.SetChargingProfile,
        receiver: PartyRef | None,
    ) -> v221.ChargingProfileResponse:
        body = request.to_wire()
        return await self._accept(
            client,
            receiver,
            ProfileRequest(
                kind=CommandKind.SET_CHARGING_PROFILE,
                session_id=session_id,
                response_url=str(request.response_url),
                body=body,
                profile=body["charging_profile"],
            ),
        )

    async def get_active_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        duration: int,
        response_url: str,
        receiver: PartyRef | None,
    ) -> v221.ChargingProfileResponse:
        return await self._accept(
            client,
            receiver,
            ProfileRequest(
                kind=CommandKind.GET_ACTIVE_CHARGING_PROFILE,
                session_id=session_id,
                response_url=response_url,
                body={"duration": duration, "response_url": response_url},
            ),
        )

    async def clear_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        response_url: str,
        receiver: PartyRef | None,
    ) -> v221.ChargingProfileResponse:
        return await self._accept(
            client,
            receiver,
            ProfileRequest(
                kind=CommandKind.CLEAR_CHARGING_PROFILE,
                session_id=session_id,
                response_url=response_url,
                body={"response_url": response_url},
            ),
        )
