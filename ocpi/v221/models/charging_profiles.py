"""Charging Profiles module objects (``mod_charging_profiles.asciidoc``)."""

from __future__ import annotations

from ocpi.types import URL, DateTime, Number, OcpiModel
from ocpi.v221.enums import (
    ChargingProfileResponseType,
    ChargingProfileResultType,
    ChargingRateUnit,
)

__all__ = [
    "ActiveChargingProfile",
    "ActiveChargingProfileResult",
    "ChargingProfile",
    "ChargingProfilePeriod",
    "ChargingProfileResponse",
    "ChargingProfileResult",
    "ClearProfileResult",
    "SetChargingProfile",
]


class ChargingProfilePeriod(OcpiModel):
    """A limit from ``start_period`` seconds after the profile start (``"ChargingProfilePeriod"``).

    ``limit`` is in the profile's ``charging_rate_unit`` with at most one decimal.
    """

    start_period: int
    limit: Number


class ChargingProfile(OcpiModel):
    """Power or current limits over time (``mod_charging_profiles.asciidoc`` "ChargingProfile").

    Without ``start_date_time`` the profile is relative to the start of charging.
    """

    start_date_time: DateTime | None = None
    duration: int | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: Number | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    """The profile the Charge Point has computed for a session (``"ActiveChargingProfile"``)."""

    start_date_time: DateTime
    charging_profile: ChargingProfile


class SetChargingProfile(OcpiModel):
    """PUT body that sets a session's profile (``"SetChargingProfile Object"``)."""

    charging_profile: ChargingProfile
    response_url: URL


class ChargingProfileResponse(OcpiModel):
    """The CPO's synchronous answer; ``timeout`` in seconds (``"ChargingProfileResponse"``)."""

    result: ChargingProfileResponseType
    timeout: int


class ActiveChargingProfileResult(OcpiModel):
    """Asynchronous result of a GET ActiveChargingProfile (``"ActiveChargingProfileResult"``)."""

    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    """Asynchronous result of a SetChargingProfile (``"ChargingProfileResult Object"``)."""

    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    """Asynchronous result of a DELETE of a profile (``"ClearProfileResult Object"``)."""

    result: ChargingProfileResultType
