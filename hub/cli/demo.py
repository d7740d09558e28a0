"""``hub demo``: the whole platform on one machine in one command.

Starts the hub on an embedded SQLite file, a demo eMSP that registers through the real
credentials handshake over HTTP, and simulated chargers (OCPP 1.6 and 2.0.1 over websockets)
that boot and change status; a live view shows the chargers, their OCPI statuses and what the
eMSP received; a summary ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import typer
import uvicorn
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from hub.app import create_app
from hub.cli.common import console
from hub.config import (
    DatabaseSettings,
    OcpiSettings,
    OcppSettings,
    PushSettings,
    ServerSettings,
    Settings,
)
from hub.persistence import migrations
from hub.persistence.session import create_engine, create_session_factory, session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.parties import PartyService
from hub.services.partners import PartnerService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.sim.chargers import SimulatedCharger, SimulatedStation, fleet_for_network
from hub.sim.emsp import DEMO_EMSP_PARTY, DemoEmsp
from hub.sim.network import generate_network


@dataclass
class DemoState:
    """What the live view shows."""

    chargers: dict[str, SimulatedCharger] = field(default_factory=dict)
    hub_statuses: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[uvicorn.Server]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


async def seed(
    settings: Settings, sites: int, seed_value: int
) -> tuple[list[SimulatedStation], int]:
    """Parties, a sample network, tariffs and the stations allowed to connect."""
    network = generate_network(sites=sites, seed=seed_value)
    engine = create_engine(settings.database.url)
    sessions = create_session_factory(engine)
    async with session_scope(sessions) as session:
        for country_code, name in (("US", "HPC Network US"), ("CA", "HPC Network Canada")):
            await PartyService(session).add(country_code=country_code, party_id="HPC", name=name)
        await TariffService(session).import_tariffs(parse_tariffs_json(json.dumps(network.tariffs)))
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps(network.locations))
        )
        passwords = {}
        for station in fleet_for_network(network.locations, lambda _: ""):
            _, passwords[station.station_id] = await StationService(session).add(station.station_id)
    await engine.dispose()
    stations = fleet_for_network(network.locations, passwords.__getitem__)
    evses = sum(len(loc.get("evses", [])) for loc in network.locations)
    return stations, evses


async def refresh_hub_statuses(settings: Settings, state: DemoState) -> None:
    engine = create_engine(settings.database.url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            service = StationService(session)
            statuses = {}
            for station_id in state.chargers:
                for evse in await service.evses(station_id):
                    statuses[evse.uid] = evse.status
        state.hub_statuses = statuses
    finally:
        await engine.dispose()


def view(state: DemoState, emsp: DemoEmsp, duration: float) -> Group:
    elapsed = time.monotonic() - state.started
    chargers = Table(title=f"Chargers ({elapsed:.0f}/{duration:.0f} s)", expand=True)
    for column in ("station", "OCPP", "EVSE", "hub status", "eMSP sees"):
        chargers.add_column(column)
    at_emsp = emsp.evse_statuses()
    for station_id, charger in list(state.chargers.items())[:12]:
        for uid in charger.evse_uids:
            chargers.add_row(
                station_id,
                charger.station.ocpp_version,
                uid,
                state.hub_statuses.get(uid, "?"),
                at_emsp.get(uid, "-"),
            )
    received = Table(title="eMSP received", expand=True)
    received.add_column("push")
    received.add_column("count")
    for key, count in sorted(emsp.counts.items()):
        received.add_row(key, str(count))
    recent = Table(title="Latest pushes", expand=True)
    for column in ("method", "object", "detail"):
        recent.add_column(column)
    for arrival in list(emsp.recent)[-6:]:
        recent.add_row(arrival.method, arrival.what, arrival.detail)
    return Group(chargers, received, recent)


async def drive(
    stations: list[SimulatedCharger], state: DemoState, duration: float, rng: random.Random
) -> None:
    """Random, plausible status changes until ``duration`` is over."""
    deadline = state.started + duration
    while time.monotonic() < deadline:
        charger = rng.choice(stations)
        try:
            await charger.random_step(rng)
            state.sent += 1
        except Exception as exc:
            state.errors.append(f"{charger.station.station_id}: {exc!r}")
        await asyncio.sleep(rng.uniform(0.05, 0.4))


async def run_demo(
    settings: Settings,
    *,
    sites: int,
    duration: float,
    emsp_port: int,
    seed_value: int,
) -> dict[str, Any]:
    stations, evse_count = await seed(settings, sites, seed_value)
    emsp = DemoEmsp(base_url=f"http://127.0.0.1:{emsp_port}")
    state = DemoState()
    rng = random.Random(seed_value)  # noqa: S311 - simulation
    async with (
        serving(create_app(settings), settings.server.port),
        serving(emsp.app(), emsp_port),
        httpx.AsyncClient(timeout=10) as http,
    ):
        engine = create_engine(settings.database.url)
        async with session_scope(create_session_factory(engine)) as session:
            _, token_a = await PartnerService(session).invite(
                "demo-emsp", parties=[DEMO_EMSP_PARTY]
            )
        await engine.dispose()
        await emsp.register(http, settings.versions_url, token_a)
        ws_url = settings.public_url.replace("http://", "ws://") + "/ocpp"
        for station in stations:
            charger = SimulatedCharger(station, ws_url)
            await charger.connect()
            await charger.boot()
            await charger.all_available()
            state.chargers[station.station_id] = charger
        state.started = time.monotonic()
        with Live(view(state, emsp, duration), console=console, refresh_per_second=4) as screen:
            driver = asyncio.create_task(drive(list(state.chargers.values()), state, duration, rng))
            while not driver.done():
                await refresh_hub_statuses(settings, state)
                screen.update(view(state, emsp, duration))
                await asyncio.sleep(0.5)
            await driver
            # Let the last pushes arrive, then compare both sides.
            for _ in range(40):
                await refresh_hub_statuses(settings, state)
                screen.update(view(state, emsp, duration))
                if all(emsp.evse_statuses().get(u) == s for u, s in state.hub_statuses.items()):
                    break
                await asyncio.sleep(0.25)
        for charger in state.chargers.values():
            await charger.close()
    at_emsp = emsp.evse_statuses()
    mismatched = {
        u: (s, at_emsp.get(u)) for u, s in state.hub_statuses.items() if at_emsp.get(u) != s
    }
    return {
        "sites": sites,
        "evses": evse_count,
        "chargers": len(stations),
        "ocpp_1_6": sum(1 for s in stations if s.ocpp_version == "1.6"),
        "ocpp_2_0_1": sum(1 for s in stations if s.ocpp_version == "2.0.1"),
        "status_changes_sent": state.sent,
        "emsp_received": dict(emsp.counts),
        "emsp_locations": len(emsp.locations),
        "emsp_matches_hub": not mismatched,
        "mismatched": mismatched,
        "errors": state.errors[:10],
    }


def demo(
    *, duration: float, sites: int, port: int, emsp_port: int, data_dir: Path, seed_value: int
) -> None:
    """Run the hub, a demo eMSP and simulated chargers together, live."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The live view owns the terminal: only warnings from the platform's own loggers.
    for name in ("hub", "ocpi", "ocpp", "httpx", "litestar", "uvicorn"):
        logging.getLogger(name).setLevel(logging.WARNING)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{data_dir.resolve() / 'demo.db'}"),
        server=ServerSettings(host="127.0.0.1", port=port),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(poll_interval_seconds=0.1),
        ocpp=OcppSettings(heartbeat_interval_seconds=60),
    )
    migrations.upgrade(settings.database.url)
    summary = asyncio.run(
        run_demo(
            settings, sites=sites, duration=duration, emsp_port=emsp_port, seed_value=seed_value
        )
    )
    table = Table(title="Demo summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    console.print(Panel(table))
    if not summary["emsp_matches_hub"] or summary["errors"]:
        raise typer.Exit(1)
