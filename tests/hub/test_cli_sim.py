"""``hub sim chargers`` and ``hub sim network`` in-process: bad files are one error line,
registered passwords are never lost, progress is printed, charges become sessions and CDRs,
every party gets a site."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import Result

from hub.config import get_settings
from hub.domain.stations import password_matches
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargeDetailRecord, ChargingSession
from hub.services.stations import StationService
from hub.sim.chargers import fleet_for_network
from hub.sim.network import generate_network
from tests.support.cli import Invoke, cli_in_process
from tests.support.emsp_authorize import add_known_card
from tests.support.inprocess_hub import running_hub


@pytest.fixture
def network_dir(tmp_path: Path) -> Path:
    generated = generate_network(sites=1, seed=3)
    (tmp_path / "locations.json").write_text(json.dumps(generated.locations))
    (tmp_path / "tariffs.json").write_text(json.dumps(generated.tariffs))
    return tmp_path


def cli(database_url: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    env = {} if database_url is None else {"HUB_DATABASE__URL": database_url}
    with cli_in_process(monkeypatch, **env) as invoke:
        yield invoke


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    yield from cli(None, monkeypatch)


@pytest.fixture
def hub_db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    yield from cli(database_url, monkeypatch)


@pytest.fixture
def refusing_port() -> Iterator[int]:
    """A port bound but not listening: every connection to it is refused, at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def one_error_line(result: Result) -> str:
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('{"a": ', "is not JSON: Expecting value"),
        ('{"id": "LOC"}', "is not a JSON list of OCPI locations (not a list)"),
        ('["LOC"]', "is not a JSON list of OCPI locations"),
        (
            '[{"evses": [{"uid": "E1", "hub_ocpp": {"evse_id": 1}}]}]',
            "a field is missing: charging_station_id",
        ),
        ("\udcff", "network file"),
    ],
)
def test_a_malformed_network_file_is_one_error_line(hub, tmp_path, content, words):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    line = one_error_line(hub("sim", "chargers", "--network", str(bad), expect=1))
    assert words in line


def test_a_file_without_stations_is_an_error(hub, network_dir):
    line = one_error_line(
        hub("sim", "chargers", "--network", str(network_dir / "tariffs.json"), expect=1)
    )
    assert "holds no charging station" in line
    assert "none of its 3 objects" in line


@pytest.mark.parametrize(
    ("content", "words"),
    [("[1", "passwords file"), ('["CS-1"]', "must be a JSON object of station id to password")],
)
def test_a_malformed_passwords_file_is_one_error_line(hub, network_dir, content, words):
    (network_dir / "pw.json").write_text(content)
    line = one_error_line(
        hub(
            "sim",
            "chargers",
            "--network",
            str(network_dir / "locations.json"),
            "--passwords",
            str(network_dir / "pw.json"),
            expect=1,
        )
    )
    assert words in line


def test_no_password_and_no_register_says_what_to_do(hub, network_dir):
    line = one_error_line(
        hub("sim", "chargers", "--network", str(network_dir / "locations.json"), expect=1)
    )
    assert "use --register" in line


def stored_hashes(database_url: str) -> dict[str, str]:
    async def main() -> dict[str, str]:
        engine = create_engine(database_url)
        try:
            async with session_scope(create_session_factory(engine)) as session:
                stations = await StationService(session).list_all()
                return {s.station_id: s.password_hash for s in stations}
        finally:
            await dispose_engine(engine)

    return asyncio.run(main())


