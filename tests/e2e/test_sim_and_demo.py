"""The simulators against a real hub process, and ``hub demo`` end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.sim.chargers import SimulatedCharger, SimulatedStation, fleet_for_network
from hub.sim.network import generate_network
from tests.e2e.test_locations_push import HubProcess
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


@pytest.mark.db
def test_sim_chargers_cli_registers_connects_and_drives_the_fleet(hub_with_network):
    hub, env, network, tmp_path = hub_with_network
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
    )
    assert result.returncode == 0, result.stdout + result.stderr
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
