from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from hub.domain.assets import EvseStatus
from hub.persistence.base import TimestampMixin, UtcDateTime


class Location(TimestampMixin, table=True):
    """A site owned by one of our parties. ``location_id`` is unique on the whole platform, so
    the Locations Sender GET (which addresses locations by id alone) is never ambiguous.

    ``attributes`` holds the descriptive fields in OCPI wire form (address, coordinates, opening
    times...); only ``hub.roaming.mappers`` reads or writes it.
    """

    __tablename__ = "locations"

    id: int | None = Field(default=None, primary_key=True)
    party_ref: int = Field(foreign_key="parties.id", index=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36, unique=True)
    publish: bool = Field(default=True)
    time_zone: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=255)
    city: str = Field(max_length=45)
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    last_updated: datetime = Field(sa_type=UtcDateTime, index=True)


class LocationVisibility(TimestampMixin, table=True):
    """A partner party allowed to see an unpublished location (``publish`` false)."""

    __tablename__ = "location_visibility"
    __table_args__ = (sa.UniqueConstraint("location_ref", "country_code", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    location_ref: int = Field(foreign_key="locations.id", index=True, ondelete="CASCADE")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)


class TariffReference(TimestampMixin, table=True):
    """A tariff that a connector of the location references (``Connector.tariff_ids``).

    Derived from the EVSEs' connectors whenever they change; it lets the tariff visibility rule
    (``hub.domain.access``) run as one query.
    """

    __tablename__ = "tariff_references"
    __table_args__ = (
        sa.UniqueConstraint("location_ref", "tariff_id"),
        sa.Index("ix_tariff_references_tariff", "country_code", "party_id", "tariff_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    location_ref: int = Field(foreign_key="locations.id", index=True, ondelete="CASCADE")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    tariff_id: str = Field(max_length=36)


class Evse(TimestampMixin, table=True):
    """An EVSE with its connectors (``connectors``: list of OCPI Connector objects in wire form)
    and its link to the OCPP side. ``uid`` is unique on the platform."""

    __tablename__ = "evses"

    id: int | None = Field(default=None, primary_key=True)
    location_ref: int = Field(foreign_key="locations.id", index=True, ondelete="CASCADE")
    position: int = Field(default=0)
    uid: str = Field(max_length=36, unique=True)
    evse_id: str | None = Field(default=None, max_length=48)
    status: str = Field(max_length=16, default=EvseStatus.UNKNOWN.value)
    connectors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    charging_station_id: str | None = Field(default=None, max_length=64, index=True)
    ocpp_evse_id: int | None = Field(default=None)
    ocpp_connector_id: int | None = Field(default=None)
    last_updated: datetime = Field(sa_type=UtcDateTime)
