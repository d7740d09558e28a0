"""Reservations eMSPs made (``hub.domain.reservations``)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.domain.reservations import ReservationState
from hub.persistence.base import UtcDateTime, utc_now


def _bigint_ref(target: str, ondelete: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.ForeignKey(target, ondelete=ondelete),
        nullable=True,
    )


class Reservation(SQLModel, table=True):
    """One reservation; ``id`` is the reservation id the charger knows (never the eMSP's
    ``reservation_id``). ``command_ref`` is the RESERVE_NOW that made (or last replaced) it:
    its ``response_url`` also receives a CANCELED_RESERVATION. ``session_ref`` is the Session
    in status RESERVATION. ``evse_uid`` None: any EVSE of the location."""

    __tablename__ = "reservations"
    __table_args__ = (
        sa.Index("ix_reservations_emsp_id", "partner_id", "reservation_id", "location_id"),
        sa.Index("ix_reservations_state_expiry", "state", "expiry_date"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    partner_id: int = Field(foreign_key="partners.id", ondelete="CASCADE")
    reservation_id: str = Field(max_length=36)
    state: str = Field(max_length=16, default=ReservationState.REQUESTED.value)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str = Field(max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    station_id: str = Field(max_length=64)
    expiry_date: datetime = Field(sa_type=UtcDateTime)
    command_ref: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
    )
    """Not a foreign key: commands name their reservation (``Command.reservation_ref``)."""
    session_ref: int | None = Field(
        default=None, sa_column=_bigint_ref("charging_sessions.id", "SET NULL")
    )
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    end_reason: str | None = Field(default=None, max_length=255)

    def require_id(self) -> int:
        if self.id is None:
            raise RuntimeError("reservation not flushed yet")
        return self.id
