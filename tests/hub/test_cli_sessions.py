"""``hub sessions list|show|unassigned|review|release|invalidate`` and ``hub cdrs
list|show|credit`` in-process against real migrated databases (both engines).

The sessions are made by the real SessionService from OCPP-shaped meter values at the site of
the end-to-end test (priced at 0.48 USD/kWh), so their energy, cost and CDRs are the hub's own.
The credit test delivers the CDRs to an eMSP peer on 127.0.0.1 with the real push worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlmodel import col, select

from hub.cli import common
from hub.cli.main import COMMAND_GROUPS
from hub.config import PushSettings
from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenType
from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import ChargeDetailRecord, ChargingSession, PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.push import PushWorker
from hub.services.locations import LocationService
from hub.services.sessions import MeterMessage, SessionService, TransactionStart
from hub.services.tariffs import TariffService
from ocpi.v221 import models as v221
from tests.e2e.test_sessions_cdrs import A, B, site
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.hub.test_cli_imports import HEAVY, NOT_FOR_A_QUERY, imported_by
from tests.support.cli import arrange, cli_in_process
from tests.support.emsp import EmspPeer
from tests.support.emsp_authorize import register_emsp
from tests.support.servers import asgi_server

pytestmark = pytest.mark.db

# In the past, so that what the CLI makes now (at the real time) is always newer.
DAY = datetime(2024, 11, 24, tzinfo=UTC)
SESSION_KEYS = {
    "session_id", "transaction_id", "cpo", "station", "ocpp_version", "location_id", "evse_uid",
    "connector_id", "status", "start_date_time", "end_date_time", "kwh", "max_power_kw",
    "currency", "total_cost_excl_vat", "total_cost_incl_vat", "tariff_id", "partner",
    "token_party", "token_uid", "token_type", "contract_id", "auth_method", "held_for_review",
    "problems", "stop_reason", "close_reason", "session_error", "cdr_made", "last_updated",
}  # fmt: skip
CDR_KEYS = {
    "cdr_id", "cpo", "session_id", "partner", "token_party", "credit", "credit_reference_id",
    "start_date_time", "end_date_time", "total_energy", "currency", "total_cost_excl_vat",
    "total_cost_incl_vat", "remark", "created_at", "delivered_at", "location_url",
}  # fmt: skip
HOLD = "meter jumped 8 kWh in one minute"


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY.replace(day=DAY.day + day, hour=hour, minute=minute)


def energy(moment: datetime, kwh: str, *, v201: bool = False) -> dict[str, Any]:
    stamp = moment.isoformat().replace("+00:00", "Z")
    if v201:
        sample = {
            "value": float(kwh),
            "measurand": "Energy.Active.Import.Register",
            "unit_of_measure": {"unit": "kWh"},
        }
    else:
        sample = {
            "value": str(int(Decimal(kwh) * 1000)),
            "measurand": "Energy.Active.Import.Register",
            "unit": "Wh",
        }
    return {"timestamp": stamp, "sampled_value": [sample]}


def token(uid: str, party: tuple[str, str] | None, partner_id: int | None) -> SessionToken:
    return SessionToken(
        uid=uid,
        token_type=TokenType.RFID,
        accepted=True,
        auth_method="WHITELIST",
        presented_type="ISO14443",
        country_code=party[0] if party else None,
        party_id=party[1] if party else None,
        contract_id=f"{party[0]}-{party[1]}-C{uid[:6]}" if party else None,
        partner_id=partner_id,
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def seed(database_url: str, emsp_a_url: str = "http://127.0.0.1:9/emsp-a") -> dict[str, Any]:
    """Four sessions (newest last):

    - ``done``: A's driver at CS-16, 20 kWh, ended: one CDR of 9.60 USD;
    - ``held``: A's driver at CS-16, 10 kWh, ended while held for review: no CDR;
    - ``live``: B's driver at CS-201 (2.0.1, TX-LIVE), 12.5 kWh so far: 6.00 USD running;
    - ``stranger``: a card no partner owns at CS-201 (TX-STRANGER), running.
    """

    async def work() -> dict[str, Any]:
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            await add_parties(sessions)
            async with session_scope(sessions) as session:
                tariffs = json.dumps([network.tariff("T-DC", price="0.48")])
                await TariffService(session).import_tariffs(parse_tariffs_json(tariffs))
                await LocationService(session).import_locations(
                    parse_locations_json(json.dumps([site()]))
                )
            partners = {}
            for name, party, base in (
                ("emsp-a", A, emsp_a_url),
                ("emsp-b", B, "http://127.0.0.1:9/emsp-b"),
            ):
                receivers = {"sessions": f"{base}/sessions", "cdrs": f"{base}/cdrs"}
                partners[name] = await register_emsp(
                    sessions, name, party, None, receivers=receivers
                )
            clock = Clock(at(10))
            ids: dict[str, Any] = {"partners": partners}
            async with session_scope(sessions) as session:
                service = SessionService(session, codec=OcpiTariffCodec(), clock=clock)

                async def charge(
                    station: str,
                    started: datetime,
                    who: SessionToken,
                    readings: list[tuple[datetime, str]],
                    **where: Any,
                ) -> ChargingSession:
                    v201 = station == "CS-201"
                    clock.now = started
                    row = await service.start(
                        TransactionStart(
                            station_id=station,
                            ocpp_version="2.0.1" if v201 else "1.6",
                            started_at=started,
                            token=who,
                            **where,
                        )
                    )
                    for moment, kwh in readings:
                        clock.now = moment
                        await service.record(
                            row,
                            MeterMessage("MeterValues", moment, [energy(moment, kwh, v201=v201)]),
                        )
                    return row

                a = token("04A1B2C3D4", A, partners["emsp-a"])
                done = await charge(
                    "CS-16",
                    at(10),
                    a,
                    [(at(10, 10), "11")],
                    ocpp_connector_id=1,
                    meter_start_kwh=Decimal(1),
                )
                clock.now = at(10, 20)
                cdr = await service.end(done, at=at(10, 20), meter_stop_kwh=Decimal(21))
                assert cdr is not None
                ids["done"] = (done.session_id, done.transaction_id, cdr.cdr_id)

                held = await charge(
                    "CS-16",
                    at(12),
                    a,
                    [(at(12, 30), "8")],
                    ocpp_connector_id=2,
                    meter_start_kwh=Decimal(0),
                )
                held.held_for_review = True
                clock.now = at(13)
                assert await service.end(held, at=at(13), meter_stop_kwh=Decimal(10)) is None
                held.problems = [HOLD]
                ids["held"] = (held.session_id, held.transaction_id)

                live = await charge(
                    "CS-201",
                    at(9, day=1),
                    token("04B1B2C3D4", B, partners["emsp-b"]),
                    [(at(9, day=1), "5"), (at(9, 30, day=1), "17.5")],
                    transaction_id="TX-LIVE",
                    ocpp_evse_id=1,
                )
                ids["live"] = (live.session_id, live.transaction_id)

                stranger = await charge(
                    "CS-201",
                    at(8, day=2),
                    token("0DDC0FFEE0", None, None),
                    [],
                    transaction_id="TX-STRANGER",
                    ocpp_evse_id=2,
                )
                ids["stranger"] = (stranger.session_id, stranger.transaction_id)
            return ids
        finally:
            await dispose_engine(engine)

    return asyncio.run(work())


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as a wide terminal shows them (at 80 columns the 32-character ids are folded
    onto two lines, which the assertions on whole rows below would not find)."""
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setattr(common, "console", Console())


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict]]:
    ids = seed(database_url)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke, ids


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def jobs(database_url: str, kind: str) -> list[PushJob]:
    async def work(session: Any) -> list[PushJob]:
        result = await session.execute(
            select(PushJob).where(col(PushJob.kind) == kind).order_by(col(PushJob.id))
        )
        return list(result.scalars())

    return arrange(database_url, work)


