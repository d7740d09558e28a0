"""Driver tokens pushed or pulled from eMSPs (OCPI 2.2.1 ``mod_tokens``), and the cursor of the
token pull per partner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin, UtcDateTime


class Token(TimestampMixin, table=True):
    """A token of an eMSP party, every field of the 2.2.1 Token object.

    ``partner_id`` is the partner that owns the party (the one that pushed or served it).
    ``uid`` + ``type`` is unique per party (``mod_tokens.asciidoc``); country_code and
    party_id are stored upper case.
    """

    __tablename__ = "tokens"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "uid", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True, ondelete="CASCADE")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    uid: str = Field(max_length=36, index=True)
    type: str = Field(max_length=16)
    contract_id: str = Field(max_length=36, index=True)
    visual_number: str | None = Field(default=None, max_length=64)
    issuer: str = Field(max_length=64)
    group_id: str | None = Field(default=None, max_length=36)
    valid: bool
    whitelist: str = Field(max_length=16)
    language: str | None = Field(default=None, max_length=2)
    default_profile_type: str | None = Field(default=None, max_length=16)
    energy_contract: dict[str, Any] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON, nullable=True)
    )
    last_updated: datetime = Field(sa_type=UtcDateTime, index=True)
    # When a pull last received this token (whether it changed it or not): a full pull
    # invalidates the partner's tokens it did not receive.
    pulled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class TokenPullCursor(TimestampMixin, table=True):
    """Where the token pull of one partner stands, so a crash resumes instead of restarting.

    A run is in progress while ``next_url`` is set: it is the URL of the next page to fetch
    (the first page's URL before any page came back, then the partner's ``Link``), written in
    the same transaction as the tokens of the page before it. ``run_date_from`` is the
    ``date_from`` the run asked for (None: the full list); ``run_started_at`` becomes the next
    run's ``date_from`` once the run completes (``completed_date_from``).

    ``claimed_by``/``claimed_until``: the process pulling now (a lease), so two processes never
    pull the same partner at once.
    """

    __tablename__ = "token_pull_cursors"

    partner_id: int = Field(primary_key=True, foreign_key="partners.id", ondelete="CASCADE")
    next_url: str | None = Field(default=None, max_length=2000)
    run_date_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    run_started_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    run_pages: int = Field(default=0)
    run_tokens: int = Field(default=0)
    run_refused: int = Field(default=0)
    # The date_from of the next delta pull: the start of the last completed run.
    completed_date_from: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_completed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    last_error_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
