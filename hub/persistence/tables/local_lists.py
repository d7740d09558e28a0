"""Each station's OCPP local authorization list as we last set it, and what we know of the
station's list limits (see ``hub.domain.local_lists`` and the README's "Offline charging")."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin, UtcDateTime


class LocalAuthList(TimestampMixin, table=True):
    """The list state of one station.

    ``version`` is the list version we last set on the station (0: none yet); the entries are
    in ``local_auth_list_entries``. The limits the station advertised are cached here at each
    boot: ``max_entries`` (1.6 ``LocalAuthListMaxLength``, 2.0.1 ``LocalAuthListCtrlr.Entries``),
    ``max_items_per_message`` (1.6 ``SendLocalListMaxLength``, 2.0.1 ``ItemsPerMessage``),
    ``max_bytes_per_message`` (2.0.1 ``BytesPerMessage``), ``enabled`` (``LocalAuthListEnabled``
    / ``Enabled``); ``unsupported`` says why the station keeps no list, if it does not.

    The sync pass works on a station when ``needs_check`` (it booted: ask its version and limits),
    ``needs_full`` (an update failed half-way: resend everything), or when the inputs of the list
    changed since ``inputs_fingerprint`` was recorded.
    """

    __tablename__ = "local_auth_lists"

    station_id: str = Field(
        primary_key=True,
        max_length=48,
        foreign_key="charging_stations.station_id",
        ondelete="CASCADE",
    )
    version: int = Field(default=0)
    station_version: int | None = Field(default=None)
    entries: int = Field(default=0)
    eligible: int = Field(default=0)
    max_entries: int | None = Field(default=None)
    max_items_per_message: int | None = Field(default=None)
    max_bytes_per_message: int | None = Field(default=None)
    enabled: bool | None = Field(default=None)
    unsupported: str | None = Field(default=None, max_length=200)
    limits_read_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    needs_check: bool = Field(default=True)
    needs_full: bool = Field(default=False)
    inputs_fingerprint: str | None = Field(default=None, max_length=64)
    checked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_sync_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_update_type: str | None = Field(default=None, max_length=16)
    last_messages: int = Field(default=0)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    failures: int = Field(default=0)
    """Failed attempts since the last one that worked."""
    last_error: str | None = Field(default=None, max_length=500)
    last_error_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class LocalAuthListEntry(TimestampMixin, table=True):
    """One entry of a station's list, as sent (``item``: the canonical JSON of the entry)."""

    __tablename__ = "local_auth_list_entries"
    __table_args__ = (sa.UniqueConstraint("station_id", "entry_key"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    station_id: str = Field(
        max_length=48, foreign_key="local_auth_lists.station_id", ondelete="CASCADE"
    )
    entry_key: str = Field(max_length=64)
    item: str = Field(sa_type=sa.Text)