def stored_cdrs(database_url: str) -> dict[str, ChargeDetailRecord]:
    async def work(session: Any) -> dict[str, ChargeDetailRecord]:
        rows = (await session.execute(select(ChargeDetailRecord))).scalars().all()
        return {row.cdr_id: row for row in rows}

    return arrange(database_url, work)


def test_list_is_newest_first_with_live_energy_and_cost_and_filters(world):
    hub, ids = world
    everything = as_json(hub("sessions", "list", "--json"))
    order = ["stranger", "live", "held", "done"]
    assert [s["session_id"] for s in everything] == [ids[name][0] for name in order]
    assert set(everything[0]) == SESSION_KEYS
    live = everything[1]
    assert (live["status"], live["kwh"], live["total_cost_excl_vat"]) == ("ACTIVE", "12.5", "6.00")
    assert (live["partner"], live["token_party"], live["transaction_id"]) == (
        "emsp-b",
        "US*EMB",
        "TX-LIVE",
    )
    done = everything[3]
    assert (done["status"], done["kwh"], done["total_cost_excl_vat"], done["cdr_made"]) == (
        "COMPLETED",
        "20",
        "9.60",
        True,
    )

    def listed(*args: str) -> list[str]:
        return [s["session_id"] for s in as_json(hub("sessions", "list", *args, "--json"))]

    assert listed("--partner", "emsp-a") == [ids["held"][0], ids["done"][0]]
    assert listed("--station", "CS-201") == [ids["stranger"][0], ids["live"][0]]
    assert listed("--since", "2024-11-25") == [ids["stranger"][0], ids["live"][0]]
    # A bare --until date includes that day.
    assert listed("--until", "2024-11-24") == [ids["held"][0], ids["done"][0]]
    assert listed("--since", "2024-11-24T11:00:00Z", "--until", "2024-11-25T09:00:00") == [
        ids["held"][0]
    ]
    assert listed("--limit", "1") == [ids["stranger"][0]]
    table = " ".join(hub("sessions", "list", "--station", "CS-201").stdout.split())
    assert "12.5" in table
    assert "6.00 USD" in table
    assert "emsp-b" in table
    assert "2 of 2" in table
    assert "--limit shows more" in " ".join(hub("sessions", "list", "--limit", "2").stdout.split())

    unknown = hub("sessions", "list", "--partner", "nobody", expect=1)
    assert unknown.stderr.startswith("error: no partner named 'nobody'")
    bad_date = hub("sessions", "list", "--since", "yesterday", expect=2)
    assert "--since" in bad_date.output


