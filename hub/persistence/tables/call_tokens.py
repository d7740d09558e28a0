from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from hub.persistence.base import UtcDateTime


class StationCallToken(SQLModel, table=True):
    """A one-time token for the internal station-call endpoint of the node holding a station's
    socket: the caller mints it here and sends the plaintext, the node deletes the row as it
    accepts it. Only the SHA-256 of the token is stored. Whoever can write the database may
    call stations: the database is the authority, so a single node needs no shared secret."""

    __tablename__ = "station_call_tokens"

    token_hash: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
