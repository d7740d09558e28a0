from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.persistence.session import create_engine, create_session_factory, dispose_engine


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A session factory on a freshly migrated database (SQLite and PostgreSQL variants)."""
    engine = create_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await dispose_engine(engine)


async def add_parties(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Our two CPO parties: US*HPC and CA*HPC."""
    from hub.persistence.session import session_scope
    from hub.services.parties import PartyService

    async with session_scope(sessions) as session:
        service = PartyService(session)
        await service.add(country_code="US", party_id="HPC", name="HPC US")
        await service.add(country_code="CA", party_id="HPC", name="HPC Canada")


async def register_partner(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    party: tuple[str, str] = ("US", "EMA"),
    *,
    base_url: str = "http://127.0.0.1:9/ocpi/2.2.1",
    modules: tuple[str, ...] = ("locations", "tariffs"),
    nacs_mode: str = "omit",
) -> tuple[int, str]:
    """A registered partner with Receiver endpoints for ``modules``; returns (id, its token)."""
    from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartyRole
    from hub.persistence.session import session_scope
    from hub.services.partners import PartnerService

    async with session_scope(sessions) as session:
        service = PartnerService(session)
        partner, _ = await service.invite(name, parties=[party])
        await session.flush()
        partner_id = partner.require_id()
        endpoints = (
            PartnerEndpoint("credentials", "RECEIVER", f"{base_url}/credentials"),
            *tuple(
                PartnerEndpoint(module, "RECEIVER", f"{base_url}/{module}") for module in modules
            ),
        )
        token = await service.register_inbound(
            partner_id,
            PartnerConnection(
                versions_url=f"{base_url}/versions",
                version="2.2.1",
                endpoints=endpoints,
                roles=(PartyRole("EMSP", party[0], party[1], {"name": name}),),
                token=f"token-for-{name}",
            ),
        )
        partner.nacs_mode = nacs_mode
    return partner_id, token


async def register_hub(
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    hub_party: tuple[str, str] = ("DE", "HUB"),
    clients: tuple[tuple[str, str], ...] = (("US", "EMA"), ("US", "EMB")),
    *,
    base_url: str = "http://127.0.0.1:9/ocpi/2.2.1",
    modules: tuple[str, ...] = ("locations", "tariffs", "sessions", "cdrs"),
) -> tuple[int, str]:
    """A registered hub partner: its credentials declare only the role HUB (as the spec says a
    hub must), and the operator pinned the client parties behind it to it as well."""
    from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartyRole
    from hub.persistence.session import session_scope
    from hub.services.partners import PartnerService

    async with session_scope(sessions) as session:
        service = PartnerService(session)
        partner, _ = await service.invite(name, parties=[hub_party, *clients])
        await session.flush()
        partner_id = partner.require_id()
        endpoints = (
            PartnerEndpoint("credentials", "RECEIVER", f"{base_url}/credentials"),
            *(PartnerEndpoint(module, "RECEIVER", f"{base_url}/{module}") for module in modules),
        )
        token = await service.register_inbound(
            partner_id,
            PartnerConnection(
                versions_url=f"{base_url}/versions",
                version="2.2.1",
                endpoints=endpoints,
                roles=(PartyRole("HUB", hub_party[0], hub_party[1], {"name": name}),),
                token=f"token-for-{name}",
            ),
        )
    return partner_id, token