def test_show_by_session_id_and_transaction_id(world):
    hub, ids = world
    session_id, transaction_id, cdr_id = ids["done"]
    by_session = as_json(hub("sessions", "show", session_id, "--json"))
    by_transaction = as_json(hub("sessions", "show", transaction_id, "--json"))
    assert by_session == by_transaction
    assert set(by_session) == SESSION_KEYS | {"cdrs"}
    (cdr,) = by_session["cdrs"]
    assert set(cdr) == CDR_KEYS
    assert (cdr["cdr_id"], cdr["total_energy"], cdr["total_cost_excl_vat"], cdr["credit"]) == (
        cdr_id,
        "20",
        "9.60",
        False,
    )
    live = as_json(hub("sessions", "show", "TX-LIVE", "--json"))
    assert (live["kwh"], live["total_cost_excl_vat"], live["cdrs"]) == ("12.5", "6.00", [])
    table = " ".join(hub("sessions", "show", "TX-LIVE").stdout.split())
    assert "6.00 USD" in table
    assert "No CDR." in table
    assert cdr_id in hub("sessions", "show", session_id).stdout

    missing = hub("sessions", "show", "NOPE", expect=1)
    assert missing.stderr.startswith("error: no session with session id or transaction id 'NOPE'")
    assert "Traceback" not in missing.output


