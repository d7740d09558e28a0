"""The credentials handshake in both directions, with rotation and unregistration.

OCPI ``credentials.asciidoc``. Two directions:

* Partner registers with us (we are the Receiver): the operator issued a token A
  (``PartnerService.invite``); the partner POSTs its credentials with token B; we fetch its
  versions and endpoints with B, store B, and answer with a new token C.
* We register with a partner (we are the Sender): ``hub partners register URL TOKEN_A``; we fetch
  its versions and endpoints with its token A, issue our token B, POST our credentials, and store
  the token C it answers with.

Database work happens in short transactions between the HTTP calls, never across them: the
partner calls back into our versions endpoint while our POST or PUT is in flight, so our new
token must already be committed by then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings
from hub.domain.access import Party
from hub.domain.partners import HeaderTokenEncoding, PartnerEndpoint
from hub.errors import Conflict, Forbidden, HubError, InvalidState
from hub.persistence.session import session_scope
from hub.persistence.tables import Partner
from hub.roaming import mappers
from hub.services.parties import PartyService
from hub.services.partners import PartnerService
from hub.services.sync import SyncService
from ocpi.auth import TokenEncoding
from ocpi.errors import (
    InvalidOrMissingParameters,
    MethodNotAllowed,
    NoMatchingEndpoints,
    OcpiClientError,
    PartnerHttpError,
    UnableToUseClientApi,
    UnsupportedVersion,
)
from ocpi.v221.client import PartnerClient
from ocpi.v221.enums import ModuleID, VersionNumber
from ocpi.v221.models import credentials as v221_credentials

logger = logging.getLogger(__name__)

OUR_VERSION = VersionNumber.V2_2_1


class HandshakeFailed(HubError):
    """A credentials exchange we started could not be completed; nothing was kept."""


@dataclass(frozen=True, slots=True)
class Discovery:
    """The partner's side as learned from its versions and version details."""

    version: str
    endpoints: tuple[PartnerEndpoint, ...]

    def endpoint_url(self, module: str) -> str | None:
        for endpoint in self.endpoints:
            if endpoint.identifier == module:
                return endpoint.url
        return None


