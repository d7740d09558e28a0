"""The OCPP websocket handshake over real sockets: login backoff, answers per OCPP-J §3.2.

The hub runs in this process (uvicorn on 127.0.0.1 in a thread, as ``hub serve`` runs it) so
that its clock can be injected: backoff and liveness are driven by moving the clock, never by
sleeping. Both database engines.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.typing import Subprotocol

from hub.persistence.session import session_scope
from hub.services.stations import StationService
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.servers import hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "the-right-password-0123"
FREE, SOURCE_FREE, BASE, CAP = 3, 6, 10.0, 40.0


class Hub(InProcessHub):
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
    async with running_hub(database_url, **ocpp) as running:
        yield Hub(**vars(running))


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
        assert await answer(hub, "CS-1", f"wrong-password-{number:04d}") == 401
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
    assert await answer(hub, "CS-1", "wrong-password-y") == 401
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(2 * BASE))
    hub.clock.advance(2 * BASE)
    assert await answer(hub, "CS-1", None) == 401  # missing credentials count too
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(CAP))
    hub.clock.advance(CAP)
    assert await answer(hub, "CS-1", "wrong-password-z") == 401
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
        assert await answer(hub, station_id, "wrong-password-0000") == (
            401 if number % 3 == 0 else 404
        )
    assert station_json(hub, "CS-1")["auth_failures"] < FREE
    assert (await refusal(hub, "CS-1", PASSWORD)).headers["Retry-After"] == str(int(BASE))
    assert await answer(hub, "CS-999", "wrong-password-0000") == 429
    hub.clock.advance(BASE)
    assert await answer(hub, "CS-1", PASSWORD) == 101
    # A success clears the source.
    assert await answer(hub, "CS-999", "wrong-password-0000") == 404


NO_BACKOFF = {"auth_free_attempts": 100, "auth_source_free_attempts": 100}


@pytest.mark.parametrize("hub", [NO_BACKOFF], indirect=True)
async def test_handshake_answers_follow_ocpp_j(hub: Hub):
    await hub.add("CS-1")
    unknown = await refusal(hub, "CS-404", PASSWORD)
    assert unknown.status_code == 404
    wrong = await refusal(hub, "CS-1", "wrong-password-0000")
    missing = await refusal(hub, "CS-1", None)
    other_user = await refusal(hub, "CS-1", PASSWORD, user="CS-2")
    for refused in (wrong, missing, other_user):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith('Basic realm="OCPP"')
    # A wrong password and a missing one get the very same answer.
    assert (wrong.headers["WWW-Authenticate"], wrong.body) == (
        missing.headers["WWW-Authenticate"],
        missing.body,
    )


@pytest.mark.parametrize("hub", [NO_BACKOFF], indirect=True)
@pytest.mark.parametrize("offered", [("ocpp2.1",), ()], ids=["unsupported", "none"])
async def test_no_acceptable_subprotocol_completes_the_handshake_then_closes(hub: Hub, offered):
    await hub.add("CS-1")
    socket = await open_socket(hub, "CS-1", subprotocols=offered)
    assert socket.response is not None
    assert socket.response.status_code == 101
    assert "Sec-WebSocket-Protocol" not in socket.response.headers
    assert socket.subprotocol is None
    with pytest.raises(ConnectionClosedError) as closed:
        await socket.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1002
    assert "ocpp2.0.1, ocpp1.6" in closed.value.rcvd.reason


@pytest.mark.parametrize("hub", [NO_BACKOFF], indirect=True)
async def test_the_station_s_preferred_subprotocol_wins(hub: Hub):
    await hub.add("CS-1")
    for offered, chosen in [
        (("ocpp2.1", "ocpp2.0.1", "ocpp1.6"), "ocpp2.0.1"),
        (("ocpp1.6", "ocpp2.0.1"), "ocpp1.6"),
    ]:
        socket = await open_socket(hub, "CS-1", subprotocols=offered)
        assert socket.subprotocol == chosen
        await socket.close()


@pytest.mark.parametrize("hub", [NO_BACKOFF], indirect=True)
async def test_permessage_deflate_offered_by_a_station_is_declined(hub: Hub):
    """A compressor per socket costs more memory than the rest of a connection; OCPP frames
    are small. The websockets client offers the extension by default."""
    await hub.add("CS-1")
    socket = await open_socket(hub, "CS-1")
    assert socket.request is not None
    assert socket.response is not None
    assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]
    assert "Sec-WebSocket-Extensions" not in socket.response.headers
    boot = {"chargePointVendor": "V", "chargePointModel": "M"}
    await socket.send(json.dumps([2, "b-1", "BootNotification", boot]))
    answer = json.loads(await socket.recv())
    assert answer[:2] == [3, "b-1"]  # uncompressed frames work as before
    await socket.close()


# An AuthorizationKey whose raw bytes hold a colon, a NUL and bytes that are not UTF-8.
AUTHORIZATION_KEY = "3a00ff80" + "0123456789abcdef" * 2


@pytest.mark.parametrize("hub", [NO_BACKOFF], indirect=True)
async def test_a_16_authorization_key_given_in_hex_is_the_raw_basic_password(hub: Hub):
    env = hub_environment(hub.database_url, 1)
    added = run_hub_cli(
        env, "chargers", "add", "CS-KEY", "--password-hex", AUTHORIZATION_KEY, "--json"
    )
    assert added.returncode == 0, added.stderr
    shown = json.loads(added.stdout)
    assert shown["password_hex"] == AUTHORIZATION_KEY
    assert "password" not in shown
    key = bytes.fromhex(AUTHORIZATION_KEY)
    assert b":" in key
    socket = await open_socket(hub, "CS-KEY", key)
    assert socket.subprotocol == "ocpp1.6"
    await socket.close()
    # Chargers that send the key in its hex form are let in too.
    assert await answer(hub, "CS-KEY", AUTHORIZATION_KEY) == 101
    assert await answer(hub, "CS-KEY", AUTHORIZATION_KEY.upper()) == 101
    assert await answer(hub, "CS-KEY", key[:-1] + b"\x00") == 401
    assert await answer(hub, "CS-KEY", key[:-1]) == 401


async def test_a_failure_during_the_handshake_is_logged_and_asks_the_station_to_come_back(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from hub.ocpp.bridge import Bridge

    await hub.add("CS-DOWN")

    async def database_gone(*_args: object, **_kwargs: object) -> None:
        raise ConnectionRefusedError("the database is restarting")

    monkeypatch.setattr(Bridge, "authenticate", database_gone)
    assert await answer(hub, "CS-DOWN", PASSWORD) == 503  # not 403: a charger tries again
    assert "station CS-DOWN: its connection failed" in caplog.text
    assert "the database is restarting" in caplog.text
    monkeypatch.undo()
    assert await answer(hub, "CS-DOWN", PASSWORD) == 101
