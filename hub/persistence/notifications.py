"""Wake-ups across processes through PostgreSQL ``LISTEN/NOTIFY``.

A trigger notifies ``hub_push`` when push jobs are inserted and ``hub_commands`` when commands
are (migration 7c1d4e2f9a30), and ``hub_station_credentials`` with the station id when a
station's password changes or the station is removed (migration 9d2e6f1a7b40), on commit,
whichever process made them: a ``hub serve`` worker,
another node, or an operator's command (``hub locations import``, ``hub push resync``). Each
process listens on one connection of its own and wakes its push worker or command runner, so
work queued anywhere is picked up at once instead of at the next poll, and forgets the
password it remembered for that station (``hub.ocpp.bridge.KnownPasswords``). Polling stays as
the safety net: for work that becomes due later (retries) and for whatever was committed while
the listening connection was down; after every (re)connection each listener is called once
with the payload ``""`` for that reason ("anything may have changed").

Chosen over an internal HTTP endpoint per process for the wake-ups: the database already
connects every process, and a notification needs no address, credentials or knowledge of which
processes exist. Calls to a station still go over HTTP to the process holding its socket
(``hub.ocpp.commands``): they carry a request and its answer, which a notification does not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.waiting import until_any

logger = logging.getLogger(__name__)

PUSH_CHANNEL = "hub_push"
COMMANDS_CHANNEL = "hub_commands"
STATION_CREDENTIALS_CHANNEL = "hub_station_credentials"


class DatabaseNotifications:
    """Calls ``listeners[channel](payload)`` on every notification of ``channel``
    (PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        listeners: Mapping[str, Callable[[str], None]],
        *,
        retry_seconds: float = 1.0,
        check_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.listeners = dict(listeners)
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        # Set while the process is listening (tests wait for it before they notify).
        self.listening = asyncio.Event()

    @staticmethod
    def applies_to(engine: AsyncEngine) -> bool:
        return engine.dialect.name == "postgresql"

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop``; a lost connection is replaced after ``retry_seconds``."""
        while not stop.is_set():
            try:
                await self._listen(stop)
            except Exception as problem:
                logger.warning(
                    "listening for database notifications failed (%s); polling meanwhile, "
                    "retrying in %.0f s",
                    problem,
                    self.retry_seconds,
                )
            finally:
                self.listening.clear()
            await until_any(stop, at_most=self.retry_seconds)

    async def _listen(self, stop: asyncio.Event) -> None:
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            callbacks = {channel: _callback(wake) for channel, wake in self.listeners.items()}
            for channel, callback in callbacks.items():
                await driver.add_listener(channel, callback)
            self.listening.set()
            logger.info("listening for database notifications on %s", ", ".join(callbacks))
            for wake in self.listeners.values():
                wake("")  # whatever was committed while nobody listened
            try:
                while not stop.is_set() and not lost.is_set():
                    await until_any(stop, lost, at_most=self.check_seconds)
                    if not stop.is_set() and not lost.is_set():
                        # A half-open connection raises no termination: ask it something.
                        await asyncio.wait_for(driver.fetchval("SELECT 1"), self.check_seconds)
            finally:
                if lost.is_set():
                    await connection.invalidate()
                else:
                    for channel, callback in callbacks.items():
                        await driver.remove_listener(channel, callback)
            if lost.is_set():
                raise ConnectionError("the listening connection was closed")


def _callback(wake: Callable[[str], None]) -> Callable[..., None]:
    # asyncpg calls (connection, pid, channel, payload).
    def on_notification(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        wake(payload)

    return on_notification
