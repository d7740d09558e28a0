"""The hub in the test's process, served by uvicorn on 127.0.0.1 exactly as ``hub serve`` does
(same websocket protocol and ping settings), with an injected clock: tests move time instead of
sleeping."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.app import create_app
from hub.config import (
    AuthorizationSettings,
    CommandSettings,
    DatabaseSettings,
    LocalListSettings,
    OcpiSettings,
    OcppSettings,
    PublicFeedSettings,
    PushSettings,
    Settings,
)
from hub.ocpp.transport import uvicorn_options
from hub.persistence.session import create_engine, create_session_factory, dispose_engine
from tests.support.servers import asgi_server, free_port


class Clock:
    """A "now" that only moves when the test says so; ``wall``: the real time (for a hub that
    simulated chargers talk to: their timestamps follow the wall clock), moved by ``advance``."""

    def __init__(self, *, wall: bool = False) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
        self.wall = wall
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset if self.wall else self.now

    def advance(self, seconds: float) -> None:
        if self.wall:
            self.offset += timedelta(seconds=seconds)
        else:
            self.now += timedelta(seconds=seconds)


@dataclass
class InProcessHub:
    url: str
    clock: Clock
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    """Sessions of the test's own event loop (the hub's are on the server thread's loop)."""

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    @property
    def database_url(self) -> str:
        return self.settings.database.url


@contextlib.asynccontextmanager
async def running_hub(
    database_url: str,
    *,
    uvicorn: dict[str, Any] | None = None,
    authorization: AuthorizationSettings | None = None,
    local_list: LocalListSettings | None = None,
    wall_clock: bool = False,
    commands: CommandSettings | None = None,
    public_feed: PublicFeedSettings | None = None,
    **ocpp: Any,
) -> AsyncIterator[InProcessHub]:
    """``ocpp``: OcppSettings fields; ``uvicorn``: more uvicorn.Config arguments. The hub's own
    local authorization list pass is off unless ``local_list`` says otherwise: tests run the
    pass themselves, and the command runner is off unless ``commands`` says otherwise: tests
    drive a runner of their own (``command_runner``). ``wall_clock``: the hub's clock is the real
    time (see :class:`Clock`); the public feed's rate limit runs on the hub's clock too."""
    port = int((uvicorn or {}).get("port") or free_port())
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        # Links (pagination) and versions URLs name the address the hub really listens on.
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(enabled=False),
        ocpp=OcppSettings(**ocpp),
        authorization=authorization or AuthorizationSettings(),
        local_list=local_list or LocalListSettings(enabled=False),
        commands=commands or CommandSettings(runner=False),
        public_feed=public_feed or PublicFeedSettings(),
    )
    clock = Clock(wall=wall_clock)
    engine = create_engine(database_url)
    try:
        app = create_app(settings, clock=clock)
        options = {**uvicorn_options(settings.ocpp), **(uvicorn or {})}
        options.pop("port", None)
        with asgi_server(app, port, **options) as url:
            # Up means listening for database notifications too (PostgreSQL): the line it logs
            # then would otherwise land in whatever a test captures next.
            notifications = app.state.notifications
            if notifications is not None:
                async with asyncio.timeout(30):
                    while not notifications.listening.is_set():  # noqa: ASYNC110 - set in the server's thread
                        await asyncio.sleep(0.01)
            yield InProcessHub(url, clock, settings, create_session_factory(engine))
    finally:
        await dispose_engine(engine)
