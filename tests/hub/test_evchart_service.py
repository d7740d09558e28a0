"""EvchartService and NeviRegistrationService on both engines: Module 2 from sessions the real
SessionService made (OCPP-shaped meter values, a clock the test drives), Modules 3 and 4 from
hand-built ledger values through the UptimeSource seam, the files written (checksum, notes,
nothing left behind on failure) and the round trip through our validator."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from hub.domain import evchart
from hub.domain.assets import EvseStatus
from hub.domain.evchart import Quarter, Translation, Vocabulary
from hub.domain.sessions import PushThrottle, SessionToken
from hub.domain.tokens import TokenType
from hub.domain.uptime import ExclusionReason, Outage, OutageCause, PortUptime
from hub.errors import InvalidRequest, InvalidState, NotFound
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.evchart import (
    EvchartService,
    LedgerUptimeSource,
    NeviRegistrationService,
    PortSetting,
    Registration,
    Report,
)
from hub.services.locations import LocationService
from hub.services.sessions import MeterMessage, SessionService, TransactionStart
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.services.uptime import UptimeService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

Q3 = Quarter(2026, 3)
NOW = datetime(2026, 10, 15, 12, tzinfo=UTC)  # the report is made after the quarter
A = ("US", "EMA")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def site() -> dict:
    location = network.location("SITE", evses=3)
    for connector_id, evse in enumerate(location["evses"], start=1):
        evse["hub_ocpp"] = {"charging_station_id": "CS-1", "connector_id": connector_id}
    return location


def reading(at: datetime, kwh: str, kw: str | None = None) -> dict:
    sampled = [{"value": str(Decimal(kwh) * 1000), "measurand": "Energy.Active.Import.Register"}]
    if kw is not None:
        sampled.append({"value": str(Decimal(kw) * 1000), "measurand": "Power.Active.Import"})
    return {"timestamp": at.isoformat(), "sampled_value": sampled}


def at(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
async def world(sessions):
    """SITE (3 ports on CS-1) registered for NEVI, OTHER not. Sessions at SITE:

    - ``ok``: port E1, 14 Jul 10:00-10:30, 20 kWh, 150 kW peak, an RFID card: success;
    - ``fault``: port E1, 2 Aug 08:00-08:05, 1.5 kWh, no power readings, stopped GroundFault;
    - ``empty``: port E2, 14 Jul 10:00 (the same second as ``ok``) -10:10, no energy;
    - ``june``: port E1, 30 Jun 23:59:59 (2026Q2): not in Q3;
    - ``open``: port E2, 30 Sep 20:00, not ended yet;
    - port E3: none.
    """
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
        )
        locations = [site(), network.location("OTHER", evses=1)]
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
        await StationService(session).add("CS-1", "station-password-0123")
        await NeviRegistrationService(session).register("SITE", Registration(nickname="Gilroy"))
    partner_id = await register_emsp(
        sessions,
        "emsp-a",
        A,
        None,
        receivers={"sessions": "http://127.0.0.1:9/s", "cdrs": "http://127.0.0.1:9/c"},
    )
    who = SessionToken(
        uid="CARD-1",
        token_type=TokenType.RFID,
        accepted=True,
        auth_method="WHITELIST",
        presented_type="idTag",
        country_code=A[0],
        party_id=A[1],
        contract_id="US-EMA-C1",
        partner_id=partner_id,
    )
    clock = Clock(at(6, 30, 23, 59, 59))
    ids = {}

    async def charge(name, connector, start, readings, stop=None, kwh="0", reason="Local"):
        clock.now = start
        async with session_scope(sessions) as session:
            service = SessionService(
                session, codec=OcpiTariffCodec(), clock=clock, throttle=PushThrottle()
            )
            row = await service.start(
                TransactionStart(
                    station_id="CS-1",
                    ocpp_version="1.6",
                    started_at=start,
                    ocpp_connector_id=connector,
                    token=who,
                    meter_start_kwh=Decimal(0),
                )
            )
            for moment, energy, kw in readings:
                clock.now = moment
                await service.record(
                    row, MeterMessage("MeterValues", moment, [reading(moment, energy, kw)])
                )
            if stop is not None:
                clock.now = stop
                await service.end(row, at=stop, meter_stop_kwh=Decimal(kwh), stop_reason=reason)
            ids[name] = row.session_id

    await charge("june", 1, at(6, 30, 23, 59, 59), [], at(7, 1, 0, 30), "10")
    await charge(
        "ok", 1, at(7, 14, 10), [(at(7, 14, 10, 15), "10", "150")], at(7, 14, 10, 30), "20"
    )
    await charge("empty", 2, at(7, 14, 10), [], at(7, 14, 10, 10), "0")
    await charge("fault", 1, at(8, 2, 8), [], at(8, 2, 8, 5), "1.5", "GroundFault")
    await charge("open", 2, at(9, 30, 20), [(at(9, 30, 20, 30), "3", None)])
    return sessions, ids


def expected_module_2(ids, provider="ACME") -> list[dict[str, str]]:
    common = {"station_id": "SITE", "network_provider": provider, "charger_id": "CS-1"}
    return [
        {
            **common,
            "port_id": "SITE-E1",
            "session_id": ids["ok"],
            "connector_id": "1",
            "session_start": "2026-07-14T10:00:00Z",
            "session_end": "2026-07-14T10:30:00Z",
            "session_error": "none",
            "error_other": "",
            "energy_kwh": "20.00",
            "power_kw": "150.00",
            "payment_method": "RFID_ROAMING",
            "payment_other": "",
        },
        {
            **common,
            "port_id": "SITE-E2",
            "session_id": ids["empty"],
            "connector_id": "1",
            "session_start": "2026-07-14T10:00:00Z",
            "session_end": "2026-07-14T10:10:00Z",
            "session_error": "NO_ENERGY_DELIVERED",
            "error_other": "",
            "energy_kwh": "0.00",
            "power_kw": "0.00",
            "payment_method": "RFID_ROAMING",
            "payment_other": "",
        },
        {
            **common,
            "port_id": "SITE-E1",
            "session_id": ids["fault"],
            "connector_id": "1",
            "session_start": "2026-08-02T08:00:00Z",
            "session_end": "2026-08-02T08:05:00Z",
            "session_error": "CX002",  # GroundFault, a ChargeX code
            "error_other": "",
            "energy_kwh": "1.50",
            "power_kw": "18.00",  # no power readings: 1.5 kWh over 5 minutes
            "payment_method": "RFID_ROAMING",
            "payment_other": "",
        },
        {
            **dict.fromkeys(evchart.MODULE_2.names, ""),
            "station_id": "SITE",
            "network_provider": provider,
            "port_id": "SITE-E3",
        },
    ]


async def collect(report: Report) -> list[dict[str, str]]:
    return [row async for row in report.rows]


def service(session, **options) -> EvchartService:
    options.setdefault("network_provider", "ACME")
    return EvchartService(session, clock=Clock(NOW), **options)


@pytest.mark.parametrize("page_size", [1, 2, 1000])
async def test_module_2_from_the_quarters_sessions_field_by_field(world, page_size):
    sessions, ids = world
    async with session_scope(sessions) as session:
        report = await service(session, page_size=page_size).report(2, Q3)
        rows = await collect(report)
    # Sessions in start order (the same second: in the order they began), then the ports
    # without any; June's is in Q2 and the open one is not over.
    assert rows == expected_module_2(ids)
    assert [list(row) for row in rows] == [list(evchart.MODULE_2.names)] * 4
    assert [s.station_id for s in report.stations] == ["SITE"]  # OTHER is not registered
    assert report.notes == [
        "station SITE: 1 session(s) started in 2026Q3 have not ended and are not in this file",
        "2 session(s) had no power readings: their power_kw is the session's average power "
        "(energy / duration), a floor of the peak",
    ]
    assert evchart.check(2, rows) == []


async def test_the_network_provider_of_a_location_wins_over_the_default(world):
    sessions, ids = world
    async with session_scope(sessions) as session:
        await NeviRegistrationService(session).register(
            "SITE", Registration(network_provider="  Other Net ")
        )
        rows = await collect(await service(session).report(2, Q3, ["SITE"]))
    assert rows == expected_module_2(ids, provider="Other Net")


async def test_the_vocabularies_are_data(world):
    sessions, _ = world
    vocabulary = Vocabulary(
        payment_method=Translation({"RFID_ROAMING": "rfid"}),
        session_error=Translation({}, "OTHER"),
        no_error="0",
    )
    async with session_scope(sessions) as session:
        rows = await collect(await service(session, vocabulary=vocabulary).report(2, Q3))
    assert [(r["session_error"], r["error_other"], r["payment_method"]) for r in rows[:3]] == [
        ("0", "", "rfid"),
        ("OTHER", "NO_ENERGY_DELIVERED", "rfid"),
        ("OTHER", "GroundFault", "rfid"),
    ]


async def test_a_quarter_without_sessions_has_one_empty_row_per_port(world):
    sessions, _ = world
    async with session_scope(sessions) as session:
        rows = await collect(await service(session).report(2, Quarter(2026, 1)))
    assert [(r["port_id"], r["session_id"]) for r in rows] == [
        ("SITE-E1", ""),
        ("SITE-E2", ""),
        ("SITE-E3", ""),
    ]


@pytest.mark.parametrize(
    ("stations", "provider", "error", "message"),
    [
        (["NOPE"], "ACME", NotFound, r"no station \(location\) 'NOPE'"),
        (["OTHER"], "ACME", InvalidState, "station OTHER is not registered for NEVI"),
        (None, None, InvalidState, "no network provider for SITE"),
    ],
)
async def test_stations_that_cannot_be_reported(world, stations, provider, error, message):
    sessions, _ = world
    async with session_scope(sessions) as session:
        with pytest.raises(error, match=message):
            await service(session, network_provider=provider).report(2, Q3, stations)


async def test_a_quarter_not_begun_is_refused_and_one_not_over_says_so(world):
    sessions, _ = world
    async with session_scope(sessions) as session:
        with pytest.raises(InvalidRequest, match="quarter 2026Q4 has not begun"):
            await EvchartService(
                session, network_provider="ACME", clock=Clock(at(9, 30, 23))
            ).report(2, Quarter(2026, 4))
        report = await EvchartService(
            session, network_provider="ACME", clock=Clock(at(9, 1, 0))
        ).report(2, Q3)
        await collect(report)
    assert report.notes[0] == "2026Q3 is not over: this file covers it up to 2026-09-01T00:00:00Z"


async def test_no_registered_station(sessions):
    async with session_scope(sessions) as session:
        with pytest.raises(InvalidState, match="no location is registered for NEVI"):
            await service(session).report(2, Q3)


# --- Modules 3 and 4 through the ledger's seam --------------------------------------------------


class Ledger:
    """Hand-built ledger values, as the uptime ledger will yield them."""

    def __init__(self, uptimes=(), outages=()) -> None:
        self._uptimes = list(uptimes)
        self._outages = list(outages)
        self.asked: list[tuple] = []

    async def uptimes(self, station_id: str, quarter: Quarter) -> AsyncIterator[PortUptime]:
        self.asked.append(("uptimes", station_id, quarter))
        for value in self._uptimes:
            yield value

    async def outages(
        self, station_id: str, start: datetime, end: datetime
    ) -> AsyncIterator[Outage]:
        self.asked.append(("outages", station_id, start, end))
        for value in self._outages:
            yield value


def month_uptime(port: str, end: datetime, outage: str, excluded: str, **extra) -> PortUptime:
    return PortUptime(
        station_id="SITE",
        port_id=port,
        window_start=end.replace(year=end.year - 1),
        window_end=end,
        outage_minutes=Decimal(outage),
        excluded_minutes=Decimal(excluded),
        uptime=extra.pop("uptime", Decimal("99.95")),
        **extra,
    )


async def test_module_3_from_the_ledgers_uptimes(world):
    sessions, _ = world
    ends = Q3.month_ends
    ledger = Ledger(
        uptimes=[
            *(month_uptime("SITE-E1", end, "300", "40") for end in ends),
            month_uptime("SITE-E2", ends[0], "0", "0", uptime=None),
            month_uptime("SITE-E2", ends[1], "12.345", "0", uptime=None, missing_history=True),
        ]
    )
    async with session_scope(sessions) as session:
        report = await service(session, source=ledger).report(3, Q3)
        rows = await collect(report)
    assert ledger.asked == [("uptimes", "SITE", Q3)]
    assert rows[0] == {
        "station_id": "SITE",
        "network_provider": "ACME",
        "port_id": "SITE-E1",
        "uptime_reporting_start": "2025-08-01T00:00:00Z",
        "uptime_reporting_end": "2026-08-01T00:00:00Z",
        "uptime": "99.95",
        "total_outage": "300.00",
        "total_outage_excl": "40.00",
    }
    assert [
        (r["port_id"], r["uptime_reporting_end"], r["uptime"], r["total_outage"]) for r in rows[1:]
    ] == [
        ("SITE-E1", "2026-09-01T00:00:00Z", "99.95", "300.00"),
        ("SITE-E1", "2026-10-01T00:00:00Z", "99.95", "300.00"),
        ("SITE-E2", "2026-08-01T00:00:00Z", "", "0.00"),
        ("SITE-E2", "2026-09-01T00:00:00Z", "", "12.35"),
    ]
    assert report.notes == [
        "port SITE-E2: the history does not cover the whole window 2025-09-01T00:00:00Z - "
        "2026-09-01T00:00:00Z",
        "station SITE: no uptime for port(s) SITE-E3",
    ]
    assert evchart.check(3, rows) == []


async def test_module_4_from_the_ledgers_outages(world):
    sessions, _ = world
    ledger = Ledger(
        outages=[
            Outage(
                1, "SITE", "SITE-E1", at(6, 30, 23), at(7, 1, 0, 45), OutageCause.STATION_OFFLINE
            ),
            Outage(
                2,
                "SITE",
                "SITE-E1",
                at(8, 10, 14),
                at(8, 10, 16, 0, 30),
                OutageCause.OUT_OF_ORDER,
                excluded=True,
                reason=ExclusionReason.UTILITY_INTERRUPTION,
                notes="PG&E outage, ticket 4411",
            ),
            Outage(3, "SITE", "SITE-E3", at(9, 30, 23), None, OutageCause.INOPERATIVE),
        ]
    )
    async with session_scope(sessions) as session:
        rows = await collect(await service(session, source=ledger).report(4, Q3))
    assert ledger.asked == [("outages", "SITE", Q3.start, Q3.end)]
    identity = {"station_id": "SITE", "network_provider": "ACME"}
    assert rows == [
        {
            **identity,
            "port_id": "SITE-E1",
            "outage_id": "2026-07-01T00:00:00Z",  # began in Q2: its Q3 part
            "outage_duration": "45.00",
            "excluded_outage": "false",
            "excluded_outage_reason": "",
            "excluded_outage_notes": "",
        },
        {
            **identity,
            "port_id": "SITE-E1",
            "outage_id": "2026-08-10T14:00:00Z",
            "outage_duration": "120.50",
            "excluded_outage": "true",
            "excluded_outage_reason": "1",
            "excluded_outage_notes": "PG&E outage, ticket 4411",
        },
        {
            **identity,
            "port_id": "SITE-E3",
            "outage_id": "2026-09-30T23:00:00Z",  # still going on: to the quarter's end
            "outage_duration": "60.00",
            "excluded_outage": "false",
            "excluded_outage_reason": "",
            "excluded_outage_notes": "",
        },
        {**dict.fromkeys(evchart.MODULE_4.names, ""), **identity, "port_id": "SITE-E2"},
    ]
    assert evchart.check(4, rows) == []


async def test_module_4_of_a_quarter_not_over_runs_to_now(world):
    sessions, _ = world
    ongoing = Outage(9, "SITE", "SITE-E2", at(9, 1, 0), None, OutageCause.STATION_OFFLINE)
    ledger = Ledger(outages=[ongoing])
    async with session_scope(sessions) as session:
        report = await EvchartService(
            session, network_provider="ACME", source=ledger, clock=Clock(at(9, 1, 2))
        ).report(4, Q3)
        rows = await collect(report)
    assert ledger.asked == [("outages", "SITE", Q3.start, at(9, 1, 2))]
    assert [(r["port_id"], r["outage_duration"]) for r in rows] == [
        ("SITE-E2", "120.00"),
        ("SITE-E1", ""),
        ("SITE-E3", ""),
    ]


async def test_ledger_values_of_another_station_or_unreportable_are_refused(world):
    sessions, _ = world
    stray = Outage(1, "OTHER", "OTHER-E1", at(8, 1, 0), at(8, 1, 1), OutageCause.OUT_OF_ORDER)
    bad = Outage(2, "SITE", "SITE-E1", at(8, 1, 0), at(8, 1, 1), OutageCause.OUT_OF_ORDER, True)
    async with session_scope(sessions) as session:
        with pytest.raises(InvalidState, match="the ledger gave port OTHER-E1 of station OTHER"):
            await collect(await service(session, source=Ledger(outages=[stray])).report(4, Q3))
        with pytest.raises(InvalidRequest, match=r"outage 2: .* without a reason code"):
            await collect(await service(session, source=Ledger(outages=[bad])).report(4, Q3))


async def test_without_a_ledger_modules_3_and_4_say_so(world):
    sessions, _ = world
    async with session_scope(sessions) as session:
        for module in (3, 4):
            with pytest.raises(InvalidState, match=f"Module {module} needs the uptime ledger"):
                await collect(await service(session).report(module, Q3))


def files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


# --- files --------------------------------------------------------------------------------------


async def test_the_file_its_checksum_and_notes(world, tmp_path: Path):
    sessions, ids = world
    out = tmp_path / "m2.csv"
    async with session_scope(sessions) as session:
        svc = service(session)
        written = await svc.write(await svc.report(2, Q3), out)
    data = out.read_bytes()
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "m2.csv.sha256").read_text() == f"{written.sha256}  m2.csv\n"
    assert written.rows == 4
    assert data.startswith(b"station_id,network_provider,port_id,charger_id,session_id,")
    assert not data.startswith(b"\xef\xbb\xbf")  # no BOM
    with out.open(newline="") as stream:
        assert list(csv.DictReader(stream)) == expected_module_2(ids)
    with out.open(newline="") as stream:
        assert evchart.check(2, stream) == []
    notes = (tmp_path / "m2.csv.notes.txt").read_text().splitlines()
    assert notes[0].startswith("station SITE: 1 session(s) started in 2026Q3 have not ended")
    assert files(tmp_path) == [
        "m2.csv",
        "m2.csv.notes.txt",
        "m2.csv.sha256",
    ]


async def test_a_failed_report_writes_nothing(world, tmp_path: Path):
    sessions, _ = world
    out = tmp_path / "m4.csv"
    out.write_text("the previous file\n")
    good = Outage(1, "SITE", "SITE-E1", at(8, 1, 0), at(8, 1, 1), OutageCause.OUT_OF_ORDER)
    bad = Outage(2, "SITE", "SITE-E2", at(8, 1, 0), at(8, 1, 1), OutageCause.OUT_OF_ORDER, True)
    async with session_scope(sessions) as session:
        svc = service(session, source=Ledger(outages=[good, bad]))
        with pytest.raises(InvalidRequest):
            await svc.write(await svc.report(4, Q3), out)
    assert files(tmp_path) == ["m4.csv"]
    assert out.read_text() == "the previous file\n"


# --- registration -------------------------------------------------------------------------------


async def test_registration_of_module_1_data(world):
    sessions, _ = world
    async with session_scope(sessions) as session:
        service = NeviRegistrationService(session)
        row = await service.register(
            "SITE",
            Registration(
                network_provider="ACME",
                project_type="New station",
                operational_date=date(2025, 3, 1),
                funding=["CFI", "NEVI"],
                num_fed_funded_ports=2,
                num_non_fed_funded_ports=1,
                ports=[
                    PortSetting("SITE-E1", "DCFC", True),
                    PortSetting("SITE-E3", federally_funded=False),
                ],
            ),
        )
        row = await service.register("SITE", Registration(ports=[PortSetting("SITE-E3", "L2")]))
    assert (row.nickname, row.network_provider, row.project_type) == (
        "Gilroy",
        "ACME",
        "New station",
    )
    assert row.operational_date == date(2025, 3, 1)
    assert row.funding == ["NEVI", "CFI"]  # in Module 1's order
    assert (row.num_fed_funded_ports, row.num_non_fed_funded_ports) == (2, 1)
    assert row.ports == {
        "SITE-E1": {"port_type": "DCFC", "federally_funded": True},
        "SITE-E3": {"federally_funded": False, "port_type": "L2"},
    }


@pytest.mark.parametrize(
    ("location", "changes", "error", "message"),
    [
        ("NOPE", Registration(), NotFound, "no location 'NOPE'"),
        ("SITE", Registration(network_provider="N" * 31), InvalidRequest, "at most 30"),
        ("SITE", Registration(nickname="n" * 51), InvalidRequest, "at most 50"),
        ("SITE", Registration(nickname="  "), InvalidRequest, "not empty"),
        ("SITE", Registration(funding=["NEVI", "GRANT"]), InvalidRequest, "--funding GRANT"),
        ("SITE", Registration(num_fed_funded_ports=-1), InvalidRequest, "not negative"),
        (
            "SITE",
            Registration(ports=[PortSetting("OTHER-E1", "DCFC")]),
            InvalidRequest,
            "location SITE has no EVSE 'OTHER-E1'",
        ),
    ],
)
async def test_bad_registrations_are_refused(world, location, changes, error, message):
    sessions, _ = world
    async with session_scope(sessions) as session:
        with pytest.raises(error, match=message):
            await NeviRegistrationService(session).register(location, changes)


async def test_unregistering_takes_the_station_out_of_reports(world):
    sessions, _ = world
    async with session_scope(sessions) as session:
        service = NeviRegistrationService(session)
        await service.unregister("SITE")
        assert (await service.get("SITE"))[1] is None
        with pytest.raises(NotFound, match="not registered"):
            await service.unregister("SITE")
        with pytest.raises(InvalidState, match="no location is registered"):
            await EvchartService(session, network_provider="ACME").report(2, Q3)


def test_months_of_the_quarter_end_where_the_ledger_windows_end():
    assert Q3.month_ends[0] - timedelta(days=31) == Q3.start


async def test_module_4_from_the_real_ledger_keeps_long_exclusion_notes_to_255(world):
    # The operator may write a note of 1,000 characters and evidence of 500 (hub outages
    # exclude); EV-ChART's excluded_outage_notes takes 255. The file is still written: the note
    # is shortened there, and kept whole in the ledger's trail.
    sessions, _ = world
    async with session_scope(sessions) as session:
        locations = LocationService(session)
        for moment, status in ((at(7, 1, 0), "AVAILABLE"), (at(8, 10, 14), "OUTOFORDER")):
            await locations.set_evse_status("SITE-E1", EvseStatus(status), at=moment)
        await locations.set_evse_status("SITE-E1", EvseStatus.AVAILABLE, at=at(8, 10, 16))
    note, evidence = "storm " * 60, "ticket " * 40  # 360 and 280 characters
    async with session_scope(sessions) as session:
        ledger = UptimeService(session, clock=Clock(NOW))
        (outage,) = await ledger.outages(stations=["SITE"])
        await ledger.exclude(outage.outage_id, reason=5, note=note, evidence=evidence, by="ops")
    async with session_scope(sessions) as session:
        ledger = UptimeService(session, clock=Clock(NOW))
        source = LedgerUptimeSource(ledger)
        rows = await collect(await service(session, source=source).report(4, Q3))
        (whole,) = await ledger.outages(stations=["SITE"])
    written = rows[0]["excluded_outage_notes"]
    assert len(written) == 255
    assert written == whole.notes[:254] + "…"  # type: ignore[index]
    assert whole.notes == f"{note.strip()} (evidence: {evidence.strip()})"
    assert (rows[0]["outage_id"], rows[0]["excluded_outage_reason"]) == (
        "2026-08-10T14:00:00Z",
        "5",
    )
    assert evchart.check(4, rows) == []
