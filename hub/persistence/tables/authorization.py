"""Who was let charge, and why: every authorization decision answered to a charger, the eMSP
commands that exempt a token from real-time authorization for a while, and the operator's own
blocks of tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from hub.persistence.base import TimestampMixin, UtcDateTime, utc_now


class RemoteAuthorization(SQLModel, table=True):
    """A START_SESSION or RESERVE_NOW an eMSP sent for a token (``mod_commands``): for
    ``hub.domain.authorization.REMOTE_START_GRACE`` after ``received_at`` that token is not
    authorized in real time again at that EVSE (or, with no EVSE, anywhere at the location).

    ``uid`` is stored upper case (OCPI uids are CiString); the commands module writes the rows.
    """

    __tablename__ = "remote_authorizations"
    __table_args__ = (sa.Index("ix_remote_authorizations_uid_at", "uid", "received_at"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    command: str = Field(max_length=16)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    uid: str = Field(max_length=36)
    token_type: str = Field(max_length=16)
    location_id: str = Field(max_length=36)
    evse_uid: str | None = Field(default=None, max_length=36)
    authorization_reference: str | None = Field(default=None, max_length=36)
    received_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime)


class AuthorizationDecisionRecord(SQLModel, table=True):
    """One answer given to a charger about a presented id token: the audit trail.

    The card is kept as ``uid_digest`` (``hub.domain.tokens.uid_digest`` of the uid as
    presented), never in clear: the trail is read by operators and exported, and the token
    table already holds the uid where a partner pushed it. ``partner_name`` is copied so the
    trail still names the eMSP asked after the partner is gone.
    """

    __tablename__ = "authorization_decisions"
    __table_args__ = (sa.Index("ix_authorization_decisions_digest_at", "uid_digest", "decided_at"),)

    id: int | None = Field(
        default=None,
        sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    )
    decided_at: datetime = Field(sa_type=UtcDateTime, index=True)
    station_id: str = Field(max_length=48)
    ocpp_action: str = Field(max_length=24)
    evse_uid: str | None = Field(default=None, max_length=36)
    location_id: str | None = Field(default=None, max_length=36)
    presented_type: str = Field(max_length=16)
    uid_digest: str = Field(max_length=16)
    token_type: str | None = Field(default=None, max_length=16)
    country_code: str | None = Field(default=None, max_length=2)
    party_id: str | None = Field(default=None, max_length=3)
    path: str = Field(max_length=16)
    auth_method: str = Field(max_length=16)
    allowed: str | None = Field(default=None, max_length=16)
    partner_id: int | None = Field(default=None)
    partner_name: str | None = Field(default=None, max_length=100)
    emsp_answer: str | None = Field(default=None, max_length=24)
    emsp_latency_ms: float | None = Field(default=None)
    result: str = Field(max_length=24)
    certificate_status: str | None = Field(default=None, max_length=24)
    authorization_reference: str | None = Field(default=None, max_length=36)
    reason: str = Field(max_length=500)


class OperatorTokenBlock(TimestampMixin, table=True):
    """A token the operator refuses, whatever its eMSP says: refused locally, never asked.

    Kept apart from ``tokens`` on purpose: the eMSP owns its token rows (a PUT replaces them
    whole, ``valid`` included), so a block written there would be undone by its next push.
    A block may name a token no partner pushed (a card seen through real-time authorization).
    """

    __tablename__ = "operator_token_blocks"
    __table_args__ = (sa.UniqueConstraint("country_code", "party_id", "uid", "type"),)

    id: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    uid: str = Field(max_length=36, index=True)
    type: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=200)
