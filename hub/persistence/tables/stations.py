from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.persistence.base import TimestampMixin, UtcDateTime, utc_now


class ChargingStation(TimestampMixin, table=True):
    """An OCPP charging station allowed to connect, with what it last told us.

    ``connector_statuses`` maps ``"<evse_id>:<connector_id>"`` (2.0.1) or ``"0:<connector_id>"``
    (1.6) to the last OCPP status reported, so EVSE statuses can be restored when the station
    comes back online. ``connected_node`` names the hub process holding its socket, which is
    where calls to the station must be sent.

    ``auth_failures`` counts the failed logins since the last successful one: with
    ``last_auth_failure_at`` it decides how long the next attempt must wait (shared by every hub
    process); ``auth_failures_total`` and ``last_auth_failure_source`` are for the operator.
    """

    __tablename__ = "charging_stations"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=48, unique=True)
    password_hash: str = Field(max_length=100)
    ocpp_version: str | None = Field(default=None, max_length=8)
    vendor: str | None = Field(default=None, max_length=50)
    model: str | None = Field(default=None, max_length=50)
    serial_number: str | None = Field(default=None, max_length=50)
    firmware_version: str | None = Field(default=None, max_length=50)
    booted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    online: bool = Field(default=False)
    connected_node: str | None = Field(default=None, max_length=255)
    last_seen_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    station_status: str | None = Field(default=None, max_length=16)
    connector_statuses: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    auth_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    auth_failures_total: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    last_auth_failure_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_auth_failure_source: str | None = Field(default=None, max_length=64)


class EvseStatusChange(SQLModel, table=True):
    """Every EVSE status change with its cause: the source of uptime reports."""

    __tablename__ = "evse_status_history"
    __table_args__ = (sa.Index("ix_evse_status_history_evse_at", "evse_ref", "changed_at"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    evse_ref: int = Field(foreign_key="evses.id", ondelete="CASCADE")
    status: str = Field(max_length=16)
    previous_status: str | None = Field(default=None, max_length=16)
    ocpp_status: str | None = Field(default=None, max_length=24)
    reason: str = Field(max_length=24)
    changed_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
