"""``hub chargers profiles STATION`` in-process against real migrated databases: the profiles
eMSPs set on the station's sessions, newest first, with who set them and whether the charger
still holds them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.sessions import SessionToken
from hub.domain.tokens import TokenType
from hub.persistence.tables import SessionChargingProfile
from hub.roaming.importer import parse_locations_json
from hub.roaming.pricing import OcpiTariffCodec
from hub.services.locations import LocationService
from hub.services.parties import PartyService
from hub.services.partners import PartnerService
from hub.services.sessions import SessionService, TransactionStart
from hub.services.stations import StationService
from tests.fixtures import network
from tests.support.cli import Invoke, arrange, cli_in_process

pytestmark = pytest.mark.db

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PROFILE = {
    "charging_rate_unit": "A",
    "charging_profile_period": [
        {"start_period": 0, "limit": 32},
        {"start_period": 600, "limit": 16.5},
    ],
}


@pytest.fixture
def hub(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Invoke]:
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


async def _two_profiles(session: AsyncSession) -> list[str]:
    await PartyService(session).add(country_code="US", party_id="HPC", name="HPC US")
    location = network.linked_location("SITE", [("CS-16", None, 1), ("CS-16", None, 2)])
    await LocationService(session).import_locations(parse_locations_json(json.dumps([location])))
    await StationService(session).add("CS-16")
    await StationService(session).add("CS-OTHER")
    partner, _ = await PartnerService(session).invite("emsp-a", parties=[("US", "EMA")])
    await session.flush()
    partner_id = partner.require_id()
    ids = []
    for connector_id, minute in ((1, 5), (2, 7)):
        charge = await SessionService(session, codec=OcpiTariffCodec()).start(
            TransactionStart(
                station_id="CS-16",
                ocpp_version="1.6",
                started_at=T0,
                ocpp_connector_id=connector_id,
                token=SessionToken(
                    uid=f"CARD-{connector_id}",
                    token_type=TokenType.RFID,
                    accepted=True,
                    auth_method="WHITELIST",
                    presented_type="idTag",
                    country_code="US",
                    party_id="EMA",
                    partner_id=partner_id,
                ),
                meter_start_kwh=Decimal(0),
            )
        )
        assert charge.id is not None
        session.add(
            SessionChargingProfile(
                session_ref=charge.id,
                partner_id=partner_id,
                station_id="CS-16",
                ocpp_profile_id=charge.id,
                stack_level=0,
                profile=PROFILE,
                status="ACTIVE" if connector_id == 1 else "CLEARED",
                set_at=T0.replace(minute=minute),
                cleared_at=T0.replace(minute=9) if connector_id == 2 else None,
            )
        )
        ids.append(charge.session_id)
    return ids


def test_profiles_lists_what_is_set_on_the_stations_sessions_newest_first(hub, database_url):
    first, second = arrange(database_url, _two_profiles)
    listed = json.loads(hub("chargers", "profiles", "CS-16", "--json").stdout)
    assert [(r["session_id"], r["status"], r["partner"]) for r in listed] == [
        (second, "CLEARED", "emsp-a"),
        (first, "ACTIVE", "emsp-a"),
    ]
    assert listed[1]["profile"] == PROFILE
    assert listed[0]["cleared_at"] == "2026-11-24T10:09:00+00:00"
    table = " ".join(hub("chargers", "profiles", "CS-16").stdout.split())
    assert "ACTIVE" in table
    assert "CLEARED" in table
    assert "one per session" in table
    assert json.loads(hub("chargers", "profiles", "CS-OTHER", "--json").stdout) == []
    missing = hub("chargers", "profiles", "CS-NOPE", expect=1)
    assert "no charging station 'CS-NOPE'" in missing.output
