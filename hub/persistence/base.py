"""Shared table machinery: metadata naming convention, UTC datetimes, id/timestamp mixins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

# Deterministic constraint names, so alembic migrations can address them on every engine.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = SQLModel.metadata


def utc_now() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every engine.

    SQLite has no time zone support and returns naive values; PostgreSQL returns aware values in
    the session time zone. Both come back as aware UTC; naive values are refused on the way in.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; the platform stores aware UTC datetimes only")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 - TypeDecorator signature
    ) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return sa.Column(UtcDateTime(), nullable=nullable, index=index)


class TimestampMixin(SQLModel):
    created_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=UtcDateTime, nullable=False)

    def touch(self) -> None:
        self.updated_at = utc_now()
