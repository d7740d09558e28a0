from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin


class Party(TimestampMixin, table=True):
    """One of our own CPO parties hosted on this platform (listed in our credentials roles)."""

    __tablename__ = "parties"
    __table_args__ = (sa.UniqueConstraint("role", "country_code", "party_id"),)

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=10, default="CPO")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    name: str = Field(max_length=100)
    website: str | None = Field(default=None, max_length=255)
    logo_url: str | None = Field(default=None, max_length=255)