def test_unassigned_lists_the_sessions_no_partner_owns(world):
    hub, ids = world
    (stranger,) = as_json(hub("sessions", "unassigned", "--json"))
    assert stranger["session_id"] == ids["stranger"][0]
    assert (stranger["partner"], stranger["token_uid"]) == (None, "0DDC0FFEE0")
    assert as_json(hub("sessions", "unassigned", "--station", "CS-16", "--json")) == []
    assert "0DDC0FFEE0" in hub("sessions", "unassigned").stdout


def test_review_then_release_makes_the_cdr_and_queues_it(world, database_url):
    hub, ids = world
    session_id, transaction_id = ids["held"]
    (held,) = as_json(hub("sessions", "review", "--json"))
    assert (held["session_id"], held["problems"], held["cdr_made"]) == (session_id, [HOLD], False)
    assert HOLD in " ".join(hub("sessions", "review").stdout.split())
    assert as_json(hub("sessions", "review", "--partner", "emsp-b", "--json")) == []
    assert jobs(database_url, "CDR_POST")[-1].target["cdr_id"] != session_id

    released = as_json(
        hub("sessions", "release", transaction_id, "--reason", "meter checked on site", "--json")
    )
    session, cdr = released["session"], released["cdr"]
    assert session["held_for_review"] is False
    assert session["problems"] == [HOLD, "released by operator: meter checked on site"]
    assert (cdr["cdr_id"], cdr["total_energy"], cdr["total_cost_excl_vat"]) == (
        session_id,
        "10",
        "4.80",
    )
    (job,) = [j for j in jobs(database_url, "CDR_POST") if j.target["cdr_id"] == session_id]
    assert job.partner_id == ids["partners"]["emsp-a"]
    assert job.queue_key == f"sessions/US/HPC/{session_id}"
    assert job.state == "PENDING"
    # The session again, whole, queued before its CDR on the same queue.
    puts = [j for j in jobs(database_url, "SESSION_PUT") if j.queue_key == job.queue_key]
    assert puts[-1].id < job.id
    assert as_json(hub("sessions", "review", "--json")) == []
    assert (
        as_json(hub("sessions", "show", session_id, "--json"))["cdrs"][0]["cdr_id"] == cdr["cdr_id"]
    )

    again = hub("sessions", "release", session_id, "--reason", "twice", expect=1)
    assert again.stderr.startswith(f"error: session {session_id} is not held for review")
    unknown = hub("sessions", "release", "NOPE", "--reason", "x", expect=1)
    assert "no session with session id or transaction id 'NOPE'" in unknown.stderr
    assert hub("sessions", "release", session_id, "--reason", " ", expect=2)


def test_release_in_words(world):
    hub, ids = world
    out = " ".join(hub("sessions", "release", ids["held"][0], "--reason", "ok").stdout.split())
    assert f"Session {ids['held'][0]} is released." in out
    assert "4.80 USD" in out
    assert "queued for emsp-a" in out


def test_invalidate_never_bills_and_refuses_a_billed_session(world, database_url):
    hub, ids = world
    session_id, _ = ids["live"]
    record = as_json(hub("sessions", "invalidate", "TX-LIVE", "--reason", "test car", "--json"))
    assert (record["status"], record["problems"][-1]) == (
        "INVALID",
        "invalidated by operator: test car",
    )
    put = jobs(database_url, "SESSION_PUT")[-1]
    assert (put.partner_id, put.target["session_id"]) == (ids["partners"]["emsp-b"], session_id)

    # The charger's end, when it comes, bills nothing.
    async def end(session: Any) -> ChargeDetailRecord | None:
        service = SessionService(session, codec=OcpiTariffCodec())
        row = await service.transaction("CS-201", "TX-LIVE")
        return await service.end(row, at=at(10, day=1), meter_stop_kwh=Decimal(30))

    assert arrange(database_url, end) is None
    shown = as_json(hub("sessions", "show", session_id, "--json"))
    assert (shown["status"], shown["cdrs"]) == ("INVALID", [])

    again = hub("sessions", "invalidate", session_id, "--reason", "x", expect=1)
    assert again.stderr.startswith(f"error: session {session_id} is INVALID already")
    done_id, _, cdr_id = ids["done"]
    billed = hub("sessions", "invalidate", done_id, "--reason", "x", expect=1)
    assert f"has CDR {cdr_id}" in billed.stderr
    assert f"hub cdrs credit {cdr_id}" in " ".join(billed.stderr.split())
    assert as_json(hub("sessions", "show", done_id, "--json"))["status"] == "COMPLETED"
    assert hub("sessions", "invalidate", "NOPE", "--reason", "x", expect=1).stderr.startswith(
        "error: no session"
    )


