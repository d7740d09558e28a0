"""The simulators against a real hub process (status changes and charges), and ``hub demo`` end
to end: every finished charge reaches the demo eMSP as exactly one CDR with the recomputed
total, the app's charge (START_SESSION, STOP_SESSION) as a COMMAND session whose CDR carries
its authorization_reference, and the app's reservation used by the driver's card."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargingSession
from hub.sim.cdrs import check_cdr
from hub.sim.chargers import SimulatedCharger, SimulatedStation, fleet_for_network
from hub.sim.network import generate_network
from tests.e2e.test_locations_push import HubProcess
from tests.support.emsp_authorize import add_known_card
from tests.support.servers import free_port, hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def hub_with_network(database_url: str, tmp_path: Path):
    env = hub_environment(database_url, free_port())
    for country in ("US", "CA"):
        assert run_hub_cli(env, "parties", "add", country, "HPC", "--name", "HPC").returncode == 0
    network = generate_network(sites=2, seed=3)
    (tmp_path / "locations.json").write_text(json.dumps(network.locations))
    (tmp_path / "tariffs.json").write_text(json.dumps(network.tariffs))
    assert run_hub_cli(env, "tariffs", "import", str(tmp_path / "tariffs.json")).returncode == 0
    assert run_hub_cli(env, "locations", "import", str(tmp_path / "locations.json")).returncode == 0
    hub = HubProcess(env, tmp_path / "hub.log")
    hub.start()
    try:
        yield hub, env, network, tmp_path
    finally:
        hub.stop()


async def stored_sessions(database_url: str) -> list[tuple[str, Decimal, bool]]:
    engine = create_engine(database_url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            rows = (await session.execute(select(ChargingSession))).scalars().all()
            return [(r.status, r.kwh, r.cdr_made) for r in rows]
    finally:
        await dispose_engine(engine)


@pytest.mark.db
def test_sim_chargers_cli_registers_connects_and_drives_the_fleet(hub_with_network, database_url):
    hub, env, network, tmp_path = hub_with_network
    asyncio.run(add_known_card(database_url, "04A1B2C3D4"))
    result = run_hub_cli(
        env,
        "sim",
        "chargers",
        "--network",
        str(tmp_path / "locations.json"),
        "--register",
        "--url",
        f"{hub.url.replace('http', 'ws')}/ocpp",
        "--duration",
        "2",
        "--rate",
        "10",
        "--charges",
        "4",
        "--token",
        "04A1B2C3D4",
        "--session-minutes",
        "20",
        "--session-kwh",
        "25",
        "--speed",
        "100000",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The charges were real sessions of `hub serve`: ended, metered, billed.
    assert asyncio.run(stored_sessions(database_url)) == [("COMPLETED", Decimal(25), True)] * 4
    stations = fleet_for_network(network.locations, lambda _: "")
    listed = json.loads(run_hub_cli(env, "chargers", "list", "--json").stdout)
    assert len(listed) == len(stations)
    assert all(s["booted_at"] for s in listed)
    assert {s["ocpp_version"] for s in listed} == {"1.6", "2.0.1"}
    locations = json.loads(run_hub_cli(env, "locations", "list", "--json").stdout)
    statuses = {k for loc in locations for k in loc["statuses"]}
    assert statuses <= {"AVAILABLE", "CHARGING", "RESERVED", "INOPERATIVE", "OUTOFORDER"}


@pytest.mark.db
async def test_a_forwarded_call_needs_no_cluster_token(hub_with_network):
    hub, env, network, _ = hub_with_network
    (station,) = [
        s for s in fleet_for_network(network.locations, lambda _: "") if s.ocpp_version == "1.6"
    ][:1]
    added = json.loads(run_hub_cli(env, "chargers", "add", station.station_id, "--json").stdout)
    assert "HUB_OCPP__INTERNAL_TOKEN" not in env  # neither process has a shared secret
    charger = SimulatedCharger(
        SimulatedStation(
            station.station_id, added["password"], "1.6", station.ocpp_ids, station.evse_uids
        ),
        f"{hub.url.replace('http', 'ws')}/ocpp",
    )
    await charger.connect()
    assert await charger.boot() == "Accepted"
    await charger.all_available()
    answered = await asyncio.get_running_loop().run_in_executor(
        None,
        lambda: run_hub_cli(
            env, "chargers", "call", station.station_id, "Reset", '{"type": "Soft"}', "--json"
        ),
    )
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout) == {"status": "Accepted"}
    assert charger.received == ["Reset"]
    await charger.close()


def test_hub_demo_runs_end_to_end(tmp_path: Path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "demo",
            "--duration",
            "4",
            "--sites",
            "2",
            "--charges",
            "6",
            "--port",
            str(free_port()),
            "--emsp-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Demo summary" in done.stdout
    assert "emsp_matches_hub    │ True" in done.stdout
    assert "PATCH locations" in done.stdout
    assert (tmp_path / "demo" / "demo.db").exists()
    # The live view owns the terminal: no log line of any component (warnings only, and none).
    logged = [line for line in (done.stdout + done.stderr).splitlines() if "INFO" in line]
    assert not logged, logged[:5]
    # The six replayed charges, the app's and the one a card started on the app's reservation.
    assert_every_charge_billed_once(tmp_path / "demo" / "demo.db", done.stdout, charges=8)
    assert "app_commands_ok     │ True" in done.stdout
    flat = " ".join(done.stdout.replace("│", " ").split())
    assert "The app's START_SESSION at" in flat
    assert "(ACCEPTED/ACCEPTED) and STOP_SESSION (ACCEPTED/ACCEPTED)" in flat
    with sqlite3.connect(tmp_path / "demo" / "demo.db") as connection:
        commands = connection.execute(
            "SELECT kind, response, result, result_sent_at IS NOT NULL FROM commands"
            " WHERE kind IN ('START_SESSION', 'STOP_SESSION', 'RESERVE_NOW') ORDER BY kind"
        ).fetchall()
        reserved = connection.execute(
            "SELECT s.status, s.auth_method, s.token_uid, s.reserved_from IS NOT NULL"
            " FROM charging_sessions s JOIN charge_detail_records c ON c.session_ref = s.id"
            " WHERE s.authorization_reference = 'DEMO-APP-RESERVE'"
        ).fetchall()
        app = connection.execute(
            "SELECT s.status, s.auth_method, c.body FROM charging_sessions s"
            " JOIN charge_detail_records c ON c.session_ref = s.id"
            " WHERE s.authorization_reference = 'DEMO-APP-START'"
        ).fetchall()
    assert commands == [
        ("RESERVE_NOW", "ACCEPTED", "ACCEPTED", 1),
        ("START_SESSION", "ACCEPTED", "ACCEPTED", 1),
        ("STOP_SESSION", "ACCEPTED", "ACCEPTED", 1),
    ]
    # The reservation's session became the charge's, billed to the driver's card.
    assert reserved == [("COMPLETED", "COMMAND", "DMO0000001", 1)]
    assert "made it RESERVED; the driver's card started the charge there" in flat
    ((status, auth_method, body),) = app
    assert (status, auth_method) == ("COMPLETED", "COMMAND")
    cdr = json.loads(body)
    assert (cdr["auth_method"], cdr["authorization_reference"]) == ("COMMAND", "DEMO-APP-START")
    assert cdr["cdr_token"]["type"] == "APP_USER"
    assert len(cdr["cdr_token"]["uid"]) == 36  # longer than a 1.6 idTag: sent as an alias


def assert_every_charge_billed_once(database: Path, output: str, charges: int) -> None:
    """The summary's table, and the hub's own database: one session and one delivered CDR per
    charge, each CDR's total what the pricing engine gives for the CDR's tariff and periods."""
    cells = [[c.strip() for c in line.split("│") if c.strip()] for line in output.splitlines()]
    summary = {row[0]: row[1] for row in cells if len(row) == 2}
    assert (
        summary["charges"]
        == summary["charges_finished"]
        == summary["cdrs_received"]
        == str(charges)
    )
    assert (summary["cdr_duplicates"], summary["cdrs_match"]) == ("0", "True")
    rows = [line.strip("│ ").split() for line in output.splitlines()]
    rows = [row for row in rows if len(row) == 10 and row[0].isdigit()]
    assert len(rows) == charges, output[-4000:]
    for row in rows:
        # #  EVSE  OCPP  kWh  min  total CUR  recomputed CUR  ok
        assert row[-1] == "ok", row
        assert row[5:7] == row[7:9], row  # the CDR total and the recomputed one
    with sqlite3.connect(database) as connection:
        stored = connection.execute(
            "SELECT s.status, s.kwh, s.time_zone, c.body, c.delivered_at, c.location_url"
            " FROM charging_sessions s LEFT JOIN charge_detail_records c ON c.session_ref = s.id"
        ).fetchall()
    assert len(stored) == charges
    for status, kwh, time_zone, body, delivered_at, location_url in stored:
        assert status == "COMPLETED"
        assert delivered_at is not None
        assert "/ocpi/2.2.1/cdrs/" in location_url
        cdr = json.loads(body)
        assert Decimal(str(cdr["total_energy"])) == Decimal(str(kwh))
        check = check_cdr(cdr, time_zone)
        assert check.matches, check.problem
