"""Strings that are not text (NUL, unpaired surrogates) are refused before they reach the
database: PostgreSQL cannot store them, so a station sending one could never boot."""

from __future__ import annotations

import json

import pytest

from hub.config import OcppSettings
from hub.ocpp.bridge import Bridge
from hub.ocpp.frames import FrameError, parse_frame, untextual_string
from hub.ocpp.v16 import StationV16
from hub.ocpp.v201 import StationV201
from hub.persistence.session import session_scope
from hub.services.stations import StationService
from tests.hub.ocpp.fakes import FakeClock, FakeConnection

pytestmark = pytest.mark.db

NOT_TEXT = ["ven\\u0000dor", "ven\\ud800dor", "ven\\udfffdor", "\\ude00\\ud83d"]


def boot_frame(version: str, vendor_json: str) -> str:
    if version == "1.6":
        payload = f'{{"chargePointVendor":"{vendor_json}","chargePointModel":"M"}}'
    else:
        payload = (
            f'{{"reason":"PowerUp","chargingStation":{{"vendorName":"{vendor_json}","model":"M"}}}}'
        )
    return f'[2,"b-1","BootNotification",{payload}]'


@pytest.mark.parametrize("vendor", NOT_TEXT)
def test_not_text_is_a_property_constraint_violation(vendor):
    with pytest.raises(FrameError) as refused:
        parse_frame(boot_frame("2.0.1", vendor), "2.0.1")
    assert refused.value.code == "PropertyConstraintViolation"
    assert refused.value.unique_id == "b-1"
    assert refused.value.description.startswith("chargingStation.vendorName contains")


def test_where_the_bad_string_is():
    assert untextual_string({"a": [{"b": "x"}, {"c": "\x00"}]}) == "a[1].c"
    assert untextual_string({"k\ud800": 1}) == '"k\\ud800"'
    assert untextual_string({"a": "\U0001f600", "b": ["é", "日本"]}) is None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_a_station_sending_nul_or_lone_surrogates_is_refused_then_boots(sessions, version):
    async with session_scope(sessions) as session:
        await StationService(session).add("CS-TXT", "p" * 20)
    bridge = Bridge(sessions, OcppSettings(), node="http://node")
    connection = FakeConnection()
    station_class = StationV16 if version == "1.6" else StationV201
    handler = station_class("CS-TXT", connection, bridge, 5, clock=FakeClock())
    for vendor in NOT_TEXT:
        await handler.route_message(boot_frame(version, vendor))
    assert [f[:3] for f in connection.frames()] == [[4, "b-1", "PropertyConstraintViolation"]] * 4
    async with session_scope(sessions) as session:
        assert (await StationService(session).get("CS-TXT")).vendor is None
    # A proper surrogate pair is one character (U+1F600) and is stored as such.
    await handler.route_message(boot_frame(version, "ven\\ud83d\\ude00dor"))
    answer = connection.frames()[-1]
    assert answer[0] == 3, answer
    assert answer[2]["status"] == "Accepted"
    async with session_scope(sessions) as session:
        assert (await StationService(session).get("CS-TXT")).vendor == "ven\U0001f600dor"
    assert json.loads(connection.sent[-1])[1] == "b-1"
