"""``hub locations nevi`` and ``hub reports evchart`` in-process against real migrated databases
(both engines): Module 2 end to end from sessions the real SessionService made, Modules 3 and 4
through the ledger's seam, ``--check``, and bad input that writes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.cli import reports
from hub.cli.main import COMMAND_GROUPS
from hub.domain import evchart
from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenType
from hub.domain.uptime import ExclusionReason, Outage, OutageCause, PortUptime
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.locations import LocationService
from hub.services.sessions import MeterMessage, SessionService, TransactionStart
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.hub.test_cli_imports import HEAVY, imported_by
from tests.support.cli import cli_in_process
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

A = ("US", "EMA")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(database_url: str) -> dict[str, str]:
    """SITE (ports SITE-E1, SITE-E2 on CS-1) and OTHER; two Q3 sessions at SITE-E1: ``ok``
    (25 kWh, 120 kW peak) and ``fault`` (stopped EmergencyStop, 0.4 kWh)."""

    async def work() -> dict[str, str]:
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            await add_parties(sessions)
            location = network.location("SITE", evses=2)
            for connector_id, evse in enumerate(location["evses"], start=1):
                evse["hub_ocpp"] = {"charging_station_id": "CS-1", "connector_id": connector_id}
            async with session_scope(sessions) as session:
                tariffs = json.dumps([network.tariff("T-DC")])
                await TariffService(session).import_tariffs(parse_tariffs_json(tariffs))
                both = json.dumps([location, network.location("OTHER", evses=1)])
                await LocationService(session).import_locations(parse_locations_json(both))
                await StationService(session).add("CS-1", "station-password-0123")
            partner_id = await register_emsp(
                sessions, "emsp-a", A, None, receivers={"sessions": "http://127.0.0.1:9/s"}
            )
            who = SessionToken(
                uid="APP-1",
                token_type=TokenType.APP_USER,
                accepted=True,
                auth_method="COMMAND",
                presented_type="Central",
                country_code=A[0],
                party_id=A[1],
                contract_id="US-EMA-C1",
                partner_id=partner_id,
            )
            ids = {}
            clock = Clock(at(7, 1, 0))
            for name, start, stop, kwh, kw, reason in (
                ("ok", at(7, 20, 9), at(7, 20, 9, 40), "25", "120", "EVDisconnected"),
                ("fault", at(8, 5, 18), at(8, 5, 18, 2), "0.4", None, "EmergencyStop"),
            ):
                async with session_scope(sessions) as session:
                    clock.now = start
                    service = SessionService(session, codec=OcpiTariffCodec(), clock=clock)
                    row = await service.start(
                        TransactionStart(
                            station_id="CS-1",
                            ocpp_version="1.6",
                            started_at=start,
                            ocpp_connector_id=1,
                            token=who,
                            meter_start_kwh=Decimal(0),
                        )
                    )
                    if kw is not None:
                        moment = start.replace(minute=20)
                        clock.now = moment
                        sampled = [
                            {"value": "12000", "measurand": "Energy.Active.Import.Register"},
                            {"value": str(int(kw) * 1000), "measurand": "Power.Active.Import"},
                        ]
                        await service.record(
                            row,
                            MeterMessage(
                                "MeterValues",
                                moment,
                                [{"timestamp": moment.isoformat(), "sampled_value": sampled}],
                            ),
                        )
                    clock.now = stop
                    await service.end(row, at=stop, meter_stop_kwh=Decimal(kwh), stop_reason=reason)
                    ids[name] = row.session_id
            return ids
        finally:
            await dispose_engine(engine)

    return asyncio.run(work())


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict]]:
    ids = seed(database_url)
    monkeypatch.delenv("HUB_NEVI__NETWORK_PROVIDER", raising=False)
    monkeypatch.delenv("HUB_NEVI__VOCABULARY_FILE", raising=False)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke, ids


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_the_group_is_registered():
    assert "reports" in COMMAND_GROUPS
    names = [command.name for command in reports.app.registered_commands]
    assert names == ["uptime", "evchart"]


def test_register_show_change_and_remove_a_station(world):
    hub, _ = world
    record = as_json(
        hub(
            "locations", "nevi", "SITE", "--network-provider", "ACME Charging",
            "--nickname", "Gilroy Outlets", "--operational-date", "2025-03-01",
            "--project-type", "New station", "--funding", "NEVI", "--funding", "CMAQ",
            "--fed-funded-ports", "2", "--non-fed-funded-ports", "0",
            "--port-type", "SITE-E1=DCFC", "--federally-funded", "SITE-E1=yes",
            "--federally-funded", "SITE-E2=no", "--json",
        )
    )  # fmt: skip
    assert record == {
        "station_id": "SITE",
        "registered": True,
        "network_provider": "ACME Charging",
        "network_provider_from": "location",
        "nickname": "Gilroy Outlets",
        "address": "1 Example Way",
        "city": "Gilroy",
        "state": "CA",
        "zip": record["zip"],
        "latitude": "37.005782",
        "longitude": "-121.568275",
        "project_type": "New station",
        "operational_date": "2025-03-01",
        "funding": ["NEVI", "CMAQ"],
        "num_fed_funded_ports": 2,
        "num_non_fed_funded_ports": 0,
        "ports": {
            "SITE-E1": {"port_type": "DCFC", "federally_funded": True},
            "SITE-E2": {"federally_funded": False},
        },
    }
    assert as_json(hub("locations", "nevi", "SITE", "--json")) == record  # no option: shows
    table = hub("locations", "nevi", "SITE").stdout
    assert "NEVI registration of SITE" in table
    assert "Gilroy Outlets" in table

    unregistered = as_json(hub("locations", "nevi", "OTHER", "--json"))
    assert (unregistered["registered"], unregistered["network_provider"]) == (False, None)

    assert "is no longer reported to NEVI" in hub("locations", "nevi", "SITE", "--remove").stdout
    assert as_json(hub("locations", "nevi", "SITE", "--json"))["registered"] is False
    gone = hub("locations", "nevi", "SITE", "--remove", expect=1)
    assert gone.stderr.startswith("error: location SITE is not registered for NEVI")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["NOPE", "--nickname", "x"], 1, "error: no location 'NOPE'"),
        (["SITE", "--network-provider", "N" * 31], 1, "at most 30 characters"),
        (["SITE", "--funding", "GRANT"], 1, "--funding GRANT"),
        (["SITE", "--port-type", "SITE-E9=DCFC"], 1, "location SITE has no EVSE 'SITE-E9'"),
        (["SITE", "--operational-date", "March 2025"], 2, "YYYY-MM-DD"),
        (["SITE", "--port-type", "DCFC"], 2, "UID=VALUE"),
        (["SITE", "--federally-funded", "SITE-E1=maybe"], 2, "EVSE_UID=yes"),
        (["SITE", "--remove", "--nickname", "x"], 2, "--remove takes no other option"),
    ],
)
def test_bad_registrations(world, args, code, message):
    hub, _ = world
    result = hub("locations", "nevi", *args, expect=code)
    assert message in " ".join(result.output.split()) + result.stderr


def read_csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def test_module_2_end_to_end_and_its_check(world, tmp_path, monkeypatch):
    hub, ids = world
    hub("locations", "nevi", "SITE", "--nickname", "Gilroy")
    monkeypatch.setenv("HUB_NEVI__NETWORK_PROVIDER", "ACME")
    out = tmp_path / "m2.csv"
    record = as_json(
        hub(
            "reports",
            "evchart",
            "--module",
            "2",
            "--quarter",
            "2026Q3",
            "--out",
            str(out),
            "--json",
        )
    )
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert record == {
        "module": 2,
        "quarter": "2026Q3",
        "stations": 1,
        "rows": 3,
        "file": str(out.resolve()),
        "sha256": digest,
        "checksum_file": str(out.resolve()) + ".sha256",
        "notes_file": str(out.resolve()) + ".notes.txt",
        "notes": [
            "1 session(s) had no power readings: their power_kw is the session's average "
            "power (energy / duration), a floor of the peak"
        ],
    }
    assert (tmp_path / "m2.csv.sha256").read_text() == f"{digest}  m2.csv\n"
    identity = {"station_id": "SITE", "network_provider": "ACME"}
    assert read_csv(out) == [
        {
            **identity,
            "port_id": "SITE-E1",
            "charger_id": "CS-1",
            "session_id": ids["ok"],
            "connector_id": "1",
            "session_start": "2026-07-20T09:00:00Z",
            "session_end": "2026-07-20T09:40:00Z",
            "session_error": "none",
            "error_other": "",
            "energy_kwh": "25.00",
            "power_kw": "120.00",
            "payment_method": "APP",
            "payment_other": "",
        },
        {
            **identity,
            "port_id": "SITE-E1",
            "charger_id": "CS-1",
            "session_id": ids["fault"],
            "connector_id": "1",
            "session_start": "2026-08-05T18:00:00Z",
            "session_end": "2026-08-05T18:02:00Z",
            "session_error": "EmergencyStop",
            "error_other": "",
            "energy_kwh": "0.40",
            "power_kw": "12.00",
            "payment_method": "APP",
            "payment_other": "",
        },
        {**dict.fromkeys(evchart.MODULE_2.names, ""), **identity, "port_id": "SITE-E2"},
    ]
    checked = hub("reports", "evchart", "--check", str(out))
    assert checked.stdout.strip() == f"{out}: Module 2, no problems"
    checked = as_json(hub("reports", "evchart", "--check", str(out), "--module", "2", "--json"))
    assert checked == {"file": str(out), "module": 2, "problems": []}
    # A second run replaces the file; without notes, an old notes file goes too.
    hub("reports", "evchart", "--module", "2", "--quarter", "2026Q2", "--out", str(out))
    assert files(tmp_path) == ["m2.csv", "m2.csv.sha256"]


def test_the_vocabulary_file(world, tmp_path, monkeypatch):
    hub, _ = world
    hub("locations", "nevi", "SITE", "--network-provider", "ACME")
    vocabulary = tmp_path / "vocabulary.json"
    vocabulary.write_text(
        json.dumps(
            {
                "payment_method": {"values": {"APP": "app"}},
                "session_error": {"values": {"EmergencyStop": "EMERGENCY"}},
                "no_error": "0",
            }
        )
    )
    monkeypatch.setenv("HUB_NEVI__VOCABULARY_FILE", str(vocabulary))
    out = tmp_path / "m2.csv"
    hub("reports", "evchart", "--module", "2", "--quarter", "2026Q3", "--out", str(out))
    rows = read_csv(out)
    assert [(r["session_error"], r["payment_method"]) for r in rows[:2]] == [
        ("0", "app"),
        ("EMERGENCY", "app"),
    ]
    vocabulary.write_text('{"payment": {}}')
    bad = hub(
        "reports", "evchart", "--module", "2", "--quarter", "2026Q3", "--out", str(out), expect=1
    )
    assert "HUB_NEVI__VOCABULARY_FILE" in bad.stderr
    assert "unknown vocabulary keys: payment" in bad.stderr


def test_check_lists_the_problems_and_exits_non_zero(world, tmp_path):
    hub, _ = world
    broken = tmp_path / "broken.csv"
    header = ",".join(evchart.MODULE_4.names)
    broken.write_text(
        "\ufeff" + header + "\n"
        "SITE,ACME,SITE-E1,2026-08-01T10:00:00+02:00,12.5,,,\n"
        "\n"
        "SITE,ACME,SITE-E1,2026-08-02T10:00:00Z,,yes,9,\n",
        encoding="utf-8",
    )
    result = hub("reports", "evchart", "--check", str(broken), expect=1)
    assert result.stdout.splitlines() == [
        f"{broken}: row 2, outage_id: '2026-08-01T10:00:00+02:00' is not "
        "YYYY-MM-DDTHH:MM:SS[.fff][Z] (UTC, no offset)",
        f"{broken}: row 4, excluded_outage: 'yes' is not a boolean (true or false)",
        f"{broken}: row 4, excluded_outage_reason: 9 is outside 1-6",
        f"{broken}: row 4, outage_duration: outage_id and outage_duration must both be "
        "present or both empty",
        "4 problem(s)",
    ]
    listed = as_json(hub("reports", "evchart", "--check", str(broken), "--json", expect=1))
    assert listed["module"] == 4
    assert listed["problems"][0] == {
        "row": 2,
        "column": "outage_id",
        "message": "'2026-08-01T10:00:00+02:00' is not YYYY-MM-DDTHH:MM:SS[.fff][Z] "
        "(UTC, no offset)",
    }
    # Checked as another module, the header is wrong.
    as_three = hub("reports", "evchart", "--check", str(broken), "--module", "3", expect=1)
    assert "row 1, outage_id: not a Module 3 column" in as_three.stdout
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("a,b\n1,2\n")
    result = hub("reports", "evchart", "--check", str(unknown), expect=1)
    assert "its header is not that of Module 2, 3 or 4; name it with --module" in result.stderr
    latin = tmp_path / "latin.csv"
    latin.write_bytes(header.encode() + b"\nSITE,ACME,\xe9\n")
    assert "is not UTF-8 text" in hub("reports", "evchart", "--check", str(latin), expect=1).stderr
    hub("reports", "evchart", "--check", str(tmp_path / "missing.csv"), expect=2)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--module", "2", "--quarter", "2026Q5"], 2, "'2026Q5' is not a quarter"),
        (["--module", "2", "--quarter", "garbage"], 2, "'garbage' is not a quarter"),
        (["--module", "2", "--quarter", "2026Q0"], 2, "is not a quarter"),
        (["--module", "2", "--quarter", "2027Q1"], 1, "quarter 2027Q1 has not begun"),
        (["--module", "5", "--quarter", "2026Q3"], 2, "--module"),
        (["--quarter", "2026Q3"], 2, "--module"),
        (["--module", "2"], 2, "--quarter"),
        (["--module", "2", "--quarter", "2026Q3", "--station", "NOPE"], 1, "no station"),
        (
            ["--module", "2", "--quarter", "2026Q3", "--station", "OTHER"],
            1,
            "station OTHER is not registered for NEVI",
        ),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(world, tmp_path, args, code, message):
    hub, _ = world
    hub("locations", "nevi", "SITE", "--network-provider", "ACME")
    out = tmp_path / "report.csv"
    result = hub("reports", "evchart", *args, "--out", str(out), expect=code)
    assert message in " ".join((result.output + result.stderr).split())
    assert files(tmp_path) == []


def test_a_network_provider_is_required(world, tmp_path):
    hub, _ = world
    hub("locations", "nevi", "SITE", "--nickname", "Gilroy")
    out = tmp_path / "report.csv"
    result = hub(
        "reports", "evchart", "--module", "2", "--quarter", "2026Q3", "--out", str(out), expect=1
    )
    assert "no network provider for SITE: set HUB_NEVI__NETWORK_PROVIDER" in result.stderr
    assert files(tmp_path) == []


class Ledger:
    """Hand-built ledger values behind the CLI's seam."""

    async def uptimes(self, station_id, quarter) -> AsyncIterator[PortUptime]:
        for port in ("SITE-E1", "SITE-E2"):
            for end in quarter.month_ends:
                yield PortUptime(
                    station_id,
                    port,
                    end.replace(year=end.year - 1),
                    end,
                    Decimal("525.6"),
                    Decimal("100"),
                    Decimal("99.92"),
                )

    async def outages(self, station_id, start, end) -> AsyncIterator[Outage]:
        yield Outage(
            11,
            station_id,
            "SITE-E2",
            at(8, 14, 6),
            at(8, 14, 6, 25),
            OutageCause.STATION_OFFLINE,
            excluded=True,
            reason=ExclusionReason.SCHEDULED_MAINTENANCE,
            notes="Firmware update, declared 2026-08-01",
        )


