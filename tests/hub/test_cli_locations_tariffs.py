"""``hub locations``, ``hub tariffs`` and ``hub db`` as an operator reads them: whole ids at
80 and 120 columns, inputs checked before anything is stored or pushed, reports and prices
that say what they mean."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import anyio
import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from hub.cli import common
from hub.cli.main import COMMAND_GROUPS, app
from hub.config import get_settings
from hub.persistence.session import create_engine, create_session_factory, dispose_engine
from hub.persistence.tables import PushJob
from tests.fixtures import network
from tests.hub.conftest import register_partner
from tests.support.cli import cli_in_process

ROOT = Path(__file__).resolve().parents[2]
PRICING = ROOT / "tests" / "data" / "pricing"


@pytest.fixture
def terminal(monkeypatch):
    """Give the CLI a terminal of ``width`` columns, as ``COLUMNS`` tells a real one."""

    def resize(width: int) -> None:
        monkeypatch.setenv("COLUMNS", str(width))
        monkeypatch.setattr(common, "console", Console())

    return resize


@pytest.fixture
def hub(database_url, monkeypatch, terminal):
    terminal(80)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def on_database(database_url: str, work):
    """Run ``work(sessions)`` on the test database, outside the CLI's own event loop."""

    async def main():
        engine = create_engine(database_url)
        try:
            return await work(create_session_factory(engine))
        finally:
            await dispose_engine(engine)

    return anyio.run(main)


def push_jobs(database_url: str) -> int:
    async def count(sessions):
        async with sessions() as session:
            return (await session.execute(select(func.count()).select_from(PushJob))).scalar_one()

    return on_database(database_url, count)


def site(number: int, tariff_ids: tuple[str, ...] = ("US-HPC-DC-STD",)) -> dict:
    """A site with the long ids of a real network (and of ``hub sim network``)."""
    location_id = f"US-HPC-{number:06d}"
    record = network.location(location_id, postal_code="95020")
    record["evses"] = []
    for index in (1, 2):
        evse = network.evse(f"{location_id}-E{index:02d}", station=f"{location_id}-CS1")
        evse["evse_id"] = f"US*HPC*E{number:06d}*{index:02d}"
        evse["hub_ocpp"]["evse_id"] = index
        evse["connectors"][0]["tariff_ids"] = list(tariff_ids)
        record["evses"].append(evse)
    return record


def import_network(hub, tmp_path, sites: int = 3) -> list[dict]:
    hub("parties", "add", "US", "HPC", "--name", "HPC US")
    tariffs = [network.tariff("US-HPC-DC-STD"), network.tariff("US-HPC-DC-TOU-2026")]
    locations = [site(n) for n in range(1, sites + 1)]
    (tmp_path / "tariffs.json").write_text(json.dumps(tariffs))
    (tmp_path / "locations.json").write_text(json.dumps(locations))
    hub("tariffs", "import", str(tmp_path / "tariffs.json"))
    hub("locations", "import", str(tmp_path / "locations.json"))
    return locations


def assert_fits(output: str, width: int) -> None:
    widest = max(len(line) for line in output.splitlines())
    assert widest <= width, output


# --- 1. ids are never cut -----------------------------------------------------------------------


@pytest.mark.db
@pytest.mark.parametrize("width", [80, 120])
def test_locations_list_shows_every_id_whole(hub, terminal, tmp_path, width):
    locations = import_network(hub, tmp_path)
    terminal(width)
    output = hub("locations", "list").stdout
    assert_fits(output, width)
    for location in locations:
        assert re.search(rf"│ {location['id']} +│ US\*HPC +│", output), output
    assert "…" not in output
    assert "3 of 3" in output
    if width == 80:
        assert "left out at 80 columns: time_zone" in " ".join(output.split())
    else:
        assert "America/Los_Angeles" in output


@pytest.mark.db
def test_locations_list_says_how_to_see_the_next_page(hub, tmp_path):
    import_network(hub, tmp_path)
    caption = " ".join(hub("locations", "list", "--limit", "2").stdout.split())
    assert "2 of 3; --offset 2 shows the next 2" in caption
    assert "1 of 3" in hub("locations", "list", "--limit", "2", "--offset", "2").stdout


