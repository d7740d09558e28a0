"""SessionService: a session's life from the charger's messages, what is pushed and when, which
sessions are billed, and the ones the charger never ends. Both engines, a clock the test
drives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from hub.domain.sessions import (
    CloseReason,
    PaymentMethod,
    PushThrottle,
    SessionStatus,
    SessionToken,
)
from hub.domain.tokens import TokenType
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargeDetailRecord, ChargingSession, PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.locations import LocationService
from hub.services.sessions import MeterMessage, SessionService, TransactionStart
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
A = ("US", "EMA")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def site() -> dict:
    location = network.location("SITE", evses=2)
    for connector_id, evse in enumerate(location["evses"], start=1):
        evse["hub_ocpp"] = {"charging_station_id": "CS-1", "connector_id": connector_id}
    return location


PARKING_TARIFF = {
    **network.tariff("T-DC"),
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.0, "step_size": 60}]},
    ],
}


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([PARKING_TARIFF]))
        )
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        await StationService(session).add("CS-1", "station-password-0123")
    partner_id = await register_emsp(
        sessions,
        "emsp-a",
        A,
        None,
        receivers={"sessions": "http://127.0.0.1:9/s", "cdrs": "http://127.0.0.1:9/c"},
    )
    return sessions, partner_id, Clock()


def token(partner_id: int | None, *, accepted: bool = True, uid: str = "CARD-1") -> SessionToken:
    known = partner_id is not None
    return SessionToken(
        uid=uid,
        token_type=TokenType.RFID,
        accepted=accepted,
        auth_method="WHITELIST",
        presented_type="idTag",
        country_code=A[0] if known else None,
        party_id=A[1] if known else None,
        contract_id="US-EMA-C1" if known else None,
        partner_id=partner_id,
    )


def register(at: datetime, kwh: str, *, context: str | None = None) -> dict:
    sampled = {"value": str(Decimal(kwh) * 1000), "measurand": "Energy.Active.Import.Register"}
    if context:
        sampled["context"] = context
    return {"timestamp": at.isoformat(), "sampled_value": [sampled]}


def service(session, clock, **throttle) -> SessionService:
    return SessionService(
        session, codec=OcpiTariffCodec(), clock=clock, throttle=PushThrottle(**throttle)
    )


async def start(world, *, connector: int = 1, who: SessionToken | None = None) -> int:
    sessions, partner_id, clock = world
    async with session_scope(sessions) as session:
        row = await service(session, clock).start(
            TransactionStart(
                station_id="CS-1",
                ocpp_version="1.6",
                started_at=clock(),
                ocpp_connector_id=connector,
                token=who or token(partner_id),
                meter_start_kwh=Decimal(0),
            )
        )
        return row.id


async def meter(world, pk: int, kwh: str, **throttle) -> bool:
    sessions, _, clock = world
    async with session_scope(sessions) as session:
        svc = service(session, clock, **throttle)
        row = await svc.get(pk)
        return await svc.record(row, MeterMessage("MeterValues", clock(), [register(clock(), kwh)]))


async def stop(world, pk: int, kwh: str, reason: str = "Local") -> None:
    sessions, _, clock = world
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        await svc.end(
            await svc.get(pk), at=clock(), meter_stop_kwh=Decimal(kwh), stop_reason=reason
        )


async def state(world, pk: int) -> tuple[ChargingSession, list[PushJob], list[ChargeDetailRecord]]:
    sessions, _, _ = world
    async with session_scope(sessions) as session:
        row = await session.get(ChargingSession, pk)
        jobs = (
            (
                await session.execute(
                    select(PushJob)
                    .where(col(PushJob.kind).like("SESSION%") | (col(PushJob.kind) == "CDR_POST"))
                    .order_by(PushJob.id)
                )
            )
            .scalars()
            .all()
        )
        cdrs = (await session.execute(select(ChargeDetailRecord))).scalars().all()
        return row, list(jobs), list(cdrs)


async def test_changes_are_patched_at_most_once_a_minute_unless_a_kwh_moved(world):
    clock = world[2]
    pk = await start(world)
    clock.now += timedelta(seconds=10)
    await meter(world, pk, "0.5")
    _, jobs, _ = await state(world, pk)
    assert [j.kind for j in jobs] == ["SESSION_PUT"]  # 0.5 kWh after 10 s: not yet
    clock.now += timedelta(seconds=10)
    await meter(world, pk, "1.6")  # moved 1.6 kWh since the push
    clock.now += timedelta(seconds=5)
    await meter(world, pk, "1.9")  # 0.3 kWh, 5 s: not yet
    clock.now += timedelta(seconds=60)
    await meter(world, pk, "2.0")  # a minute since the last push
    _, jobs, _ = await state(world, pk)
    assert [j.kind for j in jobs] == ["SESSION_PUT", "SESSION_PATCH", "SESSION_PATCH"]
    # Undelivered PATCHes coalesce: the payload is built from the current state when sent.
    assert [j.state for j in jobs] == ["PENDING", "SUPERSEDED", "PENDING"]
    clock.now += timedelta(seconds=1)
    await stop(world, pk, "2.0")
    row, jobs, cdrs = await state(world, pk)
    assert row.status == SessionStatus.COMPLETED.value
    # The final state goes as a whole PUT (a PATCH's periods would be added, not replaced),
    # replacing the PATCH still pending, then the CDR on the same queue.
    assert [j.kind for j in jobs if j.state == "PENDING"] == [
        "SESSION_PUT",
        "SESSION_PUT",
        "CDR_POST",
    ]
    assert len({j.queue_key for j in jobs}) == 1
    (cdr,) = cdrs
    assert cdr.total_energy == Decimal(2)
    assert cdr.total_cost_excl_vat == Decimal("1.00")  # 2 kWh x 0.50
    assert row.payment_method == PaymentMethod.RFID_ROAMING.value
    assert row.session_error is None


async def test_a_new_transaction_on_the_connector_closes_the_old_one(world):
    clock = world[2]
    old = await start(world)
    clock.now += timedelta(minutes=5)
    await meter(world, old, "3")
    clock.now += timedelta(minutes=5)
    new = await start(world)
    row, _, cdrs = await state(world, old)
    assert row.status == SessionStatus.COMPLETED.value
    assert row.close_reason == CloseReason.REPLACED.value
    assert row.end_date_time == T0 + timedelta(minutes=5)  # its last message, not the new start
    assert row.session_error == CloseReason.REPLACED.value
    assert [c.cdr_id for c in cdrs] == [row.session_id]
    assert (await state(world, new))[0].status == SessionStatus.ACTIVE.value


async def test_silent_and_rebooted_sessions_are_closed_with_their_reason(world):
    sessions, _, clock = world
    silent = await start(world, connector=1)
    await meter(world, silent, "1")
    clock.now += timedelta(hours=7)
    rebooted = await start(world, connector=2)
    await meter(world, rebooted, "1")
    clock.now += timedelta(minutes=1)
    async with session_scope(sessions) as session:
        await StationService(session, clock=clock).booted("CS-1", vendor="V", model="M")
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        assert await svc.close_silent(before=clock() - timedelta(hours=6)) == 1
        # Booted a minute ago: the grace (after the boot) is not over, the stop may still come.
        assert await svc.close_rebooted(booted_before=clock() - timedelta(minutes=10)) == 0
    clock.now += timedelta(minutes=11)
    async with session_scope(sessions) as session:
        assert (
            await service(session, clock).close_rebooted(
                booted_before=clock() - timedelta(minutes=10)
            )
            == 1
        )
    assert (await state(world, silent))[0].close_reason == CloseReason.SILENT.value
    row = (await state(world, rebooted))[0]
    assert (row.status, row.close_reason) == ("COMPLETED", CloseReason.STATION_REBOOTED.value)


async def test_a_refused_token_makes_an_invalid_session_that_is_never_billed(world):
    clock = world[2]
    pk = await start(world, who=token(world[1], accepted=False))
    clock.now += timedelta(minutes=10)
    await stop(world, pk, "5")
    row, _, cdrs = await state(world, pk)
    assert row.status == SessionStatus.INVALID.value
    assert row.session_error == "AUTHORIZATION_REFUSED"
    assert cdrs == []


async def test_a_charge_that_delivered_nothing_and_costs_nothing_gets_no_cdr(world):
    clock = world[2]
    pk = await start(world)
    clock.now += timedelta(seconds=30)  # plugged in (charging as far as known), no energy
    await stop(world, pk, "0", reason="EVDisconnected")
    row, _, cdrs = await state(world, pk)
    assert (row.status, row.kwh, cdrs) == ("COMPLETED", Decimal(0), [])
    assert row.session_error == "NO_ENERGY_DELIVERED"


async def test_an_idle_only_session_with_a_parking_fee_is_billed(world):
    sessions, partner_id, clock = world
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        row = await svc.start(
            TransactionStart(
                station_id="CS-1", ocpp_version="2.0.1", started_at=clock(),
                transaction_id="TX-P", ocpp_evse_id=None, ocpp_connector_id=1,
                token=token(partner_id),
            )
        )  # fmt: skip
        await svc.record(row, MeterMessage("TransactionEvent", clock(), [], 0, "SuspendedEV"))
        clock.now += timedelta(minutes=30)
        await svc.end(row, at=clock(), stop_reason="EVDisconnected")
        pk = row.id
    row, _, (cdr,) = await state(world, pk)
    assert row.kwh == 0
    assert cdr.total_cost_excl_vat == Decimal("3.00")  # half an hour at 6.00 per hour
    assert cdr.body["total_parking_time"] == 0.5


async def test_a_token_of_no_known_emsp_is_kept_unassigned_and_pushed_to_nobody(world):
    clock = world[2]
    pk = await start(world, who=token(None, uid="UNKNOWN-CARD"))
    clock.now += timedelta(minutes=10)
    await stop(world, pk, "4")
    row, jobs, (cdr,) = await state(world, pk)
    assert (row.partner_id, jobs) == (None, [])
    assert cdr.partner_id is None  # billable data kept; delivered once someone owns the card
    sessions = world[0]
    async with session_scope(sessions) as session:
        listed = await SessionService(session, codec=OcpiTariffCodec()).repository.listing(
            unassigned=True
        )
    assert [r.id for r in listed] == [pk]


async def test_a_decreasing_register_holds_the_session_for_review_instead_of_billing(world):
    clock = world[2]
    pk = await start(world)
    clock.now += timedelta(minutes=5)
    await meter(world, pk, "6")
    clock.now += timedelta(minutes=5)
    await meter(world, pk, "2")  # the register went back
    clock.now += timedelta(minutes=5)
    await stop(world, pk, "8")
    row, _, cdrs = await state(world, pk)
    assert row.held_for_review
    assert any("REGISTER" in p.upper() or "decreas" in p for p in row.problems), row.problems
    assert cdrs == []


async def test_a_message_dated_in_the_future_holds_the_session(world):
    sessions, _, clock = world
    pk = await start(world)
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        later = clock() + timedelta(hours=2)
        await svc.record(
            await svc.get(pk), MeterMessage("MeterValues", later, [register(later, "1")])
        )
    row, _, _ = await state(world, pk)
    assert row.held_for_review
    assert any("future" in p for p in row.problems)


async def test_late_data_after_the_cdr_is_kept_but_never_rebilled(world):
    clock = world[2]
    pk = await start(world)
    clock.now += timedelta(minutes=10)
    await stop(world, pk, "5")
    await meter(world, pk, "9")
    row, _, (cdr,) = await state(world, pk)
    assert (row.kwh, cdr.total_energy) == (Decimal(5), Decimal(5))
    assert any("after the CDR" in p for p in row.problems)


async def test_a_repeated_event_is_recognised_and_changes_nothing(world):
    sessions, partner_id, clock = world
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        row = await svc.start(
            TransactionStart(
                station_id="CS-1", ocpp_version="2.0.1", started_at=clock(),
                transaction_id="TX-R", ocpp_connector_id=1, token=token(partner_id),
            )
        )  # fmt: skip
        event = MeterMessage("TransactionEvent", clock(), [], 3)
        assert await svc.record(row, event)
        assert not await svc.record(row, MeterMessage("TransactionEvent", clock(), [], 3))


async def test_signed_meter_values_reach_the_cdr_as_signed_data(world):
    sessions, _, clock = world
    pk = await start(world)
    clock.now += timedelta(minutes=10)
    signed = {
        "timestamp": clock().isoformat(),
        "sampled_value": [
            {
                "value": 'OCMF|{"FV":"1.0","RD":[{"RV":4.0,"RU":"kWh"}]}|{"SD":"30450221"}',
                "format": "SignedData",
                "context": "Transaction.End",
                "measurand": "Energy.Active.Import.Register",
            }
        ],
    }
    async with session_scope(sessions) as session:
        svc = service(session, clock)
        row = await svc.get(pk)
        await svc.record(row, MeterMessage("StopTransaction", clock(), [signed]))
        await svc.end(row, at=clock(), meter_stop_kwh=Decimal(4))
    _, _, (cdr,) = await state(world, pk)
    data = cdr.body["signed_data"]
    assert data["encoding_method"] == "OCMF"
    (value,) = data["signed_values"]
    assert value["nature"] == "Transaction.End"
    assert value["signed_data"].startswith("OCMF|")
    assert cdr.total_energy == Decimal(4)


async def test_a_repeated_16_start_is_the_same_transaction(world):
    first = await start(world)
    again = await start(world)  # the charger lost our answer and sent it again
    row, _, _ = await state(world, first)
    assert again == first
    assert row.status == SessionStatus.ACTIVE.value


async def test_a_transaction_at_a_connector_of_no_evse_is_held_and_shown_to_nobody(world):
    sessions, partner_id, clock = world
    async with session_scope(sessions) as session:
        row = await service(session, clock).start(
            TransactionStart(
                station_id="CS-UNLINKED", ocpp_version="1.6", started_at=clock(),
                ocpp_connector_id=1, token=token(partner_id), meter_start_kwh=Decimal(0),
            )
        )  # fmt: skip
        pk = row.id
    clock.now += timedelta(minutes=10)
    await stop(world, pk, "5")
    row, jobs, cdrs = await state(world, pk)
    assert (row.location_id, row.held_for_review) == ("#NA", True)
    assert any("not linked" in p for p in row.problems)
    assert (jobs, cdrs) == ([], [])
