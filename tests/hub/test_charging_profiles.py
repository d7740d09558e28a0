"""Charging profiles from eMSPs (hub.services.charging_profiles, carried out by the command
runner): what is accepted or refused when it arrives, the OCPP call each request becomes (valid
against the ``ocpp`` package's schemas), what the charger's answer makes of it (the profile kept
per session, the result queued to ``response_url``, the ActiveChargingProfile queued to the
eMSP's Sender interface). Both engines, a clock the test drives, a fake charger connection (the
OCPP exchange end to end is in tests/e2e/test_charging_profiles.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ocpp.messages import MessageType
from sqlmodel import col, select

from hub.config import CommandSettings
from hub.domain.access import PartyScope
from hub.domain.commands import CommandKind
from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenType
from hub.errors import InvalidRequest
from hub.ocpp.command_runner import CommandRunner
from hub.ocpp.commands import CallFailure, StationCallFailed, schema_problem
from hub.persistence.session import session_scope
from hub.persistence.tables import (
    ChargingSession,
    ChargingStation,
    Command,
    Partner,
    PushJob,
    SessionChargingProfile,
)
from hub.roaming.charging_profiles import active_profile_put, profile_result_model
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.charging_profiles import ChargingProfileService, ProfileRequest
from hub.services.commands import Caller
from hub.services.locations import LocationService
from hub.services.sessions import SessionService, TransactionStart
from hub.services.stations import StationService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties
from tests.support.emsp_authorize import register_emsp

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
A, B = ("US", "EMA"), ("US", "EMB")
RESPONSE_URL = "https://emsp.example/chargingprofiles/result/1"
SENDER_URL = "https://emsp-a.example/ocpi/2.2.1/chargingprofiles"
PROFILE = {
    "charging_rate_unit": "W",
    "charging_profile_period": [
        {"start_period": 0, "limit": 11000},
        {"start_period": 900, "limit": 7400.5},
    ],
}
VERSIONS = {"CS-16": "1.6", "CS-201": "2.0.1"}


class Clock:
    def __init__(self) -> None:
        self.now = T0 + timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeStations:
    """The charger side: checks every payload against the OCPP schema of the station's version
    (as hub.ocpp.commands does before sending), answers with what the test put in ``answers``
    (by action) or raises the StationCallFailed put there; records every call."""

    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def call(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        problem = schema_problem(MessageType.Call, action, VERSIONS[station_id], payload)
        assert problem is None, problem
        self.calls.append((station_id, action, payload))
        answer = self.answers.get(action, {"status": "Accepted"})
        if isinstance(answer, Exception):
            raise answer
        return dict(answer)


def site() -> dict:
    location = network.linked_location(
        "SITE", [("CS-16", None, 1), ("CS-16", None, 2), ("CS-201", 1, None)]
    )
    for index in (0, 2):
        location["evses"][index]["capabilities"] = [
            "REMOTE_START_STOP_CAPABLE",
            "CHARGING_PROFILE_CAPABLE",
        ]
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

    async def _start(self, start: TransactionStart) -> str:
        async with session_scope(self.sessions) as session:
            row = await SessionService(session, codec=OcpiTariffCodec(), clock=self.clock).start(
                start
            )
            return row.session_id

    async def charge_16(self, connector_id: int = 1, party: tuple[str, str] = A) -> str:
        return await self._start(
            TransactionStart(
                station_id="CS-16",
                ocpp_version="1.6",
                started_at=T0,
                ocpp_connector_id=connector_id,
                token=self.token(party),
                meter_start_kwh=Decimal(0),
            )
        )

    async def charge_201(self, party: tuple[str, str] = A) -> str:
        return await self._start(
            TransactionStart(
                station_id="CS-201",
                ocpp_version="2.0.1",
                started_at=T0,
                transaction_id="TX-1",
                ocpp_evse_id=1,
                ocpp_connector_id=1,
                token=self.token(party),
                meter_start_kwh=Decimal(0),
            )
        )

    def token(self, party: tuple[str, str]) -> SessionToken:
        return SessionToken(
            uid=f"CARD-{party[1]}",
            token_type=TokenType.RFID,
            accepted=True,
            auth_method="WHITELIST",
            presented_type="idTag",
            country_code=party[0],
            party_id=party[1],
            contract_id=f"{party[0]}-{party[1]}-C1",
            partner_id=self.partner_a if party == A else self.partner_b,
        )

    async def accept(self, request: ProfileRequest, partner: str = "a") -> Command:
        async with session_scope(self.sessions) as session:
            return await ChargingProfileService(session, clock=self.clock).accept(
                self.caller(partner), request
            )

    async def run(self) -> None:
        # No grace for a charger not connected: its answer is the result at once here (the
        # retries within the grace are tests/hub/test_commands.py's).
        settings = CommandSettings(offline_grace_seconds=0)
        runner = CommandRunner(
            self.sessions,
            self.stations,
            settings,
            clock=self.clock,
            name="t",
            codec=OcpiTariffCodec(),
        )
        await runner.run_once()
        await runner.drain()

    async def command(self, pk: int) -> Command:
        async with session_scope(self.sessions) as session:
            row = await session.get(Command, pk)
            assert row is not None
            return row

    async def jobs(self, kind: str) -> list[PushJob]:
        async with session_scope(self.sessions) as session:
            rows = await session.execute(
                select(PushJob).where(col(PushJob.kind) == kind).order_by(col(PushJob.id))
            )
            return list(rows.scalars())

    async def held(self) -> list[SessionChargingProfile]:
        async with session_scope(self.sessions) as session:
            rows = await session.execute(select(SessionChargingProfile))
            return list(rows.scalars())

    async def station(self, station_id: str, *, online: bool) -> None:
        async with session_scope(self.sessions) as session:
            station = (
                await session.execute(
                    select(ChargingStation).where(col(ChargingStation.station_id) == station_id)
                )
            ).scalar_one()
            station.online = online

    async def lists_sender(self, partner_id: int) -> None:
        async with session_scope(self.sessions) as session:
            partner = await session.get(Partner, partner_id)
            assert partner is not None
            partner.endpoints = [
                *partner.endpoints,
                {"identifier": "chargingprofiles", "role": "SENDER", "url": SENDER_URL},
            ]


def set_profile(session_id: str, profile: dict | None = None) -> ProfileRequest:
    body = {"charging_profile": profile or PROFILE, "response_url": RESPONSE_URL}
    return ProfileRequest(
        CommandKind.SET_CHARGING_PROFILE,
        session_id,
        RESPONSE_URL,
        body,
        profile=body["charging_profile"],
    )


def get_profile(session_id: str, duration: int = 900) -> ProfileRequest:
    body = {"duration": duration, "response_url": RESPONSE_URL}
    return ProfileRequest(CommandKind.GET_ACTIVE_CHARGING_PROFILE, session_id, RESPONSE_URL, body)


def clear_profile(session_id: str) -> ProfileRequest:
    body = {"response_url": RESPONSE_URL}
    return ProfileRequest(CommandKind.CLEAR_CHARGING_PROFILE, session_id, RESPONSE_URL, body)


@pytest.fixture
async def world(sessions) -> World:
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await TariffService(session).import_tariffs(
            parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
        )
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        for station_id, version in VERSIONS.items():
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


async def test_a_profile_set_on_a_16_session_is_a_tx_profile_kept_once_the_charger_accepts(
    world: World,
):
    session_id = await world.charge_16()
    row = await world.accept(set_profile(session_id))
    assert (row.response, row.state, row.station_id) == ("ACCEPTED", "PENDING", "CS-16")
    assert row.deadline == world.clock.now + timedelta(seconds=30)
    assert await world.held() == []  # nothing kept before the charger took it

    await world.run()
    ((station_id, action, payload),) = world.stations.calls
    assert (station_id, action) == ("CS-16", "SetChargingProfile")
    profiles = payload["csChargingProfiles"]
    assert payload["connectorId"] == 1
    assert profiles["chargingProfileId"] == row.session_ref  # our id: the session's
    assert profiles["transactionId"] == row.session_ref  # 1.6: we assigned it, the same
    assert (profiles["chargingProfilePurpose"], profiles["chargingProfileKind"]) == (
        "TxProfile",
        "Relative",
    )
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "ACCEPTED")
    assert profile_result_model(done).to_wire() == {"result": "ACCEPTED"}
    (held,) = await world.held()
    assert (held.status, held.ocpp_profile_id, held.station_id) == (
        "ACTIVE",
        row.session_ref,
        "CS-16",
    )
    assert held.profile == PROFILE
    (result_job,) = await world.jobs("COMMAND_RESULT")
    assert (result_job.partner_id, result_job.target["command"]) == (world.partner_a, row.id)
    # emsp-a lists no ChargingProfiles Sender endpoint: no ActiveChargingProfile is queued.
    assert await world.jobs("ACTIVE_PROFILE_PUT") == []


async def test_a_201_profile_is_set_read_back_and_cleared(world: World):
    session_id = await world.charge_201()
    await world.lists_sender(world.partner_a)
    put = await world.accept(set_profile(session_id))
    await world.run()
    (_, action, payload) = world.stations.calls[-1]
    assert action == "SetChargingProfile"
    assert payload["evseId"] == 1
    assert payload["chargingProfile"]["transactionId"] == "TX-1"
    assert payload["chargingProfile"]["chargingSchedule"][0]["id"] == put.session_ref
    assert (await world.command(put.require_id())).result == "ACCEPTED"
    (queued,) = await world.jobs("ACTIVE_PROFILE_PUT")
    assert (queued.partner_id, queued.target["session"]) == (world.partner_a, put.session_ref)
    async with session_scope(world.sessions) as session:
        partner = await session.get(Partner, world.partner_a)
        assert partner is not None
        sent = await active_profile_put(session, partner, PartyScope.of([A]), put.session_ref or 0)
    assert sent is not None
    url, body = sent
    assert url == f"{SENDER_URL}/{session_id}"
    assert body == {
        "start_date_time": "2026-11-24T10:00:00Z",  # relative: from the session's start
        "charging_profile": {**PROFILE, "start_date_time": "2026-11-24T10:00:00Z"},
    }

    world.stations.answers["GetCompositeSchedule"] = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 1800,
            "scheduleStart": "2026-11-24T10:05:00Z",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": 0, "limit": 11000},
                {"startPeriod": 600, "limit": 7400.5},
            ],
        },
    }
    get = await world.accept(get_profile(session_id, 1800))
    assert get.request["charging_rate_unit"] == "W"  # the unit of the profile set
    await world.run()
    assert world.stations.calls[-1][1:] == (
        "GetCompositeSchedule",
        {"duration": 1800, "evseId": 1, "chargingRateUnit": "W"},
    )
    answered = await world.command(get.require_id())
    assert profile_result_model(answered).to_wire() == {
        "result": "ACCEPTED",
        "profile": {
            "start_date_time": "2026-11-24T10:05:00Z",
            "charging_profile": {
                "start_date_time": "2026-11-24T10:05:00Z",
                "duration": 1800,
                "charging_rate_unit": "W",
                "charging_profile_period": [
                    {"start_period": 0, "limit": 11000},
                    {"start_period": 600, "limit": 7400.5},
                ],
            },
        },
    }

    clear = await world.accept(clear_profile(session_id))
    await world.run()
    assert world.stations.calls[-1][1:] == (
        "ClearChargingProfile",
        {"chargingProfileId": put.session_ref},
    )
    cleared = await world.command(clear.require_id())
    assert profile_result_model(cleared).to_wire() == {"result": "ACCEPTED"}
    (held,) = await world.held()
    assert (held.status, held.cleared_at) == ("CLEARED", world.clock.now)
    assert len(await world.jobs("COMMAND_RESULT")) == 3
    async with session_scope(world.sessions) as session:
        partner = await session.get(Partner, world.partner_a)
        assert partner is not None
        # Cleared: nothing left to PUT (a job still queued finds nothing to send).
        assert (
            await active_profile_put(session, partner, PartyScope.of([A]), put.session_ref or 0)
            is None
        )


async def test_a_second_put_replaces_the_profile_under_the_same_id(world: World):
    session_id = await world.charge_16()
    first = await world.accept(set_profile(session_id))
    await world.run()
    lower = {**PROFILE, "charging_profile_period": [{"start_period": 0, "limit": 3000}]}
    await world.accept(set_profile(session_id, lower))
    await world.run()
    ids = [p["csChargingProfiles"]["chargingProfileId"] for _, _, p in world.stations.calls]
    assert ids == [first.session_ref, first.session_ref]
    (held,) = await world.held()
    assert held.profile == lower


async def test_refused_requests_call_no_charger_and_queue_no_result(world: World):
    mine = await world.charge_16(connector_id=1, party=A)
    not_capable = await world.charge_16(connector_id=2, party=A)
    theirs = await world.charge_201(party=B)

    unknown = await world.accept(set_profile("NO-SUCH-SESSION"))
    foreign = await world.accept(set_profile(theirs))
    foreign_get = await world.accept(get_profile(theirs))
    foreign_clear = await world.accept(clear_profile(theirs))
    assert {r.response for r in (unknown, foreign, foreign_get, foreign_clear)} == {
        "UNKNOWN_SESSION"
    }
    assert foreign.session_ref is None  # nothing of B's session leaks into A's records
    unsupported = await world.accept(set_profile(not_capable))
    assert unsupported.response == "NOT_SUPPORTED"
    assert "CHARGING_PROFILE_CAPABLE" in (unsupported.response_message or "")

    await world.station("CS-16", online=False)
    offline = await world.accept(set_profile(mine))
    assert (offline.response, offline.response_message) == ("REJECTED", "charger CS-16 is offline")
    await world.station("CS-16", online=True)

    async with session_scope(world.sessions) as session:
        charge = (
            await session.execute(
                select(ChargingSession).where(col(ChargingSession.session_id) == mine)
            )
        ).scalar_one()
        charge.status = "COMPLETED"
    ended = await world.accept(clear_profile(mine))
    assert ended.response == "REJECTED"
    assert "COMPLETED" in (ended.response_message or "")

    refused = (unknown, foreign, foreign_get, foreign_clear, unsupported, offline, ended)
    assert {r.state for r in refused} == {"FINISHED"}
    await world.run()
    assert world.stations.calls == []
    assert await world.jobs("COMMAND_RESULT") == []
    assert await world.held() == []


@pytest.mark.parametrize(
    "periods",
    [[], [{"start_period": i, "limit": 1} for i in range(1025)]],
    ids=["no-period", "too-many"],
)
async def test_a_profile_ocpp_cannot_carry_is_invalid_and_stores_nothing(world: World, periods):
    session_id = await world.charge_16()
    with pytest.raises(InvalidRequest, match="charging_profile_period"):
        await world.accept(set_profile(session_id, {**PROFILE, "charging_profile_period": periods}))
    async with session_scope(world.sessions) as session:
        assert (await session.execute(select(Command))).scalars().all() == []
    # Another eMSP's session is unknown before anything about the profile is said.
    foreign = await world.accept(
        set_profile(session_id, {**PROFILE, "charging_profile_period": periods}), partner="b"
    )
    assert foreign.response == "UNKNOWN_SESSION"


@pytest.mark.parametrize(
    ("answer", "stored", "sent"),
    [
        ({"status": "Rejected"}, "REJECTED", "REJECTED"),
        ({"status": "NotSupported"}, "REJECTED", "REJECTED"),
        (StationCallFailed("no answer", CallFailure.TIMEOUT), "TIMEOUT", "REJECTED"),
        (StationCallFailed("gone", CallFailure.NOT_CONNECTED), "FAILED", "REJECTED"),
        (
            StationCallFailed("NotImplemented: no", CallFailure.CALL_ERROR),
            "NOT_SUPPORTED",
            "REJECTED",
        ),
    ],
)
async def test_a_profile_the_charger_does_not_take_is_not_kept(
    world: World, answer: Any, stored: str, sent: str
):
    world.stations.answers["SetChargingProfile"] = answer
    session_id = await world.charge_16()
    await world.lists_sender(world.partner_a)
    row = await world.accept(set_profile(session_id))
    await world.run()
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", stored)
    assert profile_result_model(done).to_wire() == {"result": sent}
    assert await world.held() == []
    assert len(await world.jobs("COMMAND_RESULT")) == 1
    assert await world.jobs("ACTIVE_PROFILE_PUT") == []


async def test_an_unanswered_request_times_out_as_rejected(world: World):
    session_id = await world.charge_16()
    row = await world.accept(get_profile(session_id))
    async with session_scope(world.sessions) as session:
        from hub.services.commands import CommandService

        await CommandService(session, clock=world.clock).claim(
            row.require_id(), "dead-process", timedelta(seconds=60)
        )
    world.clock.now += timedelta(seconds=31)
    await world.run()
    done = await world.command(row.require_id())
    assert (done.state, done.result) == ("FINISHED", "TIMEOUT")
    assert profile_result_model(done).to_wire() == {"result": "REJECTED"}


@pytest.mark.parametrize(
    ("action", "answer", "sent"),
    [
        ("GetCompositeSchedule", {"status": "Accepted"}, {"result": "UNKNOWN"}),
        ("GetCompositeSchedule", {"status": "Rejected"}, {"result": "REJECTED"}),
        ("ClearChargingProfile", {"status": "Unknown"}, {"result": "UNKNOWN"}),
    ],
)
async def test_nothing_found_on_the_charger_is_unknown(
    world: World, action: str, answer: dict, sent: dict
):
    session_id = await world.charge_16()
    world.stations.answers[action] = answer
    request = (
        get_profile(session_id) if action == "GetCompositeSchedule" else clear_profile(session_id)
    )
    row = await world.accept(request)
    assert "charging_rate_unit" not in row.request  # no profile set: the charger's unit
    await world.run()
    assert world.stations.calls[-1][1] == action
    assert profile_result_model(await world.command(row.require_id())).to_wire() == sent
