"""Charging sessions (one per OCPP transaction), the charger's messages about them, and CDRs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.domain.sessions import SessionStatus
from hub.persistence.base import UtcDateTime, utc_now

# Energy to the mWh, money to a hundredth of a cent: exact Decimals on both engines.
KWH = sa.Numeric(18, 6)
MONEY = sa.Numeric(18, 4)


def _bigint_key() -> Any:
    # BIGINT on PostgreSQL; SQLite needs INTEGER for an auto-incrementing rowid key.
    return sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


class ChargingSession(SQLModel, table=True):
    """One OCPP transaction and the OCPI Session it is published as.

    ``transaction_id`` is the station's id of the transaction: for OCPP 1.6 the one we assigned
    (this row's ``id``: unique on the platform, whatever process took the StartTransaction), for
    2.0.1 the station's own string. The token columns are the ``cdr_token`` (empty while a 2.0.1
    transaction waits for its ``idToken``); ``partner_id`` is the eMSP that owns the token (None:
    no partner known, listed by ``hub sessions unassigned``). ``tariff`` is the tariff in effect
    for the connector when the session started (its wire form), with ``tariff_hash`` of its
    content: the price lock. ``cdr_location`` is the location as it was at the start.
    """

    __tablename__ = "charging_sessions"
    __table_args__ = (
        sa.UniqueConstraint("station_id", "transaction_id"),
        sa.UniqueConstraint("country_code", "party_id", "session_id"),
        sa.Index("ix_charging_sessions_open", "station_id", "status"),
        # EV-ChART Module 2 reads a quarter of one location's sessions, in start order.
        sa.Index("ix_charging_sessions_location_start", "location_id", "start_date_time"),
        # The uptime ledger reads the sessions of a station's ports, in start order (without
        # it, every station of EV-ChART Modules 3 and 4 scanned every session).
        sa.Index("ix_charging_sessions_evse_start", "evse_uid", "start_date_time"),
        sa.Index(
            "ix_charging_sessions_token_party",
            "token_country_code",
            "token_party_id",
            "last_updated",
        ),
    )

    id: int | None = Field(default=None, sa_column=_bigint_key())
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    session_id: str = Field(max_length=36)
    station_id: str = Field(max_length=64)
    ocpp_version: str = Field(max_length=8)
    transaction_id: str | None = Field(default=None, max_length=36)
    ocpp_evse_id: int | None = None
    ocpp_connector_id: int | None = None
    remote_start_id: int | None = None
    location_id: str = Field(max_length=36)
    evse_uid: str = Field(max_length=36)
    connector_id: str = Field(max_length=36)
    meter_id: str | None = Field(default=None, max_length=255)
    status: str = Field(max_length=12, default=SessionStatus.PENDING.value)
    start_date_time: datetime = Field(sa_type=UtcDateTime)
    reserved_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    """When the reservation this session began as was accepted (None: no reservation); its
    reservation time runs until ``start_date_time`` when used, else until the end."""
    reservation_expired: bool = Field(default=False)
    end_date_time: datetime | None = Field(default=None, sa_type=UtcDateTime)
    meter_start_kwh: Decimal | None = Field(default=None, sa_type=KWH)
    meter_stop_kwh: Decimal | None = Field(default=None, sa_type=KWH)
    kwh: Decimal = Field(default=Decimal(0), sa_type=KWH)
    max_power_kw: Decimal | None = Field(default=None, sa_type=KWH)
    token_country_code: str | None = Field(default=None, max_length=2)
    token_party_id: str | None = Field(default=None, max_length=3)
    token_uid: str | None = Field(default=None, max_length=36)
    token_type: str | None = Field(default=None, max_length=16)
    contract_id: str | None = Field(default=None, max_length=36)
    presented_type: str | None = Field(default=None, max_length=16)
    partner_id: int | None = Field(default=None, foreign_key="partners.id", ondelete="SET NULL")
    auth_method: str | None = Field(default=None, max_length=12)
    authorization_reference: str | None = Field(default=None, max_length=36)
    currency: str = Field(max_length=3)
    time_zone: str = Field(max_length=64)
    tariff_id: str | None = Field(default=None, max_length=36)
    tariff: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    tariff_hash: str | None = Field(default=None, max_length=64)
    cdr_location: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    charging_periods: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    total_cost_excl_vat: Decimal | None = Field(default=None, sa_type=MONEY)
    total_cost_incl_vat: Decimal | None = Field(default=None, sa_type=MONEY)
    stop_reason: str | None = Field(default=None, max_length=32)
    close_reason: str | None = Field(default=None, max_length=24)
    problems: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    """What the hub could not trust in the charger's data (flagged; see ``hub sessions review``)."""
    held_for_review: bool = Field(default=False)
    signed_data: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    last_event_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    pushed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    pushed_kwh: Decimal | None = Field(default=None, sa_type=KWH)
    pushed_status: str | None = Field(default=None, max_length=12)
    cdr_made: bool = Field(default=False)
    payment_method: str | None = Field(default=None, max_length=16)
    """How the driver paid (``hub.domain.sessions.PaymentMethod``), for EV-ChART Module 2."""
    session_error: str | None = Field(default=None, max_length=64)
    """Why the session was unsuccessful, once ended (None: it succeeded); EV-ChART Module 2."""
    charging_preferences: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    """The driver's last ChargingPreferences (OCPI wire form), kept as received."""
    last_updated: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)


class SessionMessage(SQLModel, table=True):
    """A charger's message about a session, kept as it came (the meter values in it are what
    the energy is computed from, in timestamp order, so late and out-of-order messages count
    once and in their place). ``seq_no`` is the 2.0.1 ``seqNo``: unique per session, so a
    repeated event is recognised and ignored."""

    __tablename__ = "session_messages"
    __table_args__ = (sa.UniqueConstraint("session_ref", "seq_no"),)

    id: int | None = Field(default=None, sa_column=_bigint_key())
    session_ref: int = Field(
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("charging_sessions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    action: str = Field(max_length=32)
    seq_no: int | None = None
    timestamp: datetime = Field(sa_type=UtcDateTime)
    charging_state: str | None = Field(default=None, max_length=16)
    meter_values: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    received_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class ChargeDetailRecord(SQLModel, table=True):
    """A CDR as made at the end of a session; never changed afterwards (a correction is a
    credit CDR and a new one). ``body`` holds the OCPI CDR in wire form; ``location_url`` is
    where the eMSP said it keeps it (its ``Location`` answer)."""

    __tablename__ = "charge_detail_records"
    __table_args__ = (
        sa.UniqueConstraint("country_code", "party_id", "cdr_id"),
        sa.Index(
            "ix_charge_detail_records_token_party",
            "token_country_code",
            "token_party_id",
            "last_updated",
        ),
    )

    id: int | None = Field(default=None, sa_column=_bigint_key())
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    cdr_id: str = Field(max_length=39)
    session_ref: int | None = Field(
        default=None,
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("charging_sessions.id", ondelete="SET NULL"),
            index=True,
        ),
    )
    token_country_code: str = Field(max_length=2)
    token_party_id: str = Field(max_length=3)
    partner_id: int | None = Field(default=None, foreign_key="partners.id", ondelete="SET NULL")
    body: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    total_cost_excl_vat: Decimal = Field(sa_type=MONEY)
    total_energy: Decimal = Field(sa_type=KWH)
    credit: bool = Field(default=False)
    credit_reference_id: str | None = Field(default=None, max_length=39)
    location_url: str | None = Field(default=None, max_length=512)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    last_updated: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, index=True)