@pytest.mark.db
def test_register_keeps_the_passwords_when_no_station_can_connect(
    hub_db, database_url, network_dir, refusing_port, monkeypatch
):
    monkeypatch.setenv("HUB_SERVER__PORT", str(refusing_port))  # --url defaults to it
    get_settings.cache_clear()
    args = ["sim", "chargers", "2", "--network", str(network_dir / "locations.json")]
    failed = hub_db(*args, "--register", "--duration", "0", "--json", expect=1)
    summary = json.loads(failed.stdout)
    assert summary["url"] == f"ws://127.0.0.1:{refusing_port}/ocpp"
    assert (summary["registered"], summary["connected"]) == (2, 0)
    assert (
        failed.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: no station could connect to ws://127.0.0.1:{refusing_port}/ocpp (")
    )
    passwords = json.loads((network_dir / "passwords.json").read_text())
    assert summary["passwords_file"] == str(network_dir / "passwords.json")
    hashes = stored_hashes(database_url)
    assert set(passwords) == set(hashes)
    assert all(password_matches(passwords[s], hashes[s]) for s in hashes)

    again = json.loads(hub_db(*args, "--register", "--duration", "0", "--json", expect=1).stdout)
    assert (again["registered"], again["connected"]) == (0, 0)  # known passwords: nothing new
    assert json.loads((network_dir / "passwords.json").read_text()) == passwords
    plain = hub_db(*args, "--passwords", str(network_dir / "passwords.json"), expect=1)
    assert "no station could connect" in plain.stderr


@pytest.mark.db
def test_register_names_stations_registered_with_passwords_it_does_not_know(
    hub_db, network_dir, refusing_port
):
    (first, *_) = fleet_for_network(
        json.loads((network_dir / "locations.json").read_text()), lambda _: ""
    )
    hub_db("chargers", "add", first.station_id)
    line = one_error_line(
        hub_db(
            "sim",
            "chargers",
            "2",
            "--network",
            str(network_dir / "locations.json"),
            "--register",
            "--url",
            f"ws://127.0.0.1:{refusing_port}/ocpp",
            expect=1,
        )
    )
    assert f"1 stations (e.g. {first.station_id}) are registered already" in line
    assert "hub chargers reset-password" in line


@pytest.mark.db
@pytest.mark.e2e
async def test_progress_lines_and_a_json_summary_against_a_running_hub(
    hub_db, network_dir, database_url
):
    async with running_hub(database_url, wall_clock=True) as hub:
        args = [
            "sim",
            "chargers",
            "2",
            "--network",
            str(network_dir / "locations.json"),
            "--url",
            f"{hub.ws_url}/ocpp",
            "--register",
            "--duration",
            "0.2",
            "--rate",
            "20",
        ]
        done = await asyncio.to_thread(hub_db, *args, "--json")
        summary: dict[str, Any] = json.loads(done.stdout)  # stdout is the summary alone
        assert (summary["stations"], summary["connected"], summary["booted"]) == (2, 2, 2)
        assert summary["errors"] == []
        progress = done.stderr.splitlines()
        assert progress[0] == "registered 2 stations; their passwords are in " + str(
            network_dir / "passwords.json"
        )
        assert progress[1] == f"connecting 2 stations to {hub.ws_url}/ocpp"
        assert "connected 2/2" in progress
        assert "2/2 connected, 2 booted; status changes for 0.2 s at 20/s" in progress
        # The first status change happens before the deadline is looked at.
        assert any(" evse " in line or " connector " in line for line in progress)

        passwords = str(network_dir / "passwords.json")
        table = await asyncio.to_thread(
            hub_db, *args[:-5], "--passwords", passwords, "--duration", "0"
        )
        assert "connected 2/2" in table.stdout
        assert "Simulated chargers" in table.stdout


@pytest.mark.parametrize("sites", [2, 3, 5, 10, 20])
@pytest.mark.parametrize("seed", [1, 7, 11])
def test_every_party_gets_a_site(sites, seed):
    generated = generate_network(sites=sites, seed=seed)
    assert len(generated.locations) == sites
    assert {location["country"] for location in generated.locations} == {"USA", "CAN"}
    assert {(t["country_code"], t["currency"]) for t in generated.tariffs} == {
        ("US", "USD"),
        ("CA", "CAD"),
    }


def test_a_network_smaller_than_its_parties_still_has_its_sites():
    assert len(generate_network(sites=1, seed=7).locations) == 1


def test_sim_network_cli_gives_canada_a_site_in_a_small_network(hub, tmp_path):
    done = hub("sim", "network", "--sites", "3", "--output-dir", str(tmp_path), "--json")
    assert set(json.loads(done.stdout)["per_country"]) == {"USA", "CAN"}


