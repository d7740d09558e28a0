"""Locations module objects (``mod_locations.asciidoc`` "Object description" and "Data types").

Location → EVSE → Connector, plus the shared classes the other modules reuse (BusinessDetails,
Image, EnergyMix). Cardinality ``?`` and ``*`` fields default to ``None`` (absent on the wire);
``+`` lists must hold at least one element.

:class:`LocationPatch`, :class:`EVSEPatch` and :class:`ConnectorPatch` are PATCH bodies: every
field optional except ``last_updated`` ("Any request to the PATCH method SHALL contain the
``last_updated`` field", ``mod_locations.asciidoc`` "PATCH Method").
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ocpi.types import (
    URL,
    CiString,
    CountryCode,
    DateTime,
    DisplayText,
    Number,
    OcpiModel,
    PartyId,
    String,
)
from ocpi.v221.enums import (
    Capability,
    ConnectorFormat,
    ConnectorType,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    Facility,
    ImageCategory,
    OpenEnum,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
    TokenType,
)

__all__ = [
    "EVSE",
    "AdditionalGeoLocation",
    "BusinessDetails",
    "Connector",
    "ConnectorPatch",
    "EVSEPatch",
    "EnergyMix",
    "EnergySource",
    "EnvironmentalImpact",
    "ExceptionalPeriod",
    "GeoLocation",
    "Hours",
    "Image",
    "Latitude",
    "LocalTime",
    "Location",
    "LocationPatch",
    "Longitude",
    "PublishTokenType",
    "RegularHours",
    "StatusSchedule",
]

Latitude = Annotated[str, String(10), StringConstraints(pattern=r"^-?[0-9]{1,2}\.[0-9]{5,7}$")]
"""Latitude in decimal degrees, ``string(10)``, spec regex ``-?[0-9]{1,2}\\.[0-9]{5,7}``."""

Longitude = Annotated[str, String(11), StringConstraints(pattern=r"^-?[0-9]{1,3}\.[0-9]{5,7}$")]
"""Longitude in decimal degrees, ``string(11)``, spec regex ``-?[0-9]{1,3}\\.[0-9]{5,7}``."""

LocalTime = Annotated[
    str, String(5), StringConstraints(pattern=r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
]
"""Local time of day ``HH:MM``, 24h with leading zeros, ``string(5)``.

