"""A CDR survives ``kill -9`` of the hub between the stop and its delivery: ``hub serve`` runs in
a process of its own, a raw-frame OCPP 1.6 charger runs a whole charge, and the eMSP holds the
CDR's POST until the test has killed the hub. The restarted hub sends it again; exactly one CDR
id arrives at the eMSP, with the right total (the retry is the same CDR, not a second one).
Both engines."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from tests.e2e.test_locations_push import Setup, eventually, hub_env, setup
from tests.fixtures import network
from tests.support.emsp import token_header
from tests.support.ocpp_raw import RawStation

pytestmark = [pytest.mark.e2e, pytest.mark.db]

__all__ = ["hub_env", "setup"]  # fixtures: hub serve in its own process, a registered eMSP

PASSWORD = "station-password-0123"
CARD = "04C1B2C3D4"


def site() -> dict:
    location = network.location("CRASH", evses=1)
    location["evses"][0]["hub_ocpp"] = {"charging_station_id": "CS-K", "connector_id": 1}
    return location


def put_token(setup: Setup) -> None:
    token = {
        "country_code": "US",
        "party_id": "EMS",
        "uid": CARD,
        "type": "RFID",
        "contract_id": "US-EMS-C00001",
        "issuer": "eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2026-11-01T00:00:00Z",
    }
    response = httpx.put(
        f"{setup.hub.url}/ocpi/2.2.1/tokens/US/EMS/{CARD}",
        json=token,
        headers=token_header(setup.emsp.hub_token or ""),
        timeout=10,
    )
    assert response.json()["status_code"] == 1000, response.text


async def charge(setup: Setup) -> None:
    station = await RawStation.connect(
        setup.hub.url.replace("http://", "ws://"), "CS-K", PASSWORD, ["ocpp1.6"]
    )
    try:
        await station.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
        started = await station.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": CARD, "meterStart": 0, "timestamp": "2026-11-24T10:00:00Z"},
        )
        assert started[2]["idTagInfo"]["status"] == "Accepted"
        stopped = await station.call(
            "StopTransaction",
            {
                "transactionId": started[2]["transactionId"],
                "meterStop": 12500,
                "timestamp": "2026-11-24T10:30:00Z",
                "reason": "Local",
            },
        )
        assert stopped[0] == 3
    finally:
        await station.close()


def test_a_cdr_in_flight_when_the_hub_is_killed_arrives_once_after_the_restart(setup: Setup):
    emsp = setup.emsp
    setup.import_network([site()], [network.tariff("T-DC", price="0.40")])
    setup.cli("chargers", "add", "CS-K", "--password", PASSWORD)
    eventually(lambda: len(emsp.locations) == 1, what="the location at the eMSP")
    put_token(setup)
    emsp.hold, emsp.hold_only = True, "/ocpi/2.2.1/cdrs"
    asyncio.run(charge(setup))
    eventually(lambda: bool(emsp.holding()), what="the CDR's POST under way")
    setup.hub.kill()
    emsp.hold = False  # the dead hub's POST now reaches the eMSP; its answer reaches nobody
    eventually(lambda: not emsp.holding(), what="the held POST answered")
    setup.hub.start()
    eventually(lambda: len(emsp.duplicate_cdrs) == 1, what="the restarted hub's retry")

    (cdr,) = emsp.cdrs.values()
    assert Decimal(str(cdr["total_energy"])) == Decimal("12.5")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("5.00")  # 12.5 kWh x 0.40
    assert emsp.duplicate_cdrs == [cdr]  # the same CDR, not a second bill
    # The session's last PATCH is a delivery of its own: the kill may have caught it too.
    eventually(
        lambda: (
            [(s["status"], s["id"]) for s in emsp.sessions.values()]
            == [("COMPLETED", cdr["session_id"])]
        ),
        what="the completed session at the eMSP",
    )
    jobs = setup.cli("push", "status")
    assert jobs[0]["in_flight"] == 0
    assert json.dumps(jobs).count("REJECTED") == 0
