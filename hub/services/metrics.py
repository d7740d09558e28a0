"""Prometheus metrics of the hub (``GET /metrics``), shared by the OCPP bridge and the roaming
adapter, which update them on their hot paths (a label lookup and an increment, nothing more).

Two kinds of figures:

- **Process metrics**, updated as things happen: stations whose socket this process holds,
  OCPP CALLs received and how long their answer took, push deliveries and their latency (from
  the job's creation to its delivery), real-time authorization latency.
- **Database gauges**, read when scraped (:func:`database_collector` over an
  :class:`~hub.persistence.repositories.overview.Overview`): stations connected per node, push
  queue depth and age of its oldest job per partner, the partners' consecutive failures, the
  CDR backlog. They describe the whole hub, whichever process answers the scrape.

Several processes (``hub serve --workers N``): the supervisor sets ``PROMETHEUS_MULTIPROC_DIR``
to a fresh empty directory before starting them, so that every process writes its values there
(``prometheus_client`` chooses where values live when it is imported), and calls
:func:`process_ended` when one ends. A scrape then answers the sum over all processes
(:func:`exposition`), whichever one the request reaches.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from hub.persistence.repositories.overview import Overview

__all__ = [
    "AUTHORIZATION_SECONDS",
    "CONTENT_TYPE",
    "MULTIPROCESS_DIRECTORY",
    "OCPP_MESSAGES",
    "OCPP_MESSAGE_SECONDS",
    "OCPP_STATIONS_CONNECTED",
    "PUSH_DELIVERIES",
    "PUSH_DELIVERY_SECONDS",
    "database_collector",
    "exposition",
    "process_ended",
]

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the directory shared by the processes of one hub."""

CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The media type of :func:`exposition`'s text."""

# No ``*_created`` series beside every counter and histogram: multiprocess mode has none, and a
# scrape reads the same in both modes.
disable_created_metrics()  # type: ignore[no-untyped-call]

OCPP_STATIONS_CONNECTED = Gauge(
    "hub_ocpp_stations_connected",
    "Stations whose websocket this process holds (summed over the live processes)",
    multiprocess_mode="livesum",
)
OCPP_MESSAGES = Counter(
    "hub_ocpp_messages_total",
    "CALLs received from stations, by action (unknown: an action OCPP does not define)",
    ["action", "version"],
)
OCPP_MESSAGE_SECONDS = Histogram(
    "hub_ocpp_message_seconds",
    "Time from receiving a station's CALL to sending its answer",
    ["version"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PUSH_DELIVERIES = Counter(
    "hub_push_deliveries_total",
    "Push jobs sent to partners, by outcome: delivered, rejected (refused by the partner, or a "
    "PATCH of an object it lacks, sent whole instead) or failed (retried later)",
    ["partner", "module", "outcome"],
)
PUSH_DELIVERY_SECONDS = Histogram(
    "hub_push_delivery_seconds",
    "Time from a push job's creation to its delivery",
    ["partner"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0),
)
AUTHORIZATION_SECONDS = Histogram(
    "hub_authorization_seconds",
    "Real-time authorization of a token against the eMSPs, by answer (answers from the "
    "cache of unknown cards not counted)",
    ["outcome"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
)


def database_collector(overview: Overview | None) -> Collector:
    """The database gauges of ``overview``; None: the database could not be read
    (``hub_database_up`` 0, and no other gauge)."""
    return _Fixed(list(_database_families(overview)))


def _database_families(overview: Overview | None) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "hub_database_up",
        "1 when this scrape could read the database gauges below",
        value=0 if overview is None else 1,
    )
    if overview is None:
        return
    nodes = GaugeMetricFamily(
        "hub_stations_connected",
        "Stations connected, by the node holding their socket (from the stations table)",
        labels=["node"],
    )
    for node, count in overview.stations.items():
        nodes.add_metric([node], count)
    yield nodes
    jobs = GaugeMetricFamily(
        "hub_push_queue_jobs", "Push jobs not yet delivered, by partner", labels=["partner"]
    )
    oldest = GaugeMetricFamily(
        "hub_push_queue_oldest_seconds",
        "Age of the oldest push job not yet delivered, by partner (0: none)",
        labels=["partner"],
    )
    failures = GaugeMetricFamily(
        "hub_push_consecutive_failures",
        "Failed deliveries in a row, by partner",
        labels=["partner"],
    )
    degraded = GaugeMetricFamily(
        "hub_push_degraded",
        "1 when the partner is degraded (resynchronised when it answers again)",
        labels=["partner"],
    )
    for queue in overview.queues:
        jobs.add_metric([queue.partner], queue.pending)
        oldest.add_metric([queue.partner], queue.oldest_seconds(overview.at))
        failures.add_metric([queue.partner], queue.consecutive_failures)
        degraded.add_metric([queue.partner], 1 if queue.degraded else 0)
    yield from (jobs, oldest, failures, degraded)
    yield GaugeMetricFamily(
        "hub_cdr_backlog", "CDR push jobs not yet delivered", value=overview.cdr_backlog
    )


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


class _Forward:
    """A registry's metrics, read when collected."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def exposition(*extra: Collector) -> bytes:
    """The text of a scrape: the process metrics and ``extra`` collectors' (the database
    gauges).

    With ``PROMETHEUS_MULTIPROC_DIR`` set, the process metrics are those of every process of
    the hub, merged from that directory; otherwise this process's (and its default collectors:
    CPU, memory, garbage collection).
    """
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def process_ended(pid: int) -> None:
    """Forget the live gauges of the hub process ``pid``, which has ended (its counters and
    histograms still count). Called by the supervisor of ``hub serve --workers``; nothing to do
    outside multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIRECTORY):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
