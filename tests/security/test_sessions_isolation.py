"""Sessions and CDRs belong to the eMSP of the driver's token, and to nobody else: after a real
charge by A's driver, B (another automaker) gets nothing pushed, finds nothing in the Sessions
and CDRs Sender GET (whatever party it names as receiver), and cannot set charging preferences
on A's session (answered as an unknown session). Both engines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.roaming.sessions import PartnerCdrs, PartnerSessions
from ocpi.envelope import PageRequest
from ocpi.errors import ChargingPreferencesNotSupported, UnknownObject
from ocpi.headers import PartyRef
from ocpi.v221 import models as v221
from ocpi.v221.ports import ClientIdentity, SenderQuery
from tests.e2e.test_sessions_cdrs import (
    A,
    B,
    World,
    world,
)
from tests.e2e.test_sessions_cdrs import (
    test_a_16_charge_reaches_its_emsp_as_one_cdr_priced_at_the_locked_tariff as a_charge,
)

pytestmark = [pytest.mark.db]

__all__ = ["world"]  # the fixture, shared with the end-to-end test

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def client(name: str, party: tuple[str, str]) -> ClientIdentity:
    return ClientIdentity(name, name, f"token-{name}", True, parties=(PartyRef(*party),))


def everything(receiver: PartyRef | None = None) -> SenderQuery:
    return SenderQuery(PageRequest(0, 100, EPOCH, None), receiver)


@pytest.mark.parametrize("receiver", [None, PartyRef("US", "HPC"), PartyRef("CA", "HPC")])
async def test_another_emsp_sees_no_session_or_cdr_of_a_driver(world: World, receiver):
    await a_charge(world)
    sessions = PartnerSessions(world.hub.sessions)
    cdrs = PartnerCdrs(world.hub.sessions)
    a, b = client("emsp-a", A), client("emsp-b", B)
    b_sessions = await sessions.list_sessions(b, everything(receiver))
    b_cdrs = await cdrs.list_cdrs(b, everything(receiver))
    assert (b_sessions.total, list(b_sessions.items)) == (0, [])
    assert (b_cdrs.total, list(b_cdrs.items)) == (0, [])
    a_sessions = await sessions.list_sessions(a, everything(receiver))
    expected = 0 if receiver == PartyRef("CA", "HPC") else 1  # the charge was at a US*HPC site
    assert a_sessions.total == expected
    assert (await cdrs.list_cdrs(a, everything(receiver))).total == expected
    # No party at all (a partner owning none) sees nothing either.
    nobody = ClientIdentity("x", "x", "token-x", True)
    assert (await sessions.list_sessions(nobody, everything(receiver))).total == 0


async def test_charging_preferences_of_another_emsps_session_are_an_unknown_session(world: World):
    await a_charge(world)
    sessions = PartnerSessions(world.hub.sessions)
    (session,) = world.emsp_a.sessions.values()
    preferences = v221.ChargingPreferences.model_validate({"profile_type": "FAST"})
    with pytest.raises(UnknownObject):
        await sessions.put_charging_preferences(
            client("emsp-b", B), session["id"], preferences, None
        )
    # Its owner is answered truthfully: this EVSE does not take preferences.
    with pytest.raises(ChargingPreferencesNotSupported):
        await sessions.put_charging_preferences(
            client("emsp-a", A), session["id"], preferences, None
        )
