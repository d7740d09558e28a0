"""A NEVI quarter end to end (issue 14, "Real parts"): a 1.6 and a 2.0.1 raw-frame charger at
one NEVI station go through 2026Q3 against the in-process hub over real websockets, time moved
by the hub's clock (the OCPP bridge and the status history stamp with it): faults, a socket
closed then reconnected, a charger silent past the missed heartbeats, scheduled maintenance
declared ahead with an outage inside it, sessions that deliver energy and failed ones that
trip the no-energy detector, one exclusion by the operator. Then the operator CLI, in-process,
exports EV-ChART Modules 2, 3 and 4; every row is compared field by field with figures
computed by hand below, and every file passes ``--check``. Both engines.

The CLI reads the wall clock ("now"), so the quarter is one in the past: the hub's clock is
moved within it (and a year before it, when the chargers were commissioned).

The station NEVI-1 has three ports:

- NEVI-1-E1: CS-16 (OCPP 1.6) connector 1, commissioned 2025-06-02T12:00Z;
- NEVI-1-E2: CS-201 (OCPP 2.0.1) EVSE 1, commissioned 2025-08-15T00:00Z (its first rule's
  year ends 2026-08-15: the July window has no mu);
- NEVI-1-E3: CS-16 connector 2, which never reports (never commissioned: missing history).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from hub.domain import evchart
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
from hub.ocpp.bridge import Bridge
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
from hub.services.uptime import UptimeService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner
from tests.support.cli import cli_in_process
from tests.support.commands import boot_payload
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import RawStation, basic

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PASSWORD = "station-password-0123"
CARD = "04C1A2B3C4"
STATION = "NEVI-1"
E1, E2, E3 = "NEVI-1-E1", "NEVI-1-E2", "NEVI-1-E3"
PROVIDER = "ACME Charging"
QUARTER = "2026Q3"
MAINTENANCE_NOTE = "cable and cooling inspection"
EXCLUSION_NOTE = "PG&E feeder fault cut the site's supply"
EXCLUSION_EVIDENCE = "PGE-2026-0720-031"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def site() -> dict[str, Any]:
    location = network.linked_location(
        STATION, [("CS-16", None, 1), ("CS-201", 1, None), ("CS-16", None, 2)]
    )
    for evse in location["evses"]:
        # Imported before any charger reported: the ports' history begins at their first report.
        evse["status"] = "UNKNOWN"
    return location


async def prepare(hub: InProcessHub) -> None:
    await add_parties(hub.sessions)
    async with session_scope(hub.sessions) as session:
        tariffs = json.dumps([network.tariff("T-DC")])
        await TariffService(session).import_tariffs(parse_tariffs_json(tariffs))
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        for station_id in ("CS-16", "CS-201"):
            await StationService(session).add(station_id, PASSWORD)
    partner_id, _ = await register_partner(hub.sessions, "emsp-a", ("US", "EMA"))
    async with session_scope(hub.sessions) as session:
        await TokenService(session).put(
            partner_id,
            TokenRecord(
                key=TokenKey("US", "EMA", CARD, TokenType.RFID),
                contract_id="US-EMA-C04C1A2",
                issuer="eMSP",
                valid=True,
                whitelist=WhitelistType.ALWAYS,  # accepted at once: no eMSP is asked
                last_updated=at(2025, 1, 1),
            ),
        )


class Quarter:
    """The scripted quarter: the hub, its two chargers, and the moves of its clock."""

    def __init__(self, hub: InProcessHub) -> None:
        self.hub = hub
        self.chargers: dict[str, RawStation] = {}

    def moment(self, when: datetime) -> None:
        assert when >= self.hub.clock.now, "the script only moves forward"
        self.hub.clock.now = when

    async def connect(self, station_id: str, subprotocol: str) -> RawStation:
        """A charger booted at the clock's moment. It sends no pings, and the hub sends none
        (``ping_interval_seconds`` 0): only its messages prove it alive, so the sweeps below see
        exactly the silences the script makes."""
        socket = await connect(
            f"{self.hub.ws_url}/ocpp/{station_id}",
            subprotocols=[Subprotocol(subprotocol)],
            additional_headers=basic(station_id, PASSWORD),
            ping_interval=None,
            open_timeout=10,
        )
        station = RawStation(socket)
        answer = await station.call("BootNotification", boot_payload(subprotocol))
        assert answer[2]["status"] == "Accepted", answer
        self.chargers[station_id] = station
        return station

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> Any:
        answer = await self.chargers[station_id].call(action, payload)
        assert answer[0] == 3, answer
        return answer[2]

    async def status_16(self, connector_id: int, status: str, error: str = "NoError") -> None:
        await self.call(
            "CS-16",
            "StatusNotification",
            {"connectorId": connector_id, "errorCode": error, "status": status},
        )

    async def status_201(self, evse_id: int, status: str) -> None:
        await self.call(
            "CS-201",
            "StatusNotification",
            {
                "timestamp": z(self.hub.clock.now),
                "connectorStatus": status,
                "evseId": evse_id,
                "connectorId": evse_id and 1,  # EVSE 0 (the station itself) has connector 0
            },
        )

    async def heartbeat(self, station_id: str) -> None:
        await self.call(station_id, "Heartbeat", {})

    async def sweep(self) -> list[str]:
        """The hub's offline sweep (``hub.ocpp.bridge``), with its settings and clock."""
        bridge = Bridge(
            self.hub.sessions, self.hub.settings.ocpp, node="test", clock=self.hub.clock
        )
        return await bridge.sweep()

    async def disconnect(self, station_id: str) -> None:
        """Close the charger's socket and wait (bounded) until the hub has recorded it: the
        offline delay counts from the disconnect the hub stamps."""
        await self.chargers.pop(station_id).close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while loop.time() < deadline:
            async with session_scope(self.hub.sessions) as session:
                if (await StationService(session).get(station_id)).connected_node is None:
                    return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the hub did not record {station_id}'s disconnect")

    async def charge_16(
        self,
        start: datetime,
        end: datetime,
        meter: tuple[int, int],
        reason: str,
        readings: tuple[tuple[datetime, int, int], ...] = (),
    ) -> None:
        """A 1.6 transaction on connector 1: meter (start, stop) in Wh; ``readings``: (moment,
        Wh, W) MeterValues in between."""
        self.moment(start)
        started = await self.call(
            "CS-16",
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": meter[0], "timestamp": z(start)},
        )
        assert started["idTagInfo"]["status"] == "Accepted"
        transaction_id = started["transactionId"]
        for moment, wh, watts in readings:
            self.moment(moment)
            await self.call(
                "CS-16",
                "MeterValues",
                {
                    "connectorId": 1,
                    "transactionId": transaction_id,
                    "meterValue": [sample_16(moment, wh, watts)],
                },
            )
        self.moment(end)
        await self.call(
            "CS-16",
            "StopTransaction",
            {
                "transactionId": transaction_id,
                "meterStop": meter[1],
                "timestamp": z(end),
                "reason": reason,
            },
        )

    async def charge_201(
        self,
        transaction_id: str,
        start: datetime,
        end: datetime,
        meter: tuple[int, int],
        reason: str,
        reading: tuple[datetime, int, int],
    ) -> None:
        """A 2.0.1 transaction on EVSE 1: Started (with the card), one Updated (moment, Wh, W),
        Ended."""
        card = {"idToken": CARD, "type": "ISO14443"}
        self.moment(start)
        answer = await self.call(
            "CS-201",
            "TransactionEvent",
            event_201(
                "Started",
                0,
                transaction_id,
                start,
                meter[0],
                idToken=card,
                evse={"id": 1, "connectorId": 1},
            ),
        )
        assert answer["idTokenInfo"]["status"] == "Accepted"
        moment, wh, watts = reading
        self.moment(moment)
        await self.call(
            "CS-201",
            "TransactionEvent",
            event_201("Updated", 1, transaction_id, moment, wh, watts=watts),
        )
        self.moment(end)
        await self.call(
            "CS-201",
            "TransactionEvent",
            event_201("Ended", 2, transaction_id, end, meter[1], info={"stoppedReason": reason}),
        )

    async def close(self) -> None:
        for station in self.chargers.values():
            await station.close()


