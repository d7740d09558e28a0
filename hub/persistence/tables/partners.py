from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from hub.domain.assets import NacsMode
from hub.domain.partners import EmaidTokenType, HeaderTokenEncoding, PartnerStatus
from hub.persistence.base import TimestampMixin, UtcDateTime


class Partner(TimestampMixin, table=True):
    """A roaming peer (eMSP or hub) and the credentials exchanged with it.

    ``inbound_token_hash`` verifies the token the partner uses to call us (OCPI token A before
    registration, B or C after); ``pending_inbound_token_hash`` holds the next one while we rotate
    it, because the partner starts using it before our rotation call returns.
    ``outbound_token`` is the token we send to the partner; it must be kept readable.
    """

    __tablename__ = "partners"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    status: str = Field(max_length=16, default=PartnerStatus.INVITED.value, index=True)
    token_encoding: str = Field(max_length=8, default=HeaderTokenEncoding.AUTO.value)
    inbound_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    pending_inbound_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    outbound_token: str | None = Field(default=None, max_length=64)
    versions_url: str | None = Field(default=None, max_length=255)
    version: str | None = Field(default=None, max_length=10)
    endpoints: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    registered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # When the current registration token (token A) was issued by `hub partners invite`.
    invited_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Push delivery health: consecutive failed deliveries; degraded partners get a full resync
    # (every object PUT again) when they answer again.
    push_failures: int = Field(default=0)
    push_degraded: bool = Field(default=False)
    # The last delivery failure that counted against the partner's reachability, and when; kept
    # after a recovery (push_failures says whether it is current).
    push_last_error: str | None = Field(default=None, max_length=500)
    push_last_error_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    nacs_mode: str = Field(max_length=10, default=NacsMode.OMIT.value)
    # The OCPI token type an eMAID of this partner's drivers is sent as (2.2.1 has no EMAID).
    emaid_token_type: str = Field(max_length=10, default=EmaidTokenType.OTHER.value)

    @property
    def partner_status(self) -> PartnerStatus:
        return PartnerStatus(self.status)

    def require_id(self) -> int:
        """The primary key; only stored partners have one."""
        if self.id is None:
            raise ValueError("partner has not been stored yet")
        return self.id


class PartnerParty(TimestampMixin, table=True):
    """A party (country_code, party_id) the operator assigned to a partner.

    The pair is unique on the platform, whatever the role: it is what visibility and every other
    authorization decision is keyed on (``hub.domain.access``). A partner may declare roles in
    its credentials only for the parties it owns (``PartnerRole`` references this table).
    """

    __tablename__ = "partner_parties"
    __table_args__ = (
        sa.UniqueConstraint("country_code", "party_id"),
        sa.UniqueConstraint("partner_id", "country_code", "party_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True, ondelete="CASCADE")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)


class PartnerRole(TimestampMixin, table=True):
    """A role the partner declared in its credentials, for one of the parties it owns."""

    __tablename__ = "partner_roles"
    __table_args__ = (
        sa.UniqueConstraint("role", "country_code", "party_id"),
        sa.ForeignKeyConstraint(
            ["partner_id", "country_code", "party_id"],
            [
                "partner_parties.partner_id",
                "partner_parties.country_code",
                "partner_parties.party_id",
            ],
            name="fk_partner_roles_owned_party",
            ondelete="CASCADE",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=10)
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    business_details: dict[str, Any] = Field(
        default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class EmaidPrefix(TimestampMixin, table=True):
    """An eMAID provider prefix (country code + provider id, e.g. ``US-ABC``) routed to a
    partner: a Plug & Charge contract id starting with it is authorized by that partner.

    Operator data: eMI3 provider ids are not OCPI parties (a partner's contracts may carry a
    prefix unlike its country_code/party_id). Without a row, a partner's own parties route.
    """

    __tablename__ = "emaid_prefixes"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=6, unique=True)
    partner_id: int = Field(foreign_key="partners.id", index=True, ondelete="CASCADE")
