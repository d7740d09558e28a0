"""Logins checked without the database (``hub.ocpp.bridge.KnownPasswords``): a station let in
once is let in again without a statement; a password changed or a station removed by anyone
(another process, an operator's command) is forgotten through the PostgreSQL notification, so
the old password stops working; without a live notification feed every login reads the
database; a hash read before a change is not kept after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from hub.config import OcppSettings
from hub.domain.stations import hash_password
from hub.ocpp.bridge import Bridge, KnownPasswords
from hub.persistence.notifications import STATION_CREDENTIALS_CHANNEL, DatabaseNotifications
from hub.persistence.session import session_scope
from hub.services.stations import AuthResult, StationService

pytestmark = [pytest.mark.db]


class Statements:
    """Counts the statements the engine sends."""

    def __init__(self, engine) -> None:
        self.count = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._counted)

    def _counted(self, *_args) -> None:
        self.count += 1


class Forgotten:
    """Wraps ``KnownPasswords.forget`` so a test can wait for a notification to arrive."""

    def __init__(self, passwords: KnownPasswords) -> None:
        self.passwords = passwords
        self.payloads: list[str] = []
        self.arrived = asyncio.Event()

    def __call__(self, station_id: str) -> None:
        self.passwords.forget(station_id)
        self.payloads.append(station_id)
        self.arrived.set()

    async def until(self, station_id: str) -> None:
        async def arrived() -> None:
            while station_id not in self.payloads:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(arrived(), 30)


@pytest.fixture
async def listening_bridge(sessions, database_url: str) -> AsyncIterator[tuple[Bridge, Forgotten]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("remembered logins need PostgreSQL's notifications (tested below for SQLite)")
    engine = sessions.kw["bind"]
    bridge = Bridge(sessions, OcppSettings(), node="http://node")
    forgotten = Forgotten(bridge.passwords)
    notifications = DatabaseNotifications(engine, {STATION_CREDENTIALS_CHANNEL: forgotten})
    bridge.passwords.live = notifications.listening.is_set
    stop = asyncio.Event()
    task = asyncio.create_task(notifications.run(stop))
    await forgotten.until("")  # listening: everything forgotten once
    try:
        yield bridge, forgotten
    finally:
        stop.set()
        await task


async def add_station(sessions, station_id: str, password: str) -> None:
    async with session_scope(sessions) as session:
        await StationService(session).add(station_id, password)


async def test_a_station_let_in_once_is_let_in_again_without_the_database(
    sessions, listening_bridge
) -> None:
    bridge, _ = listening_bridge
    await add_station(sessions, "CS-1", "first-password-0123456789")
    statements = Statements(sessions.kw["bind"])
    first = await bridge.authenticate("CS-1", "first-password-0123456789", "10.0.0.1")
    assert first.result is AuthResult.ACCEPTED
    assert statements.count > 0
    read = statements.count
    again = await bridge.authenticate("CS-1", "first-password-0123456789", "10.0.0.1")
    assert again.result is AuthResult.ACCEPTED
    assert statements.count == read  # no statement for the second login
    wrong = await bridge.authenticate("CS-1", "guess", "10.0.0.2")
    assert wrong.result is AuthResult.REFUSED  # a wrong one still reaches the database
    assert statements.count > read
    assert len(bridge.passwords) == 0  # and the remembered hash is dropped with it


async def test_a_password_changed_elsewhere_stops_working_here(sessions, listening_bridge) -> None:
    bridge, forgotten = listening_bridge
    await add_station(sessions, "CS-2", "old-password-0123456789")
    assert (await bridge.authenticate("CS-2", "old-password-0123456789", "10.0.0.1")).accepted
    assert len(bridge.passwords) == 1
    async with session_scope(sessions) as session:  # the operator, from another process
        await StationService(session).reset_password("CS-2", "new-password-0123456789")
    await forgotten.until("CS-2")
    old = await bridge.authenticate("CS-2", "old-password-0123456789", "10.0.0.1")
    assert old.result is AuthResult.REFUSED
    assert (await bridge.authenticate("CS-2", "new-password-0123456789", "10.0.0.1")).accepted


async def test_a_station_removed_elsewhere_is_unknown_here(sessions, listening_bridge) -> None:
    bridge, forgotten = listening_bridge
    await add_station(sessions, "CS-3", "password-0123456789")
    assert (await bridge.authenticate("CS-3", "password-0123456789", "10.0.0.1")).accepted
    async with session_scope(sessions) as session:
        await StationService(session).remove("CS-3")
    await forgotten.until("CS-3")
    gone = await bridge.authenticate("CS-3", "password-0123456789", "10.0.0.1")
    assert gone.result is AuthResult.UNKNOWN_STATION


async def test_without_a_live_feed_every_login_reads_the_database(sessions) -> None:
    bridge = Bridge(sessions, OcppSettings(), node="http://node")  # SQLite, or feed down
    await add_station(sessions, "CS-4", "password-0123456789")
    statements = Statements(sessions.kw["bind"])
    for _ in range(2):
        assert (await bridge.authenticate("CS-4", "password-0123456789", "10.0.0.1")).accepted
    once = statements.count // 2
    assert once > 0
    assert statements.count == 2 * once
    assert len(bridge.passwords) == 0


def test_a_hash_read_before_a_change_is_not_kept_after_it() -> None:
    passwords = KnownPasswords(live=lambda: True)
    stored = hash_password("old")
    read_began = passwords.generation
    passwords.forget("CS-5")  # the change's notification arrives while the login is checked
    passwords.remember("CS-5", stored, read_began)
    assert not passwords.accepts("CS-5", "old")
    passwords.remember("CS-5", stored, passwords.generation)
    assert passwords.accepts("CS-5", "old")
    assert not passwords.accepts("CS-5", "other")
    passwords.forget("")  # the feed was down: everything
    assert not passwords.accepts("CS-5", "old")


def test_nothing_is_trusted_while_the_feed_is_down() -> None:
    live = True
    passwords = KnownPasswords(live=lambda: live)
    passwords.remember("CS-6", hash_password("p"), passwords.generation)
    assert passwords.accepts("CS-6", "p")
    live = False
    assert not passwords.accepts("CS-6", "p")