def test_cdrs_list_and_show(world):
    hub, ids = world
    hub("sessions", "release", ids["held"][0], "--reason", "ok")
    listed = as_json(hub("cdrs", "list", "--json"))
    assert [c["cdr_id"] for c in listed] == [ids["held"][0], ids["done"][2]]
    assert set(listed[0]) == CDR_KEYS
    assert as_json(hub("cdrs", "list", "--partner", "emsp-b", "--json")) == []
    assert as_json(hub("cdrs", "list", "--station", "CS-201", "--json")) == []
    assert len(as_json(hub("cdrs", "list", "--station", "CS-16", "--json"))) == 2
    # The seeded CDR was made in 2024; the released one now.
    old = as_json(hub("cdrs", "list", "--until", "2024-11-24", "--json"))
    assert [c["cdr_id"] for c in old] == [ids["done"][2]]
    assert [c["cdr_id"] for c in as_json(hub("cdrs", "list", "--limit", "1", "--json"))] == [
        ids["held"][0]
    ]
    table = " ".join(hub("cdrs", "list").stdout.split())
    assert "9.60 USD" in table
    assert "4.80 USD" in table

    shown = as_json(hub("cdrs", "show", ids["done"][2], "--json"))
    assert set(shown) == CDR_KEYS | {"credited_by", "cdr"}
    assert (shown["session_id"], shown["credited_by"], shown["partner"]) == (
        ids["done"][0],
        None,
        "emsp-a",
    )
    v221.CDR.model_validate(shown["cdr"])
    assert "total_energy_cost" in hub("cdrs", "show", ids["done"][2]).stdout
    missing = hub("cdrs", "show", "NOPE", expect=1)
    assert missing.stderr.startswith("error: no CDR with id 'NOPE'")


def _negative(price: dict[str, Any]) -> dict[str, Decimal]:
    return {k: -Decimal(str(v)) for k, v in price.items()}


