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


DRIVER_FIELDS = {
    "parking_type": "ALONG_MOTORWAY",
    "facilities": ["CAFE", "RESTAURANT", "WIFI"],
    "opening_times": {"twentyfourseven": True},
    "energy_mix": {
        "is_green_energy": True,
        "energy_sources": [
            {"source": "SOLAR", "percentage": 60},
            {"source": "WIND", "percentage": 40},
        ],
        "supplier_name": "Sunbelt Solar Supply",
        "energy_product_name": "100% Renewable Solar",
    },
}


def test_json_keeps_the_fields_drivers_need():
    raw = network.location("LOC1", **DRIVER_FIELDS)
    raw["evses"][0]["parking_restrictions"] = ["EV_ONLY", "PLUGGED"]
    raw["evses"][0]["connectors"][0]["max_electric_power"] = 150000
    (spec,) = parse_locations_json(json.dumps([raw]))
    for key, value in DRIVER_FIELDS.items():
        assert spec.attributes[key] == value, key
    assert spec.evses[0].attributes["parking_restrictions"] == ["EV_ONLY", "PLUGGED"]
    assert spec.evses[0].connectors[0].attributes["max_electric_power"] == 150000


def _csv_with(**cells: str) -> str:
    header = [*CSV_COLUMNS]
    first = dict.fromkeys(header, "")
    first.update(
        location_id="LOC1", country_code="US", party_id="HPC", address="1 Example Way",
        city="Gilroy", country="USA", latitude="37.005782", longitude="-121.568275",
        time_zone="America/Los_Angeles", evse_uid="LOC1-E1", connector_id="1",
        standard="IEC_62196_T1_COMBO", format="CABLE", power_type="DC", max_voltage="920",
        max_amperage="500", max_electric_power="350000",
    )  # fmt: skip
    first.update(cells)
    second = {**first, "connector_id": "2", "standard": "SAE_J3400", "parking_restrictions": ""}
    third = {**first, "evse_uid": "LOC1-E2", "parking_restrictions": "", "max_electric_power": ""}
    lines = [",".join(header)] + [
        ",".join(row[column] for column in header) for row in (first, second, third)
    ]
    return "\n".join(lines)


def test_csv_carries_the_fields_drivers_need():
    text = _csv_with(
        parking_type="ALONG_MOTORWAY",
        facilities="CAFE;RESTAURANT;WIFI",
        opening_times="24/7",
        is_green_energy="true",
        energy_sources="SOLAR:60;WIND:40",
        energy_supplier_name="Sunbelt Solar Supply",
        energy_product_name="100% Renewable Solar",
        parking_restrictions="EV_ONLY;PLUGGED",
    )
    (spec,) = parse_locations_json(locations_json_from_csv(text))
    for key, value in DRIVER_FIELDS.items():
        assert spec.attributes[key] == value, key
    first, second = spec.evses
    assert first.attributes["parking_restrictions"] == ["EV_ONLY", "PLUGGED"]
    assert "parking_restrictions" not in second.attributes
    assert [c.attributes.get("max_electric_power") for c in first.connectors] == [350000] * 2
    assert "max_electric_power" not in second.connectors[0].attributes


def test_csv_opening_hours_by_weekday():
    (spec,) = parse_locations_json(
        locations_json_from_csv(_csv_with(opening_times="1-5 06:00-22:00;7 08:00-20:00"))
    )
    hours = spec.attributes["opening_times"]
    assert hours["twentyfourseven"] is False
    assert [(h["weekday"], h["period_begin"], h["period_end"]) for h in hours["regular_hours"]] == [
        *((day, "06:00", "22:00") for day in range(1, 6)),
        (7, "08:00", "20:00"),
    ]
    assert "energy_mix" not in spec.attributes
    assert "facilities" not in spec.attributes


@pytest.mark.parametrize(
    ("cells", "named"),
    [
        ({"opening_times": "weekdays"}, "opening_times"),
        ({"opening_times": "5-1 06:00-22:00"}, "opening_times"),
        ({"opening_times": "1 25:00-26:00"}, "period_begin"),
        ({"energy_sources": "SOLAR"}, "energy_sources"),
        ({"energy_sources": "SOLAR:60"}, "is_green_energy"),
        ({"is_green_energy": "yes"}, "is_green_energy"),
        ({"is_green_energy": "true", "energy_sources": "COAL:x"}, "percentage"),
        ({"parking_type": "ROOFTOP"}, "parking_type: 'ROOFTOP' is not an OCPI 2.2.1 value"),
        ({"facilities": "CAFE;RESTROOMS"}, "facilities: 'RESTROOMS'"),
        ({"parking_restrictions": "EV_ONLY;TRUCKS"}, "evses.0.parking_restrictions"),
    ],
)
def test_csv_driver_fields_that_are_wrong_are_refused_naming_them(cells, named):
    with pytest.raises(InvalidImportFile) as caught:
        parse_locations_json(locations_json_from_csv(_csv_with(**cells)))
    assert named in str(caught.value)


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
