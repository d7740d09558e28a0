"""Simulated chargers acting on the CSMS's commands (no hub: a fake CSMS of the test's own,
tests/support/fake_csms.py): remote start and stop run and end a real charge, unlock,
reservations held, used, cancelled and expired, on OCPP 1.6 and 2.0.1. Time moves only when the
test moves it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.sim.chargers import (
    ChargePlan,
    ChargeProfile,
    ChargeState,
    FastForwardClock,
    SimulatedCharger,
    SimulatedStation,
)
from tests.support.fake_csms import FakeCsms, SteppedTime, fake_csms

WALL = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
VERSIONS = ["1.6", "2.0.1"]


@contextlib.asynccontextmanager
async def station(version: str) -> AsyncIterator[tuple[SimulatedCharger, FakeCsms, SteppedTime]]:
    time = SteppedTime(WALL)
    async with fake_csms() as csms:
        charger = SimulatedCharger(
            SimulatedStation("CS-1", "pw", version, (1, 2), ("E1", "E2")),
            csms.url,
            clock=time.now,
            remote_profile=ChargeProfile(charging_seconds=600, energy_wh=10_000),
            remote_clock=FastForwardClock(
                wall=time.now, monotonic=time.monotonic, sleep=time.sleep
            ),
            sleep=time.sleep,
        )
        await charger.connect()
        try:
            assert await charger.boot() == "Accepted"
            await charger.all_available()
            yield charger, csms, time
        finally:
            await charger.close()


def start_call(version: str, token: str = "APP-1", ocpp_id: int | None = 1) -> tuple[str, dict]:
    if version == "1.6":
        payload: dict[str, Any] = {"idTag": token}
        if ocpp_id is not None:
            payload["connectorId"] = ocpp_id
        return "RemoteStartTransaction", payload
    payload = {"idToken": {"idToken": token, "type": "Central"}, "remoteStartId": 7}
    if ocpp_id is not None:
        payload["evseId"] = ocpp_id
    return "RequestStartTransaction", payload


def stop_call(version: str, transaction_id: Any) -> tuple[str, dict]:
    if version == "1.6":
        return "RemoteStopTransaction", {"transactionId": transaction_id}
    return "RequestStopTransaction", {"transactionId": transaction_id}


def reserve_call(
    version: str, reservation_id: int, token: str, ocpp_id: int | None, minutes: int = 5
) -> tuple[str, dict]:
    expiry = (WALL + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if version == "1.6":
        return "ReserveNow", {
            "connectorId": ocpp_id or 0,
            "expiryDate": expiry,
            "idTag": token,
            "reservationId": reservation_id,
        }
    payload: dict[str, Any] = {
        "id": reservation_id,
        "expiryDateTime": expiry,
        "idToken": {"idToken": token, "type": "Central"},
    }
    if ocpp_id is not None:
        payload["evseId"] = ocpp_id
    return "ReserveNow", payload


def started(version: str) -> tuple[str, Any]:
    """The action and filter of a transaction's start."""
    if version == "1.6":
        return "StartTransaction", lambda _: True
    return "TransactionEvent", lambda p: p["eventType"] == "Started"


def ended(version: str) -> tuple[str, Any]:
    if version == "1.6":
        return "StopTransaction", lambda _: True
    return "TransactionEvent", lambda p: p["eventType"] == "Ended"


async def transaction_of(version: str, charger: SimulatedCharger, csms: FakeCsms) -> Any:
    """The transaction id the CSMS addresses a stop to, once the start was answered."""
    action, test = started(version)
    await csms.until(action, test)
    if version == "1.6":
        await csms.until("StatusNotification", lambda p: p["status"] == "Charging")
        return int(charger.remote_charges[-1].transaction_id or 0)
    return (await csms.until(action, test))[0]["transactionInfo"]["transactionId"]


