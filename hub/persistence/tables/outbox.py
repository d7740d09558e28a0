from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.domain.push import JobState
from hub.persistence.base import UtcDateTime, utc_now

PENDING_ONLY = f"state = '{JobState.PENDING.value}'"
"""The condition of the partial indexes on pending jobs; a query uses them only when it says
the same with a literal (``pending_literal``), not a bound parameter."""


class PushJob(SQLModel, table=True):
    """One change to push to one partner (the outbox).

    Written in the same transaction as the change. The payload is built when the job is
    delivered, from the current state, so a job never carries stale data. Jobs of one partner
    with the same ``queue_key`` (one location and its EVSEs, or one tariff) are delivered one at a
    time in ``id`` order. A job is claimed with a short lease (``claimed_by``/``claimed_until``),
    renewed while it is sent, rather than a transaction held across the HTTP call. ``claimed_by``
    is the worker's name, ``{node}/{slot}``: the process that next takes that slot gives a killed
    worker's jobs back at once; otherwise they come back when the lease expires.
    """

    __tablename__ = "push_jobs"
    __table_args__ = (
        sa.Index("ix_push_jobs_due", "state", "next_attempt_at"),
        sa.Index("ix_push_jobs_queue", "partner_id", "queue_key", "id"),
        sa.Index("ix_push_jobs_coalesce", "partner_id", "coalesce_key", "state"),
        # Pending jobs only (delivered ones pile up, pending ones stay few): a claim walks a
        # partner's pending jobs in id order and checks each is the head of its queue.
        sa.Index(
            "ix_push_jobs_pending",
            "partner_id",
            "id",
            postgresql_where=sa.text(PENDING_ONLY),
            sqlite_where=sa.text(PENDING_ONLY),
        ),
        sa.Index(
            "ix_push_jobs_pending_queue",
            "partner_id",
            "queue_key",
            "id",
            postgresql_where=sa.text(PENDING_ONLY),
            sqlite_where=sa.text(PENDING_ONLY),
        ),
    )

    # BIGINT on PostgreSQL; SQLite needs INTEGER for an auto-incrementing rowid key.
    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    partner_id: int = Field(foreign_key="partners.id", ondelete="CASCADE")
    queue_key: str = Field(max_length=120)
    coalesce_key: str = Field(max_length=160)
    kind: str = Field(max_length=24)
    target: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    state: str = Field(max_length=12, default=JobState.PENDING.value)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    enqueued_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    # The receiver party (``CC*PID``) a hub partner reports unreachable: the job waits, unclaimed,
    # until the hub reports the party CONNECTED (``hub.domain.hub_client_info``).
    held_for: str | None = Field(default=None, max_length=6)
