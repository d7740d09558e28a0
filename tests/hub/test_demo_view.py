"""``hub demo``: progress lines while it starts, a live view that fits 80x24, and a summary that
says why fewer PATCHes arrived than statuses changed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

from hub.cli.demo import DemoState, demo, summary_note, summary_panel, view
from hub.sim.chargers import SimulatedCharger, SimulatedStation
from hub.sim.emsp import Arrival, DemoEmsp
from tests.hub.test_logging import restore_logging  # noqa: F401  (the demo configures logging)
from tests.support.servers import free_port

NOW = 112.0


def fake_demo(chargers: int = 40) -> tuple[DemoState, DemoEmsp]:
    """A large demo 12 s in: two EVSEs per charger, statuses that changed one after the other,
    two EVSEs the eMSP has not caught up with, and more pushes than the view has rows for."""
    state = DemoState(started=NOW - 12, sent=1234)
    emsp = DemoEmsp()
    evses = []
    for number in range(1, chargers + 1):
        station_id = f"US-HPC-{number:06d}-CS1"
        uids = (f"US-HPC-{number:06d}-E01", f"US-HPC-{number:06d}-E02")
        version = "1.6" if number % 2 else "2.0.1"
        station = SimulatedStation(station_id, "pw", version, (1, 2), uids)
        state.chargers[station_id] = SimulatedCharger(station, "ws://127.0.0.1:9/ocpp")
        for index, uid in enumerate(uids):
            state.hub_statuses[uid] = "INOPERATIVE" if index else "AVAILABLE"
            state.changed_at[uid] = number  # the highest numbers changed last
            evses.append({"uid": uid, "status": state.hub_statuses[uid]})
    evses[0]["status"] = "CHARGING"  # US-HPC-000001-E01 and -E02: the eMSP is behind
    evses[1]["status"] = "CHARGING"
    emsp.locations = {"LOC": {"evses": evses}}
    emsp.counts = Counter(
        {"PATCH locations": 12345, "PUT locations": 20, "PUT tariffs": 3, "DELETE tariffs": 1}
    )
    for number in range(1, 10):
        emsp.recent.append(Arrival(NOW, "PATCH", f"EVSE US-HPC-{number:06d}-E02", "OUTOFORDER"))
    return state, emsp


def rendered(state: DemoState, emsp: DemoEmsp, width: int = 80, height: int = 24) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None)
    console.print(view(state, emsp, 30, height=height, now=NOW))
    return console.export_text().splitlines()


def test_the_live_view_fits_an_80_by_24_terminal_with_every_section():
    state, emsp = fake_demo()
    lines = rendered(state, emsp)
    text = "\n".join(lines)

    # A live view of 24 rows keeps one for the cursor: 23 lines at most, none wider than 80.
    assert len(lines) <= 23, text
    assert all(len(line) <= 80 for line in lines), text
    assert "…" not in text  # nothing cut
    assert lines[0].startswith("hub demo  12/30 s · 40 chargers · 80 EVSEs")
    assert "1234 status changes sent" in lines[0]
    for title in ("Chargers (20 OCPP 1.6, 20 OCPP 2.0.1)", "eMSP received", "Latest pushes"):
        assert title in text
    # The EVSEs the eMSP has not caught up with first, then the latest changes.
    evse_rows = [line for line in lines if line.startswith("US-HPC-")]
    assert [row.split()[2] for row in evse_rows[:4]] == [
        "US-HPC-000001-E01",
        "US-HPC-000001-E02",
        "US-HPC-000040-E01",
        "US-HPC-000040-E02",
    ]
    assert evse_rows[0].split()[1:] == ["1.6", "US-HPC-000001-E01", "AVAILABLE", "CHARGING"]
    assert f"{len(evse_rows)} of 80 EVSEs, latest changes first; the eMSP agrees on 78" in text
    # Every kind of push the eMSP received, with its count, and the five latest pushes.
    for kind, count in emsp.counts.items():
        assert any(kind in line and f" {count} " in f"{line} " for line in lines), kind
    latest = [f"EVSE US-HPC-{n:06d}-E02" for n in range(9, 4, -1)]
    push_rows = [line for line in lines if "OUTOFORDER" in line]
    assert [next(x for x in latest if x in row) for row in push_rows] == latest


def test_a_taller_terminal_shows_more_evses_and_a_small_demo_shows_all():
    state, emsp = fake_demo()
    at_24 = [line for line in rendered(state, emsp) if line.startswith("US-HPC-")]
    at_40 = [line for line in rendered(state, emsp, height=40) if line.startswith("US-HPC-")]
    assert len(at_40) == len(at_24) + 16
    small_state, small_emsp = fake_demo(chargers=3)
    lines = rendered(small_state, small_emsp)
    assert len([line for line in lines if line.startswith("US-HPC-")]) == 6
    assert "6 of 6 EVSEs" in "\n".join(lines)


def summary(**changes: object) -> dict[str, object]:
    return {
        "sites": 3,
        "evses": 40,
        "chargers": 18,
        "ocpp_1_6": 6,
        "ocpp_2_0_1": 12,
        "status_changes_sent": 96,
        "emsp_received": {"PUT tariffs": 3, "PUT locations": 3, "PATCH locations": 91},
        "emsp_locations": 3,
        "emsp_matches_hub": True,
        "mismatched": {},
        "errors": [],
        **changes,
    }


def test_the_summary_says_why_fewer_patches_than_status_changes_is_no_loss():
    note = summary_note(summary())
    assert note.startswith("91 PATCHes delivered for 96 status changes, and no update was lost")
    assert "a newer status of an EVSE replaces its older PATCH while that one is undelivered" in (
        note
    )
    assert "maps to the OCPI status its EVSE already has sends no PATCH" in note
    assert note.endswith("The eMSP's final view matches the hub's.")

    console = Console(width=80, record=True, color_system=None)
    console.print(summary_panel(summary()))
    text = console.export_text()
    assert "emsp_matches_hub    │ True" in text
    assert "91 PATCHes delivered for 96 status changes" in text


def test_a_summary_with_a_mismatch_does_not_claim_nothing_was_lost():
    note = summary_note(
        summary(emsp_matches_hub=False, mismatched={"E1": ["CHARGING", "AVAILABLE"]})
    )
    assert "no update was lost" not in note
    assert note == (
        "91 PATCHes delivered for 96 status changes. The eMSP's final view differs from the "
        "hub's on 1 EVSEs (see mismatched)."
    )


@pytest.mark.e2e
@pytest.mark.usefixtures("restore_logging")
def test_the_demo_says_what_it_does_before_the_live_view(tmp_path: Path):
    console = Console(width=80, height=24, record=True, color_system=None)
    demo(
        duration=1,
        sites=1,
        port=free_port(),
        emsp_port=free_port(),
        data_dir=tmp_path / "demo",
        seed_value=7,
        console=console,
    )
    lines = console.export_text().splitlines()
    steps = [line for line in lines if line.startswith("> ")]
    expected = [
        "> loading the platform…",
        "> applying migrations to",
        "> seeding a sample network of 1 site…",
        "> starting hub on :",
        "> demo eMSP registering with the hub (OCPI credentials handshake)…",
        "> ",  # "N chargers booting (...)…"
        "> traffic for 1 s; the eMSP's view follows the hub's",
    ]
    assert len(steps) == len(expected), steps
    assert all(step.startswith(prefix) for step, prefix in zip(steps, expected, strict=True))
    assert " chargers booting (" in steps[5]
    # All of them before the live view, which comes before the summary.
    first_view_line = next(i for i, line in enumerate(lines) if line.startswith("hub demo  "))
    assert lines.index(steps[-1]) < first_view_line
    assert any("PATCHes delivered for" in line for line in lines[first_view_line:])


def test_the_first_progress_line_needs_none_of_the_heavy_modules():
    """The demo module imports the platform after printing its first line, not before."""
    probe = (
        "import json, sys; import hub.cli.demo; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(json.loads(done.stdout))
    assert "rich" in modules
    heavy = {"litestar", "sqlalchemy", "ocpp", "uvicorn", "httpx", "alembic", "timezonefinder"}
    assert modules.isdisjoint(heavy), sorted(modules & heavy)
