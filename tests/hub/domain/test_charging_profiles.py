"""OCPI charging profiles as OCPP smart charging (hub.domain.charging_profiles): every payload
built for 1.6 and 2.0.1 passes the ``ocpp`` package's JSON schemas (as hub.ocpp.commands checks
what it sends), a first period that does not start at 0 moves the schedule instead of
inventing a limit, composite schedules of both versions become OCPI ActiveChargingProfiles,
and each charger answer has its OCPI result."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.messages import MessageType

from hub.domain.charging_profiles import (
    ProfileResult,
    ProfileTarget,
    active_profile_as_set,
    active_profile_of_schedule,
    clear_charging_profile,
    get_composite_schedule,
    ocpp16_set_charging_profile,
    ocpp201_set_charging_profile,
    profile_answer_outcome,
    profile_problem,
    wire_result,
)
from hub.ocpp.commands import schema_problem
from ocpi.v221.models.charging_profiles import ActiveChargingProfile

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TARGET_16 = ProfileTarget(77, "77", None, 2, START)
TARGET_201 = ProfileTarget(78, "TX-9", 1, 1, START)


def profile(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "charging_rate_unit": "W",
        "charging_profile_period": [
            {"start_period": 0, "limit": 11000},
            {"start_period": 600, "limit": 7400.5},
        ],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def valid(action: str, version: str, payload: dict[str, Any], call: bool = True) -> None:
    kind = MessageType.Call if call else MessageType.CallResult
    assert schema_problem(kind, action, version, payload) is None


def test_a_relative_profile_becomes_a_16_tx_profile_of_the_transaction():
    payload = ocpp16_set_charging_profile(profile(min_charging_rate=1400.1), TARGET_16)
    valid("SetChargingProfile", "1.6", payload)
    assert payload == {
        "connectorId": 2,
        "csChargingProfiles": {
            "chargingProfileId": 77,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": 77,
            "chargingSchedule": {
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 11000},
                    {"startPeriod": 600, "limit": 7400.5},
                ],
                "minChargingRate": 1400.1,
            },
        },
    }


def test_an_absolute_profile_becomes_a_201_tx_profile_with_our_schedule_id():
    body = profile(start_date_time="2026-11-24T10:30:00Z", duration=3600, charging_rate_unit="A")
    payload = ocpp201_set_charging_profile(body, TARGET_201)
    valid("SetChargingProfile", "2.0.1", payload)
    assert payload == {
        "evseId": 1,
        "chargingProfile": {
            "id": 78,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "validFrom": "2026-11-24T10:30:00Z",
            "validTo": "2026-11-24T11:30:00Z",
            "transactionId": "TX-9",
            "chargingSchedule": [
                {
                    "id": 78,
                    "startSchedule": "2026-11-24T10:30:00Z",
                    "duration": 3600,
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [
                        {"startPeriod": 0, "limit": 11000},
                        {"startPeriod": 600, "limit": 7400.5},
                    ],
                }
            ],
        },
    }
    valid("SetChargingProfile", "1.6", ocpp16_set_charging_profile(body, TARGET_16))


@pytest.mark.parametrize(
    ("start_date_time", "schedule_start"),
    [("2026-11-24T10:30:00Z", "2026-11-24T10:35:00Z"), (None, "2026-11-24T10:05:00Z")],
)
def test_a_first_period_after_0_moves_the_schedule_to_where_it_begins(
    start_date_time: str | None, schedule_start: str
):
    body = profile(
        start_date_time=start_date_time,
        duration=1200,
        charging_profile_period=[
            {"start_period": 300, "limit": 16},
            {"start_period": 900, "limit": 8.5},
        ],
    )
    payload = ocpp16_set_charging_profile(body, TARGET_16)
    valid("SetChargingProfile", "1.6", payload)
    profiles = payload["csChargingProfiles"]
    assert profiles["chargingProfileKind"] == "Absolute"
    assert profiles["chargingSchedule"]["startSchedule"] == schedule_start
    assert profiles["chargingSchedule"]["duration"] == 900
    assert profiles["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16},
        {"startPeriod": 600, "limit": 8.5},
    ]
    # Valid for the whole profile as the eMSP gave it (relative: from the session's start).
    assert profiles["validTo"] == (
        "2026-11-24T10:50:00Z" if start_date_time else "2026-11-24T10:20:00Z"
    )
    valid("SetChargingProfile", "2.0.1", ocpp201_set_charging_profile(body, TARGET_201))


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (profile(charging_profile_period=[]), "at least one period"),
        (profile(charging_profile_period=None), "at least one period"),
        (
            profile(charging_profile_period=[{"start_period": i, "limit": 1} for i in range(1025)]),
            "at most 1024",
        ),
        (
            profile(duration=300, charging_profile_period=[{"start_period": 300, "limit": 1}]),
            "nothing of the profile is left",
        ),
    ],
)
def test_profiles_ocpp_cannot_carry_are_named(body: dict[str, Any], problem: str):
    found = profile_problem(body)
    assert found is not None
    assert problem in found


def test_a_profile_ocpp_can_carry_has_no_problem():
    assert profile_problem(profile()) is None
    assert (
        profile_problem(profile(charging_profile_period=[{"start_period": 5, "limit": 1}])) is None
    )


@pytest.mark.parametrize("unit", ["W", None])
def test_get_composite_schedule_and_clear_are_valid_in_both_versions(unit: str | None):
    for version, target in (("1.6", TARGET_16), ("2.0.1", TARGET_201)):
        request = get_composite_schedule(version, target, 900, unit)
        valid("GetCompositeSchedule", version, request)
        assert request["duration"] == 900
        assert ("chargingRateUnit" in request) is (unit is not None)
        valid("ClearChargingProfile", version, clear_charging_profile(version, target.profile_id))
    assert get_composite_schedule("1.6", TARGET_16, 900, "A")["connectorId"] == 2
    assert get_composite_schedule("2.0.1", TARGET_201, 900, "A")["evseId"] == 1
    assert clear_charging_profile("1.6", 77) == {"id": 77}
    assert clear_charging_profile("2.0.1", 78) == {"chargingProfileId": 78}


ANSWER_16 = {
    "status": "Accepted",
    "connectorId": 2,
    "scheduleStart": "2026-11-24T10:10:00Z",
    "chargingSchedule": {
        "duration": 900,
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 11000.0},
            {"startPeriod": 300, "limit": 7400.5, "numberPhases": 3},
        ],
    },
}
ANSWER_201 = {
    "status": "Accepted",
    "schedule": {
        "evseId": 1,
        "duration": 900,
        "scheduleStart": "2026-11-24T10:10:00Z",
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 16.27},
            {"startPeriod": 300, "limit": 8, "numberPhases": 1},
        ],
    },
}


@pytest.mark.parametrize(
    ("version", "answer", "unit", "limits"),
    [("1.6", ANSWER_16, "W", [11000, 7400.5]), ("2.0.1", ANSWER_201, "A", [16.2, 8])],
)
def test_a_composite_schedule_becomes_an_ocpi_active_charging_profile(
    version: str, answer: dict[str, Any], unit: str, limits: list[float]
):
    valid("GetCompositeSchedule", version, answer, call=False)
    active = active_profile_of_schedule(answer, answered_at=START)
    assert active is not None
    model = ActiveChargingProfile.model_validate(active)  # the OCPI object it must be
    assert active == {
        "start_date_time": "2026-11-24T10:10:00Z",
        "charging_profile": {
            "start_date_time": "2026-11-24T10:10:00Z",
            "duration": 900,
            "charging_rate_unit": unit,
            "charging_profile_period": [
                {"start_period": 0, "limit": limits[0]},  # maxima: rounded down
                {"start_period": 300, "limit": limits[1]},
            ],
        },
    }
    assert model.to_wire() == active
    assert active_profile_of_schedule({"status": "Accepted"}, answered_at=START) is None


def test_the_profile_as_set_is_an_active_charging_profile_from_its_start():
    relative = active_profile_as_set(profile(), START)
    ActiveChargingProfile.model_validate(relative)
    assert relative["start_date_time"] == "2026-11-24T10:00:00Z"
    assert relative["charging_profile"]["charging_profile_period"][1]["limit"] == 7400.5
    absolute = active_profile_as_set(profile(start_date_time="2026-11-24T10:30:00Z"), START)
    assert absolute["start_date_time"] == absolute["charging_profile"]["start_date_time"]
    assert absolute["start_date_time"] == "2026-11-24T10:30:00Z"


@pytest.mark.parametrize(
    ("action", "answer", "result"),
    [
        ("SetChargingProfile", {"status": "Accepted"}, ProfileResult.ACCEPTED),
        ("SetChargingProfile", {"status": "Rejected"}, ProfileResult.REJECTED),
        ("SetChargingProfile", {"status": "NotSupported"}, ProfileResult.REJECTED),
        ("SetChargingProfile", {"status": "Weird"}, ProfileResult.REJECTED),
        ("GetCompositeSchedule", ANSWER_16, ProfileResult.ACCEPTED),
        ("GetCompositeSchedule", ANSWER_201, ProfileResult.ACCEPTED),
        ("GetCompositeSchedule", {"status": "Accepted"}, ProfileResult.UNKNOWN),
        ("GetCompositeSchedule", {"status": "Rejected"}, ProfileResult.REJECTED),
        ("ClearChargingProfile", {"status": "Accepted"}, ProfileResult.ACCEPTED),
        ("ClearChargingProfile", {"status": "Unknown"}, ProfileResult.UNKNOWN),
    ],
)  # fmt: skip
def test_answer_table(action: str, answer: dict[str, Any], result: ProfileResult):
    outcome = profile_answer_outcome(action, answer)
    assert outcome.result is result
    assert not outcome.waits_for_session


@pytest.mark.parametrize(
    ("stored", "sent"),
    [
        ("ACCEPTED", "ACCEPTED"),
        ("UNKNOWN", "UNKNOWN"),
        ("REJECTED", "REJECTED"),
        ("TIMEOUT", "REJECTED"),
        ("FAILED", "REJECTED"),
        ("NOT_SUPPORTED", "REJECTED"),
        (None, "REJECTED"),
    ],
)
def test_what_the_shared_machinery_decided_is_sent_as_a_profile_result(stored, sent):
    assert wire_result(stored).value == sent
