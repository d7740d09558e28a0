"""A command runner the test drives (``running_hub`` runs none): it carries out the hub's
pending commands from the test's process, its calls forwarded to the hub process holding the
chargers' sockets exactly as between two ``hub serve`` processes (``StationCommands``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import PushSettings
from hub.ocpp.command_runner import CommandRunner
from hub.ocpp.commands import StationCommands
from hub.ocpp.server import StationRegistry
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.push import PushWorker
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port


@contextlib.asynccontextmanager
async def command_runner(hub: InProcessHub) -> AsyncIterator[CommandRunner]:
    """The hub's settings must name its real address as ``node_url`` (the chargers' rows
    record it; calls are forwarded there)."""
    async with httpx.AsyncClient() as http:
        stations = StationCommands(
            StationRegistry(),
            hub.sessions,
            http,
            node="http://127.0.0.1:9/test-runner",
            internal_token="",
            timeout=hub.settings.ocpp.call_timeout_seconds,
            # The one-time call tokens expire by the wall clock: the hub redeems them by it.
        )
        yield CommandRunner(
            hub.sessions,
            stations,
            hub.settings.commands,
            clock=hub.clock,
            name="test-runner",
            codec=OcpiTariffCodec(),
        )


async def carry_out(runner: CommandRunner) -> int:
    """One round of the runner and the calls it started; returns how many it started."""
    started = await runner.run_once()
    await runner.drain()
    return started


async def deliver_everything(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Push rounds of a worker the test drives until the outbox has nothing due; returns the
    jobs handled."""
    handled = 0
    async with httpx.AsyncClient(timeout=10) as http:
        worker = PushWorker(sessions, http, PushSettings(node="test"))
        try:
            while done := await worker.run_once():
                handled += done
        finally:
            worker.close()
    return handled


def boot_payload(subprotocol: str) -> dict[str, Any]:
    if subprotocol == "ocpp1.6":
        return {"chargePointVendor": "V", "chargePointModel": "M"}
    return {"chargingStation": {"vendorName": "V", "model": "M"}, "reason": "PowerUp"}


@contextlib.asynccontextmanager
async def booted_charger(
    hub: InProcessHub, station_id: str, password: str, subprotocol: str
) -> AsyncIterator[RawStation]:
    """A raw-frame charger connected to ``hub`` and booted (Accepted)."""
    station = await RawStation.connect(hub.ws_url, station_id, password, [subprotocol])
    try:
        answer = await station.call("BootNotification", boot_payload(subprotocol))
        assert answer[2]["status"] == "Accepted", answer
        yield station
    finally:
        await station.close()


@contextlib.asynccontextmanager
async def hub_with_runner(database_url: str) -> AsyncIterator[tuple[InProcessHub, CommandRunner]]:
    """The in-process hub on a port of its own, recorded as its node URL (the test's runner
    forwards its calls there), and that runner."""
    port = free_port()
    async with (
        running_hub(
            database_url,
            uvicorn={"port": port},
            node_url=f"http://127.0.0.1:{port}",
            sweep_interval_seconds=3600,
            call_timeout_seconds=2,
        ) as hub,
        command_runner(hub) as runner,
    ):
        yield hub, runner