def sample_16(moment: datetime, wh: int, watts: int) -> dict[str, Any]:
    return {
        "timestamp": z(moment),
        "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(watts), "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }


def event_201(
    event_type: str,
    seq_no: int,
    transaction_id: str,
    moment: datetime,
    wh: int,
    *,
    watts: int | None = None,
    info: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    sampled: list[dict[str, Any]] = [
        {"value": wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}}
    ]
    if watts is not None:
        sampled.append(
            {"value": watts, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}}
        )
    return {
        "eventType": event_type,
        "timestamp": z(moment),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": transaction_id, **(info or {})},
        "meterValue": [{"timestamp": z(moment), "sampledValue": sampled}],
        **extra,
    }


async def ledger_outages(hub: InProcessHub) -> list[Any]:
    """The ledger rebuilt as of the hub's clock, as an operator looking during the quarter
    would see it."""
    async with session_scope(hub.sessions) as session:
        return await UptimeService(session, clock=hub.clock).outages(stations=[STATION])


async def script(database_url: str) -> dict[str, Any]:
    """Runs the quarter; returns what the exports are checked against that the hub chose (the
    session ids, the maintenance window's id, the id of the offline outage seen while it ran)."""
    async with running_hub(
        database_url, sweep_interval_seconds=3600, ping_interval_seconds=0
    ) as hub:
        await prepare(hub)
        q = Quarter(hub)
        try:
            return await _run(q)
        finally:
            await q.close()


