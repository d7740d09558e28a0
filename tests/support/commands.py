"""A command runner the test drives (``running_hub`` runs none): it carries out the hub's
pending commands from the test's process, its calls forwarded to the hub process holding the
chargers' sockets exactly as between two ``hub serve`` processes (``StationCommands``)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from hub.ocpp.command_runner import CommandRunner
from hub.ocpp.commands import StationCommands
from hub.ocpp.server import StationRegistry
from hub.roaming.pricing import OcpiTariffCodec
from tests.support.inprocess_hub import InProcessHub


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