@pytest.mark.db
@pytest.mark.parametrize("width", [80, 120])
def test_locations_show_gives_whole_evse_ids_connector_tariffs_and_the_address(
    hub, terminal, tmp_path, width
):
    (location, *_) = import_network(hub, tmp_path)
    terminal(width)
    output = hub("locations", "show", location["id"]).stdout
    assert_fits(output, width)
    for evse in location["evses"]:
        for evse_id in (evse["uid"], evse["evse_id"], evse["hub_ocpp"]["charging_station_id"]):
            assert f" {evse_id} " in output, (evse_id, output)
    connector_rows = [line for line in output.splitlines() if "US-HPC-DC-STD" in line]
    assert len(connector_rows) == 2  # one per connector, the tariff id whole on each
    assert "1 Example Way, 95020 Gilroy, CA, USA" in output
    assert "2 of 2" in output
    if width == 120:
        assert "evse 2" in output  # the OCPP link, left out at 80 columns
    else:
        assert "left out at 80 columns: ocpp" in " ".join(output.split())
    shown = json.loads(hub("locations", "show", location["id"], "--json").stdout)
    assert shown["address"] == "1 Example Way"
    assert shown["evses"][0]["connectors"][0]["tariff_ids"] == ["US-HPC-DC-STD"]


@pytest.mark.db
def test_tariffs_list_shows_whole_ids_at_80_columns(hub, tmp_path):
    import_network(hub, tmp_path, sites=1)
    output = hub("tariffs", "list").stdout
    assert_fits(output, 80)
    assert re.search(r"│ US\*HPC +│ US-HPC-DC-TOU-2026 +│", output), output
    assert "2 of 2" in output


# --- 2. unknown tariffs and parties are refused -----------------------------------------------


@pytest.mark.db
def test_set_tariffs_refuses_an_unknown_tariff_and_stores_or_pushes_nothing(
    hub, tmp_path, database_url
):
    (location, *_) = import_network(hub, tmp_path, sites=1)
    on_database(database_url, lambda sessions: register_partner(sessions, "emsp-a"))
    uid = location["evses"][0]["uid"]
    queued = push_jobs(database_url)
    refused = hub("locations", "set-tariffs", uid, "1", "NO-SUCH-TARIFF", expect=1)
    assert "no tariff NO-SUCH-TARIFF of party US*HPC" in refused.stderr
    assert "hub tariffs import" in refused.stderr
    assert push_jobs(database_url) == queued
    shown = json.loads(hub("locations", "show", location["id"], "--json").stdout)
    assert shown["evses"][0]["connectors"][0]["tariff_ids"] == ["US-HPC-DC-STD"]
    # A tariff we have is accepted and pushed: the count above could change.
    hub("locations", "set-tariffs", uid, "1", "US-HPC-DC-TOU-2026")
    assert push_jobs(database_url) > queued


@pytest.mark.db
def test_tariffs_delete_checks_the_party_and_the_tariff(hub, tmp_path):
    import_network(hub, tmp_path, sites=1)
    assert "not a party" in hub("tariffs", "delete", "XX", "NOPE", expect=1).stderr
    assert (
        "we operate no party XX*HPC" in hub("tariffs", "delete", "XX*HPC", "NOPE", expect=1).stderr
    )
    missing = hub("tariffs", "delete", "US*HPC", "NOPE", expect=1).stderr
    assert "no tariff NOPE of party US*HPC" in missing
    deleted = json.loads(hub("tariffs", "delete", "us*hpc", "US-HPC-DC-TOU-2026", "--json").stdout)
    assert deleted == {"party": "US*HPC", "id": "US-HPC-DC-TOU-2026", "deleted": True}
    assert [t["id"] for t in json.loads(hub("tariffs", "list", "--json").stdout)] == [
        "US-HPC-DC-STD"
    ]


# --- 5. import reports --------------------------------------------------------------------------


@pytest.mark.db
def test_import_reports_show_their_own_rows_and_name_objects_with_their_party(hub, tmp_path):
    hub("parties", "add", "US", "HPC", "--name", "HPC US")
    (tmp_path / "t.json").write_text(json.dumps([network.tariff("T-DC")]))
    (tmp_path / "l.json").write_text(json.dumps([network.location("LOC1", evses=3)]))
    tariffs = hub("tariffs", "import", str(tmp_path / "t.json")).stdout
    assert "evses_removed" not in tariffs
    assert "US*HPC T-DC" in tariffs
    assert "US/HPC" not in tariffs
    tariffs_json = json.loads(hub("tariffs", "import", str(tmp_path / "t.json"), "--json").stdout)
    assert tariffs_json == {"created": 0, "updated": 0, "unchanged": 1, "changed_ids": []}
    assert "US*HPC LOC1" in hub("locations", "import", str(tmp_path / "l.json")).stdout
    (tmp_path / "l.json").write_text(json.dumps([network.location("LOC1", evses=2)]))
    locations = hub("locations", "import", str(tmp_path / "l.json"), "--json").stdout
    assert json.loads(locations) == {
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "evses_removed": 1,
        "changed_ids": ["US*HPC LOC1"],
        "removed_evse_uids": ["LOC1-E3"],
    }