async def _run(q: Quarter) -> dict[str, Any]:
    hub = q.hub
    # Commissioning, a year before the quarter: each port's history begins at its first report.
    hub.clock.now = at(2025, 6, 2, 12)  # the hub started at the clock's default, later
    await q.connect("CS-16", "ocpp1.6")
    await q.status_16(1, "Available")  # E1 commissioned; connector 2 (E3) never reports
    q.moment(at(2025, 8, 15))
    await q.connect("CS-201", "ocpp2.0.1")
    await q.status_201(1, "Available")  # E2 commissioned

    # E1 faulted across the quarter's start: 2026-06-30 22:00 - 2026-07-01 01:30.
    q.moment(at(2026, 6, 30, 22))
    await q.status_16(1, "Faulted", "GroundFailure")
    q.moment(at(2026, 7, 1, 1, 30))
    await q.status_16(1, "Available")

    # S1 at E1: 52.5 kWh, peak 150 kW.
    await q.charge_16(
        at(2026, 7, 10, 8), at(2026, 7, 10, 8, 45), (120_000, 172_500), "EVDisconnected",
        ((at(2026, 7, 10, 8, 15), 150_000, 150_000), (at(2026, 7, 10, 8, 30), 165_500, 72_400)),
    )  # fmt: skip

    # E2 faulted 2026-07-15 03:00 - 07:45.
    q.moment(at(2026, 7, 15, 3))
    await q.status_201(1, "Faulted")
    q.moment(at(2026, 7, 15, 7, 45))
    await q.status_201(1, "Available")

    # CS-16's socket closes at 14:00. The hub marks it offline once it has been gone for
    # offline_after_seconds (120 s): its ports are UNKNOWN from the sweep at 14:02, the instant
    # the status history records (README "NEVI uptime"). CS-201 is heard from just before, so
    # only CS-16 is swept.
    q.moment(at(2026, 7, 20, 14))
    await q.disconnect("CS-16")
    q.moment(at(2026, 7, 20, 14, 2))
    await q.heartbeat("CS-201")
    assert await q.sweep() == ["CS-16"]
    # An operator looks while it goes on: the running outage is stored with no end yet.
    q.moment(at(2026, 7, 20, 14, 30))
    running = [o for o in await ledger_outages(hub) if o.end is None]
    assert [(o.port_id, o.start, o.cause.value) for o in running] == [
        (E1, at(2026, 7, 20, 14, 2), "STATION_OFFLINE")
    ]
    # Back at 17:32: connecting is enough (its connector statuses are restored, reason online).
    q.moment(at(2026, 7, 20, 17, 32))
    await q.connect("CS-16", "ocpp1.6")

    # T1 at E2: 10,000 -> 48,760 Wh = 38.76 kWh, peak 181.3 kW.
    await q.charge_201(
        "TX-T1", at(2026, 7, 25, 13), at(2026, 7, 25, 13, 50), (10_000, 48_760), "EVDisconnected",
        (at(2026, 7, 25, 13, 20), 35_250, 181_300),
    )  # fmt: skip

    # Three failed charges at E1 (each under 1 kWh), then one that delivers: the no-energy
    # detector (3 sessions, 1 kWh) marks E1 out from the first one's start to the good one's.
    await q.charge_16(
        at(2026, 8, 12, 10), at(2026, 8, 12, 10, 3), (172_500, 172_500), "EVDisconnected"
    )
    await q.charge_16(at(2026, 8, 12, 11), at(2026, 8, 12, 11, 2), (172_500, 172_900), "PowerLoss")
    await q.charge_16(
        at(2026, 8, 12, 12), at(2026, 8, 12, 12, 5), (172_900, 173_150), "EmergencyStop",
        ((at(2026, 8, 12, 12, 1), 173_000, 3_200),),
    )  # fmt: skip
    await q.charge_16(
        at(2026, 8, 12, 15, 30), at(2026, 8, 12, 16, 10), (173_150, 213_150), "EVDisconnected",
        ((at(2026, 8, 12, 15, 50), 190_000, 98_765),),
    )  # fmt: skip

    # Maintenance declared ahead (on 2026-08-20) for the whole station, 2026-09-02 06:00-10:00.
    # The CLI would refuse it (its "now" is the wall clock, after the quarter): the service
    # with the hub's clock is the same declaration made at that moment.
    q.moment(at(2026, 8, 20, 9))
    async with session_scope(hub.sessions) as session:
        window = await UptimeService(session, clock=hub.clock).add_maintenance(
            station=STATION,
            port=None,
            starts_at=at(2026, 9, 2, 6),
            ends_at=at(2026, 9, 2, 10),
            note=MAINTENANCE_NOTE,
            by="ops-planner",
        )
        window_id = window.id
    # The technician takes CS-201 out of service (station level) at 06:30, back at 10:20.
    q.moment(at(2026, 9, 2, 6, 30))
    await q.status_201(0, "Unavailable")
    q.moment(at(2026, 9, 2, 10, 20))
    await q.status_201(0, "Available")

    # CS-201 keeps its socket but falls silent after 20:00: after 3 missed heartbeats (3 x
    # 300 s) the sweep at 20:15 marks it offline; its next message (21:05) brings it back.
    q.moment(at(2026, 9, 10, 20))
    await q.heartbeat("CS-201")
    await q.heartbeat("CS-16")
    q.moment(at(2026, 9, 10, 20, 15))
    await q.heartbeat("CS-16")
    assert await q.sweep() == ["CS-201"]
    q.moment(at(2026, 9, 10, 21, 5))
    await q.heartbeat("CS-201")

    # T2 at E2: stopped by a ground fault after 6.5 kWh (a failed session, but it delivered
    # energy: not a no-energy attempt; 1.6 has no GroundFault stop reason, 2.0.1 has).
    await q.charge_201(
        "TX-T2", at(2026, 9, 20, 7), at(2026, 9, 20, 7, 25), (48_760, 55_260), "GroundFault",
        (at(2026, 9, 20, 7, 10), 52_000, 60_000),
    )  # fmt: skip

    # E2 faulted across the quarter's end: 2026-09-30 23:00 - 2026-10-01 01:00.
    q.moment(at(2026, 9, 30, 23))
    await q.status_201(1, "Faulted")
    q.moment(at(2026, 10, 1, 1))
    await q.status_201(1, "Available")

    async with session_scope(hub.sessions) as session:
        rows = await session.execute(
            select(ChargingSession).order_by(col(ChargingSession.start_date_time))
        )
        ids = {row.start_date_time: row.session_id for row in rows.scalars()}
    return {"sessions": ids, "maintenance": window_id, "offline": running[0].outage_id}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def session_row(
    session_id: str,
    port: str,
    charger: str,
    start: datetime,
    end: datetime,
    error: str,
    kwh: str,
    kw: str,
) -> dict[str, str]:
    return {
        "station_id": STATION,
        "network_provider": PROVIDER,
        "port_id": port,
        "charger_id": charger,
        "session_id": session_id,
        "connector_id": "1",
        "session_start": z(start),
        "session_end": z(end),
        "session_error": error,
        "error_other": "",
        "energy_kwh": kwh,
        "power_kw": kw,
        "payment_method": "RFID_ROAMING",  # an RFID card of a roaming partner
        "payment_other": "",
    }


