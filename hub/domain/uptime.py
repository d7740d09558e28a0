"""NEVI uptime (23 CFR 680.116(b)): outages of charging ports and the uptime they leave.

A NEVI charging port is an OCPI EVSE (its ``uid`` is the ``port_id`` we publish and report); a
NEVI station is an OCPI Location (its ``location_id`` is the ``station_id``).

mu = ((525,600 - (T_outage - T_excluded)) / 525,600) x 100, computed monthly over the previous
twelve months: 525,600 is the minutes of a 365-day year, whatever the window's real length (a
window over 29 February has 527,040 minutes; the rule's constant is kept, as the rule writes
it). The window rules for leap years, partial years and ports commissioned mid-window are in
:func:`uptime_percent`'s callers (``hub.services.uptime``) and the README "NEVI uptime".

This module holds the shapes every part of the reporting shares (the ledger that derives
outages, the exclusions the operator records, the EV-ChART exports) and the formula itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import IntEnum, StrEnum

YEAR_MINUTES = Decimal(525_600)
"""The minutes of the rule's year (§680.116(b)): 365 days."""


class OutageCause(StrEnum):
    """Why a port could not charge during an outage."""

    OUT_OF_ORDER = "OUT_OF_ORDER"  # the charger reported the port faulted (OCPI OUTOFORDER)
    INOPERATIVE = "INOPERATIVE"  # taken out of service (OCPI INOPERATIVE), e.g. by the operator
    STATION_OFFLINE = "STATION_OFFLINE"  # the station was not connected (port UNKNOWN)
    NO_ENERGY = "NO_ENERGY"  # reported Available, but its sessions failed to deliver energy


class ExclusionReason(IntEnum):
    """EV-ChART Module 4 ``excluded_outage_reason`` (1-6), the exclusions of §680.116(b)(1)
    in the order the rule lists them (README "NEVI uptime": the mapping, configurable there)."""

    UTILITY_INTERRUPTION = 1
    VEHICLE_FAULT = 2
    SCHEDULED_MAINTENANCE = 3
    VANDALISM = 4
    NATURAL_DISASTER = 5
    OUTSIDE_HOURS_OF_OPERATION = 6


@dataclass(frozen=True, slots=True)
class Outage:
    """One outage of one port: [start, end) in aware UTC (end None: still going on at the time
    of the report; callers clip it to their window). ``outage_id`` is stable across reports
    (the ledger's row id). ``excluded_minutes`` is the part of it the operator excluded (0 when
    not excluded), with the reason code and notes of the exclusion."""

    outage_id: int
    station_id: str
    port_id: str
    start: datetime
    end: datetime | None
    cause: OutageCause
    excluded: bool = False
    reason: ExclusionReason | None = None
    notes: str | None = None
    excluded_minutes: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class PortUptime:
    """A port's uptime over one window: T_outage and T_excluded in minutes, mu in percent (None:
    the port has not operated a whole year by the window's end, when EV-ChART allows it empty).
    ``missing_history`` says the history does not cover the whole window (a report says so)."""

    station_id: str
    port_id: str
    window_start: datetime
    window_end: datetime
    outage_minutes: Decimal
    excluded_minutes: Decimal
    uptime: Decimal | None
    missing_history: bool = False


def uptime_percent(outage_minutes: Decimal, excluded_minutes: Decimal) -> Decimal:
    """mu of §680.116(b), exact, rounded half-up to two decimals (EV-ChART's decimal(5,2)).

    Raises ``ValueError`` when the excluded minutes exceed the outage minutes (an exclusion
    can only remove outage time) or either is negative.
    """
    if outage_minutes < 0 or excluded_minutes < 0:
        raise ValueError("outage and excluded minutes cannot be negative")
    if excluded_minutes > outage_minutes:
        raise ValueError(
            f"excluded minutes ({excluded_minutes}) exceed the outage minutes ({outage_minutes})"
        )
    value = (YEAR_MINUTES - (outage_minutes - excluded_minutes)) / YEAR_MINUTES * 100
    return max(value, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