# --- 6. hub db ----------------------------------------------------------------------------------


@pytest.mark.db
def test_db_upgrade_names_the_database_with_its_password_hidden(hub, database_url):
    output = " ".join(hub("db", "upgrade").stdout.split())
    assert f"database {common.redacted(database_url)} at revision" in output
    password = make_url(database_url).password
    if password:
        assert str(password) not in output


def test_db_upgrade_on_an_unreachable_server_is_one_line_without_the_password(monkeypatch):
    monkeypatch.setenv("HUB_DATABASE__URL", "postgresql+asyncpg://hub:s3cret@127.0.0.1:1/hub")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "cannot reach the database at postgresql+asyncpg://hub:***@127.0.0.1:1/hub" in (
        result.stderr
    )
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


def test_readme_lists_every_db_and_tariffs_command():
    readme = (ROOT / "README.md").read_text()
    commands = readme[readme.index("```sh\nhub db upgrade") :]
    commands = commands[: commands.index("```", 3)]
    for group in ("db", "tariffs", "locations"):
        assert group in COMMAND_GROUPS
        for command in importlib.import_module(f"hub.cli.{group}").app.registered_commands:
            name = command.name or (command.callback.__name__ if command.callback else "")
            assert re.search(rf"hub {group} (\S+ \| )*{name}\b", commands), (group, name)


# --- 3. and 4. hub tariffs price ----------------------------------------------------------------


def price(*args: str):
    return CliRunner().invoke(app, ["tariffs", "price", *args])


def readme_session(tmp_path: Path, *, reservation: bool) -> Path:
    """The SESSION.json of the README's Pricing section, as written there."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Pricing") :]
    blocks = re.findall(r"```json\n(.*?)```", section, flags=re.S)
    session = json.loads(blocks[0])
    if reservation:
        session.update(json.loads("{" + blocks[1].strip() + "}"))
    path = tmp_path / "session.json"
    path.write_text(json.dumps(session))
    return path


def tariff(tariff_id: str, price: str = "0.48") -> dict:
    """A tariff in effect before the README's session (2026-06-11)."""
    return {**network.tariff(tariff_id, price=price), "last_updated": "2026-01-01T00:00:00Z"}


def sim_tariffs(tmp_path: Path) -> Path:
    """Three different tariffs in one file, as ``hub sim network`` writes them."""
    std = tariff("US-HPC-DC-STD", price="0.56")
    std["elements"].append(
        {
            "price_components": [{"type": "PARKING_TIME", "price": 30.0, "step_size": 60}],
            "restrictions": {"min_duration": 600},
        }
    )
    path = tmp_path / "tariffs.json"
    path.write_text(json.dumps([std, tariff("US-HPC-DC-TOU"), tariff("US-HPC-DC-150")]))
    return path


def test_a_file_of_different_tariffs_is_refused_unless_one_is_picked(tmp_path):
    tariffs, session = sim_tariffs(tmp_path), readme_session(tmp_path, reservation=False)
    refused = price(str(tariffs), str(session))
    assert refused.exit_code == 1
    assert "3 different tariffs (US-HPC-DC-STD, US-HPC-DC-TOU, US-HPC-DC-150)" in refused.stderr
    assert "--tariff ID" in refused.stderr
    picked = price(str(tariffs), str(session), "--tariff", "US-HPC-DC-TOU", "--json")
    assert picked.exit_code == 0, picked.output
    assert json.loads(picked.stdout)["total_energy_cost"]["excl_vat"] == 14.4  # 30 kWh at 0.48
    unknown = price(str(tariffs), str(session), "--tariff", "NOPE")
    assert unknown.exit_code == 1
    assert "no tariff NOPE (it has US-HPC-DC-STD, US-HPC-DC-TOU, US-HPC-DC-150)" in unknown.stderr


