"""``hub status``: the hub at a glance from the database, as JSON and as tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.domain.push import JobKind, JobState
from hub.persistence.tables import ChargingStation, Partner, PushJob
from tests.support.cli import arrange, cli_in_process

pytestmark = pytest.mark.db


@pytest.fixture
def hub(database_url, monkeypatch):
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def seed(database_url: str) -> None:
    queued = datetime.now(UTC) - timedelta(minutes=10)

    async def work(session):
        partners = {p.name: p for p in (await session.execute(select(Partner))).scalars().all()}
        down = partners["emsp-down"]
        down.push_failures, down.push_degraded = 7, True
        partners["emsp-flaky"].push_failures = 2
        session.add_all(
            [
                ChargingStation(station_id="CS-1", password_hash="x", connected_node="http://n1"),
                ChargingStation(station_id="CS-2", password_hash="x", connected_node="http://n1"),
                ChargingStation(station_id="CS-3", password_hash="x", connected_node="http://n2"),
                ChargingStation(station_id="CS-4", password_hash="x"),
            ]
        )
        session.add_all(
            PushJob(
                partner_id=down.require_id(),
                queue_key=f"sessions/US/HPC/S{i}",
                coalesce_key=f"CDR_POST/S{i}",
                kind=(JobKind.CDR_POST if i < 2 else JobKind.SESSION_PATCH).value,
                state=JobState.PENDING.value,
                enqueued_at=queued + timedelta(seconds=i),
            )
            for i in range(3)
        )

    arrange(database_url, work)


def test_status_at_a_glance(hub, database_url):
    for name, party in (("emsp-down", "US*EMD"), ("emsp-flaky", "US*EMF"), ("emsp-ok", "US*EMO")):
        hub("partners", "invite", name, "--party", party)
    seed(database_url)

    status = json.loads(hub("status", "--json").stdout)
    assert status["stations"] == {"total": 3, "by_node": {"http://n1": 2, "http://n2": 1}}
    assert status["cdr_backlog"] == 2
    by_partner = {q["partner"]: q for q in status["push"]}
    assert list(by_partner) == ["emsp-down", "emsp-flaky", "emsp-ok"]
    down = by_partner["emsp-down"]
    assert (down["pending"], down["consecutive_failures"], down["degraded"]) == (3, 7, True)
    assert 600 <= down["oldest_pending_s"] < 900
    assert by_partner["emsp-flaky"] == {
        "partner": "emsp-flaky",
        "status": "INVITED",
        "pending": 0,
        "oldest_pending_s": None,
        "consecutive_failures": 2,
        "degraded": False,
    }
    assert status["degraded_partners"] == [{"partner": "emsp-down", "consecutive_failures": 7}]

    table = hub("status").stdout
    assert "http://n1" in table
    assert "CDR backlog: 2 not yet delivered" in table
    assert "Partners degraded: emsp-down (7 failures in a row)" in table
    [row] = [line for line in table.splitlines() if "emsp-down" in line and "│" in line]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[0] == "emsp-down"
    assert (cells[2], cells[4]) == ("3", "7")
    assert cells[3].endswith("s")
    assert 600 <= float(cells[3][:-1]) < 900


def test_status_of_an_empty_hub(hub):
    status = json.loads(hub("status", "--json").stdout)
    assert {k: v for k, v in status.items() if k != "at"} == {
        "stations": {"total": 0, "by_node": {}},
        "push": [],
        "cdr_backlog": 0,
        "degraded_partners": [],
    }
    assert "Partners degraded: none" in hub("status").stdout
