"""Locations and tariffs pushed to, and pulled by, a real eMSP over real HTTP; faults included.

The hub runs as ``hub serve`` in its own process; the eMSP test server registers with it through
the credentials handshake and receives pushes on its Locations and Tariffs receivers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fixtures import network
from tests.support.emsp import EmspPeer, token_header
from tests.support.ocpi_openapi import validate, validate_patch
from tests.support.servers import (
    asgi_server,
    free_port,
    hub_environment,
    run_hub_cli,
    wait_until_up,
)

pytestmark = [pytest.mark.e2e, pytest.mark.db]

FAST_PUSH = {
    "HUB_PUSH__POLL_INTERVAL_SECONDS": "0.05",
    "HUB_PUSH__RETRY_BASE_SECONDS": "0.05",
    "HUB_PUSH__RETRY_CAP_SECONDS": "0.5",
    "HUB_PUSH__DEGRADED_AFTER": "3",
    "HUB_PUSH__LEASE_SECONDS": "2",
}


def eventually(
    check: Callable[[], bool],
    timeout: float = 30.0,
    what: str = "condition",
    interval: float = 0.05,
) -> None:
    """``interval``: a check that runs the CLI starts a process each time; poll it less often."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class HubProcess:
    """``hub serve`` that a test can kill and start again."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{env['HUB_SERVER__PORT']}"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [os.sys.executable, "-m", "hub", "serve"],  # type: ignore[attr-defined]
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # Generous: on a loaded 2-core machine the start (migrations included) can take 30 s.
        wait_until_up(f"{self.url}/health", timeout=120, process=self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def serving_registered(env: dict[str, str], emsp: EmspPeer, log: Path) -> Iterator[HubProcess]:
    """``hub serve`` with ``emsp`` served on loopback, registered with it, and its sites'
    initial PUT (of the location ``SITE``) received; the hub is stopped after."""
    hub = HubProcess(env, log)
    with asgi_server(emsp.app()) as emsp_url:
        emsp.base_url = emsp_url
        hub.start()
        try:
            token_a = json.loads(
                run_hub_cli(env, "partners", "invite", "emsp", "--party", "US*EMS", "--json").stdout
            )
            registered = emsp.register_with_hub(f"{hub.url}/ocpi/versions", token_a["token_a"])
            assert registered.json()["status_code"] == 1000, registered.text
            eventually(lambda: ("US", "HPC", "SITE") in emsp.locations, what="initial PUT")
            yield hub
        finally:
            hub.stop()


@dataclass
class Setup:
    hub: HubProcess
    emsp: EmspPeer
    env: dict[str, str]
    emsp_port: int
    tmp: Path

    def cli(self, *args: str) -> dict | list:
        result = run_hub_cli(self.env, *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def import_network(self, locations: list[dict], tariffs: list[dict]) -> None:
        (self.tmp / "tariffs.json").write_text(json.dumps(tariffs))
        (self.tmp / "locations.json").write_text(json.dumps(locations))
        self.cli("tariffs", "import", str(self.tmp / "tariffs.json"))
        self.cli("locations", "import", str(self.tmp / "locations.json"))

    def pull(self, module: str) -> tuple[list[dict], int]:
        """Everything the hub serves for ``module``, following Link pages, as the eMSP would."""
        items: list[dict] = []
        pages = 0
        url: str | None = f"{self.hub.url}/ocpi/2.2.1/{module}?limit=7"
        with httpx.Client(timeout=10) as http:
            while url:
                response = http.get(url, headers=token_header(self.emsp.hub_token or ""))
                assert response.status_code == 200, response.text
                items += response.json()["data"]
                pages += 1
                url = response.links.get("next", {}).get("url")
        return items, pages


@pytest.fixture
def hub_env() -> dict[str, str]:
    """Settings of the hub beyond FAST_PUSH (a test parametrizes this to change them)."""
    return {}


@pytest.fixture
def setup(database_url: str, tmp_path: Path, hub_env: dict[str, str]) -> Iterator[Setup]:
    emsp = EmspPeer()
    emsp_port = free_port()
    env = {**hub_environment(database_url, free_port()), **FAST_PUSH, **hub_env}
    for country in ("US", "CA"):
        assert run_hub_cli(env, "parties", "add", country, "HPC", "--name", "HPC").returncode == 0
    hub = HubProcess(env, tmp_path / "hub.log")
    with asgi_server(emsp.app(), port=emsp_port) as emsp_url:
        emsp.base_url = emsp_url
        try:
            hub.start()
            token_a = json.loads(
                run_hub_cli(env, "partners", "invite", "emsp", "--party", "US*EMS", "--json").stdout
            )
            response = emsp.register_with_hub(f"{hub.url}/ocpi/versions", token_a["token_a"])
            assert response.json()["status_code"] == 1000, response.text
            yield Setup(hub, emsp, env, emsp_port, tmp_path)
        finally:
            emsp.hold = False
            hub.stop()


FACILITIES = (["CAFE", "WIFI"], ["HOTEL", "RESTAURANT"], ["MALL", "SUPERMARKET", "WIFI"])
SOURCES = ([("WIND", 70), ("SOLAR", 30)], [("WATER", 100)], [("SOLAR", 55), ("WIND", 45)])


def for_drivers(location: dict, i: int) -> dict:
    """What drivers and route planners look for (NEVI): varied per site."""
    location.update(
        parking_type=("ALONG_MOTORWAY", "PARKING_LOT", "PARKING_GARAGE")[i % 3],
        facilities=FACILITIES[i % 3],
        opening_times={"twentyfourseven": True},
        energy_mix={
            "is_green_energy": True,
            "energy_sources": [{"source": s, "percentage": p} for s, p in SOURCES[i % 3]],
            "supplier_name": f"Renewable Supplier {i % 3}",
            "energy_product_name": "100% Renewable",
        },
    )
    for n, evse in enumerate(location["evses"]):
        evse["parking_restrictions"] = ["EV_ONLY", "PLUGGED"] if n % 2 else ["EV_ONLY"]
        for connector in evse["connectors"]:
            connector["max_electric_power"] = 150000 if i % 2 else 350000
    return location


DRIVER_FIELDS = ("parking_type", "facilities", "opening_times", "energy_mix")


def sample_network(count: int = 20) -> tuple[list[dict], list[dict]]:
    locations = [
        for_drivers(network.location(f"LOC{i:02d}", evses=2 + i % 3), i) for i in range(count)
    ]
    return locations, [network.tariff("T-DC"), network.tariff("T-IDLE", price="0.40")]


def assert_arrived_for_drivers(sent: dict, held: dict) -> None:
    """The fields drivers need are at the eMSP exactly as imported (NACS connectors are left
    out for it: the partner's default)."""
    for key in DRIVER_FIELDS:
        assert held[key] == sent[key], (sent["id"], key)
    evses = {evse["uid"]: evse for evse in held["evses"]}
    for evse in sent["evses"]:
        assert evses[evse["uid"]]["parking_restrictions"] == evse["parking_restrictions"]
        connectors = {c["id"]: c for c in evses[evse["uid"]]["connectors"]}
        for connector in evse["connectors"]:
            if connector["standard"] != "SAE_J3400":
                power = connectors[connector["id"]]["max_electric_power"]
                assert power == connector["max_electric_power"]


def statuses_at_emsp(emsp: EmspPeer) -> dict[str, str]:
    with emsp.lock:
        return {
            e["uid"]: e["status"] for loc in emsp.locations.values() for e in loc.get("evses", [])
        }


def test_network_is_pushed_patched_and_pulled_back(setup: Setup):
    emsp = setup.emsp
    locations, tariffs = sample_network()
    setup.import_network(locations, tariffs)
    eventually(lambda: len(emsp.locations) == 20 and len(emsp.tariffs) == 2, what="every PUT")
    sent = {location["id"]: location for location in locations}
    for received in emsp.pushes("PUT", "/ocpi/2.2.1/locations"):
        validate("Location", received.body)
        assert_arrived_for_drivers(sent[received.body["id"]], received.body)
    for received in emsp.pushes("PUT", "/ocpi/2.2.1/tariffs"):
        validate("Tariff", received.body)

    setup.cli("locations", "set-status", "LOC03-E1", "CHARGING")
    eventually(lambda: statuses_at_emsp(emsp).get("LOC03-E1") == "CHARGING", what="the PATCH")
    (patch,) = emsp.pushes("PATCH")
    assert patch.path == "/ocpi/2.2.1/locations/US/HPC/LOC03/LOC03-E1"
    validate_patch("EVSEPatch", patch.body)

    pulled, pages = setup.pull("locations")
    assert pages == 3  # 20 locations, 7 per page
    assert [loc["id"] for loc in pulled] == [loc["id"] for loc in locations]
    for location in pulled:
        held = emsp.locations[("US", "HPC", location["id"])]
        # The eMSP applied PUT + PATCH; only the parent's last_updated is not PATCHed to it.
        assert {**held, "last_updated": None} == {**location, "last_updated": None}
        assert_arrived_for_drivers(sent[location["id"]], location)
    tariffs_pulled, _ = setup.pull("tariffs")
    assert {t["id"]: t for t in tariffs_pulled} == {k[2]: v for k, v in emsp.tariffs.items()}
    status = setup.cli("push", "status")
    assert status[0]["pending"] == 0
    assert status[0]["delivered"] >= 23


def test_emsp_outage_then_recovery_loses_and_reorders_nothing(setup: Setup):
    emsp = setup.emsp
    locations, tariffs = sample_network(6)
    setup.import_network(locations, tariffs)
    eventually(lambda: len(emsp.locations) == 6, what="initial PUTs")
    with emsp.lock:
        emsp.received.clear()
    emsp.push_mode = "fail"  # the eMSP answers 503 to every push
    changes = [
        ("LOC01-E1", "CHARGING"),
        ("LOC02-E2", "OUTOFORDER"),
        ("LOC01-E1", "AVAILABLE"),
        ("LOC04-E1", "RESERVED"),
        ("LOC01-E2", "CHARGING"),
    ]
    for uid, status in changes:
        setup.cli("locations", "set-status", uid, status)
    eventually(
        lambda: setup.cli("push", "status")[0]["health"] == "degraded",
        what="partner degraded",
        interval=0.5,
    )
    emsp.push_mode = "ok"
    expected = dict(changes)
    eventually(
        lambda: all(statuses_at_emsp(emsp).get(u) == s for u, s in expected.items()),
        what="every change after the outage",
    )
    eventually(
        lambda: setup.cli("push", "status")[0]["pending"] == 0, what="queue drained", interval=0.5
    )
    assert setup.cli("push", "status")[0]["health"] == "ok"
    accepted = [r for r in emsp.pushes() if r.at and r.method in {"PUT", "PATCH"}]
    # Per object, what arrived never goes back in time. A repeated PATCH can only repeat the
    # newest state (payloads are built when sent), which PATCH idempotency allows.
    newest: dict[str, str] = {}
    for received in accepted:
        if received.method == "PATCH":
            stamp = received.body["last_updated"]
            assert stamp >= newest.get(received.path, "")
            newest[received.path] = stamp
    pulled, _ = setup.pull("locations")
    assert statuses_at_emsp(emsp) == {e["uid"]: e["status"] for loc in pulled for e in loc["evses"]}


def test_hub_killed_mid_delivery_loses_nothing(setup: Setup):
    emsp = setup.emsp
    emsp.hold = True  # every push waits for the test: the kill lands mid-delivery for sure
    locations, tariffs = sample_network(30)
    setup.import_network(locations, tariffs)
    eventually(lambda: bool(emsp.holding()), what="deliveries under way")
    setup.hub.kill()
    emsp.hold = False
    eventually(lambda: not emsp.holding(), what="the held requests answered")
    assert len(emsp.locations) < 30
    setup.hub.start()
    eventually(
        lambda: len(emsp.locations) == 30 and len(emsp.tariffs) == 2, what="all after restart"
    )
    setup.cli("locations", "set-status", "LOC29-E1", "CHARGING")
    eventually(lambda: statuses_at_emsp(emsp).get("LOC29-E1") == "CHARGING", what="later PATCH")
    pulled, _ = setup.pull("locations")
    assert statuses_at_emsp(emsp) == {e["uid"]: e["status"] for loc in pulled for e in loc["evses"]}


@pytest.mark.parametrize(
    "hub_env",
    [{"HUB_PUSH__LEASE_SECONDS": "600", "HUB_PUSH__MAX_IN_FLIGHT_PER_PARTNER": "4"}],
    ids=["lease600"],
)
def test_hub_killed_mid_round_delivers_right_after_restart(setup: Setup):
    """kill -9 while requests are in flight; the restarted hub gives the dead round's claims
    back at once instead of waiting for their leases (ten minutes here) to expire."""
    emsp = setup.emsp
    locations, _ = sample_network(30)
    emsp.hold = True  # every push waits for the test: the kill lands mid-round for sure
    setup.cli("locations", "import", _write(setup.tmp / "locations.json", locations))
    eventually(lambda: len(emsp.holding()) == 4, what="a round in flight")
    # Only what is being sent is claimed: 4 of the 30 queued PUTs.
    assert setup.cli("push", "status")[0]["in_flight"] == 4
    held = emsp.holding()
    setup.hub.kill()
    emsp.hold = False
    eventually(lambda: not emsp.holding(), what="the held requests answered")
    setup.hub.start()
    location_id = held[0].rsplit("/", 1)[-1]
    setup.cli("locations", "set-status", f"{location_id}-E1", "CHARGING")
    # Its queue was held by the dead round, whose lease runs for ten minutes: the old hub
    # delivered nothing there until it expired.
    eventually(
        lambda: statuses_at_emsp(emsp).get(f"{location_id}-E1") == "CHARGING",
        what="the status change after the restart",
    )
    eventually(lambda: len(emsp.locations) == 30, what="every location")
    assert setup.cli("push", "status")[0]["in_flight"] == 0


def _write(path: Path, value: object) -> str:
    path.write_text(json.dumps(value))
    return str(path)
