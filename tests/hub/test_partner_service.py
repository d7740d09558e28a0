"""PartnerService state transitions and token handling, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.domain.credentials import hash_token
from hub.domain.partners import (
    HeaderTokenEncoding,
    PartnerConnection,
    PartnerEndpoint,
    PartnerStatus,
    PartyRole,
)
from hub.errors import Conflict, Forbidden, InvalidState, NotFound
from hub.persistence.session import session_scope
from hub.services.parties import PartyService
from hub.services.partners import PartnerService

pytestmark = pytest.mark.db

BASE64 = HeaderTokenEncoding.BASE64
PLAIN = HeaderTokenEncoding.PLAIN


def connection(token: str, *parties: tuple[str, str]) -> PartnerConnection:
    return PartnerConnection(
        versions_url="https://emsp.example/ocpi/versions",
        version="2.2.1",
        endpoints=(PartnerEndpoint("credentials", "RECEIVER", "https://emsp.example/c"),),
        roles=tuple(
            PartyRole("EMSP", country, party, {"name": f"{country}{party}"})
            for country, party in (parties or (("US", "EMS"),))
        ),
        token=token,
    )


async def authenticate(sessions, token: str, encoding=BASE64):
    async with session_scope(sessions) as session:
        found = await PartnerService(session).authenticate({encoding: token})
        return found.partner.name if found else None


async def invite(
    sessions, name: str, encoding=HeaderTokenEncoding.AUTO, parties=(("US", "EMS"), ("CA", "EMS"))
) -> tuple[int, str]:
    async with session_scope(sessions) as session:
        partner, token = await PartnerService(session).invite(
            name, parties=list(parties), token_encoding=encoding
        )
        await session.flush()
        return partner.require_id(), token


async def test_invited_partner_authenticates_with_token_a_only(sessions):
    _, token_a = await invite(sessions, "emsp")
    assert await authenticate(sessions, token_a) == "emsp"
    assert await authenticate(sessions, token_a + "x") is None


async def test_only_the_hash_of_issued_tokens_is_stored(sessions):
    _, token_a = await invite(sessions, "emsp")
    async with sessions() as session:
        row = (await session.execute(text("SELECT inbound_token_hash FROM partners"))).one()
    assert row.inbound_token_hash == hash_token(token_a)
    assert token_a not in row.inbound_token_hash


async def test_encoding_setting_restricts_how_the_token_may_arrive(sessions):
    _, token = await invite(sessions, "plain-only", PLAIN)
    assert await authenticate(sessions, token, PLAIN) == "plain-only"
    assert await authenticate(sessions, token, BASE64) is None


async def test_inbound_registration_replaces_token_a_with_token_c(sessions):
    partner_id, token_a = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        token_c = await PartnerService(session).register_inbound(
            partner_id, connection("token-b", ("US", "EMS"), ("CA", "EMS"))
        )
    assert await authenticate(sessions, token_a) is None
    assert await authenticate(sessions, token_c) == "emsp"
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        partner = await service.get_by_name("emsp")
        roles = await service.roles(partner)
    assert partner.partner_status is PartnerStatus.REGISTERED
    assert partner.outbound_token == "token-b"
    assert partner.registered_at is not None
    assert partner.registered_at.tzinfo is not None
    assert [(r.country_code, r.party_id) for r in roles] == [("US", "EMS"), ("CA", "EMS")]
    assert partner.endpoints == [
        {"identifier": "credentials", "role": "RECEIVER", "url": "https://emsp.example/c"}
    ]


async def test_registering_twice_is_invalid_state(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        await PartnerService(session).register_inbound(partner_id, connection("b"))
    with pytest.raises(InvalidState):
        async with session_scope(sessions) as session:
            await PartnerService(session).register_inbound(partner_id, connection("b2"))


async def test_a_party_belongs_to_one_partner_whatever_the_role(sessions):
    await invite(sessions, "first", parties=[("US", "EMS")])
    with pytest.raises(Conflict, match=r"US\*EMS.*'first'"):
        await invite(sessions, "second", parties=[("US", "NEW"), ("us", "ems")])
    async with session_scope(sessions) as session:
        assert await PartnerService(session).partners.get_by_name("second") is None


async def test_declaring_a_party_not_assigned_is_refused_and_nothing_is_stored(sessions):
    first, _ = await invite(sessions, "first", parties=[("US", "EMS")])
    second, token_a = await invite(sessions, "second", parties=[("US", "NEW")])
    async with session_scope(sessions) as session:
        await PartnerService(session).register_inbound(first, connection("b", ("US", "EMS")))
    with pytest.raises(Forbidden, match="US\\*EMS"):
        async with session_scope(sessions) as session:
            await PartnerService(session).register_inbound(
                second, connection("b2", ("US", "NEW"), ("us", "ems"))
            )
    async with session_scope(sessions) as session:
        partner = await PartnerService(session).get_by_name("second")
        assert partner.partner_status is PartnerStatus.INVITED
        assert partner.outbound_token is None
        assert await PartnerService(session).roles(partner) == []
        assert await PartnerService(session).owned_parties(partner) == [("US", "NEW")]
    assert await authenticate(sessions, token_a) == "second"


async def test_a_party_of_an_unregistered_partner_can_be_reassigned(sessions):
    first, _ = await invite(sessions, "first", parties=[("US", "EMS")])
    async with session_scope(sessions) as session:
        await PartnerService(session).unregister(first)
    await invite(sessions, "second", parties=[("US", "EMS")])
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        assert await service.owned_parties(await service.get_by_name("first")) == []
        assert await service.owned_parties(await service.get_by_name("second")) == [("US", "EMS")]


async def test_a_partner_needs_a_party(sessions):
    with pytest.raises(InvalidState, match="at least one party"):
        await invite(sessions, "nobody", parties=[])


async def test_rotation_accepts_both_tokens_until_completed(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        old = await PartnerService(session).register_inbound(partner_id, connection("b"))
    async with session_scope(sessions) as session:
        _, new = await PartnerService(session).begin_rotation(partner_id)
    assert await authenticate(sessions, old) == "emsp"
    assert await authenticate(sessions, new) == "emsp"
    async with session_scope(sessions) as session:
        await PartnerService(session).complete_rotation(partner_id, connection("b-rotated"))
    assert await authenticate(sessions, old) is None
    assert await authenticate(sessions, new) == "emsp"
    async with session_scope(sessions) as session:
        assert (await PartnerService(session).get_by_name("emsp")).outbound_token == "b-rotated"


async def test_aborted_rotation_keeps_the_old_token(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        old = await PartnerService(session).register_inbound(partner_id, connection("b"))
    async with session_scope(sessions) as session:
        _, new = await PartnerService(session).begin_rotation(partner_id)
    async with session_scope(sessions) as session:
        await PartnerService(session).abort_rotation(partner_id)
    assert await authenticate(sessions, old) == "emsp"
    assert await authenticate(sessions, new) is None


async def test_rotation_needs_a_registered_partner(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    with pytest.raises(InvalidState):
        async with session_scope(sessions) as session:
            await PartnerService(session).begin_rotation(partner_id)


async def test_update_inbound_issues_a_new_token(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        first = await PartnerService(session).register_inbound(partner_id, connection("b"))
    async with session_scope(sessions) as session:
        second = await PartnerService(session).update_inbound(partner_id, connection("b2"))
    assert first != second
    assert await authenticate(sessions, first) is None
    assert await authenticate(sessions, second) == "emsp"


async def test_unregister_revokes_everything_but_keeps_the_record(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        token = await PartnerService(session).register_inbound(partner_id, connection("b"))
    async with session_scope(sessions) as session:
        await PartnerService(session).unregister(partner_id)
    assert await authenticate(sessions, token) is None
    async with session_scope(sessions) as session:
        partner = await PartnerService(session).get_by_name("emsp")
        assert partner.partner_status is PartnerStatus.UNREGISTERED
        assert partner.outbound_token is None
        assert await PartnerService(session).roles(partner) == []
    # The party is free again for a new registration.
    _, token_a = await invite(sessions, "emsp")
    assert await authenticate(sessions, token_a) == "emsp"


async def test_suspend_and_resume(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    with pytest.raises(InvalidState):
        async with session_scope(sessions) as session:
            await PartnerService(session).suspend(partner_id)
    async with session_scope(sessions) as session:
        await PartnerService(session).register_inbound(partner_id, connection("b"))
    async with session_scope(sessions) as session:
        assert (await PartnerService(session).suspend(partner_id)).status == "SUSPENDED"
    async with session_scope(sessions) as session:
        assert (await PartnerService(session).resume(partner_id)).status == "REGISTERED"


async def test_inviting_a_registered_partner_again_is_a_conflict(sessions):
    partner_id, _ = await invite(sessions, "emsp")
    async with session_scope(sessions) as session:
        await PartnerService(session).register_inbound(partner_id, connection("b"))
    with pytest.raises(Conflict):
        await invite(sessions, "emsp")


async def test_unknown_partner_is_not_found(sessions):
    with pytest.raises(NotFound):
        async with session_scope(sessions) as session:
            await PartnerService(session).get_by_name("nobody")


async def test_parties_are_upper_cased_unique_and_ordered(sessions):
    async with session_scope(sessions) as session:
        service = PartyService(session)
        await service.add(country_code="us", party_id="hpc", name="HPC US")
        await service.add(country_code="CA", party_id="HPC", name="HPC Canada")
    with pytest.raises(Conflict):
        async with session_scope(sessions) as session:
            await PartyService(session).add(country_code="US", party_id="HPC", name="dup")
    async with session_scope(sessions) as session:
        parties = await PartyService(session).list()
    assert [(p.country_code, p.party_id, p.name) for p in parties] == [
        ("CA", "HPC", "HPC Canada"),
        ("US", "HPC", "HPC US"),
    ]
