"""Tariffs module objects (``mod_tariffs.asciidoc`` "Object description" and "Data types").

Tariffs are only PUT and DELETE in 2.2.1 (no PATCH), so there is no patch model.
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
    Price,
    String,
)
from ocpi.v221.enums import DayOfWeek, ReservationRestrictionType, TariffDimensionType, TariffType
from ocpi.v221.models.locations import EnergyMix, LocalTime

__all__ = ["LocalDate", "PriceComponent", "Tariff", "TariffElement", "TariffRestrictions"]

LocalDate = Annotated[
    str,
    String(10),
    StringConstraints(pattern=r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"),
]
"""Local date ``YYYY-MM-DD``, ``string(10)`` (TariffRestrictions ``start_date``/``end_date``)."""


class PriceComponent(OcpiModel):
    """Price of one dimension, excl. VAT, with optional VAT % (``"PriceComponent"``).

    ``step_size`` is in Wh for ENERGY and seconds for TIME and PARKING_TIME.
    """

    type: TariffDimensionType
    price: Number
    vat: Number | None = None
    step_size: int


class TariffRestrictions(OcpiModel):
    """When a TariffElement is active; all set fields must match (``"TariffRestrictions"``).

    Times and dates are local to the Location's ``time_zone``; kWh, A, kW and seconds as named.
    """

    start_time: LocalTime | None = None
    end_time: LocalTime | None = None
    start_date: LocalDate | None = None
    end_date: LocalDate | None = None
    min_kwh: Number | None = None
    max_kwh: Number | None = None
    min_current: Number | None = None
    max_current: Number | None = None
    min_power: Number | None = None
    max_power: Number | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(OcpiModel):
    """Price components that apply under the same restrictions (``"TariffElement"``)."""

    price_components: Annotated[list[PriceComponent], Field(min_length=1)]
    restrictions: TariffRestrictions | None = None


class Tariff(OcpiModel):
    """A CPO tariff (``mod_tariffs.asciidoc`` "Tariff Object")."""

    country_code: CountryCode
    party_id: PartyId
    id: Annotated[str, CiString(36)]
    currency: Annotated[str, String(3)]
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] | None = None
    tariff_alt_url: URL | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: Annotated[list[TariffElement], Field(min_length=1)]
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
