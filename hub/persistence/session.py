"""Async engine and session factory; ``session_scope()`` for code outside requests,
``read_scope()`` for a unit of work that only reads."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import PoolResetState, QueuePool, event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys, WAL and a busy timeout for several processes."""
    if url.startswith("sqlite"):
        # The pool's reset rolls back only a connection returned inside a transaction (see
        # _rollback_if_in_transaction), not after every commit. A file gets a pool as large as a
        # server's (concurrent readers of WAL each hold a connection); an in-memory database is
        # one shared connection and takes no pool sizes.
        in_memory = make_url(url).database in (None, "", ":memory:")
        sizes = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30}, pool_reset_on_return=None, **sizes
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL is corruption-safe and survives a process crash; only a power
            # loss can drop the last commits. FULL costs an fsync per commit, i.e. per OCPP
            # status message on the embedded engine.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "reset")
        def _rollback_if_in_transaction(
            dbapi_connection: Any, _record: Any, reset_state: PoolResetState
        ) -> None:
            # The default reset rolls back every returned connection, a round trip to
            # aiosqlite's thread per unit of work even after its commit; SQLite knows whether a
            # transaction is open (a committed or read-only unit of work has none).
            if reset_state.terminate_only or not reset_state.asyncio_safe:
                return
            if dbapi_connection.driver_connection.in_transaction:
                dbapi_connection.rollback()

        return engine
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW
    )


POOL_SIZE = 20
"""Connections a server engine keeps open. Connections beyond it (up to ``POOL_OVERFLOW`` more)
are closed when returned, so a pool smaller than the usual number of concurrent units of work
opens a new connection for most of them: with SQLAlchemy's default of 5, 16 concurrent
authorization decisions on PostgreSQL ran at a quarter of the rate they reach with 20."""
POOL_OVERFLOW = 10


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


_sqlite_locks: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


def _unit_of_work_lock(factory: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """SQLite has one writer at a time and makes the others sleep-and-retry on its busy handler,
    which under many concurrent units of work (a reconnect storm of chargers) wastes most of the
    time asleep. Queueing them on an asyncio lock per engine is much faster; other engines have
    real concurrency and take no lock."""
    engine = factory.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.dialect.name != "sqlite":
        return None
    lock = _sqlite_locks.get(engine)
    if lock is None:
        lock = _sqlite_locks[engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def _held(lock: asyncio.Lock | None) -> AsyncIterator[None]:
    if lock is None:
        yield
        return
    async with lock:
        yield


@asynccontextmanager
async def read_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work that only reads (never flushes or commits; rolled back when it ends). On a
    SQLite file it takes no writer lock: in WAL mode readers run beside the writer, each on a
    connection of its own (an in-memory database shares one connection, so it queues)."""
    lock = _unit_of_work_lock(factory)
    engine = factory.kw.get("bind")
    if isinstance(engine, AsyncEngine) and isinstance(engine.sync_engine.pool, QueuePool):
        lock = None
    async with _held(lock), factory() as session:
        yield session


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits on success, rolls back on any exception."""
    async with _held(_unit_of_work_lock(factory)), factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
