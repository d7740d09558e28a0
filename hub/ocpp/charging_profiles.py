"""The OCPP calls that carry out eMSPs' charging-profile requests (``hub.domain.charging_profiles``)
on 1.6 and 2.0.1 chargers, for the command runner (``hub.ocpp.command_runner``)."""

from __future__ import annotations

from typing import Any

from hub.domain.charging_profiles import (
    CLEAR,
    GET,
    SET,
    ProfileTarget,
    clear_charging_profile,
    get_composite_schedule,
    ocpp16_set_charging_profile,
    ocpp201_set_charging_profile,
)
from hub.domain.commands import CommandKind
from hub.persistence.tables import ChargingSession, Command


def profile_call(
    row: Command, version: str, session: ChargingSession | None
) -> tuple[str, dict[str, Any]]:
    """The action and payload for ``row``, a charging-profile command on ``session``."""
    if session is None or session.id is None or session.transaction_id is None:
        raise ValueError(f"command {row.id}: its session has no transaction")
    target = ProfileTarget(
        profile_id=session.id,
        transaction_id=session.transaction_id,
        ocpp_evse_id=row.ocpp_evse_id,
        ocpp_connector_id=row.ocpp_connector_id,
        session_start=session.start_date_time,
    )
    kind = CommandKind(row.kind)
    if kind is CommandKind.SET_CHARGING_PROFILE:
        profile = row.request["charging_profile"]
        if version == "1.6":
            return SET, ocpp16_set_charging_profile(profile, target)
        return SET, ocpp201_set_charging_profile(profile, target)
    if kind is CommandKind.GET_ACTIVE_CHARGING_PROFILE:
        unit = row.request.get("charging_rate_unit")
        duration = int(row.request["duration"])
        return GET, get_composite_schedule(version, target, duration, unit)
    if kind is CommandKind.CLEAR_CHARGING_PROFILE:
        return CLEAR, clear_charging_profile(version, target.profile_id)
    raise ValueError(f"{kind} is not a charging-profile command")
