"""Charging profiles from eMSPs (OCPI ``mod_charging_profiles``) as OCPP smart charging: the
profile an eMSP sets on its session becomes a TxProfile of the session's transaction, its GET
a GetCompositeSchedule, its DELETE a ClearChargingProfile; and what each charger answer means
as an OCPI ``ChargingProfileResultType`` (README "Charging profiles").

Each request is a command (``hub.domain.commands``) of one of the ``PROFILE_KINDS``: it shares
the commands' states, claims, deadlines and result delivery. Pure code: OCPI objects come and
go in their JSON (wire) form, OCPP payloads as the JSON the charger gets.

Rules decided here:

* **Our ids.** ``chargingProfileId`` (and the 2.0.1 ``chargingSchedule`` id) is the session's
  row id: unique on the platform, persisted, and one per session, so a second PUT replaces the
  first on the charger (same id, same ``stackLevel`` and purpose: the replacement rule of both
  OCPP versions) and a DELETE names exactly the profile the eMSP set.
* **stackLevel** is ``STACK_LEVEL`` (0): the eMSP's is the only TxProfile of the transaction.
* **A first ``start_period`` that is not 0.** OCPP requires the first period to start at 0;
  OCPI does not. Before the first period the eMSP set no limit, so the schedule is moved to
  begin where its first period does: ``startSchedule`` = profile start (``start_date_time``, or
  for a relative profile the session's start, which is its transaction's) + first
  ``start_period``, every period and the ``duration`` shortened by that much, kind Absolute.
  The charger then limits exactly when the eMSP asked, and not before. A profile whose
  ``duration`` ends before its first period has nothing to set and is refused.
* **Numbers.** Limits reach us with at most one decimal (the server checks); a composite
  schedule's limits go back to OCPI rounded *down* to one decimal, since they are maxima.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from typing import Any

from hub.domain.commands import CommandKind, Outcome


class ProfileResult(StrEnum):
    """OCPI ``ChargingProfileResultType``."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


PROFILE_KINDS = frozenset(
    {
        CommandKind.SET_CHARGING_PROFILE,
        CommandKind.GET_ACTIVE_CHARGING_PROFILE,
        CommandKind.CLEAR_CHARGING_PROFILE,
    }
)

CAPABILITY = "CHARGING_PROFILE_CAPABLE"
"""The EVSE capability without which profiles are NOT_SUPPORTED."""

STACK_LEVEL = 0
PURPOSE = "TxProfile"
MAX_PERIODS = 1024
"""OCPP 2.0.1 takes at most 1024 periods in a schedule (1.6 sets no limit)."""

SET, GET, CLEAR = "SetChargingProfile", "GetCompositeSchedule", "ClearChargingProfile"


@dataclass(frozen=True, slots=True)
class ProfileTarget:
    """Where a profile goes: the session's transaction on its charger."""

    profile_id: int
    """Our ``chargingProfileId`` (the session's row id)."""
    transaction_id: str
    ocpp_evse_id: int | None
    """2.0.1: the EVSE; 1.6: None."""
    ocpp_connector_id: int | None
    """1.6: the connector."""
    session_start: datetime


