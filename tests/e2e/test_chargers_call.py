"""``hub chargers call`` against one in-process ``hub serve`` that has no
``HUB_OCPP__INTERNAL_TOKEN``: the CLI mints a one-time token in the database, the node holding
the socket redeems it. Failures are sentences (both engines)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import func, select
from typer.testing import CliRunner, Result

from hub.cli.main import app
from hub.config import get_settings
from hub.ocpp.commands import INTERNAL_TOKEN_HEADER
from hub.persistence.session import session_scope
from hub.persistence.tables import StationCallToken
from hub.services.stations import StationService
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
BOOT_16 = {"chargePointVendor": "Acme", "chargePointModel": "HPC-350"}


@dataclass
class Bench:
    hub: InProcessHub
    runner: CliRunner

    async def cli(self, *args: str) -> Result:
        """``hub ARGS`` in a thread: the command runs its own event loop, as in a shell."""
        return await asyncio.to_thread(self.runner.invoke, app, list(args))

    async def tokens_left(self) -> int:
        async with session_scope(self.hub.sessions) as session:
            result = await session.execute(select(func.count()).select_from(StationCallToken))
            return int(result.scalar_one())


@pytest.fixture
def cli_environment(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HUB_DATABASE__URL", database_url)
    monkeypatch.delenv("HUB_OCPP__INTERNAL_TOKEN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
async def bench(database_url: str, cli_environment: None) -> AsyncIterator[Bench]:
    port = free_port()
    # The node URL recorded on the station rows must be where this hub listens.
    async with running_hub(
        database_url,
        uvicorn={"port": port},
        node_url=f"http://127.0.0.1:{port}",
        sweep_interval_seconds=3600,
    ) as hub:
        assert hub.settings.ocpp.internal_token == ""
        async with session_scope(hub.sessions) as session:
            await StationService(session).add("CS-1", PASSWORD)
        yield Bench(hub, CliRunner())


@pytest.fixture
async def station(bench: Bench) -> AsyncIterator[RawStation]:
    connected = await RawStation.connect(bench.hub.ws_url, "CS-1", PASSWORD, ["ocpp1.6"])
    assert (await connected.call("BootNotification", BOOT_16))[0] == 3
    yield connected
    await connected.close()


async def test_a_call_reaches_the_station_without_any_shared_secret(
    bench: Bench, station: RawStation
):
    done, frame = await asyncio.gather(
        bench.cli("chargers", "call", "CS-1", "Reset", '{"type": "Soft"}', "--json"),
        station.answer_next_call({"status": "Accepted"}),
    )
    assert done.exit_code == 0, done.output
    assert frame[2:] == ["Reset", {"type": "Soft"}]
    assert json.loads(done.stdout) == {"status": "Accepted"}
    assert await bench.tokens_left() == 0  # redeemed: used once, then gone

    done, _ = await asyncio.gather(
        bench.cli("chargers", "call", "CS-1", "GetConfiguration", "{}"),
        station.answer_next_call({"configurationKey": [], "unknownKey": ["X"]}),
    )
    assert done.exit_code == 0, done.output
    assert "answered" in done.stdout
    assert "unknownKey" in done.stdout
    assert '["X"]' in done.stdout


async def test_a_minted_token_works_once_and_a_made_up_one_never(bench: Bench, station: RawStation):
    async with session_scope(bench.hub.sessions) as session:
        token = await StationService(session).mint_call_token()
    url = f"{bench.hub.url}/internal/ocpp/CS-1/calls"
    body = {"action": "Reset", "payload": {"type": "Hard"}}
    async with httpx.AsyncClient() as http:
        first, frame = await asyncio.gather(
            http.post(url, json=body, headers={INTERNAL_TOKEN_HEADER: token}),
            station.answer_next_call({"status": "Rejected"}),
        )
        assert first.json() == {"response": {"status": "Rejected"}}
        again = await http.post(url, json=body, headers={INTERNAL_TOKEN_HEADER: token})
        assert again.status_code == 401
        guessed = await http.post(url, json=body, headers={INTERNAL_TOKEN_HEADER: "x" * 43})
        assert guessed.status_code == 401
        missing = await http.post(url, json=body)
        assert missing.status_code == 401
    assert frame[2] == "Reset"
    assert station.calls_received == []  # nothing else reached the station


async def test_a_payload_we_refuse_is_not_sent_and_says_why(bench: Bench, station: RawStation):
    done = await bench.cli("chargers", "call", "CS-1", "Reset", '{"type": "Hardest"}')
    assert done.exit_code == 1
    assert done.stderr.strip() == (
        "error: not sent: the payload is not a valid OCPP 1.6 Reset request: "
        "type must be one of Hard, Soft"
    )
    done = await bench.cli("chargers", "call", "CS-1", "Reset", "{}")
    assert "not sent: the payload is not a valid OCPP 1.6 Reset request: type is required" in (
        done.stderr
    )
    done = await bench.cli("chargers", "call", "CS-1", "reset", '{"type": "Soft"}')
    assert "not sent: reset is not an OCPP 1.6 call (did you mean Reset?)" in done.stderr
    # The station received nothing: the next frame it reads is the Heartbeat answer.
    assert (await station.call("Heartbeat", {}))[0] == 3
    assert station.calls_received == []


async def test_a_station_call_error_is_reported_as_the_stations_answer(
    bench: Bench, station: RawStation
):
    async def refuse() -> None:
        frame = json.loads(await asyncio.wait_for(station.socket.recv(), 30))
        await station.socket.send(
            json.dumps([4, frame[1], "NotSupported", "no remote reset here", {}])
        )

    done, _ = await asyncio.gather(
        bench.cli("chargers", "call", "CS-1", "Reset", '{"type": "Soft"}'), refuse()
    )
    assert done.exit_code == 1
    assert done.stderr.strip() == (
        "error: the station answered CallError NotSupported: no remote reset here"
    )


async def test_an_answer_outside_the_schema_is_named_as_such(bench: Bench, station: RawStation):
    done, _ = await asyncio.gather(
        bench.cli("chargers", "call", "CS-1", "Reset", '{"type": "Soft"}'),
        station.answer_next_call({"status": "Maybe"}),
    )
    assert done.exit_code == 1
    assert "the station's answer is not a valid OCPP 1.6 Reset response: status must be one of" in (
        done.stderr
    )


async def test_a_station_that_left_is_not_connected(bench: Bench, station: RawStation):
    await station.close()
    for _ in range(200):  # the hub writes the disconnect when it sees the close
        async with session_scope(bench.hub.sessions) as session:
            if (await StationService(session).get("CS-1")).connected_node is None:
                break
        await asyncio.sleep(0.02)
    done = await bench.cli("chargers", "call", "CS-1", "Reset", '{"type": "Soft"}')
    assert done.exit_code == 1
    assert done.stderr.strip() == "error: station CS-1 is not connected"
    listed = json.loads((await bench.cli("chargers", "list", "--json")).stdout)
    # Partners still see it online until the offline delay has passed: two different states.
    assert [(s["connected"], s["online"]) for s in listed] == [(False, True)]
    assert (
        "no charging station 'CS-9'"
        in (await bench.cli("chargers", "call", "CS-9", "Reset")).stderr
    )


async def test_a_station_that_does_not_answer_in_time(database_url: str, cli_environment: None):
    port = free_port()
    async with running_hub(
        database_url,
        uvicorn={"port": port},
        node_url=f"http://127.0.0.1:{port}",
        call_timeout_seconds=0.2,
    ) as hub:
        async with session_scope(hub.sessions) as session:
            await StationService(session).add("CS-1", PASSWORD)
        station = await RawStation.connect(hub.ws_url, "CS-1", PASSWORD, ["ocpp1.6"])
        try:
            done = await Bench(hub, CliRunner()).cli("chargers", "call", "CS-1", "Reset", "{}")
            assert "type is required" in done.stderr  # refused before any wait
            done = await Bench(hub, CliRunner()).cli(
                "chargers", "call", "CS-1", "Reset", '{"type": "Soft"}'
            )
            assert done.exit_code == 1
            assert done.stderr.strip() == "error: station CS-1 did not answer Reset in time"
            (frame,) = [json.loads(await station.socket.recv())]  # sent, never answered
            assert frame[2] == "Reset"
        finally:
            await station.close()
