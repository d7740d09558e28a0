"""The OCPP websocket handshake over real sockets: login backoff, answers per OCPP-J §3.2.

The hub runs in this process (uvicorn on 127.0.0.1 in a thread, as ``hub serve`` runs it) so
that its clock can be injected: backoff and liveness are driven by moving the clock, never by
sleeping. Both database engines.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from hub.app import create_app
from hub.config import DatabaseSettings, OcppSettings, PushSettings, Settings
from hub.ocpp.transport import OcppWebSocketProtocol
from hub.persistence.session import create_engine, create_session_factory, session_scope
from hub.services.stations import StationService
from tests.support.servers import asgi_server, hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "the-right-password-0123"
FREE, SOURCE_FREE, BASE, CAP = 3, 6, 10.0, 40.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Hub:
    ws_url: str
    clock: Clock
    sessions: async_sessionmaker[AsyncSession]
    database_url: str

    async def add(self, station_id: str, password: str | bytes = PASSWORD) -> None:
        async with session_scope(self.sessions) as session:
            await StationService(session).add(station_id, password)


@pytest.fixture
async def hub(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[Hub]:
    """The hub as ``hub serve`` runs it; ``request.param``: OcppSettings overrides."""
    ocpp = {
        "auth_free_attempts": FREE,
        "auth_source_free_attempts": 100,
        "auth_backoff_base_seconds": BASE,
        "auth_backoff_cap_seconds": CAP,
        **getattr(request, "param", {}),
    }
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        push=PushSettings(enabled=False),
        ocpp=OcppSettings(**ocpp),
    )
    clock = Clock()
    engine = create_engine(database_url)
    try:
        with asgi_server(create_app(settings, clock=clock), ws=OcppWebSocketProtocol) as url:
            yield Hub(
                url.replace("http://", "ws://"), clock, create_session_factory(engine), database_url
            )
    finally:
        await engine.dispose()


def basic(user: str, password: str | bytes) -> dict[str, str]:
    raw = password if isinstance(password, bytes) else password.encode()
    return {"Authorization": "Basic " + base64.b64encode(user.encode() + b":" + raw).decode()}


async def open_socket(
    hub: Hub,
    station_id: str,
    password: str | bytes | None = PASSWORD,
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
    user: str | None = None,
) -> ClientConnection:
    return await connect(
        f"{hub.ws_url}/ocpp/{station_id}",
        subprotocols=[Subprotocol(s) for s in subprotocols] or None,
        additional_headers=basic(user or station_id, password) if password is not None else None,
        open_timeout=10,
    )


async def answer(hub: Hub, station_id: str, password: str | bytes | None, **kwargs) -> int:
    """The HTTP status of the handshake (101 when the websocket opened)."""
    try:
        socket = await open_socket(hub, station_id, password, **kwargs)
    except InvalidStatus as refused:
        return refused.response.status_code
    await socket.close()
    return 101


async def refusal(hub: Hub, station_id: str, password: str | bytes | None, **kwargs):
    with pytest.raises(InvalidStatus) as refused:
        await open_socket(hub, station_id, password, **kwargs)
    return refused.value.response


def station_json(hub: Hub, station_id: str) -> dict:
    """What the operator sees: ``hub chargers show --json`` in its own process."""
    env = hub_environment(hub.database_url, 1)
    shown = run_hub_cli(env, "chargers", "show", station_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


async def test_repeated_wrong_passwords_back_off_exponentially_and_are_reported(hub: Hub):
    await hub.add("CS-1")
    for number in range(FREE):
        assert await answer(hub, "CS-1", f"wrong-password-{number:04d}") == 403
    # The FREE-th failure started a wait: nothing is checked until it is over, not even the
    # right password.
    throttled = await refusal(hub, "CS-1", PASSWORD)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == str(int(BASE))
    assert await answer(hub, "CS-1", "wrong-password-x") == 429
    hub.clock.advance(BASE - 1)
    assert await answer(hub, "CS-1", PASSWORD) == 429
    # After the wait one attempt is checked again; its failure doubles the wait.
    hub.clock.advance(1)
    assert await answer(hub, "CS-1", "wrong-password-y") == 403
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(2 * BASE))
    hub.clock.advance(2 * BASE)
    assert await answer(hub, "CS-1", None) == 403  # missing credentials count too
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(CAP))
    hub.clock.advance(CAP)
    assert await answer(hub, "CS-1", "wrong-password-z") == 403
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(CAP))

    shown = station_json(hub, "CS-1")
    assert shown["auth_failures"] == FREE + 3
    assert shown["auth_failures_total"] == FREE + 3
    assert shown["last_auth_failure_source"] == "127.0.0.1"
    assert shown["last_auth_failure_at"] == hub.clock.now.isoformat()

    # The right password after the wait: accepted; the consecutive count starts again.
    hub.clock.advance(CAP)
    assert await answer(hub, "CS-1", PASSWORD) == 101
    shown = station_json(hub, "CS-1")
    assert (shown["auth_failures"], shown["auth_failures_total"]) == (0, FREE + 3)


@pytest.mark.parametrize("hub", [{"auth_source_free_attempts": SOURCE_FREE}], indirect=True)
async def test_a_source_guessing_across_stations_backs_off(hub: Hub):
    await hub.add("CS-1")
    for number in range(SOURCE_FREE):
        # Unknown stations and wrong passwords of a known one count for the source; no
        # station reaches its own limit.
        station_id = "CS-1" if number % 3 == 0 else f"CS-{100 + number}"
        assert await answer(hub, station_id, "wrong-password-0000") == 403
    assert station_json(hub, "CS-1")["auth_failures"] < FREE
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(BASE))
    assert await answer(hub, "CS-999", "wrong-password-0000") == 429
    hub.clock.advance(BASE)
    assert await answer(hub, "CS-1", PASSWORD) == 101
    # A success clears the source.
    assert await answer(hub, "CS-999", "wrong-password-0000") == 403