@pytest.mark.parametrize(("module", "rows"), [(3, 6), (4, 2)])
def test_modules_3_and_4_through_the_ledgers_seam(world, tmp_path, monkeypatch, module, rows):
    hub, _ = world
    monkeypatch.setattr(reports, "uptime_source", lambda session: Ledger())
    hub("locations", "nevi", "SITE", "--network-provider", "ACME")
    out = tmp_path / f"m{module}.csv"
    record = as_json(
        hub(
            "reports", "evchart", "--module", str(module), "--quarter", "2026Q3",
            "--station", "SITE", "--out", str(out), "--json",
        )
    )  # fmt: skip
    assert record["rows"] == rows
    written = read_csv(out)
    if module == 3:
        assert written[0]["uptime_reporting_end"] == "2026-08-01T00:00:00Z"
        assert {r["uptime"] for r in written} == {"99.92"}
        assert {r["total_outage"] for r in written} == {"525.60"}
    else:
        assert written == [
            {
                "station_id": "SITE",
                "network_provider": "ACME",
                "port_id": "SITE-E2",
                "outage_id": "2026-08-14T06:00:00Z",
                "outage_duration": "25.00",
                "excluded_outage": "true",
                "excluded_outage_reason": "3",
                "excluded_outage_notes": "Firmware update, declared 2026-08-01",
            },
            {
                **dict.fromkeys(evchart.MODULE_4.names, ""),
                "station_id": "SITE",
                "network_provider": "ACME",
                "port_id": "SITE-E1",
            },
        ]
    hub("reports", "evchart", "--check", str(out))


def test_check_imports_none_of_the_heavy_modules(tmp_path):
    good = tmp_path / "m3.csv"
    good.write_text(
        ",".join(evchart.MODULE_3.names) + "\n"
        "SITE,ACME,SITE-E1,2025-08-01T00:00:00Z,2026-08-01T00:00:00Z,99.90,525.60,0.00\n"
    )
    code, modules = imported_by("reports", "evchart", "--check", str(good))
    assert code == 0
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


@pytest.mark.parametrize("module", [3, 4])
def test_modules_3_and_4_from_the_uptime_ledger(world, tmp_path, module):
    hub, _ = world
    hub("locations", "nevi", "SITE", "--network-provider", "ACME")
    out = tmp_path / f"ledger-m{module}.csv"
    record = as_json(
        hub(
            "reports", "evchart", "--module", str(module), "--quarter", "2026Q3",
            "--station", "SITE", "--out", str(out), "--json",
        )
    )  # fmt: skip
    written = read_csv(out)
    assert record["rows"] == len(written) > 0
    assert {r["station_id"] for r in written} == {"SITE"}
    checked = hub("reports", "evchart", "--check", str(out), "--module", str(module))
    assert "no problems" in checked.stdout
