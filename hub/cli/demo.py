"""``hub demo``: the whole platform on one machine in one command.

Starts the hub on an embedded SQLite file, a demo eMSP that registers through the real
credentials handshake over HTTP, and simulated chargers (OCPP 1.6 and 2.0.1 over websockets)
that boot and change status; a live view shows the chargers, their OCPI statuses and what the
eMSP received; a summary ends it.

Each step of the start (imports, migrations, servers, handshake, boots: several seconds) prints a
progress line first, and the live view fits an 80x24 terminal. The platform's modules are
imported inside the functions that use them, after the first progress line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hub.cli.common import console as default_console

if TYPE_CHECKING:
    import uvicorn

    from hub.config import Settings
    from hub.sim.chargers import SimulatedCharger, SimulatedStation
    from hub.sim.emsp import DemoEmsp

SCREEN_HEIGHT = 24
"""The live view fits this many rows (and 80 columns); a taller terminal shows more EVSEs."""

PUSH_ROWS = 5
"""Rows of the "eMSP received" and "Latest pushes" tables."""

_FIXED_ROWS = 14
"""Rows of the live view besides the EVSE rows: the header line, the chargers table's title,
column header, rule and caption, the push tables' title, header, rule and rows, and one row to
spare for the cursor line under the view."""


@dataclass
class DemoState:
    """What the live view shows."""

    chargers: dict[str, SimulatedCharger] = field(default_factory=dict)
    hub_statuses: dict[str, str] = field(default_factory=dict)
    changed_at: dict[str, float] = field(default_factory=dict)
    """When the hub status of each EVSE last changed (``time.monotonic()``)."""
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def update_hub_statuses(self, statuses: dict[str, str], at: float) -> None:
        for uid, status in statuses.items():
            if self.hub_statuses.get(uid) != status:
                self.changed_at[uid] = at
        self.hub_statuses = statuses


def progress(console: Console, text: str) -> None:
    """One line saying what the demo does next (the start takes several seconds)."""
    console.print(f"[dim]>[/dim] {text}", highlight=False)


@contextlib.asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[uvicorn.Server]:
    import uvicorn

    from hub.logs import uvicorn_log_options

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, **uvicorn_log_options("warning"))
    )
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
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.roaming.importer import parse_locations_json, parse_tariffs_json
    from hub.services.locations import LocationService
    from hub.services.parties import PartyService
    from hub.services.stations import StationService
    from hub.services.tariffs import TariffService
    from hub.sim.chargers import fleet_for_network
    from hub.sim.network import generate_network

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
    await dispose_engine(engine)
    stations = fleet_for_network(network.locations, passwords.__getitem__)
    evses = sum(len(loc.get("evses", [])) for loc in network.locations)
    return stations, evses


async def refresh_hub_statuses(settings: Settings, state: DemoState) -> None:
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.services.stations import StationService

    engine = create_engine(settings.database.url)
    sessions = create_session_factory(engine)
    try:
        async with session_scope(sessions) as session:
            service = StationService(session)
            statuses = {}
            for station_id in state.chargers:
                for evse in await service.evses(station_id):
                    statuses[evse.uid] = evse.status
        state.update_hub_statuses(statuses, time.monotonic())
    finally:
        await dispose_engine(engine)


def _table(title: str, *columns: str) -> Table:
    """A table without borders: a title, a column header and its rule, then only rows."""
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        expand=True,
    )
    for column in columns:
        # Ids are what an operator looks for: wrapped if ever too long, never cut.
        table.add_column(column, overflow="fold")
    return table


def view(
    state: DemoState,
    emsp: DemoEmsp,
    duration: float,
    *,
    height: int = SCREEN_HEIGHT,
    now: float | None = None,
) -> Group:
    """The live view, at most ``height`` rows at 80 columns: a header line, one row per EVSE
    (those the eMSP does not agree on yet first, then the latest changes) as far as there is
    room, what the eMSP received and the latest pushes side by side."""
    now = time.monotonic() if now is None else now
    elapsed = min(max(now - state.started, 0.0), duration)
    at_emsp = emsp.evse_statuses()
    versions = [c.station.ocpp_version for c in state.chargers.values()]
    evses = [(sid, c, uid) for sid, c in state.chargers.items() for uid in c.evse_uids]
    header = Text.assemble(
        ("hub demo", "bold"),
        f"  {elapsed:.0f}/{duration:.0f} s · {len(state.chargers)} chargers · {len(evses)} EVSEs"
        f" · {state.sent} status changes sent",
    )

    def pending_then_latest(row: tuple[str, SimulatedCharger, str]) -> tuple[bool, float]:
        uid = row[2]
        agreed = at_emsp.get(uid) == state.hub_statuses.get(uid)
        return agreed, -state.changed_at.get(uid, 0.0)

    rows = sorted(evses, key=pending_then_latest)[: max(height - _FIXED_ROWS, 1)]
    agreed = sum(1 for _, _, uid in evses if at_emsp.get(uid) == state.hub_statuses.get(uid))
    chargers = _table(
        f"Chargers ({versions.count('1.6')} OCPP 1.6, {versions.count('2.0.1')} OCPP 2.0.1)",
        *("station", "OCPP", "EVSE", "hub status", "eMSP sees"),
    )
    chargers.caption = (
        f"{len(rows)} of {len(evses)} EVSEs, latest changes first; the eMSP agrees on {agreed}"
    )
    chargers.caption_justify = "left"
    for station_id, charger, uid in rows:
        hub_status = state.hub_statuses.get(uid, "?")
        emsp_status = at_emsp.get(uid, "-")
        chargers.add_row(
            station_id,
            charger.station.ocpp_version,
            uid,
            hub_status,
            emsp_status if emsp_status == hub_status else f"[yellow]{emsp_status}[/yellow]",
        )

    received = _table("eMSP received", "push", "count")
    counts = sorted(emsp.counts.items(), key=lambda item: (-item[1], item[0]))
    for key, count in counts[:PUSH_ROWS]:
        received.add_row(key, str(count))
    recent = _table("Latest pushes", "method", "object", "detail")
    for arrival in list(emsp.recent)[::-1][:PUSH_ROWS]:
        recent.add_row(arrival.method, arrival.what, arrival.detail)
    pushes = Table.grid(expand=True, padding=(0, 2))
    pushes.add_column(ratio=1)
    pushes.add_column(ratio=2)
    pushes.add_row(received, recent)
    return Group(header, chargers, pushes)


def summary_note(summary: dict[str, Any]) -> str:
    """Why the eMSP received fewer PATCHes than the stations sent status changes: no loss."""
    patches = int(summary["emsp_received"].get("PATCH locations", 0))
    changes = int(summary["status_changes_sent"])
    note = f"{patches} PATCHes delivered for {changes} status changes"
    if summary["emsp_matches_hub"]:
        note += (
            ", and no update was lost: a station status that maps to the OCPI status its EVSE"
            " already has sends no PATCH, and a newer status of an EVSE replaces its older"
            " PATCH while that one is undelivered. The eMSP's final view matches the hub's."
        )
    else:
        note += (
            f". The eMSP's final view differs from the hub's on {len(summary['mismatched'])}"
            " EVSEs (see mismatched)."
        )
    return note


def summary_panel(summary: dict[str, Any]) -> Panel:
    table = Table(title="Demo summary", show_header=False)
    for key, value in summary.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    return Panel(Group(table, Text(summary_note(summary))))


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
    console: Console = default_console,
) -> dict[str, Any]:
    import httpx

    from hub.app import create_app
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.services.partners import PartnerService
    from hub.sim.chargers import SimulatedCharger
    from hub.sim.emsp import DEMO_EMSP_PARTY, DemoEmsp

    progress(console, f"seeding a sample network of {sites} site{'' if sites == 1 else 's'}…")
    stations, evse_count = await seed(settings, sites, seed_value)
    emsp = DemoEmsp(base_url=f"http://127.0.0.1:{emsp_port}")
    state = DemoState()
    rng = random.Random(seed_value)  # noqa: S311 - simulation
    progress(console, f"starting hub on :{settings.server.port} and the demo eMSP on :{emsp_port}…")
    async with (
        serving(create_app(settings), settings.server.port),
        serving(emsp.app(), emsp_port),
        httpx.AsyncClient(timeout=10) as http,
    ):
        progress(console, "demo eMSP registering with the hub (OCPI credentials handshake)…")
        engine = create_engine(settings.database.url)
        async with session_scope(create_session_factory(engine)) as session:
            _, token_a = await PartnerService(session).invite(
                "demo-emsp", parties=[DEMO_EMSP_PARTY]
            )
        await dispose_engine(engine)
        await emsp.register(http, settings.versions_url, token_a)
        v16 = sum(1 for s in stations if s.ocpp_version == "1.6")
        progress(
            console,
            f"{len(stations)} chargers booting ({v16} OCPP 1.6, {len(stations) - v16} OCPP"
            f" 2.0.1; {evse_count} EVSEs)…",
        )
        ws_url = settings.public_url.replace("http://", "ws://") + "/ocpp"
        for station in stations:
            charger = SimulatedCharger(station, ws_url)
            await charger.connect()
            await charger.boot()
            await charger.all_available()
            state.chargers[station.station_id] = charger
        progress(console, f"traffic for {duration:.0f} s; the eMSP's view follows the hub's")
        state.started = time.monotonic()

        def screen_view() -> Group:
            return view(state, emsp, duration, height=console.size.height)

        with Live(screen_view(), console=console, refresh_per_second=4) as screen:
            driver = asyncio.create_task(drive(list(state.chargers.values()), state, duration, rng))
            while not driver.done():
                await refresh_hub_statuses(settings, state)
                screen.update(screen_view())
                await asyncio.sleep(0.5)
            await driver
            # Let the last pushes arrive, then compare both sides.
            for _ in range(40):
                await refresh_hub_statuses(settings, state)
                screen.update(screen_view())
                if all(emsp.evse_statuses().get(u) == s for u, s in state.hub_statuses.items()):
                    break
                await asyncio.sleep(0.25)
        if not console.is_terminal:
            console.line()  # rich ends the last view without a newline when not on a terminal
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
        "ocpp_1_6": v16,
        "ocpp_2_0_1": len(stations) - v16,
        "status_changes_sent": state.sent,
        "emsp_received": dict(emsp.counts),
        "emsp_locations": len(emsp.locations),
        "emsp_matches_hub": not mismatched,
        "mismatched": mismatched,
        "errors": state.errors[:10],
    }


def demo(
    *,
    duration: float,
    sites: int,
    port: int,
    emsp_port: int,
    data_dir: Path,
    seed_value: int,
    console: Console = default_console,
) -> None:
    """Run the hub, a demo eMSP and simulated chargers together, live."""
    progress(console, "loading the platform…")
    from hub.logs import configure_logging

    # The live view owns the terminal: only warnings, in the platform's one log format.
    configure_logging("WARNING")

    from hub.config import (
        DatabaseSettings,
        OcpiSettings,
        OcppSettings,
        PushSettings,
        ServerSettings,
        Settings,
    )
    from hub.persistence import migrations

    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    database = data_dir.resolve() / "demo.db"
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{database}"),
        server=ServerSettings(host="127.0.0.1", port=port),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(poll_interval_seconds=0.1),
        ocpp=OcppSettings(heartbeat_interval_seconds=60),
    )
    progress(console, f"applying migrations to {database}…")
    migrations.upgrade(settings.database.url)
    summary = asyncio.run(
        run_demo(
            settings,
            sites=sites,
            duration=duration,
            emsp_port=emsp_port,
            seed_value=seed_value,
            console=console,
        )
    )
    console.print(summary_panel(summary))
    if not summary["emsp_matches_hub"] or summary["errors"]:
        raise typer.Exit(1)
