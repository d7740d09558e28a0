"""The uptime ledger's rules: outages from status history and sessions, windows, minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hub.domain.ledger import (
    BUDGET_MINUTES,
    DerivedOutage,
    Interval,
    NoEnergyRule,
    PortHistory,
    SessionAttempt,
    StatusChange,
    WindowOutage,
    add_months,
    as_duration,
    budget_left,
    calendar_months,
    minutes,
    monthly_windows,
    no_energy_intervals,
    port_outages,
    port_uptime,
    share_up,
    status_outages,
)
from hub.domain.uptime import OutageCause


def t(day: int, hour: int = 0, minute: int = 0, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_status_history_becomes_outages_with_their_causes():
    changes = [
        StatusChange(t(1, 8), "AVAILABLE", "online"),  # commissioned
        StatusChange(t(1, 9), "CHARGING", "ocpp"),
        StatusChange(t(1, 10), "OUTOFORDER", "ocpp"),
        StatusChange(t(1, 11, 30), "UNKNOWN", "offline"),  # faulted, then offline: two outages
        StatusChange(t(1, 12), "OUTOFORDER", "online"),
        StatusChange(t(1, 12, 45), "AVAILABLE", "ocpp"),
        StatusChange(t(2), "INOPERATIVE", "operator"),
        StatusChange(t(2, 1), "RESERVED", "ocpp"),
        StatusChange(t(3), "UNKNOWN", "offline"),  # still going on
    ]
    assert status_outages(changes) == [
        DerivedOutage(t(1, 10), t(1, 11, 30), OutageCause.OUT_OF_ORDER),
        DerivedOutage(t(1, 11, 30), t(1, 12), OutageCause.STATION_OFFLINE),
        DerivedOutage(t(1, 12), t(1, 12, 45), OutageCause.OUT_OF_ORDER),
        DerivedOutage(t(2), t(2, 1), OutageCause.INOPERATIVE),
        DerivedOutage(t(3), None, OutageCause.STATION_OFFLINE),
    ]


def test_a_port_is_not_out_before_its_first_report_nor_when_it_never_reported():
    # An imported EVSE waits as UNKNOWN until its charger first reports: not an outage.
    assert port_outages([], [], NoEnergyRule()) == []
    first = [StatusChange(t(5, 6), "AVAILABLE", "online")]
    failed = [SessionAttempt(t(4, h), Decimal(0)) for h in (1, 2, 3)]  # before commissioning
    assert port_outages(first, failed, NoEnergyRule()) == []
    # Its first report may be a fault: the outage starts with the history.
    assert port_outages([StatusChange(t(5, 6), "OUTOFORDER")], [], NoEnergyRule()) == [
        DerivedOutage(t(5, 6), None, OutageCause.OUT_OF_ORDER)
    ]


@pytest.mark.parametrize("status", ["PLANNED", "REMOVED", "SOMETHING_NEW"])
def test_statuses_that_cannot_charge_are_outages_too(status):
    changes = [StatusChange(t(1), "AVAILABLE"), StatusChange(t(2), status)]
    (outage,) = status_outages(changes)
    assert outage.start == t(2)
    assert outage.cause in {OutageCause.INOPERATIVE, OutageCause.STATION_OFFLINE}


def test_no_energy_needs_n_consecutive_failures_and_ends_at_the_next_success():
    rule = NoEnergyRule(sessions=3, min_kwh=Decimal("1"))
    attempts = [
        SessionAttempt(t(1, 8), Decimal("0.2")),
        SessionAttempt(t(1, 9), Decimal("0.99")),
        SessionAttempt(t(1, 10), Decimal("25")),  # only two failures: no outage
        SessionAttempt(t(1, 11), Decimal("0")),
        SessionAttempt(t(1, 12), Decimal("0")),
        SessionAttempt(t(1, 13), Decimal("0.5")),
        SessionAttempt(t(1, 14), Decimal("0")),
        SessionAttempt(t(1, 15), Decimal("1")),  # exactly min_kwh: a success
        SessionAttempt(t(2, 8), Decimal("0")),
        SessionAttempt(t(2, 9), Decimal("0")),
        SessionAttempt(t(2, 10), Decimal("0")),  # no success since: still out
    ]
    assert no_energy_intervals(attempts, rule) == [
        Interval(t(1, 11), t(1, 15)),
        Interval(t(2, 8), None),
    ]
    assert no_energy_intervals(attempts, NoEnergyRule(sessions=0)) == []
    assert no_energy_intervals(attempts, NoEnergyRule(sessions=5)) == []


def test_status_outages_win_over_no_energy_and_no_minute_counts_twice():
    changes = [
        StatusChange(t(1), "AVAILABLE", "online"),
        StatusChange(t(1, 12), "OUTOFORDER"),
        StatusChange(t(1, 13), "AVAILABLE"),
        StatusChange(t(1, 16), "UNKNOWN", "offline"),
        StatusChange(t(1, 18), "AVAILABLE", "online"),
    ]
    attempts = [
        SessionAttempt(t(1, 10), Decimal(0)),
        SessionAttempt(t(1, 11), Decimal(0)),
        SessionAttempt(t(1, 14), Decimal(0)),
        SessionAttempt(t(1, 20), Decimal(30)),
    ]
    assert port_outages(changes, attempts, NoEnergyRule(sessions=3)) == [
        DerivedOutage(t(1, 10), t(1, 12), OutageCause.NO_ENERGY),
        DerivedOutage(t(1, 12), t(1, 13), OutageCause.OUT_OF_ORDER),
        DerivedOutage(t(1, 13), t(1, 16), OutageCause.NO_ENERGY),
        DerivedOutage(t(1, 16), t(1, 18), OutageCause.STATION_OFFLINE),
        DerivedOutage(t(1, 18), t(1, 20), OutageCause.NO_ENERGY),
    ]


def test_minutes_are_exact_hundredths():
    assert minutes(timedelta(hours=1, seconds=30)) == Decimal("60.50")
    assert minutes(timedelta(seconds=1)) == Decimal("0.02")  # 0.01666... half-up
    assert minutes(timedelta(seconds=0.3)) == Decimal("0.01")  # 0.005 -> 0.01
    assert as_duration(Decimal("90.5")) == timedelta(minutes=90, seconds=30)


def test_months_and_windows():
    assert add_months(t(31), -1) == t(28, month=2)
    assert add_months(t(29, month=2, year=2028), 12) == t(28, month=2, year=2029)
    windows = monthly_windows(t(15, 10))
    assert windows[-1] == (t(1, month=3, year=2025), t(1, month=3))
    assert windows[0] == (t(1, month=4, year=2024), t(1, month=4, year=2025))
    assert len(windows) == 12
    months = calendar_months(t(15, 10), count=3)
    assert months == [(t(1, month=1), t(1, month=2)), (t(1, month=2), t(1)), (t(1), t(15, 10))]
    whole = calendar_months(t(1), count=2)  # at a month's first instant: whole months only
    assert whole == [(t(1, month=1), t(1, month=2)), (t(1, month=2), t(1))]


PORT = PortHistory("LOC-1", "EVSE-1", commissioned_at=datetime(2024, 1, 1, tzinfo=UTC))


def test_the_rule_formula_over_a_year_with_an_exclusion():
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    outages = [
        # Started before the window: only its 2025 part counts (6 h = 360 minutes).
        WindowOutage(datetime(2024, 12, 31, 18, tzinfo=UTC), datetime(2025, 1, 1, 6, tzinfo=UTC)),
        # 10,000 minutes, of which 4,000 excluded (utility outage for the first 4,000).
        WindowOutage(
            datetime(2025, 6, 1, tzinfo=UTC),
            datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=10_000),
            (
                Interval(
                    datetime(2025, 6, 1, tzinfo=UTC),
                    datetime(2025, 6, 1, tzinfo=UTC) + timedelta(minutes=4_000),
                ),
            ),
        ),
        # Still going on at the end of the window: until the window's end (1 h).
        WindowOutage(datetime(2025, 12, 31, 23, tzinfo=UTC), None),
    ]
    uptime = port_uptime(PORT, outages, start, end, as_of=end)
    assert uptime.outage_minutes == Decimal("10420.00")  # 360 + 10,000 + 60
    assert uptime.excluded_minutes == Decimal("4000.00")
    # (525,600 - 6,420) / 525,600 x 100 = 98.7785... -> 98.78
    assert uptime.uptime == Decimal("98.78")
    assert not uptime.missing_history
    assert budget_left(uptime) == BUDGET_MINUTES - Decimal(6420) == Decimal("9348.00")


def test_a_leap_window_keeps_the_rules_denominator():
    start, end = datetime(2028, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
    # Out on 29 February 2028 for the whole day: 1,440 minutes of a 527,040-minute window.
    feb29 = [WindowOutage(datetime(2028, 2, 29, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC))]
    uptime = port_uptime(PORT, feb29, start, end, as_of=end)
    assert uptime.outage_minutes == Decimal("1440.00")
    # (525,600 - 1,440) / 525,600 = 99.7260... -> 99.73 (not / 527,040)
    assert uptime.uptime == Decimal("99.73")


def test_a_port_in_its_first_year_has_no_mu_and_counts_from_commissioning():
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    young = PortHistory("LOC-1", "EVSE-2", commissioned_at=datetime(2025, 7, 1, tzinfo=UTC))
    outages = [WindowOutage(datetime(2025, 7, 1, tzinfo=UTC), datetime(2025, 7, 1, 2, tzinfo=UTC))]
    uptime = port_uptime(young, outages, start, end, as_of=end)
    assert uptime.uptime is None
    assert not uptime.missing_history
    assert uptime.outage_minutes == Decimal("120.00")


@pytest.mark.parametrize(
    ("port", "as_of", "since"),
    [
        (PortHistory("LOC-1", "EVSE-3", commissioned_at=None), None, None),  # never reported
        (PORT, datetime(2025, 12, 1, tzinfo=UTC), None),  # the window is not over
        (PORT, None, datetime(2025, 3, 1, tzinfo=UTC)),  # records complete only since March
    ],
)
def test_missing_history_is_never_a_silent_hundred_percent(port, as_of, since):
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    uptime = port_uptime(port, [], start, end, as_of=as_of or end, history_since=since)
    assert uptime.missing_history
    assert uptime.uptime is None


def test_share_up_of_a_month():
    # March: 44,640 minutes; 446.40 minutes out, net -> 99.00%.
    assert share_up(Decimal("446.40"), Decimal(44_640)) == Decimal("99.00")
    assert share_up(Decimal(0), Decimal(0)) is None