def test_credit_negates_every_cost_and_is_made_once(world, database_url):
    hub, ids = world
    _, _, cdr_id = ids["done"]
    before = stored_cdrs(database_url)[cdr_id]
    result = as_json(hub("cdrs", "credit", cdr_id, "--reason", "tariff misconfigured", "--json"))
    assert set(result) == {"original", "credit", "corrected", "queued"}
    assert (result["queued"], result["corrected"]) == (1, None)
    credit = result["credit"]
    assert (credit["cdr_id"], credit["credit"], credit["credit_reference_id"]) == (
        f"{cdr_id}-C",
        True,
        cdr_id,
    )
    assert (credit["total_cost_excl_vat"], credit["total_energy"], credit["remark"]) == (
        "-9.60",
        "20",
        "tariff misconfigured",
    )
    stored = stored_cdrs(database_url)
    original, row = stored[cdr_id], stored[f"{cdr_id}-C"]
    # The original is untouched; the credit carries its content with every cost negated.
    assert (original.body, original.credit, original.last_updated) == (
        before.body,
        False,
        before.last_updated,
    )
    assert (row.credit, row.credit_reference_id, row.total_cost_excl_vat) == (
        True,
        cdr_id,
        Decimal("-9.60"),
    )
    body = row.body
    for name in ("total_cost", "total_energy_cost"):
        assert {k: Decimal(str(v)) for k, v in body[name].items()} == _negative(original.body[name])
    assert body["total_cost"] == {"excl_vat": -9.6, "incl_vat": -9.6}
    same = {"id", "credit", "credit_reference_id", "remark", "last_updated", "total_cost"}
    for key, value in original.body.items():
        if key not in same and not key.endswith("_cost"):
            assert body[key] == value, key
    assert body["last_updated"] > original.body["last_updated"]
    parsed = v221.CDR.model_validate(body)
    assert (parsed.credit, parsed.credit_reference_id) == (True, cdr_id)
    (job,) = [j for j in jobs(database_url, "CDR_POST") if j.target["cdr_id"] == f"{cdr_id}-C"]
    assert (job.partner_id, job.queue_key) == (
        ids["partners"]["emsp-a"],
        f"sessions/US/HPC/{ids['done'][0]}",
    )

    twice = hub("cdrs", "credit", cdr_id, "--reason", "again", expect=1)
    assert twice.stderr.startswith(f"error: CDR {cdr_id} is credited already, by {cdr_id}-C")
    of_credit = hub("cdrs", "credit", f"{cdr_id}-C", "--reason", "x", expect=1)
    assert of_credit.stderr.startswith(f"error: CDR {cdr_id}-C is a credit CDR (of {cdr_id})")
    assert set(stored_cdrs(database_url)) == {cdr_id, f"{cdr_id}-C"}
    shown = as_json(hub("cdrs", "show", cdr_id, "--json"))
    assert shown["credited_by"] == f"{cdr_id}-C"
    words = " ".join(hub("cdrs", "list").stdout.split())
    assert f"│ {cdr_id}-C │ {ids['done'][0]} │ emsp-a │ 20 │ -9.60 USD │ credit │" in words
    assert f"credits {cdr_id}" in " ".join(hub("sessions", "show", ids["done"][0]).stdout.split())
    assert "-9.60 USD excl. VAT" in hub("cdrs", "show", f"{cdr_id}-C").stdout

    unknown = hub("cdrs", "credit", "NOPE", "--reason", "x", expect=1)
    assert unknown.stderr.startswith("error: no CDR with id 'NOPE'")
    assert hub("cdrs", "credit", cdr_id, "--reason", "x" * 256, expect=2)


def test_credit_in_words(world):
    hub, ids = world
    _, _, cdr_id = ids["done"]
    out = " ".join(hub("cdrs", "credit", cdr_id, "--reason", "wrong price").stdout.split())
    assert f"CDR {cdr_id} (9.60 USD) is credited by {cdr_id}-C (-9.60 USD)." in out
    assert "1 CDR(s) queued for emsp-a." in out


def _correct_meter_stop(database_url: str, session_id: str, kwh: str) -> None:
    """The charger's final meter value turns out to have been wrong."""

    async def work(session: Any) -> None:
        row = (
            await session.execute(
                select(ChargingSession).where(col(ChargingSession.session_id) == session_id)
            )
        ).scalar_one()
        row.meter_stop_kwh = Decimal(kwh)

    arrange(database_url, work)


