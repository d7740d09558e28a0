"""``hub demo``: progress lines while it starts, a live view that fits 80x24 (while statuses
change and while charges run), a summary that says why fewer PATCHes arrived than statuses
changed, and the check that every finished charge reached the eMSP as exactly one CDR whose
total is recomputed."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from hub.cli.demo import (
    DemoState,
    charges_note,
    check_charges,
    demo,
    summary_note,
    summary_panel,
    view,
)
from hub.sim.chargers import Charge, ChargePlan, ChargeState, SimulatedCharger, SimulatedStation
from hub.sim.emsp import Arrival, DemoEmsp
from tests.hub.sim.test_cdr_check import priced_like_the_hub, tariffs
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
        {
            "PATCH locations": 12345,
            "PATCH sessions": 2345,
            "PUT sessions": 120,
            "PUT locations": 20,
            "POST cdrs": 60,
            "PUT tariffs": 3,
        }
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
    # Every kind of push the eMSP received, with its count, and the six latest pushes.
    for kind, count in emsp.counts.items():
        assert any(kind in line and f" {count} " in f"{line} " for line in lines), kind
    latest = [f"EVSE US-HPC-{n:06d}-E02" for n in range(9, 3, -1)]
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
        charges=2,
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
        "> demo eMSP pushing 4 driver tokens to the hub (OCPI Tokens PUT)…",
        "> ",  # "N chargers booting (...)…"
        "> traffic for 1 s, then 2 charges replayed at 1200x real time…",
    ]
    assert len(steps) == len(expected), steps
    assert all(step.startswith(prefix) for step, prefix in zip(steps, expected, strict=True))
    assert " chargers booting (" in steps[6]
    assert all(len(line) <= 80 for line in steps)  # each on one line
    # All of them before the live view, which comes before the summary.
    first_view_line = next(i for i, line in enumerate(lines) if line.startswith("hub demo  "))
    assert lines.index(steps[-1]) < first_view_line
    after = "\n".join(lines[first_view_line:])
    assert "PATCHes delivered for" in after
    assert "Charges and their CDRs" in after
    # The two replayed charges, the app's (START_SESSION, STOP_SESSION) and the one a card
    # started on the app's reservation.
    assert "4 of 4 charges finished, and each reached the eMSP as exactly one CDR" in after


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


def charge(number: int, state: ChargeState = ChargeState.DONE, **changes: object) -> Charge:
    plan = ChargePlan(1, "DMO0000001", 1500, 25_000, idle_seconds=600)
    started = datetime(2026, 11, 24, 15, 0, tzinfo=UTC) + timedelta(hours=number)
    made = Charge(number, f"US-HPC-{number:06d}-CS1", "2.0.1", "LOC-1-E01", plan, state)
    made.started_at, made.meter_start_wh, made.register_wh = started, 1_000_000, 1_025_000
    for key, value in changes.items():
        setattr(made, key, value)
    return made


def charging_demo(charges: int = 12) -> tuple[DemoState, DemoEmsp]:
    """Charges under way: the first ones billed, then some running, the rest waiting."""
    state, emsp = fake_demo()
    state.speed = 1200
    for number in range(1, charges + 1):
        if number <= 5:
            made = charge(number)
            emsp.sessions[("US", "HPC", f"S{number}")] = {
                "evse_uid": made.evse_uid,
                "start_date_time": made.started_at.isoformat(),
                "status": "COMPLETED",
                "kwh": 25,
            }
            emsp.cdrs[("US", "HPC", f"C{number}")] = {
                "country_code": "US",
                "party_id": "HPC",
                "id": f"C{number}",
                "start_date_time": made.started_at.isoformat(),
                "cdr_location": {"id": "LOC-1", "evse_uid": made.evse_uid},
                "currency": "USD",
                "total_cost": {"excl_vat": 14.5},
            }
        elif number <= 8:
            made = charge(number, ChargeState.CHARGING)
            made.register_wh = 1_012_345
        else:
            made = charge(number, ChargeState.WAITING, started_at=None)
        state.charges.append(made)
    return state, emsp


def test_the_live_view_of_the_charges_fits_an_80_by_24_terminal():
    state, emsp = charging_demo()
    lines = rendered(state, emsp)
    text = "\n".join(lines)
    assert len(lines) <= 23, text
    assert all(len(line) <= 80 for line in lines), text
    assert "…" not in text
    assert lines[0] == (
        "hub demo  5/12 charges done, 3 running · 1200x · eMSP has 5 sessions, 5 CDRs"
    )
    rows = [line.split() for line in lines if "LOC-1-E01" in line]
    # Those under way first (the latest first), then the latest to end, then the next to start,
    # as far as room goes.
    assert [row[0] for row in rows] == ["8", "7", "6", "5", "4", "3", "2", "1", "9"]
    assert rows[0][1:5] == ["LOC-1-E01", "2.0.1", "charging", "12.345"]
    assert rows[3][-3:] == ["25", "14.50", "USD"]
    assert "9 of 12 charges; 5 finished, 5 billed" in text
    for kind in ("PATCH sessions", "PUT sessions", "POST cdrs"):
        assert kind in text


def cdr_for(made: Charge, **changes: object) -> dict:
    assert made.started_at is not None
    tou = next(t for t in tariffs() if t["id"] == "US-HPC-DC-TOU")
    cdr = priced_like_the_hub(made.plan, made.started_at, "2.0.1", tou, "America/New_York")
    cdr["id"] = f"C{made.number}"
    return {**cdr, **changes}


def emsp_with(*cdrs: dict) -> DemoEmsp:
    emsp = DemoEmsp()
    emsp.locations["LOC-1"] = {"id": "LOC-1", "time_zone": "America/New_York", "evses": []}
    for cdr in cdrs:
        emsp.cdrs[(cdr["country_code"], cdr["party_id"], cdr["id"])] = cdr
        emsp.sessions[("US", "HPC", cdr["id"])] = {
            "evse_uid": cdr["cdr_location"]["evse_uid"],
            "start_date_time": cdr["start_date_time"],
            "status": "COMPLETED",
        }
    return emsp


def test_every_finished_charge_with_one_cdr_that_adds_up_passes():
    charges = [charge(1), charge(2)]
    rows, problems = check_charges(charges, emsp_with(*(cdr_for(c) for c in charges)))
    assert problems == []
    assert [row["ok"] for row in rows] == [True, True]
    assert rows[0]["kwh"] == "25"
    assert rows[0]["cdr_total"] == rows[0]["recomputed"]
    assert rows[0]["cdr_total"].endswith(" USD")


def test_every_way_a_charge_can_miss_its_cdr_is_reported():
    finished, twice, wrong, short, refused = (charge(n) for n in range(1, 6))
    refused.state, refused.authorization = ChargeState.REFUSED, "Invalid"
    stray = cdr_for(charge(9), id="STRAY")
    bad_total = cdr_for(wrong)
    bad_total["total_cost"] = {"excl_vat": 1.0, "incl_vat": 1.0}
    emsp = emsp_with(cdr_for(twice), bad_total, cdr_for(short), stray)
    emsp.duplicate_cdrs.append(cdr_for(twice))
    short.register_wh -= 1000  # the charger delivered 24 kWh, the CDR bills 25
    rows, problems = check_charges([finished, twice, wrong, short, refused], emsp)
    assert [row["ok"] for row in rows] == [False] * 5
    assert problems[0] == "charge 1 at LOC-1-E01: the eMSP received 0 CDRs for it, not 1"
    assert problems[1] == "charge 2 at LOC-1-E01: CDR C2 was POSTed more than once"
    assert problems[2].startswith("charge 3 at LOC-1-E01: CDR C3: total_cost 1.0 excl. VAT")
    assert problems[3] == (
        "charge 4 at LOC-1-E01: CDR C4 bills 25 kWh, the charger delivered 24 kWh"
    )
    assert problems[4] == (
        "charge 5 at LOC-1-E01 did not finish (refused): the hub answered Invalid for the token"
    )
    assert problems[5] == "the eMSP received CDR STRAY, of no charge the demo ran"
    note = charges_note(
        {"charges": 5, "charges_finished": 4, "cdrs_match": False, "charge_problems": problems}
    )
    assert note.startswith("6 problems with the charges and their CDRs: charge 1 at")


def test_the_summary_shows_each_charge_with_both_totals():
    charges = [charge(1)]
    rows, problems = check_charges(charges, emsp_with(cdr_for(charges[0])))
    console = Console(width=80, record=True, color_system=None)
    console.print(
        summary_panel(
            summary(
                charges=1,
                charges_finished=1,
                cdrs_match=not problems,
                charge_problems=problems,
                charge_rows=rows,
            )
        )
    )
    text = console.export_text()
    assert "Charges and their CDRs" in text
    (line,) = [line for line in text.splitlines() if "LOC-1-E01" in line]
    assert line.split()[1:6] == ["1", "LOC-1-E01", "2.0.1", "25", "35"]
    assert line.split()[-2:] == ["ok", "│"]
    assert "charge_rows" not in text
    assert "1 of 1 charges finished, and each reached the eMSP as exactly one CDR" in " ".join(
        text.split()
    )
