"""Sessions module objects (``mod_sessions.asciidoc`` "Object description").

The shared CDR classes (:class:`~ocpi.v221.models.cdrs.CdrToken`,
:class:`~ocpi.v221.models.cdrs.ChargingPeriod`, :class:`~ocpi.v221.models.cdrs.CdrDimension`)
live in :mod:`ocpi.v221.models.cdrs`, where the spec defines them.
"""

from __future__ import annotations

from typing import Annotated

from ocpi.types import CiString, CountryCode, DateTime, Number, OcpiModel, PartyId, Price, String
from ocpi.v221.enums import AuthMethod, ProfileType, SessionStatus
from ocpi.v221.models.cdrs import CdrToken, ChargingPeriod

__all__ = ["ChargingPreferences", "Session", "SessionPatch"]

_Id = Annotated[str, CiString(36)]


class Session(OcpiModel):
    """A charging session as the CPO sees it (``mod_sessions.asciidoc`` "Session Object").

    ``evse_uid`` and ``connector_id`` may be ``#NA`` for a reservation with no EVSE assigned yet.
    ``kwh`` and ENERGY dimensions are in kWh.
    """

    country_code: CountryCode
    party_id: PartyId
    id: _Id
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: _Id | None = None
    location_id: _Id
    evse_uid: _Id
    connector_id: _Id
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)]
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class SessionPatch(OcpiModel):
    """PATCH body for a Session: any subset of its fields, ``last_updated`` required.

    "Any request to the PATCH method SHALL contain the ``last_updated`` field". The
    ``charging_periods`` of a PATCH are added to the existing list rather than replacing it
    (``mod_sessions.asciidoc`` "PATCH Method").
    """

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: _Id | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: Number | None = None
    cdr_token: CdrToken | None = None
    auth_method: AuthMethod | None = None
    authorization_reference: _Id | None = None
    location_id: _Id | None = None
    evse_uid: _Id | None = None
    connector_id: _Id | None = None
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)] | None = None
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus | None = None
    last_updated: DateTime


class ChargingPreferences(OcpiModel):
    """Smart charging preferences the driver sets for a session (``"ChargingPreferences"``)."""

    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None
