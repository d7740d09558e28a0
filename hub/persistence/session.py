"""Async engine and session factory; ``session_scope()`` for code outside requests,
``read_scope()`` for a unit of work that only reads."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import PoolResetState, QueuePool, Row, event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction


def create_engine(
    url: str, *, echo: bool = False, pool_size: int | None = None, max_overflow: int | None = None
) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys, WAL and a busy timeout for several processes.
    ``pool_size``/``max_overflow`` of a server database default to :data:`POOL_SIZE` and
    :data:`POOL_OVERFLOW` (its hot-read engine, :class:`HotReads`, takes the same sizes)."""
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
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=pool_size or POOL_SIZE,
        max_overflow=POOL_OVERFLOW if max_overflow is None else max_overflow,
    )


POOL_SIZE = 20
"""Connections a server engine keeps open. Connections beyond it (up to ``POOL_OVERFLOW`` more)
are closed when returned, so a pool smaller than the usual number of concurrent units of work
opens a new connection for most of them: with SQLAlchemy's default of 5, 16 concurrent
authorization decisions on PostgreSQL ran at a quarter of the rate they reach with 20."""
POOL_OVERFLOW = 10


_MEMO = "hub.transaction_memo"


def transaction_memo(session: AsyncSession) -> dict[str, Any]:
    """A dict that lives as long as the session's current transaction, for what its units of
    work read again and again and do not change (the partners a push reaches: under group
    commit one transaction stores the statuses of many stations)."""
    memo: dict[str, Any] = session.sync_session.info.setdefault(_MEMO, {})
    return memo


@event.listens_for(Session, "after_transaction_end")
def _forget_memo(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction, not a savepoint
        session.info.pop(_MEMO, None)


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


class HotReads:
    """Read-only statements on the hot path of answering chargers (a local authorization
    decision), without the unit-of-work machinery, which costs more than the query there.

    - A SQLite file is read synchronously on the calling thread through a plain ``sqlite3``
      engine of its own: an indexed read of a WAL database takes ~0.08 ms, while each of the
      several hops to aiosqlite's thread costs about as much. A read that finds the database
      busy (rare in WAL mode: readers do not wait for the writer) waits at most
      ``SQLITE_BUSY_MS`` there and is retried on the async engine.
    - A server engine gets a pool of its own in autocommit, without the pre-ping and the
      transaction of a unit of work (one round trip instead of three); a statement that finds
      its connection dropped (server restart) is retried once on a fresh one.
    - An in-memory SQLite database (one shared connection) is read through the async engine.
    """

    SQLITE_BUSY_MS = 20

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        engine = factory.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("HotReads needs a session factory bound to an AsyncEngine")
        self._engine = engine
        self._sync: Any = None
        self._server: AsyncEngine | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite":
            if url.database not in (None, "", ":memory:"):
                self._sync = _sqlite_reader(url.database)
        else:
            pool: Any = engine.sync_engine.pool
            self._server = create_async_engine(
                url,
                isolation_level="AUTOCOMMIT",
                pool_size=pool.size() if hasattr(pool, "size") else POOL_SIZE,
                max_overflow=getattr(pool, "_max_overflow", POOL_OVERFLOW),
            )

    async def all(self, statement: Any, parameters: dict[str, Any]) -> Sequence[Row[Any]]:
        """The rows of ``statement`` (a Core select) with ``parameters``."""
        if self._sync is not None:
            try:
                with self._sync.connect() as connection:
                    rows: Sequence[Row[Any]] = connection.execute(statement, parameters).all()
                    return rows
            except OperationalError:
                pass  # busy beyond the short wait: the async engine waits as long as it takes
        if self._server is not None:
            for attempt in (1, 2):
                try:
                    async with self._server.connect() as connection:
                        return (await connection.execute(statement, parameters)).all()
                except DBAPIError as error:
                    if attempt == 2 or not error.connection_invalidated:
                        raise
        async with self._engine.connect() as connection:
            return (await connection.execute(statement, parameters)).all()

    async def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()
        if self._server is not None:
            await self._server.dispose()


_hot_reads: weakref.WeakKeyDictionary[AsyncEngine, HotReads] = weakref.WeakKeyDictionary()


def hot_reads(factory: async_sessionmaker[AsyncSession]) -> HotReads:
    """The :class:`HotReads` of the factory's engine (one per engine, released by
    :func:`dispose_engine`)."""
    engine = factory.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        raise TypeError("hot reads need a session factory bound to an AsyncEngine")
    reads = _hot_reads.get(engine)
    if reads is None:
        reads = _hot_reads[engine] = HotReads(factory)
    return reads


async def dispose_engine(engine: AsyncEngine) -> None:
    """Close the engine's connections and those of its hot reads."""
    reads = _hot_reads.pop(engine, None)
    if reads is not None:
        await reads.dispose()
    await engine.dispose()


def _sqlite_reader(path: str) -> Any:
    from sqlalchemy import create_engine as create_sync_engine

    reader = create_sync_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": HotReads.SQLITE_BUSY_MS / 1000},
        pool_reset_on_return=None,
    )

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    return reader
