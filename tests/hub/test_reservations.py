"""Reservations: RESERVE_NOW becomes ReserveNow with our own reservation id, a RESERVATION
session that the driver's transaction takes over, expiry and cancellation (by the eMSP, by the
charger's state, by us), replacement by the same reservation_id, the EVSE-less rule, and the
reservation time priced into the CDR. Both engines, a clock the test drives, a fake charger
connection (the OCPP exchange end to end is in tests/e2e/test_reservations.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import col, select

from hub.domain.commands import CommandKind
from hub.errors import InvalidRequest
from hub.persistence.session import session_scope
from hub.persistence.tables import (
    ChargeDetailRecord,
    ChargingSession,
    ChargingStation,
    PushJob,
    Reservation,
)
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.commands import CommandRequest, CommandToken
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.hub.test_commands import T0, A, Clock, FakeStations, World
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

EXPIRY = T0 + timedelta(minutes=30)
RESERVING_TARIFF = {
    **network.tariff("T-DC"),
    "elements": [
        {
            "price_components": [{"type": "TIME", "price": 6.0, "step_size": 60}],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {
            "price_components": [{"type": "FLAT", "price": 2.5, "step_size": 1}],
            "restrictions": {"reservation": "RESERVATION_EXPIRES"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]},
    ],
}


def site() -> dict:
    location = network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None)]
    )
    for evse in location["evses"]:
        evse["capabilities"] = ["REMOTE_START_STOP_CAPABLE", "RESERVABLE"]
    return location


@pytest.fixture
async def world(sessions) -> World:
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([RESERVING_TARIFF]))
        )
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        for station_id, version in (("CS-16", "1.6"), ("CS-201", "2.0.1")):
            await StationService(session).add(station_id, "station-password-0123")
            station = (
                await session.execute(
                    select(ChargingStation).where(col(ChargingStation.station_id) == station_id)
                )
            ).scalar_one()
            station.online, station.ocpp_version = True, version
    partner_a = await register_emsp(
        sessions, "emsp-a", A, None, receivers={"sessions": "http://127.0.0.1:9/s"}
    )
    partner_b = await register_emsp(sessions, "emsp-b", ("US", "EMB"), None)
    return World(sessions, Clock(), FakeStations(), partner_a, partner_b)


def reserve(
    reservation_id: str = "R-1",
    *,
    evse_uid: str | None = "SITE-E1",
    expiry: Any = EXPIRY,
    reference: str | None = "AUTH-R",
) -> CommandRequest:
    body: dict[str, Any] = {"token": {"uid": "APP-9"}, "expiry_date": expiry.isoformat()}
    if evse_uid is not None:
        body["evse_uid"] = evse_uid
    return CommandRequest(
        kind=CommandKind.RESERVE_NOW,
        response_url="https://emsp.example/reserve/1",
        body=body,
        location_id="SITE",
        evse_uid=evse_uid,
        token=CommandToken(A[0], A[1], "APP-9", "APP_USER", contract_id="EMA-C9"),
        authorization_reference=reference,
        reservation_id=reservation_id,
        expiry_date=expiry,
    )


def cancel(reservation_id: str = "R-1") -> CommandRequest:
    return CommandRequest(
        kind=CommandKind.CANCEL_RESERVATION,
        response_url="https://emsp.example/cancel/1",
        body={"reservation_id": reservation_id},
        reservation_id=reservation_id,
    )


async def reservation(world: World) -> Reservation:
    async with session_scope(world.sessions) as session:
        return (await session.execute(select(Reservation))).scalars().one()


async def session_of(world: World, pk: int | None) -> ChargingSession:
    async with session_scope(world.sessions) as session:
        row = await session.get(ChargingSession, pk)
        assert row is not None
        return row


async def cdrs(world: World) -> list[ChargeDetailRecord]:
    async with session_scope(world.sessions) as session:
        return list((await session.execute(select(ChargeDetailRecord))).scalars())


async def test_a_reservation_the_driver_uses_is_one_session_billed_for_its_reservation_time(
    world: World,
):
    row = await world.accept(reserve())
    assert (row.response, row.deadline) == ("ACCEPTED", T0 + timedelta(seconds=30))
    await world.run()
    held = await reservation(world)
    (_, action, payload) = world.stations.calls[0]
    assert (action, payload) == (
        "ReserveNow",
        {
            "connectorId": 1,
            "expiryDate": EXPIRY.isoformat(),
            "idTag": "APP-9",
            "reservationId": held.id,  # ours, not the eMSP's "R-1"
        },
    )
    assert (held.state, held.reservation_id) == ("RESERVED", "R-1")
    assert (await world.command(row.require_id())).result == "ACCEPTED"
    reserved = await session_of(world, held.session_ref)
    assert (reserved.status, reserved.auth_method) == ("RESERVATION", "COMMAND")
    assert reserved.authorization_reference == "AUTH-R"

    world.clock.now += timedelta(minutes=10)  # ten minutes of reservation, then the driver
    transaction_id, info = await world.transactions().started_16(
        "CS-16",
        connector_id=1,
        id_tag="APP-9",
        meter_start=0,
        timestamp=world.clock.now.isoformat(),
        reservation_id=held.id,
    )
    assert info == {"status": "Accepted"}
    assert transaction_id == held.session_ref  # the reservation's session is the transaction's
    charging = await session_of(world, held.session_ref)
    assert (charging.status, charging.auth_method) == ("ACTIVE", "COMMAND")
    assert (await reservation(world)).state == "USED"
    world.clock.now += timedelta(minutes=20)
    await world.transactions().stopped_16(
        "CS-16",
        transaction_id=transaction_id,
        meter_stop=10000,
        timestamp=world.clock.now.isoformat(),
        reason="Local",
        transaction_data=None,
    )
    (cdr,) = await cdrs(world)
    assert Decimal(str(cdr.body["total_reservation_cost"]["excl_vat"])) == Decimal("1.00")
    assert Decimal(str(cdr.body["total_cost"]["excl_vat"])) == Decimal("6.00")  # 1 + 10 x 0.5
    assert cdr.body["start_date_time"] == T0.isoformat().replace("+00:00", "Z")
    assert cdr.body["authorization_reference"] == "AUTH-R"


async def test_a_reservation_nobody_uses_expires_and_is_billed_as_expired(world: World):
    await world.accept(reserve())
    await world.run()
    world.clock.now = EXPIRY - timedelta(seconds=1)
    await world.run()
    assert (await reservation(world)).state == "RESERVED"
    world.clock.now = EXPIRY + timedelta(seconds=1)
    await world.run()
    held = await reservation(world)
    assert held.state == "EXPIRED"
    ended = await session_of(world, held.session_ref)
    assert (ended.status, ended.close_reason) == ("COMPLETED", "RESERVATION_EXPIRED")
    (cdr,) = await cdrs(world)
    # 30 minutes of reservation at 6.00/h, and the FLAT of the RESERVATION_EXPIRES element
    # (which replaces the RESERVATION ones only for the dimensions it prices).
    assert Decimal(str(cdr.body["total_cost"]["excl_vat"])) == Decimal("5.50")
    assert Decimal(str(cdr.body["total_reservation_cost"]["excl_vat"])) == Decimal("5.50")
    assert Decimal(str(cdr.body["total_energy"])) == 0


async def test_the_same_reservation_id_replaces_the_reservation_on_the_charger(world: World):
    await world.accept(reserve())
    await world.run()
    first = await reservation(world)
    later = EXPIRY + timedelta(minutes=15)
    again = await world.accept(reserve(expiry=later))
    assert again.response == "ACCEPTED"
    await world.run()
    (_, _, payload) = world.stations.calls[-1]
    assert payload["reservationId"] == first.id
    replaced = await reservation(world)  # still one reservation, with the new expiry
    assert (replaced.id, replaced.state, replaced.expiry_date) == (first.id, "RESERVED", later)
    assert replaced.session_ref == first.session_ref


async def test_cancel_reservation_known_and_unknown(world: World):
    await world.accept(reserve())
    await world.run()
    held = await reservation(world)
    unknown = await world.accept(cancel("R-404"))
    assert (unknown.response, unknown.state, unknown.result) == (
        "ACCEPTED",
        "FINISHED",
        "UNKNOWN_RESERVATION",
    )
    # No OCPI-to headers named our party: the result is sent from our first CPO party, never
    # from an empty one.
    assert (unknown.country_code, unknown.party_id) == ("US", "HPC")
    theirs = await world.accept(cancel("R-1"), partner="b")  # B cannot cancel A's
    assert theirs.result == "UNKNOWN_RESERVATION"
    mine = await world.accept(cancel("R-1"))
    world.stations.calls.clear()
    await world.run()
    assert world.stations.calls == [("CS-16", "CancelReservation", {"reservationId": held.id})]
    assert (await world.command(mine.require_id())).result == "ACCEPTED"
    assert (await reservation(world)).state == "CANCELLED"
    ended = await session_of(world, held.session_ref)
    assert (ended.status, ended.close_reason) == ("COMPLETED", "RESERVATION_CANCELLED")


async def test_a_reservation_at_a_faulted_evse_is_cancelled_by_us_and_the_emsp_told(world: World):
    row = await world.accept(reserve())
    await world.run()
    async with session_scope(world.sessions) as session:
        view = await LocationService(session).get("SITE")
        view.evses[0].status = "OUTOFORDER"
    await world.run()
    held = await reservation(world)
    assert (held.state, held.end_reason) == ("CANCELED_BY_CPO", "EVSE SITE-E1 is OUTOFORDER")
    async with session_scope(world.sessions) as session:
        jobs = (
            await session.execute(
                select(PushJob).where(col(PushJob.kind) == "COMMAND_RESULT").order_by(PushJob.id)
            )
        ).scalars()
        targets = [(j.target["command"], j.target.get("result")) for j in jobs]
    assert targets == [(row.id, None), (row.id, "CANCELED_RESERVATION")]


@pytest.mark.parametrize(("zero", "connector"), [("true", 0), ("false", 2)])
async def test_a_reservation_for_any_evse(world: World, zero: str, connector: int):
    async with session_scope(world.sessions) as session:
        view = await LocationService(session).get("SITE")
        view.evses[0].status = "CHARGING"  # the first free one is SITE-E2
        view.evses[1].status = "AVAILABLE"
    world.stations.answers["GetConfiguration"] = {
        "configurationKey": [
            {"key": "ReserveConnectorZeroSupported", "readonly": True, "value": zero}
        ]
    }
    row = await world.accept(reserve(evse_uid=None))
    assert row.evse_uid == "SITE-E2"
    await world.run()
    actions = [(action, payload.get("connectorId")) for _, action, payload in world.stations.calls]
    assert actions == [("GetConfiguration", None), ("ReserveNow", connector)]
    assert (await reservation(world)).evse_uid is None


async def test_refused_reservations(world: World):
    with pytest.raises(InvalidRequest, match="expiry_date"):
        await world.accept(reserve(expiry=T0 - timedelta(seconds=1)))
    world.stations.answers["ReserveNow"] = {"status": "Occupied"}
    row = await world.accept(reserve())
    await world.run()
    assert (await world.command(row.require_id())).result == "EVSE_OCCUPIED"
    refused = await reservation(world)
    assert (refused.state, refused.session_ref) == ("REFUSED", None)


async def test_a_reservation_at_a_charger_gone_offline_is_cancelled_by_us(world: World):
    await world.accept(reserve())
    await world.run()
    async with session_scope(world.sessions) as session:
        station = (
            await session.execute(
                select(ChargingStation).where(col(ChargingStation.station_id) == "CS-16")
            )
        ).scalar_one()
        station.online = False
    await world.run()
    held = await reservation(world)
    assert (held.state, held.end_reason) == ("CANCELED_BY_CPO", "charger CS-16 went offline")


async def test_an_app_start_on_the_reserved_evse_answers_both_commands(world: World):
    await world.accept(reserve())
    await world.run()
    held = await reservation(world)
    start = await world.accept(
        CommandRequest(
            kind=CommandKind.START_SESSION,
            response_url="https://emsp.example/start/1",
            body={"token": {"uid": "APP-9"}},
            location_id="SITE",
            evse_uid="SITE-E1",
            token=CommandToken(A[0], A[1], "APP-9", "APP_USER"),
            authorization_reference="AUTH-S",
        )
    )
    await world.run()
    transaction_id, _ = await world.transactions().started_16(
        "CS-16",
        connector_id=1,
        id_tag="APP-9",
        meter_start=0,
        timestamp=world.clock.now.isoformat(),
        reservation_id=held.id,
    )
    assert transaction_id == held.session_ref
    done = await world.command(start.require_id())
    assert (done.result, done.session_ref) == ("ACCEPTED", held.session_ref)
    assert (await reservation(world)).state == "USED"
    charging = await session_of(world, held.session_ref)
    assert (charging.status, charging.authorization_reference) == ("ACTIVE", "AUTH-S")
