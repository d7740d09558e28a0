"""``hub commands list|show`` and ``hub reservations list|cancel`` in-process against real
migrated databases (both engines). The commands are taken by the real CommandService and
answered as a charger would (the answer recorded by the service the runner uses)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sqlmodel import col, select

from hub.cli import common
from hub.domain.access import PartyScope
from hub.domain.commands import CommandKind, answer_outcome
from hub.persistence import migrations
from hub.persistence.tables import ChargingStation
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.commands import Caller, CommandRequest, CommandService, CommandToken
from hub.services.locations import LocationService
from hub.services.parties import PartyService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.test_cli_imports import NOT_FOR_A_QUERY, imported_by
from tests.support.cli import arrange, cli_in_process

pytestmark = pytest.mark.db

A = ("US", "EMA")


def seed(database_url: str) -> dict[str, int]:
    migrations.upgrade(database_url)

    async def work(session: Any) -> dict[str, int]:
        from hub.services.partners import PartnerService

        await PartyService(session).add(country_code="US", party_id="HPC", name="HPC US")
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
        )
        location = network.linked_location("SITE", [("CS-16", None, 1)])
        location["evses"][0]["capabilities"] = ["RESERVABLE", "REMOTE_START_STOP_CAPABLE"]
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps([location]))
        )
        await StationService(session).add("CS-16", "station-password-0123")
        station = (
            await session.execute(
                select(ChargingStation).where(col(ChargingStation.station_id) == "CS-16")
            )
        ).scalar_one()
        station.online, station.ocpp_version = True, "1.6"
        partner, _ = await PartnerService(session).invite("emsp-a", parties=[A])
        await session.flush()
        service = CommandService(session, codec=OcpiTariffCodec())
        expiry = datetime.now(UTC) + timedelta(hours=1)
        row = await service.accept(
            Caller(partner.require_id(), PartyScope.of([A])),
            CommandRequest(
                kind=CommandKind.RESERVE_NOW,
                response_url="https://emsp.example/r/1",
                body={"token": {"uid": "APP-1"}, "expiry_date": expiry.isoformat()},
                location_id="SITE",
                evse_uid="SITE-E1",
                token=CommandToken(*A, "APP-1", "APP_USER"),
                reservation_id="R-7",
                expiry_date=expiry,
            ),
        )
        claimed = await service.claim(row.require_id(), "test", timedelta(seconds=30))
        assert claimed is not None
        await service.called(
            claimed,
            action="ReserveNow",
            request={"reservationId": claimed.reservation_ref},
            answer={"status": "Accepted"},
            outcome=answer_outcome(CommandKind.RESERVE_NOW, "ReserveNow", "Accepted"),
        )
        return {"command": row.require_id(), "reservation": claimed.reservation_ref or 0}

    return dict(arrange(database_url, work))


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    monkeypatch.setattr(common, "console", Console())


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, dict]]:
    ids = seed(database_url)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke, ids


def as_json(result: Any) -> Any:
    return json.loads(result.stdout)


def test_commands_and_reservations_as_the_operator_sees_them(world):
    hub, ids = world
    (command,) = as_json(hub("commands", "list", "--json"))
    assert (command["id"], command["kind"], command["partner"]) == (
        ids["command"],
        "RESERVE_NOW",
        "emsp-a",
    )
    assert (command["response"], command["state"], command["result"]) == (
        "ACCEPTED",
        "FINISHED",
        "ACCEPTED",
    )
    shown = as_json(hub("commands", "show", str(ids["command"]), "--json"))
    assert shown["ocpp_action"] == "ReserveNow"
    assert shown["ocpp_answer"] == {"status": "Accepted"}
    assert shown["request"]["token"] == {"uid": "APP-1"}
    assert shown["result_sent_at"] is None  # no push worker ran
    assert "RESERVE_NOW" in hub("commands", "list").stdout
    hub("commands", "show", "999999", expect=1)
    hub("commands", "list", "--partner", "nobody", expect=1)

    (held,) = as_json(hub("reservations", "list", "--live", "--json"))
    assert (held["id"], held["reservation_id"], held["state"]) == (
        ids["reservation"],
        "R-7",
        "RESERVED",
    )
    cancelled = as_json(
        hub("reservations", "cancel", str(ids["reservation"]), "--reason", "works", "--json")
    )
    assert cancelled["state"] == "CANCELED_BY_CPO"
    assert as_json(hub("reservations", "list", "--live", "--json")) == []
    (gone,) = as_json(hub("reservations", "list", "--json"))
    assert (gone["state"], gone["end_reason"]) == ("CANCELED_BY_CPO", "by the operator: works")
    newest = as_json(hub("commands", "list", "--json"))[0]
    assert (newest["kind"], newest["state"]) == ("CANCEL_RESERVATION", "PENDING")
    hub("reservations", "cancel", str(ids["reservation"]), "--reason", "again", expect=1)
    hub("reservations", "cancel", str(ids["reservation"]), "--reason", " ", expect=2)


@pytest.mark.parametrize("group", ["commands", "reservations"])
def test_a_listing_imports_no_protocol(tmp_path, group):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrations.upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE__URL"] = url
    code, modules = imported_by(group, "list", "--json", env=env)
    assert code == 0
    unwanted = {*NOT_FOR_A_QUERY, "ocpi", "httpx", "hub.roaming"}
    assert modules.isdisjoint(unwanted), sorted(modules.intersection(unwanted))
