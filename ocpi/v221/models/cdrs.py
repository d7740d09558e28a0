"""CDRs module objects (``mod_cdrs.asciidoc`` "Object description" and "Data types").

:class:`CdrToken`, :class:`ChargingPeriod` and :class:`CdrDimension` are defined here, as in the
spec, and reused by Sessions.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ocpi.types import CiString, CountryCode, DateTime, Number, OcpiModel, PartyId, Price, String
from ocpi.v221.enums import (
    AuthMethod,
    CdrDimensionType,
    ConnectorFormat,
    ConnectorType,
    OpenEnum,
    PowerType,
    TokenType,
)
from ocpi.v221.models.locations import GeoLocation
from ocpi.v221.models.tariffs import Tariff

__all__ = [
    "CDR",
    "CdrDimension",
    "CdrLocation",
    "CdrToken",
    "ChargingPeriod",
    "SignedData",
    "SignedValue",
]

_Id = Annotated[str, CiString(36)]


class CdrToken(OcpiModel):
    """The token a session was started with (``mod_cdrs.asciidoc`` "CdrToken")."""

    country_code: CountryCode
    party_id: PartyId
    uid: _Id
    type: OpenEnum[TokenType]
    contract_id: _Id


class CdrDimension(OcpiModel):
    """One measured value of a ChargingPeriod; units per :class:`CdrDimensionType`."""

    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    """A period with constant tariff and dimensions, ending where the next one starts."""

    start_date_time: DateTime
    dimensions: Annotated[list[CdrDimension], Field(min_length=1)]
    tariff_id: _Id | None = None


class CdrLocation(OcpiModel):
    """The Location, EVSE and Connector a CDR was charged at (``"CdrLocation"``).

    ``evse_uid``, ``evse_id`` and ``connector_id`` may be ``#NA`` for a reservation that never
    became a session. ``address``/``state`` keep the 45/20 limits (the erratum that lengthened
    them only covers Location).
    """

    id: _Id
    name: Annotated[str, String(255)] | None = None
    address: Annotated[str, String(45)]
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)] | None = None
    state: Annotated[str, String(20)] | None = None
    country: Annotated[str, String(3)]
    coordinates: GeoLocation
    evse_uid: _Id
    evse_id: Annotated[str, CiString(48)]
    connector_id: _Id
    connector_standard: OpenEnum[ConnectorType]
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    """One signed meter value (``mod_cdrs.asciidoc`` "SignedValue").

    ``plain_data`` is ``string(5000)`` per the release-2.2.1-bugfixes erratum (commit 4a91081);
    the d2 text says 512, too short for real OCMF payloads.
    """

    nature: Annotated[str, CiString(32)]
    plain_data: Annotated[str, String(5000)]
    signed_data: Annotated[str, String(5000)]


class SignedData(OcpiModel):
    """Signed (eichrecht) metering data of a session (``mod_cdrs.asciidoc`` "SignedData")."""

    encoding_method: Annotated[str, CiString(36)]
    encoding_method_version: int | None = None
    public_key: Annotated[str, String(512)] | None = None
    signed_values: Annotated[list[SignedValue], Field(min_length=1)]
    url: Annotated[str, String(512)] | None = None


class CDR(OcpiModel):
    """Charge Detail Record: the final, billable record of a session (``"CDR Object"``).

    ``id`` is ``CiString(39)`` so credit CDRs can append a suffix to the original id.
    """

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(39)]
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: _Id | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: _Id | None = None
    cdr_location: CdrLocation
    meter_id: Annotated[str, String(255)] | None = None
    currency: Annotated[str, String(3)]
    tariffs: list[Tariff] | None = None
    charging_periods: Annotated[list[ChargingPeriod], Field(min_length=1)]
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: Annotated[str, String(255)] | None = None
    invoice_reference_id: Annotated[str, CiString(39)] | None = None
    credit: bool | None = None
    credit_reference_id: Annotated[str, CiString(39)] | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime
