"""NEVI registration of a location: what EV-ChART Module 1 asks of a station and the network
provider value every EV-ChART module carries (README "EV-ChART exports")."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin


class NeviStation(TimestampMixin, table=True):
    """A location reported to EV-ChART (a NEVI station), with the operator's Module 1 data.

    Its own table rather than ``Location.attributes``: those hold the OCPI wire form and are
    published, while this is regulator registration data that no partner sees. The station id
    is the location's ``location_id`` and the address, city, state, zip and coordinates are the
    location's own (what we publish must be what we register). ``network_provider`` None: the
    platform's ``HUB_NEVI__NETWORK_PROVIDER``. ``funding``: the programs of Module 1 (NEVI, CFI,
    EVC_RAA, CMAQ, CRP, OTHER, AFC). ``ports`` maps an EVSE uid to its Module 1 port data
    (``port_type``, ``federally_funded``).
    """

    __tablename__ = "nevi_stations"

    id: int | None = Field(default=None, primary_key=True)
    location_ref: int = Field(foreign_key="locations.id", unique=True, ondelete="CASCADE")
    network_provider: str | None = Field(default=None, max_length=30)
    nickname: str | None = Field(default=None, max_length=50)
    project_type: str | None = Field(default=None, max_length=50)
    operational_date: date | None = None
    funding: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    num_fed_funded_ports: int | None = None
    num_non_fed_funded_ports: int | None = None
    ports: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
