"""Reading import files: OCPI JSON with the hub's extension keys, and the CSV layout."""

from __future__ import annotations

import json

import pytest

from hub.domain.assets import StationLink
from hub.roaming.importer import (
    CSV_COLUMNS,
    InvalidImportFile,
    locations_json_from_csv,
    parse_locations_json,
    parse_tariffs_json,
)
from tests.fixtures import network

SITE = (
    "LOC1,US,HPC,Gilroy 1,1 Example Way,Gilroy,95020,CA,USA,37.005782,-121.568275,"
    "America/Los_Angeles,true"
)
CSV = "\n".join(
    [
        ",".join(CSV_COLUMNS),
        f"{SITE},LOC1-E1,US*HPC*E1,1,IEC_62196_T1_COMBO,CABLE,DC,920,500,350000,T-DC;T-IDLE,CS-1,1,",
        f"{SITE},LOC1-E1,US*HPC*E1,2,SAE_J3400,CABLE,DC,920,500,,,CS-1,1,",
        f"{SITE},LOC1-E2,,1,IEC_62196_T1_COMBO,CABLE,DC,920,500,,,CS-2,,2",
    ]
)


def test_json_with_extensions_becomes_specs():
    raw = network.location("LOC1", visible_to=["us*ema"], publish=False)
    raw["evses"][0]["hub_ocpp"] = {"charging_station_id": "CS-1", "evse_id": 2}
    (spec,) = parse_locations_json(json.dumps({"data": [raw], "status_code": 1000}))
    assert spec.visible_to == ("US*EMA",)
    assert spec.evses[0].station == StationLink("CS-1", 2, None)
    assert spec.evses[1].station is None
    assert spec.attributes["address"] == "1 Example Way"
    assert "evses" not in spec.attributes
    assert "hub_visible_to" not in spec.attributes
    assert spec.evses[1].connectors[1].standard == "SAE_J3400"


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda loc: loc.pop("time_zone"), "time_zone"),
        (lambda loc: loc.update(country_code="USA"), "country_code"),
        (lambda loc: loc["evses"][0].update(status="BROKEN"), "evses.0.status"),
        (lambda loc: loc["evses"][0].update(hub_ocpp={"charging_station_id": "CS"}), "evse_id"),
        (lambda loc: loc.update(hub_visible_to="US*EMA"), "hub_visible_to"),
    ],
)
def test_invalid_objects_are_refused_naming_the_field(mutate, named):
    raw = network.location("LOC1")
    mutate(raw)
    with pytest.raises(InvalidImportFile) as caught:
        parse_locations_json(json.dumps([raw]))
    assert named in str(caught.value)
    assert "LOC1" in str(caught.value)


@pytest.mark.parametrize("text", ["{", '{"a": 1}', "42"])
def test_not_a_list_of_locations(text):
    with pytest.raises(InvalidImportFile):
        parse_locations_json(text)


def test_csv_rows_group_into_locations_evses_and_connectors():
    (spec,) = parse_locations_json(locations_json_from_csv(CSV))
    assert spec.location_id == "LOC1"
    assert spec.name == "Gilroy 1"
    assert [e.uid for e in spec.evses] == ["LOC1-E1", "LOC1-E2"]
    assert [c.standard for c in spec.evses[0].connectors] == ["IEC_62196_T1_COMBO", "SAE_J3400"]
    assert spec.evses[0].connectors[0].tariff_ids == ("T-DC", "T-IDLE")
    assert spec.evses[0].station == StationLink("CS-1", 1, None)
    assert spec.evses[1].station == StationLink("CS-2", None, 2)
    assert spec.evses[1].status == "UNKNOWN"


def test_csv_without_required_columns_is_refused():
    with pytest.raises(InvalidImportFile, match="time_zone"):
        locations_json_from_csv("location_id,country_code\nLOC1,US\n")


def test_tariffs_json():
    (spec,) = parse_tariffs_json(json.dumps([network.tariff("T-DC")]))
    assert (spec.country_code, spec.party_id, spec.tariff_id, spec.currency) == (
        "US",
        "HPC",
        "T-DC",
        "USD",
    )
    with pytest.raises(InvalidImportFile, match="elements"):
        parse_tariffs_json(json.dumps([{**network.tariff(), "elements": []}]))
