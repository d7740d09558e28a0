"""Cross-process wake-ups through PostgreSQL LISTEN/NOTIFY (``hub.persistence.notifications``):
a commit that inserted push jobs notifies ``hub_push`` once, after the commit and not before;
a listener whose connection is killed listens again and wakes its listeners once for what it
may have missed. SQLite has one process and no notifications."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy import text

from hub.persistence.notifications import (
    COMMANDS_CHANNEL,
    PUSH_CHANNEL,
    DatabaseNotifications,
)
from hub.persistence.session import create_engine, dispose_engine, session_scope
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner

pytestmark = [pytest.mark.db]


class Wakes:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.changed = asyncio.Event()

    def of(self, channel: str):
        def wake(_payload: str) -> None:
            self.counts[channel] += 1
            self.changed.set()

        return wake

    async def until(self, channel: str, count: int) -> None:
        async def reached() -> None:
            while self.counts[channel] < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(reached(), 30)


@pytest.fixture
async def listening(database_url: str):
    engine = create_engine(database_url)
    wakes = Wakes()
    notifications = DatabaseNotifications(
        engine,
        {PUSH_CHANNEL: wakes.of(PUSH_CHANNEL), COMMANDS_CHANNEL: wakes.of(COMMANDS_CHANNEL)},
        retry_seconds=0.1,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(notifications.run(stop))
    await asyncio.wait_for(notifications.listening.wait(), 30)
    await wakes.until(PUSH_CHANNEL, 1)  # the wake-up for what came before it listened
    try:
        yield notifications, wakes
    finally:
        stop.set()
        await task
        await dispose_engine(engine)


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
async def test_push_jobs_committed_anywhere_wake_the_listener_once_per_transaction(
    sessions, listening
):
    _, wakes = listening
    await add_parties(sessions)
    await register_partner(sessions, "emsp")
    await wakes.until(PUSH_CHANNEL, 1)
    before = wakes.counts[PUSH_CHANNEL]
    async with session_scope(sessions) as session:
        locations = [network.location(f"L{n}", evses=2) for n in range(3)]
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
        await session.flush()  # the jobs are inserted, not committed: nobody is told yet
        await asyncio.sleep(0.3)
        assert wakes.counts[PUSH_CHANNEL] == before
    await wakes.until(PUSH_CHANNEL, before + 1)
    await asyncio.sleep(0.3)  # three locations' jobs, one transaction: one notification
    assert wakes.counts[PUSH_CHANNEL] == before + 1
    assert wakes.counts[COMMANDS_CHANNEL] == 1  # only the wake-up at the start


@pytest.mark.parametrize("db_engine_name", ["postgresql"])
async def test_a_killed_listening_connection_is_replaced_and_wakes_everyone_once(
    sessions, listening
):
    notifications, wakes = listening
    async with session_scope(sessions) as session:
        listener = (
            await session.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
                    "AND datname = current_database()"
                )
            )
        ).scalar_one()
        await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
    await wakes.until(COMMANDS_CHANNEL, 2)  # listening again: woken for what it missed
    await asyncio.wait_for(notifications.listening.wait(), 30)
    async with session_scope(sessions) as session:
        await session.execute(text("SELECT pg_notify('hub_commands', '')"))
    await wakes.until(COMMANDS_CHANNEL, 3)


def test_sqlite_has_no_notifications():
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    assert not DatabaseNotifications.applies_to(engine)