@pytest.mark.parametrize("reservation", [False, True], ids=["without", "with-reservation"])
def test_the_readme_session_example_prices_as_written(tmp_path, reservation):
    session = readme_session(tmp_path, reservation=reservation)
    reserving = json.loads((PRICING / "tou_with_idle_fee.json").read_text())
    reserving["elements"].append(
        {
            "price_components": [{"type": "TIME", "price": 6.0, "step_size": 60}],
            "restrictions": {"reservation": "RESERVATION"},
        }
    )
    (tmp_path / "t.json").write_text(json.dumps(reserving))
    result = price(str(tmp_path / "t.json"), str(session), "--json")
    assert result.exit_code == 0, result.output
    priced = json.loads(result.stdout)
    assert priced["total_energy"] == 30.0
    # The README's reservation lasts 20 minutes: 6.00/h makes 2.00.
    expected = {"excl_vat": 2.0, "incl_vat": 2.0} if reservation else None
    assert priced.get("total_reservation_cost") == expected


@pytest.mark.parametrize(
    ("session", "message"),
    [
        (
            {"periods": [{"start": "2026-06-11T00:30:00Z"}]},
            "session file: period #1 end is missing",
        ),
        (
            {
                "periods": [{"start": "2026-06-11T00:30:00Z", "end": "2026-06-11T01:00:00Z"}],
                "reservation": {"start": "...", "end": "2026-06-11T00:30:00Z"},
            },
            "session file: reservation start must be a date and time, e.g. "
            "2026-06-11T00:30:00Z (got '...')",
        ),
        (
            {"periods": [{"start": "2026-06-11T00:30", "end": "2026-06-11T01:00:00Z"}]},
            "session file: period #1 start needs a UTC offset",
        ),
        (
            {"periods": [], "energy": 3},
            "session file: energy is not a known field",
        ),
    ],
    ids=["missing", "placeholder", "naive", "unknown-field"],
)
def test_an_invalid_session_file_is_one_line_naming_the_field(tmp_path, session, message):
    (tmp_path / "s.json").write_text(json.dumps(session))
    result = price(str(PRICING / "tou_with_idle_fee.json"), str(tmp_path / "s.json"))
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "pydantic" not in result.stderr
    assert "validation error" not in result.stderr


def test_split_pieces_of_one_element_are_one_line(tmp_path):
    # The idle fee's min_duration (600 s) cuts the charging period at 20:40; the energy of
    # element #1 across that cut is one line of 30 kWh, not two of 10 and 20.
    tariffs, session = sim_tariffs(tmp_path), readme_session(tmp_path, reservation=False)
    result = price(str(tariffs), str(session), "--tariff", "US-HPC-DC-STD", "--json")
    assert result.exit_code == 0, result.output
    priced = json.loads(result.stdout)
    lines = [(line["dimension"], line["element"], line["quantity"]) for line in priced["lines"]]
    assert lines == [("ENERGY", 1, "30"), ("PARKING_TIME", 2, "0.25")]
    assert priced["total_cost"]["excl_vat"] == 24.3  # 30 * 0.56 + 0.25 h * 30.00
    table = price(str(tariffs), str(session), "--tariff", "US-HPC-DC-STD").stdout
    assert len([line for line in table.splitlines() if line.startswith("│ ENERGY")]) == 1


def test_a_tariff_without_vat_says_no_vat_and_never_none(tmp_path):
    result = price(str(PRICING / "tou_with_idle_fee.json"), str(PRICING / "evening_session.json"))
    assert result.exit_code == 0, result.output
    assert "None" not in result.stdout
    assert "31.40 (no VAT)" in result.stdout
    assert "#1" in result.stdout  # the session fee is the tariff's first element
    assert "#0" not in result.stdout


def test_an_unknown_total_incl_vat_says_unknown(tmp_path):
    # 20 % VAT and a max_price without incl_vat that binds: the total incl. VAT is unknown.
    with_vat = tariff("T-VAT", price="0.50")
    with_vat["elements"][0]["price_components"][0]["vat"] = 20
    with_vat["max_price"] = {"excl_vat": 5}
    (tmp_path / "t.json").write_text(json.dumps(with_vat))
    session = readme_session(tmp_path, reservation=False)
    result = price(str(tmp_path / "t.json"), str(session))
    assert result.exit_code == 0, result.output
    totals = " ".join(result.stdout.split())
    assert "total_cost │ 5.00 / unknown" in totals
    assert "total_energy_cost │ 15.00 / 18.00" in totals
    assert "None" not in result.stdout
