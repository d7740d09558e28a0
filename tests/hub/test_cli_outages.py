"""``hub outages list|show|exclude|unexclude|rebuild|maintenance`` and ``hub reports uptime``
in-process against real migrated databases (both engines), and the HTML page rendered by
headless Chromium.

The seeded port SITE-E1 was commissioned on 2024-12-01 and, in 2025, was out of order for 6 h
(one of it on 31 December 2024), offline for 2 h 30 min and inoperative for a day; SITE-E2
never reported. The report's instant is 2026-01-01T00:00:00Z: the rule's year is 2025.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import func
from sqlmodel import select

from hub.cli import common
from hub.domain.assets import EvseStatus
from hub.persistence.tables import MaintenanceWindow, OutageExclusionEvent
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.parties import PartyService
from tests.hub.test_uptime_service import site
from tests.support.cli import arrange, cli_in_process

pytestmark = pytest.mark.db

AT = "2026-01-01T00:00:00Z"
CHROMIUM = Path("/usr/bin/chromium")
HISTORY = [
    (datetime(2024, 12, 1, tzinfo=UTC), "AVAILABLE", "online"),
    (datetime(2024, 12, 31, 23, tzinfo=UTC), "OUTOFORDER", "ocpp"),
    (datetime(2025, 1, 1, 5, tzinfo=UTC), "AVAILABLE", "ocpp"),
    (datetime(2025, 3, 10, 8, tzinfo=UTC), "UNKNOWN", "offline"),
    (datetime(2025, 3, 10, 10, 30, tzinfo=UTC), "AVAILABLE", "online"),
    (datetime(2025, 7, 4, tzinfo=UTC), "INOPERATIVE", "operator"),
    (datetime(2025, 7, 5, tzinfo=UTC), "AVAILABLE", "operator"),
]


def seed(database_url: str) -> None:
    async def work(session: Any) -> None:
        await PartyService(session).add(country_code="US", party_id="HPC", name="HPC US")
        locations = LocationService(session)
        await locations.import_locations(parse_locations_json(json.dumps([site()])))
        for at, status, reason in HISTORY:
            await locations.set_evse_status("SITE-E1", EvseStatus(status), at=at, reason=reason)

    arrange(database_url, work)


def count(database_url: str, table: Any) -> int:
    async def work(session: Any) -> int:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    return arrange(database_url, work)


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setattr(common, "console", Console())


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    seed(database_url)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_list_show_exclude_unexclude(world, database_url):
    outages = as_json(world("outages", "list", "--station", "SITE", "--json"))
    assert [(o["port_id"], o["start"], o["end"], o["cause"]) for o in outages] == [
        ("SITE-E1", "2024-12-31T23:00:00Z", "2025-01-01T05:00:00Z", "OUT_OF_ORDER"),
        ("SITE-E1", "2025-03-10T08:00:00Z", "2025-03-10T10:30:00Z", "STATION_OFFLINE"),
        ("SITE-E1", "2025-07-04T00:00:00Z", "2025-07-05T00:00:00Z", "INOPERATIVE"),
    ]
    offline = outages[1]["id"]
    assert (
        as_json(world("outages", "list", "--port", "SITE-E1", "--since", "2025-07-01", "--json"))[
            0
        ]["id"]
        == outages[2]["id"]
    )
    listing = world("outages", "list").stdout
    assert "STATION_OFFLINE" in listing
    assert "3 of 3" in listing

    done = world(
        "outages", "exclude", str(offline), "--reason", "1", "--note", "PG&E feeder outage",
        "--evidence", "PGE-2025-0310-118", "--minutes", "120", "--by", "alice",
    )  # fmt: skip
    assert "excluded (reason 1): 120.00 of its 150.00 minutes" in done.stdout
    shown = as_json(world("outages", "show", str(offline), "--json"))
    assert shown["excluded"] is True
    assert shown["excluded_minutes"] == "120.00"
    assert shown["evidence"] == "PGE-2025-0310-118"
    assert [(e["action"], e["by"], e["reason"]) for e in shown["trail"]] == [
        ("EXCLUDE", "alice", 1)
    ]
    world("outages", "unexclude", str(offline), "--note", "the utility denies it", "--by", "bob")
    text = world("outages", "show", str(offline)).stdout
    assert "the utility denies it" in text
    assert "Exclusion trail" in text
    # The OS user when --by is not given.
    world(
        "outages", "exclude", str(offline), "--reason", "1", "--note", "confirmed after all",
        "--evidence", "PGE letter 2025-04-02",
    )  # fmt: skip
    trail = as_json(world("outages", "show", str(offline), "--json"))["trail"]
    assert len(trail) == 3
    assert trail[-1]["by"]
    # Rebuilding changes no id.
    world("outages", "rebuild")
    again = as_json(world("outages", "list", "--json"))
    assert [o["id"] for o in again] == [o["id"] for o in outages]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["exclude", "999", "--reason", "1", "--note", "n", "--evidence", "e"], 1, "no outage 999"),
        (["exclude", "{id}", "--reason", "7", "--note", "n", "--evidence", "e"], 2, "--reason"),
        (["exclude", "{id}", "--reason", "0", "--note", "n", "--evidence", "e"], 2, "--reason"),
        (["exclude", "{id}", "--reason", "2", "--note", " ", "--evidence", "e"], 2, "--note"),
        (["exclude", "{id}", "--reason", "2", "--note", "n"], 2, "--evidence"),
        (
            ["exclude", "{id}", "--reason", "2", "--note", "n", "--evidence", "e",
             "--minutes", "361"],
            1,
            "lasts 360.00 minutes",
        ),
        (
            ["exclude", "{id}", "--reason", "2", "--note", "n", "--evidence", "e",
             "--minutes", "lots"],
            1,
            "must be a number",
        ),
        (["unexclude", "{id}", "--note", "n"], 1, "is not excluded"),
        (["list", "--station", "NOWHERE"], 1, "no station 'NOWHERE'"),
        (["list", "--port", "NOPE"], 1, "no port 'NOPE'"),
        (
            ["maintenance", "add", "--station", "NOWHERE", "--from", "2999-01-01",
             "--until", "2999-01-02", "--note", "n"],
            1,
            "no station 'NOWHERE'",
        ),
        (
            ["maintenance", "add", "--port", "SITE-E1", "--from", "2025-01-01",
             "--until", "2025-01-02", "--note", "n"],
            1,
            "declared ahead of time",
        ),
        (
            ["maintenance", "add", "--port", "SITE-E1", "--from", "2999-01-02",
             "--until", "2999-01-01", "--note", "n"],
            1,
            "--until must be after --from",
        ),
        (
            ["maintenance", "add", "--from", "2999-01-01", "--until", "2999-01-02",
             "--note", "n"],
            1,
            "either --station or --port",
        ),
    ],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(world, database_url, args, code, says):
    (first, *_) = as_json(world("outages", "list", "--json"))
    before = count(database_url, OutageExclusionEvent), count(database_url, MaintenanceWindow)
    result = world("outages", *[a.replace("{id}", str(first["id"])) for a in args], expect=code)
    assert says in result.output
    after = count(database_url, OutageExclusionEvent), count(database_url, MaintenanceWindow)
    assert after == before


def test_overlapping_exclusions_and_maintenance_are_refused(world, database_url):
    (first, *_) = as_json(world("outages", "list", "--json"))
    exclude = ["outages", "exclude", str(first["id"]), "--reason", "5", "--note", "storm"]
    world(*exclude, "--evidence", "NWS warning 2024-12-31")
    result = world(*exclude, "--evidence", "again", expect=1)
    assert "excluded already" in result.output
    assert count(database_url, OutageExclusionEvent) == 1

    world(
        "outages", "maintenance", "add", "--station", "SITE", "--from", "2999-01-01T02:00:00Z",
        "--until", "2999-01-01T06:00:00Z", "--note", "transformer swap", "--by", "carol",
    )  # fmt: skip
    clash = world(
        "outages", "maintenance", "add", "--port", "SITE-E2", "--from", "2999-01-01T05:00:00Z",
        "--until", "2999-01-01T07:00:00Z", "--note", "n", expect=1,
    )  # fmt: skip
    assert "overlaps maintenance" in clash.output
    (window,) = as_json(world("outages", "maintenance", "list", "--json"))
    assert (window["scope"], window["by"], window["note"]) == (
        "station SITE",
        "carol",
        "transformer swap",
    )


def test_the_uptime_report(world):
    records = as_json(world("reports", "uptime", "--at", AT, "--json"))
    e1, e2 = records
    # 300 (the fault's 2025 part) + 150 + 1,440 = 1,890 minutes; nothing excluded.
    assert (e1["port_id"], e1["outage_minutes"], e1["excluded_minutes"]) == (
        "SITE-E1",
        "1890.00",
        "0.00",
    )
    # (525,600 - 1,890) / 525,600 x 100 = 99.6404... -> 99.64; budget 15,768 - 1,890.
    assert (e1["uptime"], e1["budget_left_minutes"]) == ("99.64", "13878.00")
    assert (e1["window_start"], e1["window_end"]) == ("2025-01-01T00:00:00Z", AT)
    assert not e1["missing_history"]
    assert not e1["first_year"]
    july = next(m for m in e1["months"] if m["month"] == "2025-07")
    # July: 44,640 minutes, 1,440 out -> 96.77%.
    assert (july["outage_minutes"], july["availability"]) == ("1440.00", "96.77")
    assert [m["month"] for m in e1["months"]] == [f"2025-{m:02}" for m in range(1, 13)]
    assert (e2["port_id"], e2["missing_history"], e2["uptime"]) == ("SITE-E2", True, None)
    assert e2["budget_left_minutes"] is None  # not known, never the whole budget

    below = world("reports", "uptime", "--at", AT, "--below", "99.7", "--json")
    assert [r["port_id"] for r in as_json(below)] == ["SITE-E1", "SITE-E2"]
    assert "missing history" in below.stderr
    only_missing = as_json(world("reports", "uptime", "--at", AT, "--below", "97", "--json"))
    assert [r["port_id"] for r in only_missing] == ["SITE-E2"]
    table = world("reports", "uptime", "--at", AT, "--station", "SITE").stdout
    assert "99.64" in table
    assert "13878.00" in table
    assert "missing history" in table
    world("reports", "uptime", "--station", "NOWHERE", expect=1)
    assert "future" in world("reports", "uptime", "--at", "2999-01-01", expect=1).output


def chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = (
        f"{CHROMIUM} is missing: the HTML report is NOT checked in a browser "
        "(apt-get install -y chromium; .ci/run installs it)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def headless(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium in a session of its own, its output in files, and the whole group killed after.

    Chromium leaves helpers behind (the crashpad handler, zygotes) that inherit its stdout:
    with pipes, waiting for their end can wait forever after the browser itself has exited.
    """
    command = [
        str(chromium), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-breakpad", "--no-first-run", f"--user-data-dir={profile}", *args,
    ]  # fmt: skip
    out, err = profile.with_suffix(".out"), profile.with_suffix(".err")
    with out.open("w") as stdout, err.open("w") as stderr:
        browser = subprocess.Popen(command, stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            returncode = browser.wait(timeout=120)
        except subprocess.TimeoutExpired:
            returncode = -signal.SIGKILL
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(browser.pid, signal.SIGKILL)
            browser.wait()
    return subprocess.CompletedProcess(command, returncode, out.read_text(), err.read_text())


def test_the_html_page_renders_in_headless_chromium(world, tmp_path):
    chromium = chromium_or_skip()
    page = tmp_path / "uptime.html"
    world("reports", "uptime", "--at", AT, "--html", str(page))
    text = page.read_text()
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    outages = as_json(world("outages", "list", "--json"))

    dom = headless(chromium, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    assert '<svg class="months" data-station="SITE"' in html
    assert '<svg class="timeline" data-station="SITE"' in html
    for outage in outages:
        assert f'data-outage="{outage["id"]}"' in html
    assert 'class="port" data-port="SITE-E1"' in html  # the polyline of E1's months
    assert '<tr class="missing" data-port="SITE-E2">' in html

    shot = tmp_path / "uptime.png"
    taken = headless(
        chromium, tmp_path / "profile2", f"--screenshot={shot}", "--window-size=900,1400",
        page.as_uri(),
    )  # fmt: skip
    assert taken.returncode == 0, taken.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000  # not a blank page