@dataclass(frozen=True, slots=True)
class _Schedule:
    kind: str
    start: datetime | None
    duration: int | None
    unit: str
    min_rate: Decimal | None
    periods: list[tuple[int, Decimal]]
    valid_from: datetime | None
    valid_to: datetime | None


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def iso(moment: datetime) -> str:
    """OCPP and OCPI date-time text, UTC with ``Z``."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _periods(profile: Mapping[str, Any]) -> list[tuple[int, Decimal]]:
    return [
        (int(p["start_period"]), _decimal(p["limit"]))
        for p in profile.get("charging_profile_period") or []
    ]


def profile_problem(profile: Mapping[str, Any]) -> str | None:
    """What keeps an OCPI ChargingProfile (wire form, its numbers already checked by the
    server) from becoming an OCPP one, in words; None when nothing does."""
    periods = _periods(profile)
    where = "charging_profile.charging_profile_period"
    if not periods:
        return f"{where} must list at least one period: OCPP sets no profile without one"
    if len(periods) > MAX_PERIODS:
        return f"{where} lists {len(periods)} periods; OCPP takes at most {MAX_PERIODS}"
    first = periods[0][0]
    duration = profile.get("duration")
    if first > 0 and duration is not None and int(duration) <= first:
        return (
            f"charging_profile.duration ({duration} s) ends before the first period starts"
            f" ({first} s): nothing of the profile is left to set"
        )
    return None


def _schedule(profile: Mapping[str, Any], session_start: datetime) -> _Schedule:
    periods = _periods(profile)
    start = _time(profile["start_date_time"]) if profile.get("start_date_time") else None
    duration = int(profile["duration"]) if profile.get("duration") is not None else None
    first = periods[0][0] if periods else 0
    base = start
    if first > 0:  # see the module docstring: the schedule starts where its first period does
        base = start or session_start
        start = base + timedelta(seconds=first)
        periods = [(offset - first, limit) for offset, limit in periods]
        duration = duration - first if duration is not None else None
    min_rate = profile.get("min_charging_rate")
    return _Schedule(
        kind="Absolute" if start is not None else "Relative",
        start=start,
        duration=duration,
        unit=str(profile["charging_rate_unit"]),
        min_rate=_decimal(min_rate) if min_rate is not None else None,
        periods=periods,
        valid_from=base,
        valid_to=(
            base + timedelta(seconds=int(profile["duration"]))
            if base is not None and profile.get("duration") is not None
            else None
        ),
    )


def _ocpp_schedule(schedule: _Schedule) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if schedule.start is not None:
        body["startSchedule"] = iso(schedule.start)
    if schedule.duration is not None:
        body["duration"] = schedule.duration
    body["chargingRateUnit"] = schedule.unit
    body["chargingSchedulePeriod"] = [
        {"startPeriod": offset, "limit": _number(limit)} for offset, limit in schedule.periods
    ]
    if schedule.min_rate is not None:
        body["minChargingRate"] = _number(schedule.min_rate)
    return body


def _profile_head(schedule: _Schedule, profile_id_key: str, profile_id: int) -> dict[str, Any]:
    head: dict[str, Any] = {
        profile_id_key: profile_id,
        "stackLevel": STACK_LEVEL,
        "chargingProfilePurpose": PURPOSE,
        "chargingProfileKind": schedule.kind,
    }
    if schedule.valid_from is not None:
        head["validFrom"] = iso(schedule.valid_from)
    if schedule.valid_to is not None:
        head["validTo"] = iso(schedule.valid_to)
    return head


def ocpp16_set_charging_profile(
    profile: Mapping[str, Any], target: ProfileTarget
) -> dict[str, Any]:
    """OCPP 1.6 SetChargingProfile.req: a TxProfile of the session's transaction."""
    schedule = _schedule(profile, target.session_start)
    profiles = _profile_head(schedule, "chargingProfileId", target.profile_id)
    profiles["transactionId"] = int(target.transaction_id)
    profiles["chargingSchedule"] = _ocpp_schedule(schedule)
    return {"connectorId": target.ocpp_connector_id or 1, "csChargingProfiles": profiles}


def ocpp201_set_charging_profile(
    profile: Mapping[str, Any], target: ProfileTarget
) -> dict[str, Any]:
    """OCPP 2.0.1 SetChargingProfileRequest: a TxProfile of the session's transaction."""
    schedule = _schedule(profile, target.session_start)
    body = _profile_head(schedule, "id", target.profile_id)
    body["transactionId"] = target.transaction_id
    body["chargingSchedule"] = [{"id": target.profile_id, **_ocpp_schedule(schedule)}]
    return {"evseId": target.ocpp_evse_id or 1, "chargingProfile": body}


def get_composite_schedule(
    version: str, target: ProfileTarget, duration: int, unit: str | None
) -> dict[str, Any]:
    """GetCompositeSchedule of the session's connector (1.6) or EVSE (2.0.1) for ``duration``
    seconds, in ``unit`` (that of the profile set on the session; None: the charger's)."""
    if version == "1.6":
        body: dict[str, Any] = {"connectorId": target.ocpp_connector_id or 1, "duration": duration}
    else:
        body = {"duration": duration, "evseId": target.ocpp_evse_id or 1}
    if unit is not None:
        body["chargingRateUnit"] = unit
    return body


def clear_charging_profile(version: str, profile_id: int) -> dict[str, Any]:
    """ClearChargingProfile of exactly our profile."""
    return {"id": profile_id} if version == "1.6" else {"chargingProfileId": profile_id}