async def barrier(csms: FakeCsms) -> None:
    """A round trip to the station: whatever it was due to send by now has been sent."""
    await csms.call("TriggerMessage", {"requestedMessage": "Heartbeat"})


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_remote_start_runs_a_charge_until_the_remote_stop(version: str):
    async with station(version) as (charger, csms, time):
        assert await csms.call(*start_call(version)) == {"status": "Accepted"}
        action, test = started(version)
        (start,) = await csms.until(action, test)
        # The answer first, then the transaction (OCPP 1.6 §5.11, 2.0.1 F01).
        assert csms.position("answer", start_call(version)[0]) < csms.position("call", action)
        transaction_id = await transaction_of(version, charger, csms)
        if version == "1.6":
            assert start == {
                "connectorId": 1,
                "idTag": "APP-1",
                "meterStart": 0,
                "timestamp": "2026-11-24T12:00:00Z",
            }
        else:
            assert start["triggerReason"] == "RemoteStart"
            assert start["transactionInfo"]["remoteStartId"] == 7
            assert start["idToken"] == {"idToken": "APP-1", "type": "Central"}
            assert start["evse"] == {"id": 1, "connectorId": 1}
            assert "reservationId" not in start

        time.advance(150)  # two clock-aligned meter values: 12:01 and 12:02
        meter = "MeterValues" if version == "1.6" else "TransactionEvent"
        await csms.until(meter, lambda p: p.get("eventType", "Updated") == "Updated", count=2)
        assert await csms.call(*stop_call(version, transaction_id)) == {"status": "Accepted"}
        action, test = ended(version)
        (end,) = await csms.until(action, test)
        await charger.wait_remote_charges()

    (charge,) = charger.remote_charges
    assert (charge.state, charge.stop_reason, charge.delivered_wh) == (
        ChargeState.DONE,
        "Remote",
        2500,  # 150 s of a 600 s charge of 10 kWh
    )
    assert charge.stopped_at == WALL + timedelta(seconds=150)
    if version == "1.6":
        assert end["reason"] == "Remote"
        assert (end["meterStop"], end["timestamp"]) == (2500, "2026-11-24T12:02:30Z")
        assert end["transactionId"] == transaction_id
        assert csms.statuses(1) == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    else:
        assert end["triggerReason"] == "RemoteStop"
        assert end["transactionInfo"]["stoppedReason"] == "Remote"
        assert end["meterValue"][0]["sampledValue"][0]["value"] == 2500
        assert csms.statuses(1) == ["Available", "Occupied", "Available"]
    assert charger.meters[1] == 2500


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_stop_within_the_second_of_the_last_reading_ends_a_second_later(version: str):
    # Two readings of one moment that differ (power 150 kW, then 0 at the stop) would be
    # conflicting samples: the stop waits for the next second.
    async with station(version) as (charger, csms, time):
        assert await csms.call(*start_call(version)) == {"status": "Accepted"}
        transaction_id = await transaction_of(version, charger, csms)
        assert await csms.call(*stop_call(version, transaction_id)) == {"status": "Accepted"}
        time.advance(1)
        action, test = ended(version)
        (end,) = await csms.until(action, test)
        await charger.wait_remote_charges()
    stamp = end["timestamp"]
    assert stamp == "2026-11-24T12:00:01Z"
    (charge,) = charger.remote_charges
    assert (charge.stopped_at, charge.delivered_wh) == (WALL + timedelta(seconds=1), 16)


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_remote_start_takes_a_free_connector_or_is_rejected(version: str):
    async with station(version) as (charger, csms, _):
        await charger.status(2, "Faulted")
        assert await csms.call(*start_call(version, ocpp_id=None)) == {"status": "Accepted"}
        assert await csms.call(*start_call(version, ocpp_id=1)) == {"status": "Rejected"}
        assert await csms.call(*start_call(version, ocpp_id=2)) == {"status": "Rejected"}
        assert await csms.call(*start_call(version, ocpp_id=9)) == {"status": "Rejected"}
        assert await csms.call(*stop_call(version, 999 if version == "1.6" else "nope")) == {
            "status": "Rejected"
        }
        action, test = started(version)
        await csms.until(action, test)
        assert len(csms.calls(action)) == 1
        assert [c.plan.ocpp_id for c in charger.remote_charges] == [1]


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_connector_answers_unlocked(version: str):
    async with station(version) as (_, csms, _):
        if version == "1.6":
            assert await csms.call("UnlockConnector", {"connectorId": 2}) == {"status": "Unlocked"}
            assert await csms.call("UnlockConnector", {"connectorId": 7}) == {
                "status": "NotSupported"
            }
        else:
            unlock = {"evseId": 2, "connectorId": 1}
            assert await csms.call("UnlockConnector", unlock) == {"status": "Unlocked"}
            assert await csms.call("UnlockConnector", {"evseId": 7, "connectorId": 1}) == {
                "status": "UnknownConnector"
            }


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_holds_the_connector_for_its_token_until_it_starts(version: str):
    async with station(version) as (charger, csms, _):
        assert await csms.call(*reserve_call(version, 5, "APP-1", 2)) == {"status": "Accepted"}
        await csms.until("StatusNotification", lambda _: csms.statuses(2)[-1:] == ["Reserved"])
        # Another reservation, another driver's start or card: the connector is held.
        assert await csms.call(*reserve_call(version, 6, "APP-2", 2)) == {"status": "Occupied"}
        assert await csms.call(*start_call(version, "APP-2", 2)) == {"status": "Rejected"}
        card = await charger.charge(
            ChargePlan(2, "CARD-9", 600, 1000), FastForwardClock(wall=charger.clock)
        )
        assert (card.state, card.authorization) == (ChargeState.REFUSED, "Reserved")
        # The reserved driver's start, naming no connector, goes to the reserved one.
        assert await csms.call(*start_call(version, "app-1", None)) == {"status": "Accepted"}
        action, test = started(version)
        (start,) = await csms.until(action, test)
        assert start["reservationId"] == 5
        assert (start["connectorId"] if version == "1.6" else start["evse"]["id"]) == 2
        assert charger.reservations == {}
        assert charger.remote_charges[0].reservation_id == 5
        expected = ["Available", "Reserved", "Preparing"] if version == "1.6" else None
        assert csms.statuses(2)[:3] == (expected or ["Available", "Reserved", "Occupied"])
        # Used up: cancelling it now is refused.
        assert await csms.call("CancelReservation", {"reservationId": 5}) == {"status": "Rejected"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_cancelled_or_expired_frees_the_connector(version: str):
    async with station(version) as (charger, csms, time):
        assert await csms.call(*reserve_call(version, 5, "APP-1", None)) == {"status": "Accepted"}
        assert await csms.call(*reserve_call(version, 6, "APP-2", None, minutes=10)) == {
            "status": "Accepted"
        }
        assert sorted(charger.reservations) == [1, 2]  # "any": the first free one each
        assert await csms.call("CancelReservation", {"reservationId": 6}) == {"status": "Accepted"}
        await csms.until("StatusNotification", lambda _: len(csms.statuses(2)) == 3)
        assert csms.statuses(2) == ["Available", "Reserved", "Available"]
        assert await csms.call("CancelReservation", {"reservationId": 6}) == {"status": "Rejected"}

        time.advance(299)
        await barrier(csms)
        assert csms.statuses(1) == ["Available", "Reserved"]
        time.advance(1)
        await csms.until("StatusNotification", lambda _: len(csms.statuses(1)) == 3)
        assert csms.statuses(1) == ["Available", "Reserved", "Available"]
        assert charger.reservations == {}
        updates = csms.calls("ReservationStatusUpdate")
        expected = (
            [] if version == "1.6" else [{"reservationId": 5, "reservationUpdateStatus": "Expired"}]
        )
        assert updates == expected
        # Free again: the other driver may start there.
        assert await csms.call(*start_call(version, "APP-2", 1)) == {"status": "Accepted"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_is_refused_where_the_station_cannot_keep_it(version: str):
    async with station(version) as (charger, csms, _):
        await charger.status(1, "Faulted")
        await charger.status(2, "Faulted")
        assert await csms.call(*reserve_call(version, 1, "APP-1", None)) == {"status": "Faulted"}
        await charger.status(2, "Unavailable")
        assert await csms.call(*reserve_call(version, 1, "APP-1", 2)) == {"status": "Unavailable"}
        assert await csms.call(*reserve_call(version, 1, "APP-1", 9)) == {"status": "Rejected"}
        await charger.status(2, "Available")
        assert await csms.call(*start_call(version, "APP-2", 2)) == {"status": "Accepted"}
        assert await csms.call(*reserve_call(version, 1, "APP-1", 2)) == {"status": "Occupied"}
        # The same reservation id again replaces the reservation (here: moves it).
        await charger.status(1, "Available")
        assert await csms.call(*reserve_call(version, 3, "APP-1", 1)) == {"status": "Accepted"}
        assert await csms.call(*reserve_call(version, 3, "APP-3", 1)) == {"status": "Accepted"}
        assert [(r.reservation_id, r.id_tag) for r in charger.reservations.values()] == [
            (3, "APP-3")
        ]
