"""Alembic environment: async engines, metadata from hub.persistence.tables, URL from hub.config.

The URL comes from ``config.attributes["database_url"]`` (set by ``hub.persistence.migrations``),
else ``sqlalchemy.url``, else the platform settings. A connection passed in
``config.attributes["connection"]`` (pytest-alembic: a sync connection or an async engine)
is used as is.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import hub.persistence.tables  # noqa: F401  (registers every table on the metadata)
from alembic import context
from hub.config import get_settings
from hub.persistence.base import UtcDateTime, metadata
from hub.persistence.session import create_engine

config = context.config

# Logging is the caller's: `hub serve` configures it (hub.logs) before migrating, so there is
# deliberately no logging.config.fileConfig here, which would replace its handlers and format.


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else get_settings().database.url


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not depend on application classes that may change later: UtcDateTime is
    # stored as a plain timezone-aware DateTime column.
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async_migrations(engine: AsyncEngine | None = None) -> None:
    own_engine = engine is None
    engine = engine or create_engine(_database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_migrations)
            await connection.commit()
    finally:
        if own_engine:
            await engine.dispose()


def _run_offline() -> None:
    context.configure(url=_database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif isinstance(given := config.attributes.get("connection"), AsyncEngine):
    asyncio.run(_run_async_migrations(given))
elif given is not None:
    _run_migrations(given)
else:
    asyncio.run(_run_async_migrations())
