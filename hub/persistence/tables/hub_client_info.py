from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from hub.persistence.base import TimestampMixin, UtcDateTime


class HubClientInfo(TimestampMixin, table=True):
    """A ClientInfo a hub partner pushed to us (OCPI Hub Client Info): the state of its
    connection to one party in one role.

    Kept per hub partner: what one hub says is never read for another partner.
    ``last_updated`` is the hub's timestamp; ``updated_at`` when we stored it.
    """

    __tablename__ = "hub_client_infos"
    __table_args__ = (sa.UniqueConstraint("partner_id", "country_code", "party_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    partner_id: int = Field(foreign_key="partners.id", index=True, ondelete="CASCADE")
    country_code: str = Field(max_length=2)
    party_id: str = Field(max_length=3)
    role: str = Field(max_length=10)
    status: str = Field(max_length=12)
    last_updated: datetime = Field(sa_type=UtcDateTime)
