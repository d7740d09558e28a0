"""``hub sim``: a sample network and simulated chargers, for demos and benchmarks."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    console,
    exit_with_error,
    print_json,
    print_record,
    print_table,
    run,
)

if TYPE_CHECKING:
    from hub.sim.network import SampleNetwork

app = typer.Typer(help="Simulators: a sample network and OCPP chargers.", no_args_is_help=True)


def _parties(values: list[str]) -> dict[str, tuple[str, str]]:
    """``US*HPC`` -> {"US": ("US", "HPC")}: the sites of a country belong to its party."""
    from hub.sim.network import COUNTRY_ALPHA3

    parties: dict[str, tuple[str, str]] = {}
    for value in values:
        country_code, _, party_id = value.strip().upper().partition("*")
        if len(country_code) != 2 or not country_code.isalpha():
            raise typer.BadParameter(
                f"{value!r}: expected CC*PID, e.g. US*HPC", param_hint="--party"
            )
        if len(party_id) != 3 or not party_id.isalnum():
            raise typer.BadParameter(
                f"{value!r}: the party id must be 3 letters or digits", param_hint="--party"
            )
        if country_code not in COUNTRY_ALPHA3:
            raise typer.BadParameter(
                f"{value!r}: sites exist only in {', '.join(COUNTRY_ALPHA3)}", param_hint="--party"
            )
        if country_code in parties:
            raise typer.BadParameter(f"{value!r}: one party per country", param_hint="--party")
        parties[country_code] = (country_code, party_id)
    return parties


def network_summary(generated: SampleNetwork) -> dict[str, Any]:
    """Counts of a generated network: totals, per country and per time zone."""
    from hub.sim.chargers import fleet_for_network

    per_country: dict[str, Counter[str]] = {}
    per_zone: Counter[str] = Counter()
    for location in generated.locations:
        counts = per_country.setdefault(location["country"], Counter())
        evses = location["evses"]
        counts["sites"] += 1
        counts["evses"] += len(evses)
        counts["connectors"] += sum(len(e["connectors"]) for e in evses)
        counts["nacs_evses"] += sum(
            any(c["standard"] == "SAE_J3400" for c in e["connectors"]) for e in evses
        )
        counts["unpublished_sites"] += not location["publish"]
        per_zone[location["time_zone"]] += 1
    stations = fleet_for_network(generated.locations, lambda _: "")
    return {
        "sites": len(generated.locations),
        "evses": generated.evse_count,
        "connectors": generated.connector_count,
        "charging_stations": len(stations),
        "ocpp_1_6_stations": sum(1 for s in stations if s.ocpp_version == "1.6"),
        "tariffs": len(generated.tariffs),
        "per_country": {country: dict(counts) for country, counts in sorted(per_country.items())},
        "per_time_zone": dict(sorted(per_zone.items(), key=lambda item: (-item[1], item[0]))),
    }


@app.command("network")
def network(
    sites: int = typer.Option(50, "--sites", min=1, help="Number of sites"),
    seed: int = typer.Option(7, help="Random seed (same seed, same network)"),
    output_dir: Path = typer.Option(
        Path("sim-network"), "--output-dir", file_okay=False, help="Where to write the files"
    ),
    party: list[str] = typer.Option(
        ["US*HPC", "CA*HPC"],
        "--party",
        help="CC*PID owning the sites of country CC (US, CA); repeat it; "
        "only the countries given get sites",
    ),
    nacs_share: float = typer.Option(
        0.5, min=0.0, max=1.0, help="Share of sites with a NACS (SAE J3400) cable"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write locations.json and tariffs.json for `hub tariffs import` / `hub locations import`."""
    from hub.sim.network import generate_network

    generated = generate_network(
        sites=sites, seed=seed, parties=_parties(party), nacs_share=nacs_share
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "locations.json").write_text(
        json.dumps(generated.locations, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    (output_dir / "tariffs.json").write_text(
        json.dumps(generated.tariffs, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    summary = network_summary(generated)
    if as_json:
        print_json({"output_dir": str(output_dir), **summary})
        return
    print_record(
        f"Sample network in {output_dir}",
        {key: value for key, value in summary.items() if not key.startswith("per_")},
    )
    columns = ["sites", "evses", "connectors", "nacs_evses", "unpublished_sites"]
    print_table(
        "Per country",
        ["country", *columns],
        [
            [country, *(c.get(k, 0) for k in columns)]
            for country, c in summary["per_country"].items()
        ],
    )
    print_table(
        "Sites per time zone", ["time_zone", "sites"], list(summary["per_time_zone"].items())
    )


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
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService
    from hub.sim.chargers import SimulatedStation, fleet_for_network, run_fleet

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