class CredentialsHandshake:
    """Runs credentials exchanges; owns its transactions (see module docstring)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: Settings,
        *,
        on_registered: Callable[[int], None] | None = None,
    ) -> None:
        """``on_registered(partner_id)`` is called after a registration in either direction
        is committed (``hub serve`` wakes its token puller: a new partner's first pull is due
        at once)."""
        self.sessions = session_factory
        self._http = http
        self._settings = settings
        self._on_registered = on_registered

    def _registered(self, partner_id: int) -> None:
        if self._on_registered is not None:
            self._on_registered(partner_id)

    def _client(self, token: str, encoding: str) -> PartnerClient:
        return PartnerClient(self._http, token=token, encoding=TokenEncoding(encoding))

    async def discover(self, versions_url: str, token: str, encoding: str) -> Discovery:
        """Fetch the partner's versions, pick 2.2.1, fetch its endpoints and check them.

        Raises:
            UnableToUseClientApi: a call failed (3001).
            UnsupportedVersion: the partner does not offer 2.2.1 (3002).
            NoMatchingEndpoints: a required module is missing (3003).
        """
        client = self._client(token, encoding)
        try:
            versions = await client.get_versions(versions_url)
            mutual = [v for v in versions if v.version == OUR_VERSION]
            if not mutual:
                offered = ", ".join(str(v.version) for v in versions) or "none"
                raise UnsupportedVersion(f"No mutual OCPI version: partner offers {offered}")
            details = await client.get_version_details(mutual[0].url)
        except OcpiClientError as exc:
            raise UnableToUseClientApi(f"Could not use the partner's API: {exc.message}") from exc
        discovery = Discovery(
            version=OUR_VERSION.value, endpoints=mappers.endpoints_from_details(details)
        )
        missing = [
            module
            for module in self._settings.ocpi.required_partner_modules
            if discovery.endpoint_url(module) is None
        ]
        if missing:
            raise NoMatchingEndpoints(f"Partner does not offer required modules: {missing}")
        return discovery

    async def our_credentials(
        self, session: AsyncSession, token: str
    ) -> v221_credentials.Credentials:
        parties = await PartyService(session).list()
        return mappers.our_credentials(
            token=token, versions_url=self._settings.versions_url, parties=parties
        )

    # Partner registers with us: the credentials module server side.

    async def accept_registration(
        self, partner_id: int, credentials: v221_credentials.Credentials
    ) -> v221_credentials.Credentials:
        """Credentials POST from a partner holding a token A; the new partner gets a full sync."""
        return await self._accept(partner_id, credentials, registering=True)

    async def accept_update(
        self, partner_id: int, credentials: v221_credentials.Credentials
    ) -> v221_credentials.Credentials:
        """Credentials PUT from a registered partner: refetch endpoints, rotate its token."""
        return await self._accept(partner_id, credentials, registering=False)

    async def _accept(
        self, partner_id: int, credentials: v221_credentials.Credentials, *, registering: bool
    ) -> v221_credentials.Credentials:
        name, encoding = await self._name_and_encoding_of(partner_id)
        discovery = await self.discover(credentials.url, credentials.token, encoding)
        connection = mappers.connection_from_credentials(
            credentials, version=discovery.version, endpoints=discovery.endpoints
        )
        async with session_scope(self.sessions) as session:
            service = PartnerService(session)
            store = service.register_inbound if registering else service.update_inbound
            try:
                token = await store(partner_id, connection)
            except InvalidState as exc:
                raise MethodNotAllowed(str(exc)) from exc
            except (Conflict, Forbidden) as exc:
                # Nothing is stored: the transaction is rolled back with this exception.
                logger.warning("credentials of partner %r refused: %s", name, exc)
                raise InvalidOrMissingParameters(str(exc)) from exc
            if registering:
                await initial_sync(session, partner_id, name)
            ours = await self.our_credentials(session, token)
        if registering:
            self._registered(partner_id)
        return ours

    async def accept_unregistration(self, partner_id: int) -> None:
        """Credentials DELETE from the partner: revoke both tokens."""
        async with session_scope(self.sessions) as session:
            await PartnerService(session).unregister(partner_id)

    async def _name_and_encoding_of(self, partner_id: int) -> tuple[str, str]:
        async with session_scope(self.sessions) as session:
            partner = await PartnerService(session).partners.get(partner_id)
            if partner is None:
                raise MethodNotAllowed("Partner no longer exists")
            return partner.name, partner.token_encoding

    # We register with a partner: the operator's commands.

    async def register_with(
        self,
        name: str,
        versions_url: str,
        registration_token: str,
        *,
        parties: Sequence[Party],
        token_encoding: HeaderTokenEncoding = HeaderTokenEncoding.AUTO,
    ) -> Partner:
        """Register with a partner that gave us its versions URL and a token A.

        ``parties`` are the parties the partner owns; credentials declaring others are refused
        (and our registration at the partner is deleted again).

        Raises:
            HandshakeFailed: any step failed; our issued token is revoked again.
            Conflict: the name is taken by a registered partner.
        """
        async with session_scope(self.sessions) as session:
            await PartnerService(session).check_can_register_with(name)
        try:
            discovery = await self.discover(versions_url, registration_token, token_encoding)
        except (UnableToUseClientApi, UnsupportedVersion, NoMatchingEndpoints) as exc:
            cause = exc.__cause__
            if isinstance(cause, PartnerHttpError) and cause.response_status == 401:
                raise HandshakeFailed(
                    f"the partner refused token A: {cause.message}; check the token it gave you"
                ) from exc
            raise HandshakeFailed(exc.message) from exc
        credentials_url = discovery.endpoint_url(ModuleID.CREDENTIALS.value)
        if credentials_url is None:
            raise HandshakeFailed("Partner offers no credentials endpoint")

        async with session_scope(self.sessions) as session:
            partner, our_token = await PartnerService(session).begin_outbound_registration(
                name,
                versions_url=versions_url,
                registration_token=registration_token,
                parties=parties,
                token_encoding=token_encoding,
            )
            ours = await self.our_credentials(session, our_token)
        partner_id = partner.require_id()

        client = self._client(registration_token, token_encoding)
        try:
            theirs = await client.post_credentials(credentials_url, ours)
        except OcpiClientError as exc:
            await self._abort_registration(partner_id)
            raise HandshakeFailed(f"Partner refused our registration: {exc.message}") from exc

        connection = mappers.connection_from_credentials(
            theirs, version=discovery.version, endpoints=discovery.endpoints
        )
        try:
            async with session_scope(self.sessions) as session:
                partner = await PartnerService(session).complete_outbound_registration(
                    partner_id, connection
                )
                await initial_sync(session, partner_id, partner.name)
        except (Conflict, Forbidden, InvalidState) as exc:
            # The partner registered us but we cannot keep it: undo on its side too.
            await self._delete_quietly(theirs.token, token_encoding, credentials_url)
            await self._abort_registration(partner_id)
            raise HandshakeFailed(f"Registration not kept: {exc}") from exc
        self._registered(partner_id)
        return partner

    async def _abort_registration(self, partner_id: int) -> None:
        async with session_scope(self.sessions) as session:
            await PartnerService(session).abort_outbound_registration(partner_id)

    async def _delete_quietly(self, token: str, encoding: str, url: str) -> None:
        try:
            await self._client(token, encoding).delete_credentials(url)
        except OcpiClientError as exc:
            logger.warning("could not unregister at %s: %s", url, exc.message)

    async def rotate(self, name: str) -> Partner:
        """Renew both tokens: PUT our credentials with a new token, store the partner's new one.

        Raises:
            HandshakeFailed: the partner refused or was unreachable; the old tokens stay valid.
        """
        async with session_scope(self.sessions) as session:
            service = PartnerService(session)
            partner = await service.get_by_name(name)
            partner, new_token = await service.begin_rotation(partner.require_id())
            ours = await self.our_credentials(session, new_token)
            outbound_token, encoding = partner.outbound_token, partner.token_encoding
            credentials_url = _credentials_url(partner)
            version, endpoints = partner.version or OUR_VERSION.value, _endpoints(partner)
        partner_id = partner.require_id()
        if outbound_token is None or credentials_url is None:
            await self._abort_rotation(partner_id)
            raise HandshakeFailed(f"partner {name!r} has no credentials endpoint to rotate with")
        try:
            theirs = await self._client(outbound_token, encoding).put_credentials(
                credentials_url, ours
            )
        except OcpiClientError as exc:
            await self._abort_rotation(partner_id)
            raise HandshakeFailed(f"Partner refused the rotation: {exc.message}") from exc
        connection = mappers.connection_from_credentials(
            theirs, version=version, endpoints=endpoints
        )
        async with session_scope(self.sessions) as session:
            return await PartnerService(session).complete_rotation(partner_id, connection)

    async def _abort_rotation(self, partner_id: int) -> None:
        async with session_scope(self.sessions) as session:
            await PartnerService(session).abort_rotation(partner_id)

    async def unregister_from(self, name: str, *, force: bool = False) -> Partner:
        """DELETE our credentials at the partner, then revoke everything locally.

        Raises:
            HandshakeFailed: the partner could not be told and ``force`` is not set; nothing
                changed locally.
        """
        async with session_scope(self.sessions) as session:
            partner = await PartnerService(session).get_by_name(name)
        credentials_url = _credentials_url(partner)
        if partner.partner_status.has_credentials and partner.outbound_token and credentials_url:
            try:
                await self._client(
                    partner.outbound_token, partner.token_encoding
                ).delete_credentials(credentials_url)
            except OcpiClientError as exc:
                if not force:
                    raise HandshakeFailed(
                        f"Could not unregister at the partner ({exc.message}); use --force "
                        "to revoke locally anyway"
                    ) from exc
                logger.warning("unregistering %s locally only: %s", name, exc.message)
        async with session_scope(self.sessions) as session:
            return await PartnerService(session).unregister(partner.require_id())


async def initial_sync(session: AsyncSession, partner_id: int, name: str) -> None:
    """Queue every object the newly registered partner may receive (if it has receivers)."""
    try:
        queued = await SyncService(session).resync(partner_id)
    except InvalidState:
        return  # no Locations/Tariffs receiver endpoint: the partner pulls, if anything
    logger.info("partner %r registered: %s objects queued for push", name, queued)


def _endpoints(partner: Partner) -> tuple[PartnerEndpoint, ...]:
    return tuple(
        PartnerEndpoint(identifier=e["identifier"], role=e["role"], url=e["url"])
        for e in partner.endpoints
    )


def _credentials_url(partner: Partner) -> str | None:
    for endpoint in _endpoints(partner):
        if endpoint.identifier == ModuleID.CREDENTIALS.value:
            return endpoint.url
    return None
