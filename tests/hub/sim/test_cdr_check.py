"""The eMSP-side CDR check (``hub.sim.cdrs``): a CDR priced the way the hub prices a session
(meter values -> ``hub.domain.metering`` periods -> the pricing engine -> the CDR's priced
fields) is recomputed to the same total from its own tariff and charging periods, for the
simulator's charges at any time of day, in every kind of North American time zone, across DST
changes; a CDR that is wrong in any way is caught."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.domain import metering
from hub.domain.pricing import Session, price_session
from hub.roaming.pricing import cdr_fields, tariff_from_ocpi
from hub.sim.cdrs import check_cdr, session_from_cdr
from hub.sim.chargers import (
    ChargePlan,
    PointKind,
    charge_timeline,
    meter_value_16,
    meter_value_201,
)
from hub.sim.network import generate_network
from ocpi.v221 import models as v221

ZONES = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",  # no DST
    "America/Los_Angeles",
    "America/Anchorage",
    "America/Halifax",
    "America/St_Johns",  # half an hour off the others
]
GRACE = 600  # the sample network's idle fee starts after the first 10 minutes of a session


@cache
def tariffs() -> tuple[dict[str, Any], ...]:
    """The sample network's tariffs (flat, time-of-day, 150 kW; USD and CAD; an idle fee after
    a grace period) and one that bills time, parking from the first second and a flat fee."""
    timed = {
        "country_code": "US",
        "party_id": "HPC",
        "id": "US-HPC-TIMED",
        "currency": "USD",
        "elements": [
            {"price_components": [{"type": "FLAT", "price": 1.5, "step_size": 1}]},
            {
                "price_components": [
                    {"type": "TIME", "price": 2.4, "step_size": 60},
                    {"type": "ENERGY", "price": 0.31, "step_size": 1},
                ]
            },
            {"price_components": [{"type": "PARKING_TIME", "price": 9, "step_size": 300}]},
        ],
        "last_updated": "2025-03-01T00:00:00Z",
    }
    return (*generate_network(sites=4, seed=11).tariffs, timed)


def priced_like_the_hub(
    plan: ChargePlan, start: datetime, version: str, tariff: dict[str, Any], zone: str
) -> dict[str, Any]:
    """The CDR the hub makes of this charge (``hub.services.sessions``: every meter value of
    the transaction, meter start/stop for 1.6, 2.0.1 charging states, the locked tariff)."""
    points = charge_timeline(plan, start, 1_000_000)
    first, last = points[0], points[-1]
    if version == "1.6":
        values = [meter_value_16(p) for p in points[1:-1] if p.aligned]
        readings = [metering.reading_from_ocpp16(v).reading for v in values]
        meter = {
            "meter_start_kwh": Decimal(first.register_wh) / 1000,
            "meter_stop_kwh": Decimal(last.register_wh) / 1000,
        }
        changes: list[tuple[datetime, bool]] = []
    else:
        readings = [metering.reading_from_ocpp201(meter_value_201(p)).reading for p in points]
        meter = {}
        changes = [(first.at, True)]
        changes += [(p.at, False) for p in points if p.kind is PointKind.SUSPENDED]
        changes.append((last.at, False))
    periods = metering.periods(
        [r for r in readings if r is not None],
        start=first.at,
        end=last.at,
        charging_changes=changes,
        **meter,
    )
    engine_tariff = tariff_from_ocpi(v221.Tariff.model_validate(tariff))
    result = price_session(engine_tariff, Session(first.at, last.at, periods), zone)
    return {
        "country_code": tariff["country_code"],
        "party_id": tariff["party_id"],
        "id": "CDR-1",
        "start_date_time": first.at.isoformat().replace("+00:00", "Z"),
        "end_date_time": last.at.isoformat().replace("+00:00", "Z"),
        "cdr_token": {
            "country_code": "US",
            "party_id": "DMO",
            "uid": plan.token_uid,
            "type": "RFID",
            "contract_id": "US-DMO-C1",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC-1",
            "address": "Sample site 1",
            "city": "Somewhere",
            "country": "USA",
            "coordinates": {"latitude": "40.000000", "longitude": "-75.000000"},
            "evse_uid": "LOC-1-E01",
            "evse_id": "US*HPC*E000001*01",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T1_COMBO",
            "connector_format": "CABLE",
            "connector_power_type": "DC",
        },
        "currency": tariff["currency"],
        "tariffs": [tariff],
        **cdr_fields(result),
        "last_updated": last.at.isoformat().replace("+00:00", "Z"),
    }


starts = st.integers(
    min_value=int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()),
    max_value=int(datetime(2027, 1, 1, tzinfo=UTC).timestamp()),
).map(lambda second: datetime.fromtimestamp(second, UTC))
# Around both 2026 DST changes of the US and Canada, at any hour of those days.
dst_days = st.sampled_from([datetime(2026, 3, 8, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)])
dst_starts = st.builds(
    lambda day, second: day + timedelta(seconds=second), dst_days, st.integers(0, 2 * 86400)
)


@st.composite
def charges(draw: st.DrawFn) -> ChargePlan:
    charging = draw(st.integers(min_value=60, max_value=3 * 3600))
    # Idle time begins after the grace: the CDR then leaves no stretch out (module docstring).
    idle = draw(st.sampled_from([0, 59, 600, 1800])) if charging >= GRACE else 0
    return ChargePlan(
        ocpp_id=1,
        token_uid="DMO0000001",
        charging_seconds=charging,
        energy_wh=draw(st.integers(min_value=1, max_value=200_000)),
        idle_seconds=idle,
        meter_interval_seconds=draw(st.sampled_from([60, 300, 900])),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=charges(),
    start=starts | dst_starts,
    version=st.sampled_from(["1.6", "2.0.1"]),
    tariff=st.sampled_from(tariffs()),
    zone=st.sampled_from(ZONES),
)
def test_every_simulated_charge_is_recomputed_to_the_cdrs_total(plan, start, version, tariff, zone):
    cdr = priced_like_the_hub(plan, start, version, tariff, zone)
    check = check_cdr(cdr, zone)
    assert check.matches, check.problem
    assert check.total_energy == Decimal(plan.energy_wh) / 1000


def evening_charge(zone: str = "America/New_York") -> dict[str, Any]:
    """18 minutes of a 45-minute charge after 21:00 local (the off-peak price), then idle."""
    tou = next(t for t in tariffs() if t["id"] == "US-HPC-DC-TOU")
    plan = ChargePlan(1, "DMO0000001", 2700, 45_000, idle_seconds=1200)
    start = datetime(2026, 6, 12, 0, 33, 0, tzinfo=UTC)  # 20:33 EDT
    return priced_like_the_hub(plan, start, "2.0.1", tou, zone)


def test_a_time_of_day_charge_with_an_idle_fee_has_the_periods_the_check_reads():
    cdr = evening_charge()
    kinds = [[d["type"] for d in p["dimensions"]] for p in cdr["charging_periods"]]
    assert kinds == [["ENERGY"], ["ENERGY"], ["PARKING_TIME"]]
    assert [p["start_date_time"] for p in cdr["charging_periods"]] == [
        "2026-06-12T00:33:00Z",
        "2026-06-12T01:00:00Z",  # 21:00 EDT: the off-peak price
        "2026-06-12T01:18:00Z",  # the car is full
    ]
    session = session_from_cdr(v221.CDR.model_validate(cdr))
    assert [p.charging for p in session.periods] == [True, True, False]
    assert session.periods[-1].end == datetime(2026, 6, 12, 1, 38, tzinfo=UTC)
    assert check_cdr(cdr, "America/New_York").matches


def test_the_check_needs_the_locations_own_time_zone():
    # In Chicago 00:33-01:18 UTC is 19:33-20:18: all of it at the day price.
    check = check_cdr(evening_charge(), "America/Chicago")
    assert not check.matches
    assert check.problem is not None
    assert check.problem.startswith("total_cost ")
    assert "but its tariff and periods give" in check.problem


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c["total_cost"].update(excl_vat=c["total_cost"]["excl_vat"] + 0.01), "total"),
        (lambda c: c["charging_periods"][0]["dimensions"][0].update(volume=1), "give"),
        (lambda c: c.update(total_energy=c["total_energy"] + 1), "periods add up to"),
        (lambda c: c.pop("tariffs"), "carries no tariff"),
        (lambda c: c.pop("cdr_location"), "not a CDR: cdr_location is missing"),
    ],
)
def test_a_cdr_that_does_not_add_up_is_caught(change, words):
    cdr = copy.deepcopy(evening_charge())
    change(cdr)
    check = check_cdr(cdr, "America/New_York")
    assert not check.matches
    assert words in (check.problem or "")


def test_a_location_whose_time_zone_is_unknown_cannot_be_checked():
    check = check_cdr(evening_charge(), None)
    assert check.problem == "the time zone of location LOC-1 is unknown"


def test_a_charging_state_change_without_a_reading_bills_all_the_energy():
    """A 2.0.1 charger that reports SuspendedEV in an event without a meter value (the
    meterValue of a TransactionEvent is optional): the energy between the readings around it
    goes to the charging side (the pricing engine bills no ENERGY in parking time), so all
    20 kWh are billed, not 15 (found by this check)."""
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def reading(seconds: int, wh: int) -> metering.MeterReading:
        parsed = metering.reading_from_ocpp201(
            {
                "timestamp": (start + timedelta(seconds=seconds)).isoformat(),
                "sampled_value": [
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unit_of_measure": {"unit": "Wh"},
                    }
                ],
            }
        )
        assert parsed.reading is not None
        return parsed.reading

    end = start + timedelta(seconds=1200)
    periods = metering.periods(
        [reading(0, 0), reading(600, 10_000), reading(1200, 20_000)],
        start=start,
        end=end,
        charging_changes=[(start, True), (start + timedelta(seconds=900), False)],
    )
    tariff = {
        "country_code": "US",
        "party_id": "HPC",
        "id": "T",
        "currency": "USD",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}]},
            {"price_components": [{"type": "PARKING_TIME", "price": 6, "step_size": 60}]},
        ],
        "last_updated": "2026-01-01T00:00:00Z",
    }
    result = price_session(
        tariff_from_ocpi(v221.Tariff.model_validate(tariff)), Session(start, end, periods), "UTC"
    )
    assert result.total_energy == Decimal(20)
    assert result.total_energy_cost is not None
    assert result.total_energy_cost.excl_vat == Decimal("10.00")  # 20 kWh x 0.50: it is 7.50
