"""Commands eMSPs sent (``hub.domain.commands``): each one a persisted state machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.domain.commands import CommandState
from hub.persistence.base import UtcDateTime, utc_now


class Command(SQLModel, table=True):
    """One command, from its arrival to its result at ``response_url``.

    ``country_code``/``party_id`` are our CPO party the command addresses (the location's, or
    the session's): the sender of the result. ``token_*`` is the token the eMSP named (START
    SESSION, RESERVE_NOW), not validated by us (``mod_commands``): it becomes the session's
    ``cdr_token``. ``id`` is also the ``remoteStartId`` sent to OCPP 2.0.1 chargers.
    ``ocpp_request``/``ocpp_answer`` keep the exchange with the charger (``hub commands show``);
    ``result_sent_at`` is when the eMSP acknowledged the result.
    """

    __tablename__ = "commands"
    __table_args__ = (
        sa.Index("ix_commands_due", "state", "deadline"),
        sa.Index("ix_commands_waiting_at", "station_id", "state"),
        sa.Index("ix_commands_partner_received", "partner_id", "received_at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    partner_id: int = Field(foreign_key="partners.id", ondelete="CASCADE")
    kind: str = Field(max_length=32)
    state: str = Field(max_length=10, default=CommandState.PENDING.value)
    response: str = Field(max_length=16)
    """The CommandResponse result given when it arrived."""
    response_message: str | None = Field(default=None, max_length=255)
    response_url: str = Field(sa_type=sa.Text)
    request: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON))
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    location_id: str | None = Field(default=None, max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    connector_id: str | None = Field(default=None, max_length=36)
    station_id: str | None = Field(default=None, max_length=64)
    ocpp_evse_id: int | None = None
    ocpp_connector_id: int | None = None
    token_country_code: str | None = Field(default=None, max_length=2)
    token_party_id: str | None = Field(default=None, max_length=3)
    token_uid: str | None = Field(default=None, max_length=36)
    token_type: str | None = Field(default=None, max_length=16)
    contract_id: str | None = Field(default=None, max_length=36)
    authorization_reference: str | None = Field(default=None, max_length=36)
    session_ref: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("charging_sessions.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    """STOP_SESSION: the session to stop; START_SESSION: the session it started."""
    reservation_ref: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("reservations.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    """RESERVE_NOW / CANCEL_RESERVATION: the reservation."""
    operator: bool = Field(default=False)
    """Issued by the operator (``hub reservations cancel``): its result goes to nobody."""
    received_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    deadline: datetime = Field(sa_type=UtcDateTime)
    claimed_by: str | None = Field(default=None, max_length=128)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    ocpp_action: str | None = Field(default=None, max_length=32)
    ocpp_request: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    ocpp_answer: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    called_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    result: str | None = Field(default=None, max_length=24)
    result_message: str | None = Field(default=None, max_length=255)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    result_sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)

    def require_id(self) -> int:
        if self.id is None:
            raise RuntimeError("command not flushed yet")
        return self.id
