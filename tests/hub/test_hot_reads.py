"""HotReads: the authorization hot path's reads outside a unit of work still see every commit,
survive a dropped server connection and a busy SQLite file."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import make_url, select, text

from hub.persistence.session import HotReads, session_scope
from hub.persistence.tables import Party
from tests.hub.conftest import add_parties

PARTIES = select(Party.__table__.c.party_id).order_by(Party.__table__.c.id)  # type: ignore[attr-defined]


async def test_a_hot_read_sees_what_a_unit_of_work_just_committed(sessions):
    reads = HotReads(sessions)
    try:
        assert await reads.all(PARTIES, {}) == []
        await add_parties(sessions)
        assert [row.party_id for row in await reads.all(PARTIES, {})] == ["HPC", "HPC"]
    finally:
        await reads.dispose()


async def test_a_dropped_server_connection_is_replaced_and_the_read_answered(
    sessions, db_engine_name
):
    if db_engine_name != "postgresql":
        pytest.skip("server connections are PostgreSQL's")
    await add_parties(sessions)
    reads = HotReads(sessions)
    try:
        assert len(await reads.all(PARTIES, {})) == 2  # a pooled connection now exists
        async with session_scope(sessions) as session:
            # A server restart as the pool sees it: every other connection is gone.
            await session.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert len(await reads.all(PARTIES, {})) == 2
    finally:
        await reads.dispose()


async def test_a_busy_sqlite_file_is_read_on_the_async_engine_once_free(
    sessions, db_engine_name, monkeypatch
):
    if db_engine_name != "sqlite":
        pytest.skip("the synchronous reader is SQLite's")
    await add_parties(sessions)
    reads = HotReads(sessions)
    engine = sessions.kw["bind"]
    waited_for_the_lock = []
    connect = type(engine).connect

    def counting_connect(self):
        # The synchronous reader gave up (busy); let the holder go while this one waits.
        waited_for_the_lock.append(True)
        locked.set()
        return connect(self)

    monkeypatch.setattr(type(engine), "connect", counting_connect)
    await engine.dispose()  # no other connection may hold the file open for the exclusive lock
    holder = sqlite3.connect(make_url(engine.url).database, check_same_thread=False)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE parties SET name = name")
    locked = threading.Event()
    released = threading.Event()

    def release_once_asked() -> None:
        locked.wait()
        holder.rollback()
        holder.execute("PRAGMA locking_mode=NORMAL")
        holder.execute("SELECT 1 FROM parties").fetchall()  # gives the exclusive lock up
        holder.close()
        released.set()

    releaser = threading.Thread(target=release_once_asked)
    releaser.start()
    try:
        rows = await reads.all(PARTIES, {})
        assert [row.party_id for row in rows] == ["HPC", "HPC"]
        assert waited_for_the_lock == [True]
        assert released.is_set()
    finally:
        locked.set()
        releaser.join()
        await reads.dispose()
