"""The NEVI uptime ledger: derived outages per port, the operator's exclusions (an append-only
trail) and scheduled maintenance declared ahead of time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Field, SQLModel

from hub.persistence.base import UtcDateTime, utc_now


def _bigint_key() -> Any:
    # BIGINT on PostgreSQL; SQLite needs INTEGER for an auto-incrementing rowid key.
    return sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


class PortOutage(SQLModel, table=True):
    """One outage of one port, as the ledger derived it from the status history and the
    sessions. Keyed by (port, ``starts_at``): a rebuild updates the row of an outage that starts at
    the same instant, so its ``id`` (what exclusions and reports refer to) never changes. An
    outage a rebuild no longer derives is kept with ``withdrawn_at`` set (its exclusions stay
    in the trail) and comes back under its id if derived again.

    ``station_id`` (the location id) and ``port_id`` (the EVSE uid) are copied for reports.
    ``exclusion_ref`` is the exclusion event in effect (None: not excluded).
    """

    __tablename__ = "port_outages"
    __table_args__ = (
        sa.UniqueConstraint("evse_ref", "starts_at"),
        sa.Index("ix_port_outages_station_starts_at", "station_id", "starts_at"),
    )

    id: int | None = Field(default=None, sa_column=_bigint_key())
    evse_ref: int = Field(foreign_key="evses.id", ondelete="CASCADE")
    station_id: str = Field(max_length=36)
    port_id: str = Field(max_length=36, index=True)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cause: str = Field(max_length=16)
    exclusion_ref: int | None = Field(
        default=None, sa_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    )
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    derived_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class OutageExclusionEvent(SQLModel, table=True):
    """Every change to an outage's exclusion, never updated nor deleted (the trail a report is
    reproduced from). ``action`` EXCLUDE puts this event in effect (with ``reason`` 1-6 and the
    ``intervals`` excluded: ``[[from, until], ...]`` ISO 8601, ``until`` null: to the outage's
    end), UNEXCLUDE ends the one in effect. ``source`` OPERATOR (``hub outages``) or
    MAINTENANCE (a declared window, ``maintenance_ref``); ``made_by`` is who (the OS user or
    ``--by``), ``made_at`` when, ``note`` why, ``evidence`` the reference to the proof."""

    __tablename__ = "outage_exclusion_events"

    id: int | None = Field(default=None, sa_column=_bigint_key())
    outage_ref: int = Field(
        sa_column=sa.Column(
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("port_outages.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    action: str = Field(max_length=10)
    source: str = Field(max_length=12)
    reason: int | None = None
    intervals: list[list[str | None]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    note: str = Field(max_length=1000)
    evidence: str | None = Field(default=None, max_length=500)
    maintenance_ref: int | None = Field(
        default=None, foreign_key="maintenance_windows.id", ondelete="SET NULL"
    )
    made_by: str = Field(max_length=100)
    made_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class MaintenanceWindow(SQLModel, table=True):
    """Scheduled maintenance declared ahead of time for one port (``evse_ref``) or every port of
    a station (``location_ref``, or the OCPP ``charging_station_id``): the minutes of outages
    inside [``starts_at``, ``ends_at``) are excluded with reason 3. Never changed once made."""

    __tablename__ = "maintenance_windows"

    id: int | None = Field(default=None, primary_key=True)
    location_ref: int | None = Field(
        default=None, foreign_key="locations.id", ondelete="CASCADE", index=True
    )
    charging_station_id: str | None = Field(default=None, max_length=64, index=True)
    evse_ref: int | None = Field(
        default=None, foreign_key="evses.id", ondelete="CASCADE", index=True
    )
    scope: str = Field(max_length=80)
    """What the operator named, as given (``station LOC-1``, ``port EVSE-1``)."""
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_at: datetime = Field(sa_type=UtcDateTime)
    note: str = Field(max_length=1000)
    made_by: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


def _refuse_change(_mapper: Any, _connection: Any, target: Any) -> None:
    raise TypeError(f"{type(target).__name__} rows are append-only")


for _table in (OutageExclusionEvent, MaintenanceWindow):
    event.listen(_table, "before_update", _refuse_change)
    event.listen(_table, "before_delete", _refuse_change)
