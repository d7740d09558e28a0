"""``GET /metrics`` of ``hub serve``: a real station's CALLs and the pushes a real eMSP takes
move the counters; the database gauges and ``hub status`` say the same.

Run twice: as one process with its own registry, and in multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR`` set, as ``hub serve --workers`` sets it for its children), where
a second process writing to the same directory stands for another worker: a scrape sums both,
and once that process has ended and ``process_ended`` was called, its stations are gone while
its counts stay.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.services import metrics
from tests.e2e.test_locations_push import FAST_PUSH, HubProcess, serving_registered
from tests.fixtures import network
from tests.support.emsp import EmspPeer
from tests.support.ocpp_raw import RawStation
from tests.support.servers import free_port, hub_environment, run_hub_cli

pytestmark = [pytest.mark.e2e, pytest.mark.db]

V16 = ["ocpp1.6"]
BOOT = {"chargePointVendor": "Acme", "chargePointModel": "HPC-350"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

OTHER_WORKER = textwrap.dedent(
    """
    import sys
    from hub.services import metrics

    for _ in range(2):
        metrics.OCPP_STATIONS_CONNECTED.inc()
    metrics.OCPP_MESSAGES.labels("Heartbeat", "2.0.1").inc(4)
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    sys.stdin.read()
    """
)


def site() -> dict:
    location = network.location("SITE", evses=2)
    for n, evse in enumerate(location["evses"], start=1):
        evse["status"] = "UNKNOWN"
        evse["hub_ocpp"] = {"charging_station_id": "CS-16", "evse_id": None, "connector_id": n}
    return location


@dataclass
class Bench:
    hub: HubProcess
    emsp: EmspPeer
    env: dict[str, str]
    password: str
    multiprocess: Path | None

    def cli(self, *args: str) -> dict:
        result = run_hub_cli(self.env, *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    async def scrape(self) -> Samples:
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.get(f"{self.hub.url}/metrics")
        assert response.status_code == 200, response.text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    async def until(self, check: Callable[[Samples], bool], what: str) -> Samples:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            samples = await self.scrape()
            if check(samples):
                return samples
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {samples}")
            await asyncio.sleep(0.1)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delivered(samples: Samples) -> float:
    """Deliveries to the eMSP, every module."""
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "hub_push_deliveries_total"
        and ("partner", "emsp") in labels
        and ("outcome", "delivered") in labels
    )


@pytest.fixture(params=["one-process", "multiprocess"])
def bench(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Bench]:
    env = {**hub_environment(database_url, free_port()), **FAST_PUSH}
    env.pop(metrics.MULTIPROCESS_DIRECTORY, None)
    shared = None
    if request.param == "multiprocess":
        shared = tmp_path / "prometheus"
        shared.mkdir()
        env[metrics.MULTIPROCESS_DIRECTORY] = str(shared)
    assert run_hub_cli(env, "parties", "add", "US", "HPC", "--name", "HPC").returncode == 0
    (tmp_path / "site.json").write_text(json.dumps([site()]))
    assert run_hub_cli(env, "locations", "import", str(tmp_path / "site.json")).returncode == 0
    added = run_hub_cli(env, "chargers", "add", "CS-16", "--json")
    assert added.returncode == 0, added.stderr
    emsp = EmspPeer()
    with serving_registered(env, emsp, tmp_path / "hub.log") as hub:
        yield Bench(hub, emsp, env, json.loads(added.stdout)["password"], shared)


async def test_a_station_and_the_pushes_it_causes_move_the_metrics(bench: Bench):
    node = f"http://127.0.0.1:{bench.env['HUB_SERVER__PORT']}"
    samples = await bench.until(lambda s: delivered(s) >= 1, "the initial PUT counted")
    assert value(samples, "hub_ocpp_stations_connected") == 0
    assert value(samples, "hub_push_queue_jobs", partner="emsp") == 0
    assert value(samples, "hub_cdr_backlog") == 0
    # One process has its process collector; multiprocess mode reports the hub's metrics only.
    has_process = any(name == "process_cpu_seconds_total" for name, _ in samples)
    assert has_process is (bench.multiprocess is None)

    station = await RawStation.connect(
        bench.hub.url.replace("http", "ws"), "CS-16", bench.password, V16
    )
    try:
        assert (await station.call("BootNotification", BOOT))[2]["status"] == "Accepted"
        await station.call("Heartbeat", {})
        for connector in (1, 2):
            status = {"connectorId": connector, "errorCode": "NoError", "status": "Charging"}
            await station.call("StatusNotification", status)

        def settled(s: Samples) -> bool:
            at_emsp = {e["status"] for e in bench.emsp.locations[("US", "HPC", "SITE")]["evses"]}
            return at_emsp == {"CHARGING"} and delivered(s) == len(bench.emsp.received)

        samples = await bench.until(settled, "the EVSE PATCHes delivered and counted")
        assert value(samples, "hub_ocpp_stations_connected") == 1
        assert value(samples, "hub_stations_connected", node=node) == 1
        for action, count in (("BootNotification", 1), ("Heartbeat", 1), ("StatusNotification", 2)):
            assert value(samples, "hub_ocpp_messages_total", action=action, version="1.6") == count
        assert value(samples, "hub_ocpp_message_seconds_count", version="1.6") == 4
        # The initial PUT and at least the two EVSE PATCHes, each timed from its job's creation.
        assert delivered(samples) >= 3
        assert value(samples, "hub_push_delivery_seconds_count", partner="emsp") == delivered(
            samples
        )
        status = bench.cli("status")
        assert status["stations"] == {"total": 1, "by_node": {node: 1}}
        assert [q["partner"] for q in status["push"]] == ["emsp"]

        if bench.multiprocess is not None:
            await other_worker_is_summed_then_forgotten(bench)
    finally:
        await station.close()
    samples = await bench.until(
        lambda s: value(s, "hub_ocpp_stations_connected") == 0, "the station's detach counted"
    )
    assert value(samples, "hub_stations_connected", node=node) == 0


async def other_worker_is_summed_then_forgotten(bench: Bench) -> None:
    env = {**os.environ, metrics.MULTIPROCESS_DIRECTORY: str(bench.multiprocess)}
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        OTHER_WORKER,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert other.stdout is not None
        assert await asyncio.wait_for(other.stdout.readline(), 60) == b"ready\n"
        samples = await bench.scrape()
        assert value(samples, "hub_ocpp_stations_connected") == 3
        assert value(samples, "hub_ocpp_messages_total", action="Heartbeat", version="2.0.1") == 4
        assert value(samples, "hub_ocpp_messages_total", action="Heartbeat", version="1.6") == 1
    finally:
        await asyncio.wait_for(other.communicate(b""), 30)  # its stdin closed: it ends
    # What the supervisor calls when a child ends.
    ended = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"from hub.services import metrics; metrics.process_ended({other.pid})",
        env=env,
    )
    assert await asyncio.wait_for(ended.wait(), 60) == 0
    samples = await bench.scrape()
    assert value(samples, "hub_ocpp_stations_connected") == 1
    assert value(samples, "hub_ocpp_messages_total", action="Heartbeat", version="2.0.1") == 4
