"""Charging sessions and CDRs <-> the OCPI 2.2.1 Session and CDR objects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.access import PartyScope
from hub.persistence import tables
from hub.persistence.repositories.sessions import PageWindow
from hub.persistence.session import session_scope
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.commands import Caller
from hub.services.sessions import SessionService, cdr_token
from ocpi.errors import ChargingPreferencesNotSupported, UnknownObject
from ocpi.headers import PartyRef
from ocpi.v221 import models as v221
from ocpi.v221.enums import ChargingPreferencesResponse
from ocpi.v221.ports import ClientIdentity, Page, SenderQuery


def scope_of(client: ClientIdentity) -> PartyScope:
    """What the authenticated partner owns."""
    return PartyScope.of((p.country_code, p.party_id) for p in client.parties)


def caller_of(client: ClientIdentity, receiver: PartyRef | None) -> Caller:
    """The partner behind a request as the commands services see it: its id, the parties it
    owns (the one ownership rule, ``scope_of``), and the party of ours it addressed."""
    return Caller(
        partner_id=int(client.client_id),
        scope=scope_of(client),
        receiver=(receiver.country_code, receiver.party_id) if receiver else None,
    )


def _session_fields(row: tables.ChargingSession) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "end_date_time": row.end_date_time,
        "kwh": row.kwh.quantize(Decimal("0.001")),
        "cdr_token": cdr_token(row),
        "auth_method": row.auth_method or "WHITELIST",
        "authorization_reference": row.authorization_reference,
        "meter_id": row.meter_id,
        "currency": row.currency,
        "charging_periods": row.charging_periods or None,
        "status": row.status,
        "last_updated": row.last_updated,
    }
    if row.total_cost_excl_vat is not None:
        fields["total_cost"] = {
            "excl_vat": row.total_cost_excl_vat,
            **(
                {"incl_vat": row.total_cost_incl_vat} if row.total_cost_incl_vat is not None else {}
            ),
        }
    return fields


def session_model(row: tables.ChargingSession) -> v221.Session:
    """The OCPI Session of a stored session (PUT, and the Sessions Sender GET)."""
    return v221.Session.model_validate(
        {
            "country_code": row.country_code,
            "party_id": row.party_id,
            "id": row.session_id,
            "start_date_time": row.start_date_time,
            "location_id": row.location_id,
            "evse_uid": row.evse_uid,
            "connector_id": row.connector_id,
            **_session_fields(row),
        }
    )


def session_patch(row: tables.ChargingSession) -> v221.SessionPatch:
    """What changes while a session runs, with ``last_updated`` (a PATCH), without
    ``charging_periods``: a PATCH's periods are ADDED to the receiver's list
    (``mod_sessions.asciidoc`` "PATCH Method": "If existing ChargingPeriod objects in a Session
    need to be replaced or removed, the Sender SHALL use the PUT method"), and ours are
    recomputed (the last one grows), so they go in the PUT that ends the session."""
    fields = _session_fields(row)
    fields.pop("charging_periods", None)
    return v221.SessionPatch.model_validate(fields)


def cdr_model(row: tables.ChargeDetailRecord) -> v221.CDR:
    """The OCPI CDR as it was made (its stored body; a CDR never changes)."""
    return v221.CDR.model_validate(row.body)


def _cpo(receiver: PartyRef | None) -> tuple[str, str] | None:
    return (receiver.country_code, receiver.party_id) if receiver is not None else None


def _window(query: SenderQuery) -> PageWindow:
    page = query.page
    return PageWindow(page.offset, page.limit, page.date_from, page.date_to, _cpo(query.receiver))


class PartnerSessions:
    """Sessions Sender: only the sessions of the partner's own tokens (``PartyScope.owns``);
    another partner's session is indistinguishable from a missing one."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_sessions(self, client: ClientIdentity, query: SenderQuery) -> Page[v221.Session]:
        async with session_scope(self._sessions) as session:
            service = SessionService(session, codec=OcpiTariffCodec())
            rows, total = await service.owned_page(scope_of(client), _window(query))
            items = [session_model(row) for row in rows]
        return Page(items=items, total=total)

    async def put_charging_preferences(
        self,
        client: ClientIdentity,
        session_id: str,
        preferences: v221.ChargingPreferences,
        receiver: PartyRef | None,
    ) -> ChargingPreferencesResponse:
        async with session_scope(self._sessions) as session:
            kept = await SessionService(session, codec=OcpiTariffCodec()).set_charging_preferences(
                scope_of(client), session_id, preferences.to_wire(), cpo=_cpo(receiver)
            )
        if kept is None:
            raise UnknownObject(f"Unknown session {session_id}")
        if not kept:
            raise ChargingPreferencesNotSupported(
                f"the EVSE of session {session_id} does not take charging preferences"
            )
        # Kept, but nothing acts on them yet: the truthful answer (smart charging will).
        return ChargingPreferencesResponse.NOT_POSSIBLE


class PartnerCdrs:
    """CDRs Sender: only the CDRs of the partner's own tokens."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_cdrs(self, client: ClientIdentity, query: SenderQuery) -> Page[v221.CDR]:
        async with session_scope(self._sessions) as session:
            service = SessionService(session, codec=OcpiTariffCodec())
            rows, total = await service.owned_cdr_page(scope_of(client), _window(query))
            items = [cdr_model(row) for row in rows]
        return Page(items=items, total=total)
