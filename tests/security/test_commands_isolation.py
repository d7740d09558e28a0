"""Commands are the sender's alone: an eMSP cannot start a charge with another eMSP's token,
cannot stop another eMSP's session (whatever party it names as receiver), cannot command at a
private location shared with another eMSP only, and a command's result goes only to the eMSP
that sent it. Nothing of the refused commands reaches a charger. Both engines."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from hub.persistence.session import session_scope
from hub.persistence.tables import Command, PushJob
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from tests.e2e.test_commands import World, app_token, charger, results, world
from tests.fixtures import network
from tests.support.commands import carry_out
from tests.support.emsp import token_header

pytestmark = [pytest.mark.db]

__all__ = ["world"]  # the fixture, shared with the end-to-end test


async def a_running_charge(world: World) -> dict[str, Any]:
    """A's driver charging at CS-16 from A's app; returns the session as A received it."""
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await world.start("a-start")
        await world.carry_out(station, {"status": "Accepted"})
        await station.call(
            "StartTransaction",
            {
                "connectorId": 1,
                "idTag": "APP-1",
                "meterStart": 0,
                "timestamp": "2026-11-24T10:05:00Z",
            },
        )
    await world.deliver()
    (session,) = world.emsp_a.sessions.values()
    return session


async def test_another_emsps_token_cannot_start_a_charge(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        body = {
            "response_url": world.emsp_b.command_url("START_SESSION", "b1"),
            "token": app_token(("US", "EMA"), "A-DRIVER"),  # A's party, sent by B
            "location_id": "SITE",
            "evse_uid": "SITE-E1",
        }
        answer = await world.command("b", "START_SESSION", body)
        assert answer["data"]["result"] == "REJECTED"
        assert await carry_out(world.runner) == 0
        assert (await station.call("Heartbeat", {}))[0] == 3  # nothing else reached it
    await world.deliver()
    assert world.emsp_b.command_results == {}
    assert world.emsp_a.command_results == {}


@pytest.mark.parametrize("receiver", [None, ("US", "HPC"), ("CA", "HPC")])
async def test_another_emsp_cannot_stop_a_drivers_session(world: World, receiver):
    session = await a_running_charge(world)
    headers = token_header(world.tokens["b"])
    if receiver is not None:
        headers |= {
            "OCPI-to-country-code": receiver[0],
            "OCPI-to-party-id": receiver[1],
            "OCPI-from-country-code": "US",
            "OCPI-from-party-id": "EMB",
        }
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(
            f"{world.hub.url}/ocpi/2.2.1/commands/STOP_SESSION",
            json={
                "response_url": world.emsp_b.command_url("STOP_SESSION", "b-stop"),
                "session_id": session["id"],
            },
            headers=headers,
        )
    assert response.json()["data"]["result"] == "UNKNOWN_SESSION"
    assert await carry_out(world.runner) == 0
    await world.deliver()
    assert world.emsp_b.command_results == {}
    assert world.emsp_b.sessions == {}
    assert world.emsp_a.sessions[next(iter(world.emsp_a.sessions))]["status"] == "ACTIVE"


async def test_a_private_location_of_another_emsp_is_an_unknown_location(world: World):
    private = network.linked_location("PRIV", [("CS-16", None, 2)])
    private["publish"] = False
    private["hub_visible_to"] = ["US*EMA"]
    async with session_scope(world.hub.sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([private])))
    for emsp, expected in (("b", 2003), ("a", 1000)):
        body = {
            "response_url": world.peer(emsp).command_url("START_SESSION", f"{emsp}-priv"),
            "token": app_token(("US", "EMA") if emsp == "a" else ("US", "EMB")),
            "location_id": "PRIV",
            "evse_uid": "PRIV-E1",
        }
        answer = await world.command(emsp, "START_SESSION", body)
        assert answer["status_code"] == expected, answer


async def test_a_result_goes_only_to_the_emsp_that_sent_the_command(world: World):
    await a_running_charge(world)
    assert results(world.emsp_a, "a-start") == ["ACCEPTED"]
    assert world.emsp_b.command_results == {}
    async with session_scope(world.hub.sessions) as session:
        jobs = (
            await session.execute(select(PushJob).where(col(PushJob.kind) == "COMMAND_RESULT"))
        ).scalars()
        commands = {c.id: c.partner_id for c in (await session.execute(select(Command))).scalars()}
        for job in jobs:
            assert job.partner_id == commands[job.target["command"]]


async def test_another_emsp_cannot_cancel_or_replace_a_drivers_reservation(world: World):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        body = {
            "response_url": world.emsp_a.command_url("RESERVE_NOW", "a-res"),
            "token": app_token(),
            "expiry_date": "2026-11-24T12:00:00Z",
            "reservation_id": "SAME-ID",
            "location_id": "SITE",
            "evse_uid": "SITE-E1",
        }
        assert (await world.command("a", "RESERVE_NOW", body))["data"]["result"] == "ACCEPTED"
        frame = await world.carry_out(station, {"status": "Accepted"})
        theirs = {
            "response_url": world.emsp_b.command_url("CANCEL_RESERVATION", "b-cancel"),
            "reservation_id": "SAME-ID",
        }
        assert (await world.command("b", "CANCEL_RESERVATION", theirs))["data"]["result"] == (
            "ACCEPTED"
        )
        assert await carry_out(world.runner) == 0  # no CancelReservation reached the charger
        # B's RESERVE_NOW with the same reservation_id is B's own reservation, a new id.
        b_body = {
            **body,
            "response_url": world.emsp_b.command_url("RESERVE_NOW", "b-res"),
            "token": app_token(("US", "EMB")),
            "evse_uid": "SITE-E2",
        }
        assert (await world.command("b", "RESERVE_NOW", b_body))["data"]["result"] == "ACCEPTED"
        b_frame = await world.carry_out(station, {"status": "Accepted"})
        assert b_frame[3]["reservationId"] != frame[3]["reservationId"]
    await world.deliver()
    assert results(world.emsp_b, "b-cancel") == ["UNKNOWN_RESERVATION"]
    assert results(world.emsp_a, "a-res") == ["ACCEPTED"]
    (a_session,) = world.emsp_a.sessions.values()
    assert a_session["status"] == "RESERVATION"  # untouched by B
