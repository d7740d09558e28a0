"""Charging profiles eMSPs set on their sessions (``hub.domain.charging_profiles``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.persistence.base import UtcDateTime, utc_now


def _bigint() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class SessionChargingProfile(SQLModel, table=True):
    """The profile a charger accepted for a session: one per session (a PUT replaces it).

    Written only once the charger answered Accepted (the requests themselves are commands,
    ``commands.kind`` ``*_CHARGING_PROFILE``), so a refused or unanswered request leaves it as
    it was. ``profile`` is the OCPI ChargingProfile as the eMSP sent it; ``ocpp_profile_id``
    the ``chargingProfileId`` the charger holds it under. ``status`` is ``ACTIVE``, or
    ``CLEARED`` once the charger cleared it (``cleared_at``).
    """

    __tablename__ = "session_charging_profiles"
    __table_args__ = (sa.Index("ix_session_charging_profiles_station", "station_id", "set_at"),)

    id: int | None = Field(
        default=None, sa_column=sa.Column(_bigint(), primary_key=True, autoincrement=True)
    )
    session_ref: int = Field(
        sa_column=sa.Column(
            _bigint(),
            sa.ForeignKey("charging_sessions.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    partner_id: int = Field(foreign_key="partners.id", ondelete="CASCADE")
    station_id: str = Field(max_length=64)
    ocpp_profile_id: int = Field(sa_type=sa.BigInteger)
    stack_level: int
    profile: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    status: str = Field(max_length=10)
    command_ref: int | None = Field(
        default=None,
        sa_column=sa.Column(
            _bigint(), sa.ForeignKey("commands.id", ondelete="SET NULL"), nullable=True
        ),
    )
    """The command that last changed it (``hub commands show``)."""
    set_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    cleared_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
