from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin, UtcDateTime


class Tariff(TimestampMixin, table=True):
    """A tariff of one of our parties; ``attributes`` holds the OCPI fields in wire form."""

    __tablename__ = "tariffs"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "tariff_id"),)

    id: int | None = Field(default=None, primary_key=True)
    party_ref: int = Field(foreign_key="parties.id", index=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    tariff_id: str = Field(max_length=36)
    currency: str = Field(max_length=3)
    attributes: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    last_updated: datetime = Field(sa_type=UtcDateTime, index=True)
