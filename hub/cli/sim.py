"""``hub sim``: a sample network and simulated chargers, for demos and benchmarks."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import typer

from hub.cli.common import CommandContext, console, exit_with_error, print_record, print_table, run
from hub.persistence.session import session_scope
from hub.services.stations import StationService
from hub.sim.chargers import SimulatedStation, fleet_for_network, run_fleet
from hub.sim.network import generate_network

app = typer.Typer(help="Simulators: a sample network and OCPP chargers.", no_args_is_help=True)


@app.command("network")
def network(
    sites: int = typer.Option(50, "--sites", min=1, help="Number of sites"),
    seed: int = typer.Option(7, help="Random seed (same seed, same network)"),
    output_dir: Path = typer.Option(Path("sim-network"), help="Where to write the files"),
    nacs_share: float = typer.Option(0.5, min=0.0, max=1.0, help="Share of sites with NACS"),
) -> None:
    """Write locations.json and tariffs.json for `hub tariffs import` / `hub locations import`."""
    generated = generate_network(sites=sites, seed=seed, nacs_share=nacs_share)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "locations.json").write_text(json.dumps(generated.locations, indent=1))
    (output_dir / "tariffs.json").write_text(json.dumps(generated.tariffs, indent=1))
    stations = fleet_for_network(generated.locations, lambda _: "")
    by_country = Counter(loc["country"] for loc in generated.locations)
    nacs = sum(
        1
        for loc in generated.locations
        for evse in loc["evses"]
        if any(c["standard"] == "SAE_J3400" for c in evse["connectors"])
    )
    print_record(
        f"Sample network in {output_dir}",
        {
            "sites": len(generated.locations),
            "evses": generated.evse_count,
            "evses_with_nacs": nacs,
            "charging_stations": len(stations),
            "ocpp_1_6_stations": sum(1 for s in stations if s.ocpp_version == "1.6"),
            "tariffs": len(generated.tariffs),
            "countries": dict(by_country),
        },
    )
    zones = Counter(loc["time_zone"] for loc in generated.locations).most_common(8)
    print_table("Sites per time zone", ["time_zone", "sites"], zones)


@app.command("chargers")
def chargers(
    count: int = typer.Argument(0, help="How many of the network's stations to simulate (0: all)"),
    network_file: Path = typer.Option(..., "--network", exists=True, help="locations.json"),
    url: str = typer.Option("ws://127.0.0.1:8000/ocpp", help="The hub's OCPP endpoint"),
    register: bool = typer.Option(
        False, help="Add the stations to the hub's database with fresh passwords first"
    ),
    passwords_file: Path | None = typer.Option(
        None, "--passwords", exists=True, help="JSON {station_id: password}"
    ),
    duration: float = typer.Option(30.0, help="Seconds of status changes after boot"),
    rate: float = typer.Option(5.0, help="Status changes per second"),
    seed: int = typer.Option(7),
) -> None:
    """Connect the network's charging stations (OCPP 1.6 and 2.0.1) and make them live."""
    locations = json.loads(network_file.read_text())
    stations = fleet_for_network(locations, lambda _: "")
    if count:
        stations = stations[:count]
    passwords: dict[str, str] = json.loads(passwords_file.read_text()) if passwords_file else {}
    if register:

        async def add(context: CommandContext) -> dict[str, str]:
            added = {}
            async with session_scope(context.sessions) as session:
                service = StationService(session)
                for station in stations:
                    if await service.stations.get(station.station_id) is None:
                        _, added[station.station_id] = await service.add(station.station_id)
            return added

        passwords.update(run(add))
    missing = [s.station_id for s in stations if s.station_id not in passwords]
    if missing:
        exit_with_error(
            f"no password for {len(missing)} stations (e.g. {missing[0]}); "
            "use --register or --passwords"
        )
    ready = [
        SimulatedStation(
            s.station_id, passwords[s.station_id], s.ocpp_version, s.ocpp_ids, s.evse_uids
        )
        for s in stations
    ]
    console.print(f"connecting {len(ready)} stations to {url} ...")
    report = asyncio.run(
        run_fleet(url, ready, duration=duration, changes_per_second=rate, seed=seed)
    )
    print_record(
        "Simulated chargers",
        {
            "stations": len(ready),
            "connected": report.connected,
            "booted": report.booted,
            "status_notifications": report.status_notifications,
            "errors": len(report.errors),
            "seconds": round(report.seconds, 1),
        },
    )
    for error in report.errors[:5]:
        console.print(f"[red]{error}[/red]")
    if report.errors:
        raise typer.Exit(1)
