"""``hub sim``: a sample network and simulated chargers, for demos and benchmarks."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import (
    JSON_OPTION,
    CommandContext,
    exit_with_error,
    print_json,
    print_record,
    print_table,
    run,
    settings,
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


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        exit_with_error(f"cannot read {what} {path}: {exc.strerror or exc}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        exit_with_error(f"{what} {path} is not JSON: {exc}")


def _read_passwords(path: Path) -> dict[str, str]:
    passwords = _read_json(path, "passwords file")
    if not isinstance(passwords, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in passwords.items()
    ):
        exit_with_error(
            f"passwords file {path} must be a JSON object of station id to password, "
            'e.g. {"CS-1": "secret"}'
        )
    return passwords


def _default_url() -> str:
    server = settings().server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host  # noqa: S104
    return f"ws://{host}:{server.port}/ocpp"


def _write_passwords(path: Path, passwords: dict[str, str]) -> None:
    """Written before the stations are committed, so no registered password is ever lost."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(passwords, indent=1, sort_keys=True), encoding="utf-8")
        temporary.chmod(0o600)
        temporary.replace(path)
    except OSError as exc:
        exit_with_error(f"cannot write the passwords file {path}: {exc.strerror or exc}")


@app.command("chargers")
def chargers(
    count: int = typer.Argument(0, help="How many of the network's stations to simulate (0: all)"),
    network_file: Path = typer.Option(
        ..., "--network", exists=True, dir_okay=False, help="locations.json of `hub sim network`"
    ),
    url: str | None = typer.Option(
        None,
        help="The hub's OCPP endpoint (default: ws://127.0.0.1:PORT/ocpp, PORT from "
        "HUB_SERVER__PORT)",
    ),
    register: bool = typer.Option(
        False,
        help="Add the stations that are not in the hub's database yet, with fresh passwords, "
        "written to the --passwords file first (so a failed run loses none)",
    ),
    passwords_file: Path | None = typer.Option(
        None,
        "--passwords",
        dir_okay=False,
        help="JSON {station_id: password} (default with --register: passwords.json next to "
        "the network file)",
    ),
    duration: float = typer.Option(30.0, help="Seconds of status changes after boot"),
    rate: float = typer.Option(5.0, min=0.01, help="Status changes per second"),
    seed: int = typer.Option(7),
    charges: int = typer.Option(
        0,
        min=0,
        help="Charging sessions to run after the status changes (OCPP 1.6 StartTransaction, "
        "MeterValues, StopTransaction; 2.0.1 TransactionEvent), over the EVSEs in turn",
    ),
    token: list[str] = typer.Option(
        [],
        "--token",
        help="RFID uid a driver presents (repeat it; used in turn); the hub must know it "
        "(a token an eMSP pushed: hub tokens list)",
    ),
    concurrent: int = typer.Option(
        4, min=1, help="Charges running at once; a new one starts every charge length / this"
    ),
    session_minutes: float = typer.Option(
        30.0, min=0.1, help="Minutes each car draws power (charger time, see --speed)"
    ),
    session_kwh: float = typer.Option(
        30.0, min=0.0, help="kWh each charge delivers (constant power: kWh / minutes)"
    ),
    idle_minutes: float = typer.Option(
        0.0,
        min=0.0,
        help="Minutes each car stays plugged in without charging after it (2.0.1 reports "
        "SuspendedEV: parking time)",
    ),
    meter_interval: int = typer.Option(
        60,
        min=1,
        help="Seconds between meter values, aligned to the clock (a divisor of 1800 puts a "
        "reading on every hour and half hour, where time-of-day prices change)",
    ),
    speed: float = typer.Option(
        1.0,
        min=1.0,
        help="Run the charges this many times faster than real time: their timestamps start "
        "in the past and never pass the hub's clock (1: real time)",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Connect the network's charging stations (OCPP 1.6 and 2.0.1) and make them live,
    printing progress as they connect and change status; with --charges, run charging
    sessions after that."""
    from hub.persistence.session import session_scope
    from hub.services.stations import StationService
    from hub.sim.chargers import (
        ChargeProfile,
        ChargeState,
        SimulatedCharger,
        SimulatedStation,
        fleet_for_network,
        run_fleet,
    )

    if charges and not token:
        exit_with_error(
            "--charges needs the drivers' tokens: --token UID (repeat it), a token an eMSP "
            "pushed to the hub (hub tokens list)"
        )
    profile = ChargeProfile(
        charging_seconds=max(round(session_minutes * 60), 1),
        energy_wh=round(session_kwh * 1000),
        idle_seconds=round(idle_minutes * 60),
        meter_interval_seconds=meter_interval,
    )

    locations = _read_json(network_file, "network file")
    try:
        if not isinstance(locations, list):
            raise TypeError("not a list")
        stations = fleet_for_network(locations, lambda _: "")
    except (AttributeError, KeyError, TypeError) as exc:
        exit_with_error(
            f"network file {network_file} is not a JSON list of OCPI locations ("
            + (f"a field is missing: {exc.args[0]}" if isinstance(exc, KeyError) else str(exc))
            + "); give the locations.json of `hub sim network`"
        )
    if not stations:
        exit_with_error(
            f"network file {network_file} holds no charging station: none of its "
            f"{len(locations)} objects is a location with EVSEs linked to an OCPP station "
            "(hub_ocpp); give the locations.json of `hub sim network`"
        )
    if count:
        stations = stations[:count]
    if passwords_file is None and register:
        passwords_file = network_file.with_name("passwords.json")
    passwords: dict[str, str] = {}
    if passwords_file is not None and passwords_file.exists():
        passwords = _read_passwords(passwords_file)
    elif passwords_file is not None and not register:
        exit_with_error(f"no passwords file {passwords_file}")
    registered: list[str] = []
    if register:
        target = passwords_file or network_file.with_name("passwords.json")

        async def add(context: CommandContext) -> list[str]:
            added = []
            async with session_scope(context.sessions) as session:
                service = StationService(session)
                for station in stations:
                    if await service.stations.get(station.station_id) is None:
                        _, passwords[station.station_id] = await service.add(station.station_id)
                        added.append(station.station_id)
                if added:
                    _write_passwords(target, passwords)
            return added

        registered = run(add)
    missing = [s.station_id for s in stations if s.station_id not in passwords]
    if missing:
        known = f"in {passwords_file}" if passwords_file is not None else "given"
        if register:
            exit_with_error(
                f"{len(missing)} stations (e.g. {missing[0]}) are registered already, with "
                f"passwords not {known}: give the passwords file written when they were "
                "registered (--passwords), or give them new ones with `hub chargers "
                "reset-password ID`"
            )
        exit_with_error(
            f"no password for {len(missing)} stations (e.g. {missing[0]}); use --register "
            "(adds them and writes their passwords to a file) or --passwords FILE"
        )
    ready = [
        SimulatedStation(
            s.station_id, passwords[s.station_id], s.ocpp_version, s.ocpp_ids, s.evse_uids
        )
        for s in stations
    ]
    endpoint = url or _default_url()

    def progress(line: str) -> None:
        # Progress goes to stderr under --json: stdout is the summary alone.
        typer.echo(line, err=as_json)

    def status_changed(charger: SimulatedCharger, _: str) -> None:
        unit = "connector" if charger.v16 else "evse"
        progress(f"{charger.station.station_id} {unit} {charger.log[-1]}")

    if registered:
        progress(f"registered {len(registered)} stations; their passwords are in {passwords_file}")
    report = asyncio.run(
        run_fleet(
            endpoint,
            ready,
            duration=duration,
            changes_per_second=rate,
            seed=seed,
            on_event=status_changed,
            on_progress=progress,
            charges=charges,
            profile=profile,
            tokens=token,
            concurrent=concurrent,
            speed=speed,
        )
    )
    finished = report.charges_in(ChargeState.DONE)
    refused = report.charges_in(ChargeState.REFUSED)
    summary = {
        "url": endpoint,
        "stations": len(ready),
        "registered": len(registered),
        "passwords_file": str(passwords_file) if passwords_file is not None else None,
        "connected": report.connected,
        "booted": report.booted,
        "status_notifications": report.status_notifications,
        "charges": len(report.charges),
        "charges_finished": len(finished),
        "charges_refused": len(refused),
        "kwh_delivered": float(sum((c.kwh for c in finished), Decimal(0))),
        "errors": report.errors,
        "seconds": round(report.seconds, 1),
    }
    if as_json:
        print_json(summary)
    else:
        print_record(
            "Simulated chargers",
            {**summary, "errors": len(report.errors)},
        )
    if report.errors and not report.connected:
        exit_with_error(
            f"no station could connect to {endpoint} ({report.errors[0]}); is `hub serve` "
            "listening there? (--url)"
        )
    if report.errors:
        more = f" (and {len(report.errors) - 1} more above)" if len(report.errors) > 1 else ""
        exit_with_error(
            f"{len(report.errors)} errors during the simulation: {report.errors[0]}{more}"
        )
    if refused:
        answers = sorted({f"{c.plan.token_uid}: {c.authorization}" for c in refused})
        exit_with_error(
            f"the hub refused {len(refused)} of {len(report.charges)} charges ("
            + ", ".join(answers)
            + "); give --token the uids of tokens an eMSP pushed to it (hub tokens list)"
        )
