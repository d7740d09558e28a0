"""Reservations end to end: the eMSP POSTs RESERVE_NOW to the in-process hub, raw-frame OCPP
1.6 and 2.0.1 chargers get ReserveNow with our reservation id, report the connector Reserved
(pushed to every partner as EVSE status RESERVED), and the driver's transaction takes over the
RESERVATION session the eMSP was sent; a reservation at a charger that reports a fault is
cancelled by us with CANCELED_RESERVATION at the eMSP's response_url; CANCEL_RESERVATION. The
runner and the push worker are driven by the test. Both engines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.e2e.test_commands import World, app_token, charger, results, world
from tests.support.commands import carry_out

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["world"]  # the fixture, shared with the commands end-to-end test


def expiry(world: World, minutes: int = 30) -> str:
    moment = world.hub.clock() + timedelta(minutes=minutes)
    return moment.isoformat().replace("+00:00", "Z")


async def reserve(world: World, ref: str, evse_uid: str, **fields: Any) -> dict[str, Any]:
    body = {
        "response_url": world.emsp_a.command_url("RESERVE_NOW", ref),
        "token": app_token(),
        "expiry_date": expiry(world),
        "reservation_id": f"RES-{ref}",
        "location_id": "SITE",
        "evse_uid": evse_uid,
        "authorization_reference": f"REF-{ref}",
        **fields,
    }
    return await world.command("a", "RESERVE_NOW", body)


def evse_status(world: World, emsp: str, uid: str) -> str | None:
    peer = world.peer(emsp)
    with peer.lock:
        for location in peer.locations.values():
            for evse in location.get("evses", []):
                if evse["uid"] == uid:
                    return str(evse["status"])
    return None


async def test_a_16_reservation_used_by_the_driver(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        answer = await reserve(world, "r1", "SITE-E1")
        assert answer["data"]["result"] == "ACCEPTED"
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2] == "ReserveNow"
        ours = frame[3]["reservationId"]
        assert isinstance(ours, int)
        assert frame[3]["idTag"] == "APP-1"
        assert frame[3]["connectorId"] == 1
        await station.call(
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Reserved"},
        )
        await world.deliver()
        assert results(world.emsp_a, "r1") == ["ACCEPTED"]
        (reserved,) = world.emsp_a.sessions.values()
        assert reserved["status"] == "RESERVATION"
        assert reserved["authorization_reference"] == "REF-r1"
        # Every partner sees the EVSE reserved (the location is public); only A the session.
        assert evse_status(world, "a", "SITE-E1") == "RESERVED"
        assert evse_status(world, "b", "SITE-E1") == "RESERVED"
        assert world.emsp_b.sessions == {}

        world.hub.clock.advance(300)
        started = await station.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "APP-1",
                "meterStart": 0,
                "timestamp": "2026-11-24T10:50:00Z",
                "reservationId": ours,
            },
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"
        await world.deliver()
        (session,) = world.emsp_a.sessions.values()
        assert (session["id"], session["status"]) == (reserved["id"], "ACTIVE")
        assert session["auth_method"] == "COMMAND"


async def test_a_201_reservation_used_by_the_driver(world: World):
    async with charger(world, "CS-201", "ocpp2.0.1") as station:
        await reserve(world, "r2", "SITE-E3")
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2] == "ReserveNow"
        assert frame[3]["evseId"] == 1
        ours = frame[3]["id"]
        event = {
            "eventType": "Started",
            "timestamp": "2026-11-24T10:50:00Z",
            "triggerReason": "Authorized",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "TX-R"},
            "evse": {"id": 1, "connectorId": 1},
            "idToken": {"idToken": "APP-1", "type": "Central"},
            "reservationId": ours,
        }
        answered = await station.call("TransactionEvent", event)
        assert answered[2]["idTokenInfo"]["status"] == "Accepted"
    await world.deliver()
    (session,) = world.emsp_a.sessions.values()
    assert (session["status"], session["auth_method"]) == ("ACTIVE", "COMMAND")
    assert session["authorization_reference"] == "REF-r2"


async def test_a_fault_at_the_reserved_evse_cancels_it_and_the_emsp_is_told(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await reserve(world, "r3", "SITE-E2")
        await world.carry_out(station, {"status": "Accepted"})
        await station.call(
            "StatusNotification",
            {"connectorId": 2, "errorCode": "GroundFailure", "status": "Faulted"},
        )
        await carry_out(world.runner)
    await world.deliver()
    assert results(world.emsp_a, "r3") == ["ACCEPTED", "CANCELED_RESERVATION"]
    (session,) = world.emsp_a.sessions.values()
    assert session["status"] == "COMPLETED"


async def test_cancel_reservation(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await reserve(world, "r4", "SITE-E1")
        frame = await world.carry_out(station, {"status": "Accepted"})
        ours = frame[3]["reservationId"]
        answer = await world.command(
            "a",
            "CANCEL_RESERVATION",
            {
                "response_url": world.emsp_a.command_url("CANCEL_RESERVATION", "c4"),
                "reservation_id": "RES-r4",
            },
        )
        assert answer["data"]["result"] == "ACCEPTED"
        frame = await world.carry_out(station, {"status": "Accepted"})
        assert frame[2:] == ["CancelReservation", {"reservationId": ours}]
        unknown = await world.command(
            "a",
            "CANCEL_RESERVATION",
            {
                "response_url": world.emsp_a.command_url("CANCEL_RESERVATION", "c5"),
                "reservation_id": "RES-nope",
            },
        )
        assert unknown["data"]["result"] == "ACCEPTED"
    await world.deliver()
    assert results(world.emsp_a, "c4") == ["ACCEPTED"]
    assert results(world.emsp_a, "c5") == ["UNKNOWN_RESERVATION"]
    (session,) = world.emsp_a.sessions.values()
    assert session["status"] == "COMPLETED"


async def test_an_expiry_in_the_past_is_refused(world: World):
    answer = await reserve(world, "past", "SITE-E1", expiry_date="2026-11-24T09:00:00Z")
    assert answer["status_code"] == 2001
    assert "expiry_date" in answer["status_message"]


async def test_a_reservation_nobody_uses_expires(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await reserve(world, "r6", "SITE-E1")
        await world.carry_out(station, {"status": "Accepted"})
        world.hub.clock.advance(31 * 60)
        await carry_out(world.runner)
    await world.deliver()
    assert results(world.emsp_a, "r6") == ["ACCEPTED"]  # expiry is no news to the eMSP
    (session,) = world.emsp_a.sessions.values()
    assert session["status"] == "COMPLETED"
    assert world.emsp_a.cdrs == {}  # the tariff prices no reservation time: nothing owed
