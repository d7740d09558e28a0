"""The hub's implementation of the OCPI server ports (``ocpi.v221.ports``)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain.partners import HeaderTokenEncoding
from hub.persistence.session import session_scope
from hub.roaming import mappers
from hub.roaming.handshake import CredentialsHandshake
from hub.services.partners import PartnerService
from ocpi.auth import TokenEncoding
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.ports import ClientIdentity, OcpiPorts


class PartnerAuthentication:
    """Identify partners by the hash of the token they present."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        by_encoding = {HeaderTokenEncoding(enc.value): token for enc, token in candidates.items()}
        async with session_scope(self._sessions) as session:
            service = PartnerService(session)
            authenticated = await service.authenticate(by_encoding)
            if authenticated is None:
                return None
            roles = await service.roles(authenticated.partner)
            return mappers.client_identity(authenticated, roles)


class PartnerCredentials:
    """The credentials module's business side, delegated to the handshake."""

    def __init__(self, handshake: CredentialsHandshake) -> None:
        self._handshake = handshake

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        # The partner authenticated with the token we issued to it, so that token is what our
        # credentials object carries; only its hash is stored.
        async with session_scope(self._handshake.sessions) as session:
            return await self._handshake.our_credentials(session, client.token)

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        return await self._handshake.accept_registration(int(client.client_id), credentials)

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        return await self._handshake.accept_update(int(client.client_id), credentials)

    async def unregister(self, client: ClientIdentity) -> None:
        await self._handshake.accept_unregistration(int(client.client_id))


def build_ports(
    session_factory: async_sessionmaker[AsyncSession], handshake: CredentialsHandshake
) -> OcpiPorts:
    return OcpiPorts(
        authentication=PartnerAuthentication(session_factory),
        credentials=PartnerCredentials(handshake),
    )
