"""Plug & Charge contract ids (eMAIDs) are routed to the eMSP of their provider prefix: the
operator's table first, else the partner owning that country code and party id. A prefix routes
to one partner only, so no driver's contract id is ever sent to another automaker."""

from __future__ import annotations

import asyncio

import pytest

from hub.errors import Conflict, InvalidState, NotFound
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.services.partners import PartnerService
from tests.hub.conftest import register_partner
from tests.support.cli import cli_in_process

pytestmark = pytest.mark.db


async def test_an_explicit_route_wins_over_the_partners_own_party(sessions):
    await register_partner(sessions, "acme", ("US", "ACM"))
    await register_partner(sessions, "zeta", ("US", "ZET"))
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        acme = await service.get_by_name("acme")
        assert (await service.partner_for_emaid("USACMC12345678")).name == "acme"
        assert await service.partner_for_emaid("USXYZC12345678") is None
        await service.route_emaid_prefix(acme, "us-xyz")
        assert (await service.partner_for_emaid("USXYZC12345678")).name == "acme"
        assert await service.emaid_prefixes(acme) == ["US-ACM", "US-XYZ"]
        await service.unroute_emaid_prefix(acme, "US-XYZ")
        assert await service.partner_for_emaid("USXYZC12345678") is None


async def test_a_prefix_of_another_partner_is_refused(sessions):
    """Taking over a prefix would send that provider's drivers to the wrong eMSP."""
    await register_partner(sessions, "acme", ("US", "ACM"))
    await register_partner(sessions, "zeta", ("US", "ZET"))
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        acme, zeta = await service.get_by_name("acme"), await service.get_by_name("zeta")
        with pytest.raises(Conflict, match="routes to partner 'zeta'"):
            await service.route_emaid_prefix(acme, "US-ZET")  # zeta's own party
        await service.route_emaid_prefix(zeta, "CA-ZZZ")
        with pytest.raises(Conflict, match="routes to partner 'zeta'"):
            await service.route_emaid_prefix(acme, "CA-ZZZ")  # zeta's explicit route
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        assert (await service.partner_for_emaid("USZETC00000001")).name == "zeta"
        assert (await service.partner_for_emaid("CAZZZC00000001")).name == "zeta"


async def test_bad_or_missing_routes_are_errors(sessions):
    await register_partner(sessions, "acme", ("US", "ACM"))
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        acme = await service.get_by_name("acme")
        with pytest.raises(InvalidState, match="is not an eMAID provider prefix"):
            await service.route_emaid_prefix(acme, "nope")
        with pytest.raises(NotFound, match="has no eMAID prefix US-XYZ"):
            await service.unroute_emaid_prefix(acme, "US-XYZ")


def test_cli_routes_prefixes_and_sets_the_token_type(database_url, monkeypatch):
    async def partners() -> None:
        engine = create_engine(database_url)
        try:
            await register_partner(create_session_factory(engine), "acme", ("US", "ACM"))
            await register_partner(create_session_factory(engine), "zeta", ("US", "ZET"))
        finally:
            await dispose_engine(engine)

    asyncio.run(partners())
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as hub:
        routed = hub("partners", "emaid-prefix", "acme", "us-xyz", "--json")
        assert '"US-XYZ"' in routed.stdout
        refused = hub("partners", "emaid-prefix", "acme", "US-ZET", expect=1)
        assert "routes to partner 'zeta'" in refused.stderr
        assert "is not an eMAID" in hub("partners", "emaid-prefix", "acme", "x", expect=1).stderr
        hub("partners", "emaid-type", "acme", "RFID")
        shown = hub("partners", "show", "acme").stdout
        assert "US-ACM, US-XYZ" in shown
        assert "RFID" in shown
        hub("partners", "emaid-prefix", "acme", "US-XYZ", "--remove")
        assert "US-XYZ" not in hub("partners", "show", "acme", "--json").stdout
        assert hub("partners", "emaid-type", "acme", "EMAID", expect=2)
