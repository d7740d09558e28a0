"""What stations advertise about their local authorization list (1.6 GetConfiguration, 2.0.1
GetVariables), and which stations a sync pass works on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.ocpp.local_lists import limits_16, limits_201
from hub.persistence.tables import LocalAuthList
from hub.services.local_lists import due_stations

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def keys(**values: str) -> dict:
    return {
        "configurationKey": [{"key": k, "readonly": True, "value": v} for k, v in values.items()]
    }


def test_ocpp16_limits():
    limits = limits_16(
        keys(LocalAuthListEnabled="true", LocalAuthListMaxLength="250", SendLocalListMaxLength="25")
    )
    assert (limits.max_entries, limits.max_items_per_message, limits.enabled) == (250, 25, True)
    assert limits.unsupported is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"unknownKey": ["LocalAuthListEnabled", "LocalAuthListMaxLength"]}, "unknown key"),
        (keys(LocalAuthListEnabled="false", LocalAuthListMaxLength="250"), "disabled"),
        (keys(LocalAuthListEnabled="true", LocalAuthListMaxLength="0"), "no entries"),
        ({"configurationKey": [], "unknownKey": []}, "not reported"),
    ],
)
def test_ocpp16_stations_without_a_usable_list(answer, reason):
    unsupported = limits_16(answer).unsupported
    assert unsupported is not None
    assert reason in unsupported


def variable(name: str, value: str | None, status: str = "Accepted") -> dict:
    result = {
        "attributeStatus": status,
        "component": {"name": "LocalAuthListCtrlr"},
        "variable": {"name": name},
    }
    if value is not None:
        result["attributeValue"] = value
    return result


def test_ocpp201_limits_and_a_missing_entries_maximum():
    answer = {
        "getVariableResult": [
            variable("Enabled", "true"),
            variable("Entries", None, "NotSupportedAttributeType"),
            variable("ItemsPerMessage", "20"),
            variable("BytesPerMessage", "4000"),
        ]
    }
    limits = limits_201(answer)
    assert (limits.max_entries, limits.max_items_per_message, limits.max_bytes_per_message) == (
        None,
        20,
        4000,
    )
    assert limits.unsupported is None


def test_ocpp201_unknown_component_is_unsupported():
    answer = {"getVariableResult": [variable("Enabled", None, "UnknownComponent")]}
    assert "unknown component" in (limits_201(answer).unsupported or "")


def test_ocpp201_without_enabled_is_unsupported():
    answer = {
        "getVariableResult": [
            variable(name, None, "UnknownVariable")
            for name in ("Enabled", "Entries", "ItemsPerMessage", "BytesPerMessage")
        ]
    }
    assert "Enabled not reported" in (limits_201(answer).unsupported or "")


def row(**values) -> LocalAuthList:
    base = {
        "station_id": "CS",
        "needs_check": False,
        "inputs_fingerprint": "same",
        "checked_at": NOW,
    }
    return LocalAuthList(**{**base, **values})


@pytest.mark.parametrize(
    ("state", "due"),
    [
        (None, True),
        ({}, False),
        ({"needs_check": True}, True),
        ({"needs_full": True}, True),
        ({"inputs_fingerprint": "older"}, True),
        ({"checked_at": NOW - timedelta(hours=2)}, True),
        ({"unsupported": "disabled", "inputs_fingerprint": "older"}, False),
        ({"unsupported": "disabled", "needs_check": True}, True),
        ({"needs_full": True, "failures": 1, "last_error_at": NOW - timedelta(seconds=10)}, False),
        ({"needs_full": True, "failures": 1, "last_error_at": NOW - timedelta(hours=1)}, True),
        ({"needs_check": True, "failures": 3, "last_error_at": NOW}, True),
    ],
)
def test_which_stations_a_pass_works_on(state, due):
    rows = {} if state is None else {"CS": row(**state)}
    chosen = due_stations(
        rows,
        ["CS"],
        fingerprint="same",
        recheck_before=NOW - timedelta(hours=1),
        retry_before=NOW - timedelta(minutes=5),
    )
    assert chosen == (["CS"] if due else [])


def test_booted_stations_come_first_then_the_longest_unchecked():
    rows = {
        "A": row(station_id="A", inputs_fingerprint="older", checked_at=NOW - timedelta(minutes=1)),
        "B": row(station_id="B", inputs_fingerprint="older", checked_at=NOW - timedelta(minutes=9)),
        "C": row(station_id="C", needs_check=True),
    }
    chosen = due_stations(
        rows,
        ["A", "B", "C"],
        fingerprint="same",
        recheck_before=NOW - timedelta(hours=1),
        retry_before=NOW - timedelta(minutes=5),
    )
    assert chosen == ["C", "B", "A"]