Spec regex ``([0-1][0-9]|2[0-3]):[0-5][0-9]`` (RegularHours, TariffRestrictions): ``24:00`` is
not valid; the end of the day is ``00:00``.
"""

_Id = Annotated[str, CiString(36)]
_ImageSize = Annotated[int, Field(ge=0, le=99999)]  # int(5)


class GeoLocation(OcpiModel):
    """WGS 84 coordinates (``mod_locations.asciidoc`` "GeoLocation")."""

    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    """A related point, e.g. a parking entrance (``"AdditionalGeoLocation"``)."""

    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(OcpiModel):
    """Reference to an image (``mod_locations.asciidoc`` "Image")."""

    url: URL
    thumbnail: URL | None = None
    category: OpenEnum[ImageCategory]
    type: Annotated[str, CiString(4)]
    width: _ImageSize | None = None
    height: _ImageSize | None = None


class BusinessDetails(OcpiModel):
    """Name, website and logo of a company (``mod_locations.asciidoc`` "BusinessDetails")."""

    name: Annotated[str, String(100)]
    website: URL | None = None
    logo: Image | None = None


class PublishTokenType(OcpiModel):
    """Token fields that identify who may see an unpublished Location (``PublishTokenType``).

    The spec's "at least one of uid, visual_number, group_id" rules are left to the application.
    """

    uid: _Id | None = None
    type: OpenEnum[TokenType] | None = None
    visual_number: Annotated[str, String(64)] | None = None
    issuer: Annotated[str, String(64)] | None = None
    group_id: _Id | None = None


class RegularHours(OcpiModel):
    """Weekly recurring opening period, in local time (``"RegularHours"``)."""

    weekday: Annotated[int, Field(ge=1, le=7)]
    period_begin: LocalTime
    period_end: LocalTime


class ExceptionalPeriod(OcpiModel):
    """One exceptional opening or closing period, in UTC (``"ExceptionalPeriod"``)."""

    period_begin: DateTime
    period_end: DateTime


class Hours(OcpiModel):
    """Opening and access hours of a Location (``mod_locations.asciidoc`` "Hours")."""

    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None


class EnergySource(OcpiModel):
    """Share of one energy source category, in percent (``"EnergySource"``)."""

    source: EnergySourceCategory
    percentage: Number


class EnvironmentalImpact(OcpiModel):
    """Amount of waste or emission in g/kWh (``"EnvironmentalImpact"``)."""

    category: OpenEnum[EnvironmentalImpactCategory]
    amount: Number


class EnergyMix(OcpiModel):
    """Energy mix and environmental impact of a Location or Tariff (``"EnergyMix"``)."""

    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: Annotated[str, String(64)] | None = None
    energy_product_name: Annotated[str, String(64)] | None = None


class StatusSchedule(OcpiModel):
    """A planned EVSE status period, informational only (``"StatusSchedule"``)."""

    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class Connector(OcpiModel):
    """A socket or cable-and-plug of an EVSE (``mod_locations.asciidoc`` "Connector Object")."""

    id: _Id
    standard: OpenEnum[ConnectorType]
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int
    max_amperage: int
    max_electric_power: int | None = None
    tariff_ids: list[_Id] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class ConnectorPatch(OcpiModel):
    """PATCH body for a Connector: any subset of its fields, ``last_updated`` required."""

    id: _Id | None = None
    standard: OpenEnum[ConnectorType] | None = None
    format: ConnectorFormat | None = None
    power_type: PowerType | None = None
    max_voltage: int | None = None
    max_amperage: int | None = None
    max_electric_power: int | None = None
    tariff_ids: list[_Id] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    """The part that powers one EV at a time (``mod_locations.asciidoc`` "EVSE Object")."""

    uid: _Id
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenEnum[Capability]] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)]
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenEnum[ParkingRestriction]] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class EVSEPatch(OcpiModel):
    """PATCH body for an EVSE: any subset of its fields, ``last_updated`` required."""

    uid: _Id | None = None
    evse_id: Annotated[str, CiString(48)] | None = None
    status: Status | None = None
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[OpenEnum[Capability]] | None = None
    connectors: Annotated[list[Connector], Field(min_length=1)] | None = None
    floor_level: Annotated[str, String(4)] | None = None
    coordinates: GeoLocation | None = None
    physical_reference: Annotated[str, String(16)] | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[OpenEnum[ParkingRestriction]] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


# Erratum (ocpi/ocpi branch release-2.2.1-bugfixes, commits 96baa5d and 70ad09f): the 2.2.1
# documents "mistakenly gave maximum lengths of 45 and 20 for the address and state fields of
# the Location object"; they are 255 and 45. CdrLocation keeps 45 and 20 (not corrected).
_Address = Annotated[str, String(255)]
_State = Annotated[str, String(45)]


class Location(OcpiModel):
    """A site with a group of EVSEs (``mod_locations.asciidoc`` "Location Object")."""

    country_code: CountryCode
    party_id: PartyId
    id: _Id
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: Annotated[str, String(255)] | None = None
    address: _Address
    city: Annotated[str, String(45)]
    postal_code: Annotated[str, String(10)] | None = None
    state: _State | None = None
    country: Annotated[str, String(3)]
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum[ParkingType] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum[Facility]] | None = None
    time_zone: Annotated[str, String(255)]
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


class LocationPatch(OcpiModel):
    """PATCH body for a Location: any subset of its fields, ``last_updated`` required."""

    country_code: CountryCode | None = None
    party_id: PartyId | None = None
    id: _Id | None = None
    publish: bool | None = None
    publish_allowed_to: list[PublishTokenType] | None = None
    name: Annotated[str, String(255)] | None = None
    address: _Address | None = None
    city: Annotated[str, String(45)] | None = None
    postal_code: Annotated[str, String(10)] | None = None
    state: _State | None = None
    country: Annotated[str, String(3)] | None = None
    coordinates: GeoLocation | None = None
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: OpenEnum[ParkingType] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[OpenEnum[Facility]] | None = None
    time_zone: Annotated[str, String(255)] | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