def test_charges_need_the_drivers_tokens(hub, network_dir):
    line = one_error_line(
        hub(
            "sim",
            "chargers",
            "--network",
            str(network_dir / "locations.json"),
            "--charges",
            "2",
            expect=1,
        )
    )
    assert "--charges needs the drivers' tokens: --token UID" in line


def stored_charges(database_url: str) -> tuple[list[ChargingSession], list[ChargeDetailRecord]]:
    async def main() -> tuple[list[ChargingSession], list[ChargeDetailRecord]]:
        engine = create_engine(database_url)
        try:
            async with session_scope(create_session_factory(engine)) as session:
                rows = (await session.execute(select(ChargingSession))).scalars().all()
                cdrs = (await session.execute(select(ChargeDetailRecord))).scalars().all()
                return list(rows), list(cdrs)
        finally:
            await dispose_engine(engine)

    return asyncio.run(main())


@pytest.mark.db
@pytest.mark.e2e
async def test_charges_against_a_running_hub_become_sessions_and_cdrs(
    hub_db, network_dir, database_url
):
    for country in ("US", "CA"):
        await asyncio.to_thread(hub_db, "parties", "add", country, "HPC", "--name", "HPC")
    for kind in ("tariffs", "locations"):
        await asyncio.to_thread(hub_db, kind, "import", str(network_dir / f"{kind}.json"))
    await add_known_card(database_url, "04A1B2C3D4")
    async with running_hub(database_url, wall_clock=True) as hub:
        done = await asyncio.to_thread(
            hub_db,
            "sim",
            "chargers",
            "2",
            "--network",
            str(network_dir / "locations.json"),
            "--url",
            f"{hub.ws_url}/ocpp",
            "--register",
            "--duration",
            "0",
            "--charges",
            "3",
            "--concurrent",
            "2",
            "--token",
            "04A1B2C3D4",
            "--session-minutes",
            "12",
            "--session-kwh",
            "15",
            "--idle-minutes",
            "3",
            "--meter-interval",
            "60",
            "--speed",
            "100000",
            "--json",
        )
    summary = json.loads(done.stdout)
    assert (summary["charges"], summary["charges_finished"], summary["charges_refused"]) == (
        3,
        3,
        0,
    )
    assert summary["kwh_delivered"] == 45.0
    assert summary["errors"] == []
    progress = done.stderr.splitlines()
    assert (
        "3 charges, 2 at a time: 12 min at 75 kW (15 kWh) + 3 min plugged in idle, meter values "
        "every 60 s; 100000x real time, stamped from "
    ) in "\n".join(progress)
    assert len([line for line in progress if ": 15 kWh, 15 min, transaction " in line]) == 3

    rows, cdrs = await asyncio.to_thread(stored_charges, database_url)
    assert sorted(r.status for r in rows) == ["COMPLETED"] * 3
    assert {r.kwh for r in rows} == {Decimal(15)}
    assert all(r.problems == [] for r in rows), [r.problems for r in rows]
    # Two stations, one EVSE each first: charges 1 and 2 on different stations, 3 after 1.
    assert len({r.station_id for r in rows}) == 2
    assert len(cdrs) == 3
    assert {c.total_energy for c in cdrs} == {Decimal(15)}
    # The stamps are in the past, never ahead of now, and each charge lasts its 15 minutes.
    now = datetime.now(UTC)
    for row in rows:
        assert row.end_date_time is not None
        assert row.end_date_time <= now
        assert row.end_date_time - row.start_date_time == timedelta(minutes=15)


@pytest.mark.db
@pytest.mark.e2e
async def test_charges_with_a_card_the_hub_does_not_know_are_refused(
    hub_db, network_dir, database_url
):
    async with running_hub(database_url, wall_clock=True) as hub:
        done = await asyncio.to_thread(
            hub_db,
            "sim",
            "chargers",
            "1",
            "--network",
            str(network_dir / "locations.json"),
            "--url",
            f"{hub.ws_url}/ocpp",
            "--register",
            "--duration",
            "0",
            "--charges",
            "1",
            "--token",
            "NOBODY",
            "--speed",
            "100000",
            expect=1,
        )
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("error: the hub refused 1 of 1 charges (NOBODY: ")
    )