def uptime_row(port: str, end: datetime, uptime: str, outage: str, excluded: str) -> dict:
    start = end.replace(year=end.year - 1)  # the rule's year: the twelve months before
    return {
        "station_id": STATION,
        "network_provider": PROVIDER,
        "port_id": port,
        "uptime_reporting_start": z(start),
        "uptime_reporting_end": z(end),
        "uptime": uptime,
        "total_outage": outage,
        "total_outage_excl": excluded,
    }


def outage_row(port: str, start: datetime, minutes: str, reason: str = "", notes: str = "") -> dict:
    return {
        "station_id": STATION,
        "network_provider": PROVIDER,
        "port_id": port,
        "outage_id": z(start),
        "outage_duration": minutes,
        "excluded_outage": "true" if reason else "false",
        "excluded_outage_reason": reason,
        "excluded_outage_notes": notes,
    }


def empty(module: int, port: str) -> dict[str, str]:
    return {
        **dict.fromkeys(evchart.module(module).names, ""),
        "station_id": STATION,
        "network_provider": PROVIDER,
        "port_id": port,
    }


def test_a_scripted_quarter_exports_as_computed_by_hand(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    facts = asyncio.run(script(database_url))
    for name in ("HUB_NEVI__NETWORK_PROVIDER", "HUB_NEVI__VOCABULARY_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HUB_UPTIME__NO_ENERGY_SESSIONS", "HUB_UPTIME__NO_ENERGY_KWH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HUB_UPTIME__HISTORY_SINCE", raising=False)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as hub:
        check_quarter(hub, facts, tmp_path)


def check_quarter(hub: Callable[..., Any], facts: dict[str, Any], tmp_path: Path) -> None:
    def as_json(*args: str) -> Any:
        return json.loads(hub(*args, "--json").stdout)

    hub("locations", "nevi", STATION, "--network-provider", PROVIDER,
        "--operational-date", "2025-06-02", "--funding", "NEVI")  # fmt: skip

    # The operator excludes the first 180 of the offline outage's 210 minutes (the utility's
    # interruption; the last half hour the charger took to come back is the operator's).
    listed = as_json("outages", "list", "--station", STATION)
    offline = next(o for o in listed if o["cause"] == "STATION_OFFLINE" and o["port_id"] == E1)
    assert offline["id"] == facts["offline"]  # the id it had while it ran
    assert (offline["start"], offline["end"]) == ("2026-07-20T14:02:00Z", "2026-07-20T17:32:00Z")
    excluded = as_json(
        "outages", "exclude", str(offline["id"]), "--reason", "1", "--note", EXCLUSION_NOTE,
        "--evidence", EXCLUSION_EVIDENCE, "--minutes", "180", "--by", "ops-alice",
    )  # fmt: skip
    assert (excluded["minutes"], excluded["excluded_minutes"]) == ("210.00", "180.00")

    outputs = {}
    for module in (2, 3, 4):
        out = tmp_path / f"module{module}.csv"
        record = as_json(
            "reports", "evchart", "--module", str(module), "--quarter", QUARTER, "--out", str(out)
        )
        assert record["rows"] == len(read_csv(out))
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        assert record["sha256"] == digest
        assert (tmp_path / f"module{module}.csv.sha256").read_text() == f"{digest}  {out.name}\n"
        outputs[module] = (out, record["notes"])

    # --- Module 2: every session started in the quarter, in start order ----------------------
    s = facts["sessions"]
    out, notes = outputs[2]
    assert read_csv(out) == [
        # S1: (172,500 - 120,000) Wh = 52.50 kWh; peak of the readings 150,000 and 72,400 W.
        session_row(s[at(2026, 7, 10, 8)], E1, "CS-16", at(2026, 7, 10, 8),
                    at(2026, 7, 10, 8, 45), "none", "52.50", "150.00"),
        # T1: (48,760 - 10,000) Wh = 38.76 kWh; its one power reading 181,300 W.
        session_row(s[at(2026, 7, 25, 13)], E2, "CS-201", at(2026, 7, 25, 13),
                    at(2026, 7, 25, 13, 50), "none", "38.76", "181.30"),
        # S2: no energy at all; no power reading, so the average power 0 kWh / 3 min = 0.
        session_row(s[at(2026, 8, 12, 10)], E1, "CS-16", at(2026, 8, 12, 10),
                    at(2026, 8, 12, 10, 3), "NO_ENERGY_DELIVERED", "0.00", "0.00"),
        # S3: 400 Wh = 0.40 kWh, stopped PowerLoss (no ChargeX code: written as ours); no
        # power reading: the average 0.40 kWh / (2/60 h) = 12.00 kW.
        session_row(s[at(2026, 8, 12, 11)], E1, "CS-16", at(2026, 8, 12, 11),
                    at(2026, 8, 12, 11, 2), "PowerLoss", "0.40", "12.00"),
        # S4: 250 Wh = 0.25 kWh, stopped EmergencyStop; one reading of 3,200 W.
        session_row(s[at(2026, 8, 12, 12)], E1, "CS-16", at(2026, 8, 12, 12),
                    at(2026, 8, 12, 12, 5), "EmergencyStop", "0.25", "3.20"),
        # S5: 40,000 Wh = 40.00 kWh; 98,765 W = 98.765 kW, rounded half-up to 98.77.
        session_row(s[at(2026, 8, 12, 15, 30)], E1, "CS-16", at(2026, 8, 12, 15, 30),
                    at(2026, 8, 12, 16, 10), "none", "40.00", "98.77"),
        # T2: 6,500 Wh = 6.50 kWh, stopped GroundFault: ChargeX CX002; 60,000 W.
        session_row(s[at(2026, 9, 20, 7)], E2, "CS-201", at(2026, 9, 20, 7),
                    at(2026, 9, 20, 7, 25), "CX002", "6.50", "60.00"),
        # E3 never charged: the "no sessions this period" row.
        empty(2, E3),
    ]  # fmt: skip
    assert notes == [
        "2 session(s) had no power readings: their power_kw is the session's average power "
        "(energy / duration), a floor of the peak"
    ]

    # --- Module 3: per port, the rule's year ending at each month's end ----------------------
    # E1's outages (commissioned 2025-06-02, so every window counts whole):
    #   faulted 2026-06-30 22:00 - 07-01 01:30             210 min
    #   offline 2026-07-20 14:02 - 17:32                   210 min, 180 excluded (reason 1)
    #   no energy 2026-08-12 10:00 - 15:30 (S2 to S5)      330 min
    # E2's (commissioned 2025-08-15):
    #   faulted 2026-07-15 03:00 - 07:45                   285 min
    #   inoperative 2026-09-02 06:30 - 10:20               230 min, of which 06:30 - 10:00
    #     inside the maintenance window: 210 excluded (reason 3)
    #   offline 2026-09-10 20:15 - 21:05                    50 min
    #   faulted 2026-09-30 23:00 - 10-01 01:00             120 min, 60 before 2026-10-01
    # mu = (525,600 - (T_outage - T_excluded)) / 525,600 x 100, half-up to 2 decimals.
    out, notes = outputs[3]
    assert read_csv(out) == [
        # to 2026-08-01: 210 + 210 = 420, 180 excluded; (525,600 - 240) / 525,600 = 99.9543..
        uptime_row(E1, at(2026, 8, 1), "99.95", "420.00", "180.00"),
        # to 2026-09-01: 420 + 330 = 750, 180 excluded; (525,600 - 570) / 525,600 = 99.8915..
        uptime_row(E1, at(2026, 9, 1), "99.89", "750.00", "180.00"),
        # to 2026-10-01: nothing more at E1.
        uptime_row(E1, at(2026, 10, 1), "99.89", "750.00", "180.00"),
        # to 2026-08-01: E2's first year (commissioned after 2025-08-01): no mu; 285 minutes.
        uptime_row(E2, at(2026, 8, 1), "", "285.00", "0.00"),
        # to 2026-09-01: (525,600 - 285) / 525,600 = 99.9457..
        uptime_row(E2, at(2026, 9, 1), "99.95", "285.00", "0.00"),
        # to 2026-10-01: 285 + 230 + 50 + 60 = 625, 210 excluded;
        # (525,600 - 415) / 525,600 = 99.9210..
        uptime_row(E2, at(2026, 10, 1), "99.92", "625.00", "210.00"),
        # E3 never reported: no mu and no minutes, said in the notes (never a silent 100%).
        uptime_row(E3, at(2026, 8, 1), "", "0.00", "0.00"),
        uptime_row(E3, at(2026, 9, 1), "", "0.00", "0.00"),
        uptime_row(E3, at(2026, 10, 1), "", "0.00", "0.00"),
    ]
    assert notes == [
        f"port {E3}: the history does not cover the whole window {z(end.replace(year=2025))} - "
        f"{z(end)}"
        for end in (at(2026, 8, 1), at(2026, 9, 1), at(2026, 10, 1))
    ]

    # --- Module 4: each outage of the quarter, cut to it --------------------------------------
    declared = "2026-08-20T09:00:00+00:00"
    out, notes = outputs[4]
    assert read_csv(out) == [
        # E1's fault began in Q2: its Q3 part is keyed by the quarter's start, 00:00 - 01:30.
        outage_row(E1, at(2026, 7, 1), "90.00"),
        outage_row(E1, at(2026, 7, 20, 14, 2), "210.00", "1",
                   f"{EXCLUSION_NOTE} (evidence: {EXCLUSION_EVIDENCE})"),
        outage_row(E1, at(2026, 8, 12, 10), "330.00"),
        outage_row(E2, at(2026, 7, 15, 3), "285.00"),
        outage_row(E2, at(2026, 9, 2, 6, 30), "230.00", "3",
                   f"{MAINTENANCE_NOTE} (evidence: maintenance window {facts['maintenance']} "
                   f"declared {declared})"),
        outage_row(E2, at(2026, 9, 10, 20, 15), "50.00"),
        # The fault crossing the quarter's end: 23:00 - 24:00 in Q3.
        outage_row(E2, at(2026, 9, 30, 23), "60.00"),
        empty(4, E3),
    ]  # fmt: skip
    assert notes == []

    # Every file passes our EV-ChART validator.
    for module, (out, _) in outputs.items():
        checked = hub("reports", "evchart", "--check", str(out))
        assert checked.stdout.strip() == f"{out}: Module {module}, no problems"
