"""Interop: the npm package ``ocpp-rpc`` (strict mode) drives an OCPP 1.6 station against the hub.

``ocpp-rpc`` validates every frame both ways against the OCPP 1.6 JSON schemas, so a wrong
answer from the hub makes its call fail. Node.js is required; the package is installed with
``npm ci`` into ``tests/interop/node_modules`` on first use (``.ci/run`` does it up front).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_locations_push import HubProcess, eventually
from tests.e2e.test_ocpp_bridge import site
from tests.support.servers import free_port, hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

INTEROP = Path(__file__).resolve().parents[1] / "interop"


def ensure_ocpp_rpc() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("Node.js and npm are required for the ocpp-rpc interop test")
    if not (INTEROP / "node_modules" / "ocpp-rpc").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=INTEROP, check=True, timeout=300)
    return node


def test_ocpp_rpc_station_boots_and_reports(database_url: str, tmp_path: Path):
    node = ensure_ocpp_rpc()
    env = hub_environment(database_url, free_port())
    assert run_hub_cli(env, "parties", "add", "US", "HPC", "--name", "HPC").returncode == 0
    (tmp_path / "site.json").write_text(json.dumps([site()]))
    assert run_hub_cli(env, "locations", "import", str(tmp_path / "site.json")).returncode == 0
    password = json.loads(run_hub_cli(env, "chargers", "add", "CS-16", "--json").stdout)["password"]
    hub = HubProcess(env, tmp_path / "hub.log")
    hub.start()
    try:
        done = subprocess.run(
            [
                node,
                str(INTEROP / "ocpp_rpc_station.js"),
                f"{hub.url.replace('http', 'ws')}/ocpp",
                "CS-16",
                password,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["protocol"] == "ocpp1.6"
        assert result["boot"]["status"] == "Accepted"
        assert result["boot"]["interval"] == 300
        assert result["statuses"] == [{}, {}, {}, {}]
        assert result["heartbeat"]["currentTime"].endswith("Z")
        assert result["dataTransfer"] == "answered"

        def shown() -> dict:
            return json.loads(run_hub_cli(env, "chargers", "show", "CS-16", "--json").stdout)

        eventually(lambda: shown()["vendor"] == "ocpp-rpc", what="boot stored")
        station = shown()
        assert station["model"] == "interop"
        assert {e["uid"]: e["status"] for e in station["evses"]} == {
            "SITE-E3": "OUTOFORDER",
            "SITE-E4": "CHARGING",
        }
        assert station["connector_statuses"] == {"0:1": "Faulted", "0:2": "Charging"}
    finally:
        hub.stop()
