"""Prometheus metrics: the exposition of the database gauges, ``GET /metrics`` on both
databases, the push worker's outcomes, and the aggregation of several processes
(``PROMETHEUS_MULTIPROC_DIR``) in real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from hub.app import create_app
from hub.config import DatabaseSettings, MetricsSettings, PushSettings, Settings
from hub.domain.push import JobKind, JobState
from hub.persistence.repositories.overview import Overview, PartnerQueue
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingStation, PushJob
from hub.roaming.importer import parse_locations_json
from hub.roaming.push import PushWorker
from hub.services import metrics
from hub.services.locations import LocationService
from hub.services.push import PushService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.emsp import EmspPeer
from tests.support.servers import asgi_server

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def current(name: str, **labels: str) -> float:
    """A process metric of this (test) process, 0 before its first use."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- the database gauges ----------------------------------------------------------------------


def test_database_gauges_carry_the_overview():
    overview = Overview(
        at=NOW,
        stations={"http://a:8000": 2, "http://b:8000": 1},
        queues=(
            PartnerQueue("emsp-a", "REGISTERED", 3, NOW - timedelta(seconds=90), 0, False),
            PartnerQueue("emsp-b", "REGISTERED", 0, None, 5, True),
        ),
        cdr_backlog=4,
    )
    samples = parse(metrics.exposition(metrics.database_collector(overview)).decode())
    assert value(samples, "hub_database_up") == 1
    assert value(samples, "hub_stations_connected", node="http://a:8000") == 2
    assert value(samples, "hub_stations_connected", node="http://b:8000") == 1
    assert value(samples, "hub_push_queue_jobs", partner="emsp-a") == 3
    assert value(samples, "hub_push_queue_jobs", partner="emsp-b") == 0
    assert value(samples, "hub_push_queue_oldest_seconds", partner="emsp-a") == 90
    assert value(samples, "hub_push_queue_oldest_seconds", partner="emsp-b") == 0
    assert value(samples, "hub_push_consecutive_failures", partner="emsp-b") == 5
    assert value(samples, "hub_push_degraded", partner="emsp-a") == 0
    assert value(samples, "hub_push_degraded", partner="emsp-b") == 1
    assert value(samples, "hub_cdr_backlog") == 4
    # The process metrics come along (default registry, outside multiprocess mode).
    assert "hub_ocpp_stations_connected" in names(samples)
    assert "process_cpu_seconds_total" in names(samples)


def test_an_unreadable_database_leaves_the_process_metrics():
    samples = parse(metrics.exposition(metrics.database_collector(None)).decode())
    assert value(samples, "hub_database_up") == 0
    assert not {"hub_push_queue_jobs", "hub_cdr_backlog", "hub_stations_connected"} & names(samples)
    assert "hub_ocpp_stations_connected" in names(samples)


def test_process_ended_outside_multiprocess_mode_does_nothing(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROCESS_DIRECTORY, raising=False)
    metrics.process_ended(os.getpid())


# --- GET /metrics -----------------------------------------------------------------------------


def app_settings(database_url: str, *, enabled: bool = True) -> Settings:
    return Settings(
        database=DatabaseSettings(url=database_url),
        push=PushSettings(enabled=False),
        metrics=MetricsSettings(enabled=enabled),
    )


@pytest.mark.db
async def test_metrics_endpoint_serves_the_database_gauges(database_url, sessions):
    partner_id, _ = await register_partner(sessions, "emsp-a", ("US", "EMA"))
    enqueued = datetime.now(UTC) - timedelta(hours=1)
    async with session_scope(sessions) as session:
        session.add(ChargingStation(station_id="CS-1", password_hash="x", connected_node="n1"))
        session.add_all(
            PushJob(
                partner_id=partner_id,
                queue_key=f"sessions/US/HPC/S{i}",
                coalesce_key=f"c{i}",
                kind=JobKind.CDR_POST.value,
                state=JobState.PENDING.value,
                enqueued_at=enqueued,
            )
            for i in range(2)
        )
    app = create_app(app_settings(database_url))
    assert "/metrics" not in app.openapi_schema.to_schema()["paths"]
    async with AsyncTestClient(app, base_url="http://hub.local") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = parse(response.text)
    assert value(samples, "hub_database_up") == 1
    assert value(samples, "hub_stations_connected", node="n1") == 1
    assert value(samples, "hub_push_queue_jobs", partner="emsp-a") == 2
    assert value(samples, "hub_cdr_backlog") == 2
    oldest = value(samples, "hub_push_queue_oldest_seconds", partner="emsp-a")
    assert oldest is not None
    assert 3600 <= oldest < 3600 + 600


@pytest.mark.db
async def test_metrics_can_be_switched_off(database_url):
    async with AsyncTestClient(
        create_app(app_settings(database_url, enabled=False)), base_url="http://hub.local"
    ) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404


# --- the push worker's outcomes ---------------------------------------------------------------


