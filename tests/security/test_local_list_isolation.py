"""Offline lists respect partner isolation: a station's local authorization list holds the
tokens of a partner only if that partner may see every location the station serves. A private
location shared with automaker A never gets B's cards on its stations' lists, even when both
lists are computed in one pass (one shared cache). Both engines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.domain.stations import OcppVersion
from hub.domain.tokens import TokenRecord, TokenType, WhitelistType, key_of
from hub.persistence.session import session_scope
from hub.roaming.importer import parse_locations_json
from hub.services.local_lists import LocalListService, PassCache
from hub.services.locations import LocationService
from hub.services.tokens import TokenService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner

pytestmark = pytest.mark.db

A, B = ("US", "EMA"), ("US", "EMB")


def linked(location_id: str, station_id: str, **options) -> dict:
    location = network.location(location_id, evses=1, **options)
    location["evses"][0]["hub_ocpp"] = {
        "charging_station_id": station_id,
        "evse_id": None,
        "connector_id": 1,
    }
    return location


def card(party: tuple[str, str], uid: str) -> TokenRecord:
    return TokenRecord(
        key=key_of(party[0], party[1], uid, TokenType.RFID),
        contract_id=f"{party[0]}-{party[1]}-C{uid}",
        issuer=party[1],
        valid=True,
        whitelist=WhitelistType.ALWAYS,
        last_updated=datetime(2026, 11, 1, tzinfo=UTC),
    )


async def test_a_private_location_lists_only_the_cards_of_partners_that_may_see_it(sessions):
    await add_parties(sessions)
    partner_a, _ = await register_partner(sessions, "Automaker A", A)
    partner_b, _ = await register_partner(sessions, "Automaker B", B)
    locations = [
        linked("PUBLIC", "CS-PUB"),
        linked("PRIVATE", "CS-PRIV", publish=False, visible_to=["US*EMA"]),
        linked("HIDDEN", "CS-HIDDEN", publish=False),
    ]
    mixed = linked("PUBLIC-2", "CS-MIXED")
    locations.append(mixed)
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
        await TokenService(session).put(partner_a, card(A, "A-CARD"))
        await TokenService(session).put(partner_b, card(B, "B-CARD"))
    # CS-MIXED also serves the private location (a second EVSE there).
    private_two = linked("PRIVATE-2", "CS-MIXED", publish=False, visible_to=["US*EMA"])
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(
            parse_locations_json(json.dumps([private_two]))
        )

    cache = PassCache()
    listed: dict[str, list[str]] = {}
    async with session_scope(sessions) as session:
        service = LocalListService(session)
        for station_id in ("CS-PRIV", "CS-PUB", "CS-HIDDEN", "CS-MIXED"):
            for version in OcppVersion:
                selected, _ = await service.wanted(station_id, version, 100, cache)
                uids = []
                for entry in selected.entries:
                    tag = entry.payload.get("idTag") or entry.payload["idToken"]["idToken"]
                    uids.append(tag)
                listed[f"{station_id} {version.value}"] = sorted(uids)

    assert listed == {
        "CS-PUB 1.6": ["A-CARD", "B-CARD"],
        "CS-PUB 2.0.1": ["A-CARD", "B-CARD"],
        "CS-PRIV 1.6": ["A-CARD"],
        "CS-PRIV 2.0.1": ["A-CARD"],
        "CS-HIDDEN 1.6": [],
        "CS-HIDDEN 2.0.1": [],
        "CS-MIXED 1.6": ["A-CARD"],
        "CS-MIXED 2.0.1": ["A-CARD"],
    }
