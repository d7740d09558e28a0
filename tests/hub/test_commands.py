"""Commands from eMSPs: what is accepted or refused when they arrive, the OCPP call each one
becomes, how each charger answer ends as a result queued to the eMSP, START_SESSION matched
with the transaction it starts, and timeouts. Both engines, a clock the test drives, a fake
charger connection the test answers for (the OCPP exchange end to end is in tests/e2e)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from hub.config import CommandSettings, SessionSettings
from hub.domain.access import PartyScope
from hub.domain.commands import CommandKind, Result, answer_outcome
from hub.errors import InvalidRequest, NotFound
from hub.ocpp.command_runner import CommandRunner
from hub.ocpp.commands import CallFailure, StationCallFailed
from hub.ocpp.transactions import Transactions
from hub.persistence.group_commit import GroupCommit
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession, ChargingStation, Command, PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.commands import Caller, CommandRequest, CommandService, CommandToken
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.hub.test_group_commit import Gate
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
A, B = ("US", "EMA"), ("US", "EMB")
RESPONSE_URL = "https://emsp.example/commands/START_SESSION/42"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeStations:
    """The charger side: answers each call with what the test put in ``answers`` (by action),
    or raises the StationCallFailed put there; records every call."""

    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((station_id, action, payload))
        answer = self.answers.get(action, {"status": "Accepted"})
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def site() -> dict:
    location = network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None)]
    )
    location["evses"][1]["capabilities"] = ["REMOTE_START_STOP_CAPABLE", "UNLOCK_CAPABLE"]
    return location


def private_site() -> dict:
    location = network.linked_location("HIDDEN", [("CS-P", None, 1)])
    location["publish"] = False
    return location


@dataclass
class World:
    sessions: Any
    clock: Clock
    stations: FakeStations
    partner_a: int
    partner_b: int

    def caller(self, partner: str = "a") -> Caller:
        if partner == "a":
            return Caller(self.partner_a, PartyScope.of([A]))
        return Caller(self.partner_b, PartyScope.of([B]))

    def runner(self, **settings: Any) -> CommandRunner:
        return CommandRunner(
            self.sessions,
            self.stations,
            CommandSettings(**settings),
            clock=self.clock,
            name="t",
            codec=OcpiTariffCodec(),
        )

    def transactions(self) -> Transactions:
        return Transactions(
            self.sessions,
            SessionSettings(),
            codec=OcpiTariffCodec(),
            authorizer=None,
            clock=self.clock,
        )

    async def accept(self, request: CommandRequest, partner: str = "a") -> Command:
        async with session_scope(self.sessions) as session:
            return await CommandService(session, clock=self.clock, codec=OcpiTariffCodec()).accept(
                self.caller(partner), request
            )

    async def command(self, pk: int) -> Command:
        async with session_scope(self.sessions) as session:
            row = await session.get(Command, pk)
            assert row is not None
            return row

    async def result_jobs(self) -> list[PushJob]:
        async with session_scope(self.sessions) as session:
            rows = await session.execute(
                select(PushJob).where(col(PushJob.kind) == "COMMAND_RESULT").order_by(PushJob.id)
            )
            return list(rows.scalars())

    async def run(self, **settings: Any) -> None:
        runner = self.runner(**settings)
        await runner.run_once()
        await runner.drain()


@pytest.fixture
async def world(sessions) -> World:
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
        )
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps([site(), private_site()]))
        )
        for station_id, version in (("CS-16", "1.6"), ("CS-201", "2.0.1"), ("CS-P", "1.6")):
            await StationService(session).add(station_id, "station-password-0123")
            station = (
                await session.execute(
                    select(ChargingStation).where(col(ChargingStation.station_id) == station_id)
                )
            ).scalar_one()
            station.online, station.ocpp_version = True, version
    partner_a = await register_emsp(sessions, "emsp-a", A, None)
    partner_b = await register_emsp(sessions, "emsp-b", B, None)
    return World(sessions, Clock(), FakeStations(), partner_a, partner_b)


def start_session(
    *,
    evse_uid: str | None = "SITE-E1",
    connector_id: str | None = None,
    location_id: str = "SITE",
    uid: str = "APP-USER-1",
    party: tuple[str, str] = A,
    reference: str | None = "AUTH-REF-1",
) -> CommandRequest:
    token = CommandToken(party[0], party[1], uid, "APP_USER", contract_id=f"{party[1]}-C1")
    return CommandRequest(
        kind=CommandKind.START_SESSION,
        response_url=RESPONSE_URL,
        body={"response_url": RESPONSE_URL, "token": {"uid": uid}},
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        token=token,
        authorization_reference=reference,
    )


def stop_session(session_id: str) -> CommandRequest:
    return CommandRequest(
        kind=CommandKind.STOP_SESSION,
        response_url="https://emsp.example/stop/1",
        body={"session_id": session_id},
        session_id=session_id,
    )


async def test_a_16_start_session_becomes_a_remote_start_and_its_transaction_a_command_session(
    world: World,
):
    row = await world.accept(start_session())
    assert (row.response, row.state) == ("ACCEPTED", "PENDING")
    assert row.deadline == T0 + timedelta(seconds=180)
    assert await world.result_jobs() == []

    await world.run()
    (station_id, action, payload) = world.stations.calls[0]
    assert (station_id, action, payload) == (
        "CS-16",
        "RemoteStartTransaction",
        {"idTag": "APP-USER-1", "connectorId": 1},
    )
    waiting = await world.command(row.require_id())
    assert waiting.state == "WAITING"
    assert waiting.ocpp_answer == {"status": "Accepted"}
    assert await world.result_jobs() == []  # ACCEPTED only once the charge runs

    world.clock.now += timedelta(seconds=40)
    _, info = await world.transactions().started_16(
        "CS-16", connector_id=1, id_tag="app-user-1", meter_start=0, timestamp=T0.isoformat()
    )
    assert info == {"status": "Accepted"}
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "ACCEPTED")
    async with session_scope(world.sessions) as session:
        charge = await session.get(ChargingSession, done.session_ref)
        assert charge is not None
        assert (charge.auth_method, charge.authorization_reference) == ("COMMAND", "AUTH-REF-1")
        assert (charge.token_uid, charge.token_type) == ("APP-USER-1", "APP_USER")
        assert (charge.token_country_code, charge.token_party_id) == A
        assert charge.partner_id == world.partner_a
    (job,) = await world.result_jobs()
    assert (job.partner_id, job.target["command"]) == (world.partner_a, row.id)


async def test_a_201_start_carries_our_remote_start_id_which_finds_the_command_again(
    world: World,
):
    row = await world.accept(start_session(evse_uid="SITE-E3", uid="0123456789ABCDEF"))
    await world.run()
    (_, action, payload) = world.stations.calls[0]
    assert action == "RequestStartTransaction"
    assert payload == {
        "idToken": {"idToken": "0123456789ABCDEF", "type": "Central"},
        "remoteStartId": row.id,
        "evseId": 1,
    }
    info = await world.transactions().event_201(
        "CS-201",
        event_type="Started",
        timestamp=T0.isoformat(),
        seq_no=0,
        transaction_info={"transaction_id": "TX-1", "remote_start_id": row.id},
        evse={"id": 1, "connector_id": 1},
        id_token={"id_token": "0123456789ABCDEF", "type": "Central"},
        meter_value=None,
    )
    assert info == {"status": "Accepted"}
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "ACCEPTED")
    async with session_scope(world.sessions) as session:
        charge = await session.get(ChargingSession, done.session_ref)
        assert charge is not None
        assert (charge.transaction_id, charge.auth_method) == ("TX-1", "COMMAND")


async def test_a_uid_too_long_for_16_is_sent_as_an_alias_that_names_the_command(world: World):
    uid = "4f6a2d0e-9c1b-4e57-8a8e-3b1f5d2c7a90"
    row = await world.accept(start_session(uid=uid))
    await world.run()
    (_, _, payload) = world.stations.calls[0]
    assert payload["idTag"] == f"CMD{row.id}"
    await world.transactions().started_16(
        "CS-16", connector_id=1, id_tag=f"CMD{row.id}", meter_start=0, timestamp=T0.isoformat()
    )
    done = await world.command(row.require_id())
    assert done.result == "ACCEPTED"
    async with session_scope(world.sessions) as session:
        charge = await session.get(ChargingSession, done.session_ref)
        assert charge is not None
        assert charge.token_uid == uid  # as the eMSP sent it


async def test_a_remote_start_the_charger_accepts_but_no_charge_follows_times_out(world: World):
    row = await world.accept(start_session())
    await world.run()
    world.clock.now += timedelta(seconds=179)
    await world.run()
    assert (await world.command(row.require_id())).state == "WAITING"
    world.clock.now += timedelta(seconds=2)
    await world.run()
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "TIMEOUT")
    assert "no charge began" in (done.result_message or "")
    assert len(await world.result_jobs()) == 1
    # A charge that starts after all still carries the command's token and reference; the
    # eMSP got its one result.
    await world.transactions().started_16(
        "CS-16", connector_id=1, id_tag="APP-USER-1", meter_start=0, timestamp=T0.isoformat()
    )
    after = await world.command(row.require_id())
    assert (after.result, after.session_ref is not None) == ("TIMEOUT", True)
    assert len(await world.result_jobs()) == 1


@pytest.mark.parametrize(
    ("answer", "result"),
    [
        ({"status": "Rejected"}, "FAILED"),
        (StationCallFailed("no answer", CallFailure.TIMEOUT), "TIMEOUT"),
        (StationCallFailed("NotImplemented: no", CallFailure.CALL_ERROR), "NOT_SUPPORTED"),
    ],
)
async def test_each_charger_answer_to_a_remote_start_ends_as_its_result(
    world: World, answer: Any, result: str
):
    world.stations.answers["RemoteStartTransaction"] = answer
    row = await world.accept(start_session())
    await world.run()
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", result)
    (job,) = await world.result_jobs()
    assert job.target["command"] == row.id


async def test_a_charger_not_connected_is_tried_again_until_the_grace_ends(world: World):
    world.stations.answers["RemoteStartTransaction"] = StationCallFailed(
        "station CS-16 is not connected", CallFailure.NOT_CONNECTED
    )
    row = await world.accept(start_session())
    await world.run()
    assert (await world.command(row.require_id())).state == "PENDING"
    world.clock.now += timedelta(seconds=29)
    await world.run()
    assert (await world.command(row.require_id())).state == "PENDING"
    assert len(world.stations.calls) == 2
    world.clock.now += timedelta(seconds=2)
    await world.run()
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "FAILED")
    assert "offline" in (done.result_message or "")
    assert len(await world.result_jobs()) == 1


async def test_a_command_whose_process_died_mid_call_times_out_at_its_deadline(world: World):
    row = await world.accept(start_session())
    async with session_scope(world.sessions) as session:
        claimed = await CommandService(session, clock=world.clock).claim(
            row.require_id(), "dead-process", timedelta(seconds=60)
        )
        assert claimed is not None
        assert claimed.state == "CALLING"
    world.clock.now += timedelta(seconds=181)
    await world.run()
    assert world.stations.calls == []  # never called twice
    done = await world.command(row.require_id())
    assert done.result == "TIMEOUT"


async def test_commands_refused_when_they_arrive_store_no_result_and_call_nothing(world: World):
    async with session_scope(world.sessions) as session:
        station = (
            await session.execute(
                select(ChargingStation).where(col(ChargingStation.station_id) == "CS-16")
            )
        ).scalar_one()
        station.online = False
    offline = await world.accept(start_session())
    assert (offline.response, offline.state) == ("REJECTED", "FINISHED")
    assert "offline" in (offline.response_message or "")
    foreign = await world.accept(start_session(evse_uid="SITE-E3", party=B))
    assert foreign.response == "REJECTED"
    assert "only use its own tokens" in (foreign.response_message or "")
    no_capability = await world.accept(
        CommandRequest(
            kind=CommandKind.UNLOCK_CONNECTOR,
            response_url=RESPONSE_URL,
            body={},
            location_id="SITE",
            evse_uid="SITE-E3",
            connector_id="1",
        )
    )
    assert no_capability.response == "NOT_SUPPORTED"
    await world.run()
    assert world.stations.calls == []
    assert await world.result_jobs() == []


async def test_unknown_or_invisible_places_and_a_missing_required_connector_are_errors(
    world: World,
):
    with pytest.raises(NotFound, match="location 'NOPE'"):
        await world.accept(start_session(location_id="NOPE"))
    with pytest.raises(NotFound, match="location 'HIDDEN'"):
        await world.accept(start_session(location_id="HIDDEN", evse_uid="HIDDEN-E1"))
    with pytest.raises(NotFound, match="evse_uid 'SITE-E9'"):
        await world.accept(start_session(evse_uid="SITE-E9"))
    with pytest.raises(NotFound, match="connector_id '7'"):
        await world.accept(start_session(connector_id="7"))
    async with session_scope(world.sessions) as session:
        evse = await LocationService(session).get("SITE")
        evse.evses[0].attributes = {
            **evse.evses[0].attributes,
            "capabilities": ["REMOTE_START_STOP_CAPABLE", "START_SESSION_CONNECTOR_REQUIRED"],
        }
    with pytest.raises(InvalidRequest, match="connector_id is required"):
        await world.accept(start_session())
    async with session_scope(world.sessions) as session:
        assert (await session.execute(select(Command))).scalars().all() == []


async def test_a_start_without_an_evse_takes_the_first_free_one(world: World):
    async with session_scope(world.sessions) as session:
        view = await LocationService(session).get("SITE")
        view.evses[0].status = "CHARGING"
        view.evses[1].status = "AVAILABLE"
    row = await world.accept(start_session(evse_uid=None))
    assert (row.response, row.evse_uid, row.ocpp_connector_id) == ("ACCEPTED", "SITE-E2", 2)


async def test_stop_session_stops_only_the_callers_own_sessions(world: World):
    row = await world.accept(start_session())
    await world.run()
    transaction_id, _ = await world.transactions().started_16(
        "CS-16", connector_id=1, id_tag="APP-USER-1", meter_start=0, timestamp=T0.isoformat()
    )
    charge = await world.command(row.require_id())
    async with session_scope(world.sessions) as session:
        session_row = await session.get(ChargingSession, charge.session_ref)
        assert session_row is not None
        session_id = session_row.session_id

    theirs = await world.accept(stop_session(session_id), partner="b")
    assert theirs.response == "UNKNOWN_SESSION"
    unknown = await world.accept(stop_session("NO-SUCH-SESSION"))
    assert unknown.response == "UNKNOWN_SESSION"
    mine = await world.accept(stop_session(session_id))
    assert (mine.response, mine.deadline) == ("ACCEPTED", T0 + timedelta(seconds=30))
    world.stations.calls.clear()
    await world.run()
    assert world.stations.calls == [
        ("CS-16", "RemoteStopTransaction", {"transactionId": transaction_id})
    ]
    done = await world.command(mine.require_id())
    assert (done.state, done.result) == ("FINISHED", "ACCEPTED")


@pytest.mark.parametrize(
    ("status", "result"),
    [
        ("Unlocked", "ACCEPTED"),
        ("UnlockFailed", "FAILED"),
        ("NotSupported", "NOT_SUPPORTED"),
        ("Weird", "FAILED"),
    ],
)
async def test_unlock_connector_answers(world: World, status: str, result: str):
    world.stations.answers["UnlockConnector"] = {"status": status}
    row = await world.accept(
        CommandRequest(
            kind=CommandKind.UNLOCK_CONNECTOR,
            response_url=RESPONSE_URL,
            body={},
            location_id="SITE",
            evse_uid="SITE-E2",
            connector_id="1",
        )
    )
    await world.run()
    assert world.stations.calls == [("CS-16", "UnlockConnector", {"connectorId": 2})]
    assert (await world.command(row.require_id())).result == result


START, STOP, RESERVE = CommandKind.START_SESSION, CommandKind.STOP_SESSION, CommandKind.RESERVE_NOW
CANCEL, UNLOCK = CommandKind.CANCEL_RESERVATION, CommandKind.UNLOCK_CONNECTOR


@pytest.mark.parametrize(
    ("kind", "action", "status", "result"),
    [
        (START, "RequestStartTransaction", "Accepted", Result.ACCEPTED),
        (STOP, "RequestStopTransaction", "Rejected", Result.REJECTED),
        (RESERVE, "ReserveNow", "Occupied", Result.EVSE_OCCUPIED),
        (RESERVE, "ReserveNow", "Faulted", Result.EVSE_INOPERATIVE),
        (RESERVE, "ReserveNow", "Unavailable", Result.EVSE_INOPERATIVE),
        (CANCEL, "CancelReservation", "Rejected", Result.UNKNOWN_RESERVATION),
        (UNLOCK, "UnlockConnector", "OngoingAuthorizedTransaction", Result.EVSE_OCCUPIED),
        (UNLOCK, "UnlockConnector", "UnknownConnector", Result.REJECTED),
    ],
)  # fmt: skip
def test_answer_table(kind: CommandKind, action: str, status: str, result: Result):
    outcome = answer_outcome(kind, action, status)
    assert outcome.result is result
    assert outcome.waits_for_session is (kind is CommandKind.START_SESSION)


async def test_the_chargers_answer_and_the_transaction_it_began_in_either_order_end_accepted(
    world: World, db_engine_name: str
):
    """The runner records the answer to RemoteStartTransaction while the charger's
    StartTransaction comes in: each takes the command's row lock, so the second sees what the
    first wrote. Arranged: the runner's unit of work holds the lock (the row still CALLING)
    while the transaction arrives, which must wait for it, not finish on what it read."""
    if db_engine_name != "postgresql":
        pytest.skip("SQLite runs one unit of work at a time: nothing to interleave")
    row = await world.accept(start_session())
    async with session_scope(world.sessions) as session:
        await CommandService(session, clock=world.clock).claim(
            row.require_id(), "t", timedelta(seconds=60)
        )
    arrived: asyncio.Task[Any] | None = None
    async with session_scope(world.sessions) as session:
        service = CommandService(session, clock=world.clock)
        locked = await service.get(row.require_id(), for_update=True)
        assert locked is not None
        assert locked.state == "CALLING"
        arrived = asyncio.create_task(
            world.transactions().started_16(
                "CS-16",
                connector_id=1,
                id_tag="APP-USER-1",
                meter_start=0,
                timestamp=T0.isoformat(),
            )
        )
        await _until_a_lock_waits(session, arrived)
        await service.called(
            locked,
            action="RemoteStartTransaction",
            request={},
            answer={"status": "Accepted"},
            outcome=answer_outcome(CommandKind.START_SESSION, "RemoteStartTransaction", "Accepted"),
        )
    await arrived
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "ACCEPTED")
    assert done.session_ref is not None


async def _until_a_lock_waits(session: Any, task: asyncio.Task[Any]) -> None:
    """Until another PostgreSQL backend waits for a lock (the task reached our row), or the
    task ended without waiting (which the test then shows as the wrong result)."""
    for _ in range(1000):
        waiting = await session.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
        if waiting.scalar_one() or task.done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the transaction neither waited for the lock nor finished")


async def test_meter_values_and_transaction_events_of_several_stations_share_a_commit(world):
    group = GroupCommit(world.sessions, lanes=1)
    transactions = Transactions(
        world.sessions, SessionSettings(), codec=OcpiTariffCodec(), authorizer=None, group=group
    )
    transaction_id, _ = await transactions.started_16(
        "CS-16", connector_id=1, id_tag="CARD-1", meter_start=1000, timestamp=T0.isoformat()
    )
    later = (T0 + timedelta(minutes=5)).isoformat()
    register = {"value": "5000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
    gate, first = await Gate.occupying(group)
    metered = asyncio.ensure_future(
        transactions.meter_values_16(
            "CS-16",
            connector_id=1,
            transaction_id=transaction_id,
            meter_value=[{"timestamp": later, "sampled_value": [register]}],
        )
    )
    event = asyncio.ensure_future(
        transactions.event_201(
            "CS-201",
            event_type="Started",
            timestamp=later,
            seq_no=0,
            transaction_info={"transaction_id": "TX-9"},
            evse={"id": 1, "connector_id": 1},
            id_token=None,
            meter_value=None,
        )
    )
    # Both read the database before they queue; the group signals nothing, so look until both
    # wait for the lane the gate holds (no timing: the lane stays shut until then).
    while group.queued < 2:  # noqa: ASYNC110
        await asyncio.sleep(0.001)
    gate.opened.set()
    await asyncio.gather(first, metered, event)
    await group.close()

    # The gate's group, then one for both (the 1.6 start was a transaction of its own).
    assert (group.stats.groups, group.stats.largest, group.stats.fallbacks) == (2, 2, 0)
    async with session_scope(world.sessions) as session:
        rows = {row.station_id: row for row in await session.scalars(select(ChargingSession))}
    assert rows["CS-16"].kwh == 4
    assert rows["CS-201"].transaction_id == "TX-9"