@pytest.fixture
def emsp():
    peer = EmspPeer()
    with asgi_server(peer.app()) as url:
        peer.base_url = url
        yield peer


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def queue_locations(sessions, emsp, count: int, at: datetime) -> None:
    await add_parties(sessions)
    await register_partner(sessions, "emsp-m", base_url=f"{emsp.base_url}/ocpi/2.2.1")
    emsp.issued["token-for-emsp-m"] = "C"
    async with session_scope(sessions) as session:
        push = PushService(session, clock=lambda: at)
        records = [network.location(f"LOC{i}") for i in range(count)]
        await LocationService(session, push).import_locations(
            parse_locations_json(json.dumps(records))
        )


@pytest.mark.db
@pytest.mark.parametrize(
    ("mode", "outcome"), [("ok", "delivered"), ("fail", "failed"), ("reject", "rejected")]
)
async def test_push_outcomes_are_counted_per_partner_and_module(
    sessions, emsp, http, mode, outcome
):
    started = datetime.now(UTC).replace(microsecond=0)
    await queue_locations(sessions, emsp, 3, started)
    emsp.push_mode = mode
    labels = {"partner": "emsp-m", "module": "locations", "outcome": outcome}
    counted = current("hub_push_deliveries_total", **labels)
    timed = current("hub_push_delivery_seconds_count", partner="emsp-m")
    total = current("hub_push_delivery_seconds_sum", partner="emsp-m")
    # The worker's clock says 42 s have passed since the jobs were queued.
    worker = PushWorker(
        sessions,
        http,
        PushSettings(),
        worker_id="metrics/0",
        clock=lambda: started + timedelta(seconds=42),
    )
    assert await worker.run_once() == 3
    assert current("hub_push_deliveries_total", **labels) == counted + 3
    delivered = 3 if outcome == "delivered" else 0
    assert current("hub_push_delivery_seconds_count", partner="emsp-m") == timed + delivered
    assert current("hub_push_delivery_seconds_sum", partner="emsp-m") == pytest.approx(
        total + 42 * delivered
    )


# --- several processes ------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from hub.services import metrics

    stations, heartbeats = int(sys.argv[1]), int(sys.argv[2])
    for _ in range(stations):
        metrics.OCPP_STATIONS_CONNECTED.inc()
    for _ in range(heartbeats):
        metrics.OCPP_MESSAGES.labels("Heartbeat", "1.6").inc()
        metrics.OCPP_MESSAGE_SECONDS.labels("1.6").observe(0.02)
    metrics.PUSH_DELIVERIES.labels("emsp", "cdrs", "delivered").inc(heartbeats)
    sys.stdout.write("ready\\n")
    sys.stdout.flush()
    sys.stdin.read()  # alive until the test closes our stdin
    """
)
SCRAPER = textwrap.dedent(
    """
    import sys
    from hub.services import metrics

    if len(sys.argv) > 1:
        metrics.process_ended(int(sys.argv[1]))
    sys.stdout.write(metrics.exposition().decode())
    """
)


def python(code: str, *args: str, env: dict[str, str], **kwargs) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, cwd=ROOT, text=True, **kwargs
    )


def scrape(env: dict[str, str], *ended: int) -> Samples:
    process = python(SCRAPER, *map(str, ended), env=env, stdout=subprocess.PIPE)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return parse(out)


def test_a_scrape_sums_every_process_and_forgets_the_stations_of_an_ended_one(tmp_path):
    env = {**os.environ, metrics.MULTIPROCESS_DIRECTORY: str(tmp_path)}
    writers = []
    try:
        for stations, heartbeats in ((2, 5), (3, 7)):
            writer = python(
                WRITER,
                str(stations),
                str(heartbeats),
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            writers.append(writer)
            assert writer.stdout is not None
            assert writer.stdout.readline() == "ready\n"

        samples = scrape(env)
        assert value(samples, "hub_ocpp_stations_connected") == 5
        assert value(samples, "hub_ocpp_messages_total", action="Heartbeat", version="1.6") == 12
        assert value(samples, "hub_ocpp_message_seconds_count", version="1.6") == 12
        assert value(samples, "hub_ocpp_message_seconds_sum", version="1.6") == pytest.approx(0.24)
        labels = {"partner": "emsp", "module": "cdrs", "outcome": "delivered"}
        assert value(samples, "hub_push_deliveries_total", **labels) == 12
        # Only the hub's metrics: no process collector of whichever process answers.
        assert "process_cpu_seconds_total" not in names(samples)

        # The second process ends: the supervisor says so; its counts stay, its stations go.
        second = writers.pop()
        second.communicate(timeout=30)  # closes its stdin: it ends
        assert second.returncode == 0
        samples = scrape(env, second.pid)
        assert value(samples, "hub_ocpp_stations_connected") == 2
        assert value(samples, "hub_ocpp_messages_total", action="Heartbeat", version="1.6") == 12
    finally:
        for writer in writers:
            writer.communicate(timeout=30)