def test_corrected_credit_bills_the_session_again_under_a_new_id(world, database_url):
    hub, ids = world
    session_id, _, cdr_id = ids["done"]
    _correct_meter_stop(database_url, session_id, "26")
    result = as_json(
        hub("cdrs", "credit", cdr_id, "--reason", "meter stop was wrong", "--corrected", "--json")
    )
    credit, corrected = result["credit"], result["corrected"]
    assert result["queued"] == 2
    assert (credit["cdr_id"], credit["total_cost_excl_vat"]) == (f"{cdr_id}-C", "-9.60")
    assert (corrected["cdr_id"], corrected["credit"], corrected["credit_reference_id"]) == (
        f"{session_id}-R1",
        False,
        None,
    )
    assert (corrected["total_energy"], corrected["total_cost_excl_vat"]) == ("25", "12.00")
    stored = stored_cdrs(database_url)
    body = stored[f"{session_id}-R1"].body
    parsed = v221.CDR.model_validate(body)
    assert (parsed.id, parsed.session_id, parsed.credit) == (f"{session_id}-R1", session_id, None)
    assert "credit_reference_id" not in body
    assert "remark" not in body
    assert body["cdr_token"] == stored[cdr_id].body["cdr_token"]
    assert len(parsed.id) <= 36
    # The session now says what the corrected CDR bills.
    session = as_json(hub("sessions", "show", session_id, "--json"))
    assert (session["kwh"], session["total_cost_excl_vat"]) == ("25", "12.00")
    assert [c["cdr_id"] for c in session["cdrs"]] == [
        cdr_id,
        f"{cdr_id}-C",
        f"{session_id}-R1",
    ]
    # Queued in that order on the session's queue: the credit first, then the new bill.
    queue = [
        j.target["cdr_id"]
        for j in jobs(database_url, "CDR_POST")
        if j.queue_key == f"sessions/US/HPC/{session_id}"
    ]
    assert queue == [cdr_id, f"{cdr_id}-C", f"{session_id}-R1"]

    # The corrected CDR is credited and corrected in turn: -R1-C, then -R2.
    _correct_meter_stop(database_url, session_id, "31")
    again = as_json(
        hub(
            "cdrs", "credit", f"{session_id}-R1", "--reason", "still wrong", "--corrected", "--json"
        )
    )
    assert (again["credit"]["cdr_id"], again["credit"]["total_cost_excl_vat"]) == (
        f"{session_id}-R1-C",
        "-12.00",
    )
    assert (again["corrected"]["cdr_id"], again["corrected"]["total_cost_excl_vat"]) == (
        f"{session_id}-R2",
        "14.40",
    )
    v221.CDR.model_validate(stored_cdrs(database_url)[f"{session_id}-R1-C"].body)
    refused = hub("cdrs", "credit", cdr_id, "--reason", "x", "--corrected", expect=1)
    assert "is credited already" in refused.stderr


def test_a_running_session_cannot_be_billed_again(world, database_url):
    hub, _ = world

    async def fake_cdr_of_live(session: Any) -> None:
        # A CDR of a session that is still running cannot exist through the hub; it is
        # stored here directly to check the refusal to correct from unfinished data.
        row = (
            await session.execute(
                select(ChargingSession).where(col(ChargingSession.transaction_id) == "TX-LIVE")
            )
        ).scalar_one()
        session.add(
            ChargeDetailRecord(
                country_code="US",
                party_id="HPC",
                cdr_id="ODD-CDR",
                session_ref=row.id,
                token_country_code="US",
                token_party_id="EMB",
                partner_id=row.partner_id,
                body={"id": "ODD-CDR", "total_cost": {"excl_vat": 1}},
                total_cost_excl_vat=Decimal(1),
                total_energy=Decimal(1),
            )
        )

    arrange(database_url, fake_cdr_of_live)
    refused = hub("cdrs", "credit", "ODD-CDR", "--reason", "x", "--corrected", expect=1)
    assert "is ACTIVE, not COMPLETED" in refused.stderr
    # Nothing was kept of the refused attempt.
    assert "ODD-CDR-C" not in stored_cdrs(database_url)


@contextlib.contextmanager
def emsp_peer() -> Iterator[EmspPeer]:
    peer = EmspPeer()
    with asgi_server(peer.app()) as base_url:
        peer.base_url = base_url
        peer.issued["token-for-emsp-a"] = "C"
        yield peer


def deliver(database_url: str) -> None:
    async def work() -> None:
        engine = create_engine(database_url)
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                worker = PushWorker(
                    create_session_factory(engine),
                    http,
                    PushSettings(node="test"),
                    worker_id="test/0",
                )
                try:
                    while await worker.run_once():
                        pass
                finally:
                    worker.close()
        finally:
            await dispose_engine(engine)

    asyncio.run(work())


