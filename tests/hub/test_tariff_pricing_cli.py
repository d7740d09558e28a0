"""``hub tariffs price``: price a session file with a tariff file and explain it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app

DATA = Path(__file__).resolve().parents[1] / "data" / "pricing"


def price(*args: str):
    return CliRunner().invoke(app, ["tariffs", "price", *args])


def test_explained_price_of_an_evening_session():
    # 20:30-21:00 local: 30 kWh at 0.64; 21:00-21:10: 10 kWh at the night price 0.48; parked
    # from 21:10 to 21:25:30; the idle fee applies from 40 minutes into the session (21:10) and
    # 15.5 minutes are billed as 16 (step 60 s) at 24.00/h; plus the 1.00 session fee.
    result = price(
        str(DATA / "tou_with_idle_fee.json"), str(DATA / "evening_session.json"), "--json"
    )
    assert result.exit_code == 0, result.output
    priced = json.loads(result.stdout)
    assert priced["total_energy_cost"] == {"excl_vat": 24.0, "incl_vat": 24.0}
    assert priced["total_parking_cost"] == {"excl_vat": 6.4, "incl_vat": 6.4}
    assert priced["total_cost"] == {"excl_vat": 31.4, "incl_vat": 31.4}
    assert priced["total_energy"] == 40.0
    lines = priced["lines"]
    assert [(line["dimension"], line["element"]) for line in lines] == [
        ("FLAT", 1),
        ("ENERGY", 3),
        ("ENERGY", 2),
        ("PARKING_TIME", 4),
    ]
    assert "time 21:00:00-07:00:00" in lines[2]["why"]
    assert "s into the session" in lines[3]["why"]


def test_table_output_names_elements_and_rounding():
    result = price(str(DATA / "tou_with_idle_fee.json"), str(DATA / "evening_session.json"))
    assert result.exit_code == 0, result.output
    assert "#3" in result.stdout
    assert "Totals" in result.stdout
    assert "rounded half-up" in " ".join(result.stdout.split())


def test_price_lock_picks_the_version_in_effect_at_the_start(tmp_path):
    old = json.loads((DATA / "tou_with_idle_fee.json").read_text())
    new = {
        **old,
        "last_updated": "2026-06-11T00:45:00Z",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 9.99, "step_size": 1}]}],
    }
    (tmp_path / "versions.json").write_text(json.dumps([old, new]))
    result = price(str(tmp_path / "versions.json"), str(DATA / "evening_session.json"), "--json")
    assert json.loads(result.stdout)["total_cost"]["excl_vat"] == 31.4


def test_bad_inputs_are_clear_errors(tmp_path):
    (tmp_path / "s.json").write_text('{"periods": [{"start": "2026-06-11T00:30:00"}]}')
    result = price(str(DATA / "tou_with_idle_fee.json"), str(tmp_path / "s.json"))
    assert result.exit_code == 1
    assert "end" in result.stderr
    result = price(
        str(DATA / "tou_with_idle_fee.json"),
        str(DATA / "evening_session.json"),
        "--time-zone",
        "Mars/Base",
    )
    assert result.exit_code == 1
    assert "Mars/Base" in result.stderr
