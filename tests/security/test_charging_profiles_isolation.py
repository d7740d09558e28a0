"""Charging profiles belong to the eMSP of the session's token (``mod_charging_profiles``:
"ChargingProfile can be created by the owner of a Token on Sessions that belong to that
token"): another eMSP cannot set, read or clear a profile on A's session, whichever of our
parties it addresses; it is answered as for an unknown session, no charger is called, nothing
is stored for it, and it never receives A's results or ActiveChargingProfiles. Both engines."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_charging_profiles import (
    World,
    carry_out,
    charger,
    start_16,
    world,
)

pytestmark = [pytest.mark.db]

__all__ = ["world"]  # the fixture, shared with the end-to-end test


async def _no_call_reached(station: Any) -> None:
    """Any CALL the hub sent would arrive before the answer to this Heartbeat."""
    assert (await station.call("Heartbeat", {}))[0] == 3
    assert station.calls_received == []


@pytest.mark.parametrize("receiver", [None, ("US", "HPC"), ("CA", "HPC")])
async def test_another_emsp_cannot_set_read_or_clear_a_profile_on_a_session(
    world: World, receiver: tuple[str, str] | None
):
    async with charger(world, "CS-16", "ocpp1.6") as station:
        await start_16(station)
        charge = await world.newest_session()
        headers = (
            {"OCPI-to-country-code": receiver[0], "OCPI-to-party-id": receiver[1]}
            if receiver
            else {}
        )
        answers = [
            await world.ask("b", "PUT", charge.session_id, "b-set", headers=headers),
            await world.ask("b", "GET", charge.session_id, "b-get", duration=900, headers=headers),
            await world.ask("b", "DELETE", charge.session_id, "b-clear", headers=headers),
        ]
        assert [a["data"]["result"] for a in answers] == ["UNKNOWN_SESSION"] * 3
        assert await carry_out(world.runner) == 0
        await _no_call_reached(station)
        commands = await world.commands()
        # Recorded as refused, with nothing of A's session on them.
        assert [(c.response, c.session_ref, c.station_id, c.state) for c in commands] == [
            ("UNKNOWN_SESSION", None, None, "FINISHED")
        ] * 3

        # A sets its profile; B, asking again, still learns nothing and gets nothing of A's.
        assert (await world.ask("a", "PUT", charge.session_id, "a-set"))["data"]["result"] == (
            "ACCEPTED"
        )
        await world.carried_out(station, {"status": "Accepted"})
        again = await world.ask("b", "GET", charge.session_id, "b-get-2", duration=900)
        assert again["data"]["result"] == "UNKNOWN_SESSION"
        assert await carry_out(world.runner) == 0
        await _no_call_reached(station)
    await world.deliver()
    assert world.emsp_a.command_results == {"a-set": [{"result": "ACCEPTED"}]}
    assert list(world.emsp_a.active_profiles) == [charge.session_id]
    assert world.emsp_b.command_results == {}
    assert world.emsp_b.active_profiles == {}
    (held,) = await world.held()
    assert held.status == "ACTIVE"