def _one_decimal(value: Any) -> int | float:
    return _number(_decimal(value).quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def _ocpi_profile(
    start: datetime, duration: Any, unit: Any, min_rate: Any, periods: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    profile: dict[str, Any] = {"start_date_time": iso(start)}
    if duration is not None:
        profile["duration"] = int(duration)
    profile["charging_rate_unit"] = str(unit)
    if min_rate is not None:
        profile["min_charging_rate"] = _one_decimal(min_rate)
    profile["charging_profile_period"] = [
        {"start_period": int(p["startPeriod"]), "limit": _one_decimal(p["limit"])} for p in periods
    ]
    return profile


def active_profile_of_schedule(
    answer: Mapping[str, Any], *, answered_at: datetime
) -> dict[str, Any] | None:
    """The OCPI ActiveChargingProfile of a GetCompositeSchedule answer (1.6:
    ``scheduleStart`` + ``chargingSchedule``; 2.0.1: ``schedule``), or None when it carries no
    schedule. Its times are relative to the schedule's start (``answered_at`` when the charger
    gave none)."""
    schedule = answer.get("schedule") or answer.get("chargingSchedule")
    if not isinstance(schedule, Mapping):
        return None
    started = (
        answer.get("scheduleStart")
        or schedule.get("scheduleStart")
        or schedule.get("startSchedule")
    )
    start = _time(started) if started else answered_at
    profile = _ocpi_profile(
        start,
        schedule.get("duration"),
        schedule.get("chargingRateUnit"),
        schedule.get("minChargingRate"),
        schedule.get("chargingSchedulePeriod") or [],
    )
    return {"start_date_time": iso(start), "charging_profile": profile}


def active_profile_as_set(profile: Mapping[str, Any], session_start: datetime) -> dict[str, Any]:
    """The ActiveChargingProfile of a profile the charger accepted, as it was set (what we PUT
    to the eMSP's Sender interface: the charger does not tell us its composite schedule unless
    asked). Its times are relative to the profile's start: ``start_date_time``, or for a
    relative profile the session's start."""
    start = _time(profile["start_date_time"]) if profile.get("start_date_time") else session_start
    return {
        "start_date_time": iso(start),
        "charging_profile": {**profile, "start_date_time": iso(start)},
    }


# Each OCPP answer status, per action, as an OCPI ChargingProfileResultType (README "Charging
# profiles"); any other status is REJECTED, quoted in the message.
_ANSWERS: dict[str, dict[str, ProfileResult]] = {
    # 1.6 ChargingProfileStatus: Accepted | Rejected | NotSupported; 2.0.1
    # ChargingProfileStatusEnumType: Accepted | Rejected. OCPI has no NOT_SUPPORTED result: the
    # EVSE did not take the profile.
    SET: {
        "Accepted": ProfileResult.ACCEPTED,
        "Rejected": ProfileResult.REJECTED,
        "NotSupported": ProfileResult.REJECTED,
    },
    # 1.6 GetCompositeScheduleStatus, 2.0.1 GenericStatusEnumType: Accepted | Rejected. An
    # Accepted without a schedule (1.6 allows it) found nothing: UNKNOWN.
    GET: {"Accepted": ProfileResult.ACCEPTED, "Rejected": ProfileResult.REJECTED},
    # 1.6 ClearChargingProfileStatus, 2.0.1 ClearChargingProfileStatusEnumType:
    # Accepted | Unknown (no profile with our id on the charger).
    CLEAR: {"Accepted": ProfileResult.ACCEPTED, "Unknown": ProfileResult.UNKNOWN},
}


def profile_answer_outcome(action: str, answer: Mapping[str, Any]) -> Outcome:
    """The outcome of the charger answering ``answer`` to ``action``."""
    status = str(answer.get("status"))
    result = _ANSWERS.get(action, {}).get(status)
    if result is None:
        return Outcome(
            ProfileResult.REJECTED, f"the charger answered {action} with status {status!r}"
        )
    if action == GET and result is ProfileResult.ACCEPTED:
        if not isinstance(answer.get("schedule") or answer.get("chargingSchedule"), Mapping):
            return Outcome(ProfileResult.UNKNOWN, "the charger has no schedule for the session")
        return Outcome(result, "the charger sent its composite schedule")
    words = {
        ProfileResult.ACCEPTED: f"the charger accepted {action}",
        ProfileResult.REJECTED: f"the charger rejected {action} ({status})",
        ProfileResult.UNKNOWN: "the charger holds no profile of ours for the session",
    }[result]
    return Outcome(result, words)


def wire_result(stored: str | None) -> ProfileResult:
    """The ChargingProfileResultType sent for a finished profile command. A command the
    shared machinery finished (``TIMEOUT``: no answer in time; ``FAILED``: the charger went
    offline or answered a CallError; ``NOT_SUPPORTED``: it does not implement the action) is
    REJECTED: OCPI has no other word for it, and each of the three requests can safely be
    sent again."""
    try:
        return ProfileResult(stored or "")
    except ValueError:
        return ProfileResult.REJECTED