def test_the_emsp_receives_the_bill_its_credit_and_the_corrected_bill_in_order(
    database_url, monkeypatch
):
    with emsp_peer() as peer:
        ids = seed(database_url, emsp_a_url=f"{peer.base_url}/ocpi/2.2.1")
        session_id, _, cdr_id = ids["done"]
        _correct_meter_stop(database_url, session_id, "26")
        with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as hub:
            hub("cdrs", "credit", cdr_id, "--reason", "meter stop was wrong", "--corrected")
        deliver(database_url)
    posted = [r.body["id"] for r in peer.received if r.path.endswith("/cdrs")]
    assert posted == [cdr_id, f"{cdr_id}-C", f"{session_id}-R1"]
    assert peer.duplicate_cdrs == []
    credit = peer.cdrs[("US", "HPC", f"{cdr_id}-C")]
    assert (credit["credit"], credit["credit_reference_id"]) == (True, cdr_id)
    assert credit["total_cost"]["excl_vat"] == -9.6
    assert peer.cdrs[("US", "HPC", f"{session_id}-R1")]["total_cost"]["excl_vat"] == 12
    stored = stored_cdrs(database_url)
    assert all(stored[i].delivered_at is not None for i in posted)


def test_a_session_that_cannot_be_billed_is_not_released_but_invalidated(world, database_url):
    hub, ids = world

    async def unlinked(session: Any) -> str:
        # A transaction at a connector no EVSE of ours is linked to: no tariff, held.
        service = SessionService(session, codec=OcpiTariffCodec(), clock=Clock(at(14)))
        row = await service.start(
            TransactionStart(
                station_id="CS-16",
                ocpp_version="1.6",
                started_at=at(14),
                ocpp_connector_id=9,
                meter_start_kwh=Decimal(0),
                token=token("04A1B2C3D4", A, ids["partners"]["emsp-a"]),
            )
        )
        assert row.held_for_review
        assert await service.end(row, at=at(15), meter_stop_kwh=Decimal(5)) is None
        return row.session_id

    session_id = arrange(database_url, unlinked)
    refused = hub("sessions", "release", session_id, "--reason", "looks fine", expect=1)
    assert refused.stderr.startswith(f"error: session {session_id} cannot be billed")
    assert "invalidate it instead" in " ".join(refused.stderr.split())
    # Nothing of the refused release is kept.
    shown = as_json(hub("sessions", "show", session_id, "--json"))
    assert (shown["held_for_review"], shown["cdrs"], shown["cdr_made"]) == (True, [], False)
    assert not any(p.startswith("released by operator") for p in shown["problems"])
    invalid = as_json(hub("sessions", "invalidate", session_id, "--reason", "no EVSE", "--json"))
    assert (invalid["status"], invalid["held_for_review"]) == ("INVALID", False)
    assert session_id not in [s["session_id"] for s in as_json(hub("sessions", "review", "--json"))]


def test_readme_lists_every_sessions_and_cdrs_command():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    commands = readme[readme.index("```sh\nhub db upgrade") :]
    commands = commands[: commands.index("```", 3)]
    for group in ("sessions", "cdrs", "commands", "reservations"):
        assert group in COMMAND_GROUPS
        for command in importlib.import_module(f"hub.cli.{group}").app.registered_commands:
            name = command.name or (command.callback.__name__ if command.callback else "")
            assert re.search(rf"hub {group} (\S+ \| )*{name}\b", commands), (group, name)


@pytest.mark.parametrize("args", [["sessions", "--help"], ["cdrs", "credit", "--help"]])
def test_help_imports_none_of_the_heavy_modules(args):
    code, modules = imported_by(*args)
    assert code == 0
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


@pytest.mark.parametrize("group", ["sessions", "cdrs"])
def test_a_listing_prices_nothing_and_imports_no_protocol(tmp_path, group):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrations.upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE__URL"] = url
    code, modules = imported_by(group, "list", "--json", env=env)
    assert code == 0
    assert "sqlalchemy" in modules
    unwanted = {*NOT_FOR_A_QUERY, "ocpi", "httpx", "hub.roaming"}
    assert modules.isdisjoint(unwanted), sorted(modules.intersection(unwanted))
