"""The hub's implementation of the OCPI server ports (``ocpi.v221.ports``)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.domain import tokens as tokens_domain
from hub.domain.assets import NacsMode
from hub.domain.partners import HeaderTokenEncoding
from hub.domain.tokens import TokenType, key_of
from hub.errors import Forbidden, NotFound
from hub.persistence.repositories.locations import LocationFilter
from hub.persistence.session import session_scope
from hub.roaming import mappers
from hub.roaming.charging_profiles import PartnerChargingProfiles
from hub.roaming.commands import PartnerCommands
from hub.roaming.handshake import CredentialsHandshake
from hub.roaming.hub_client_info import PartnerHubClientInfo
from hub.roaming.sessions import PartnerCdrs, PartnerSessions, scope_of
from hub.services.locations import LocationService
from hub.services.partners import PartnerService
from hub.services.tariffs import TariffService
from hub.services.tokens import TokenService
from ocpi.auth import TokenEncoding
from ocpi.envelope import PageRequest
from ocpi.errors import InvalidOrMissingParameters, LocationNotFound, TokenNotFound
from ocpi.headers import PartyRef
from ocpi.v221 import models as v221
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.ports import ClientIdentity, OcpiPorts, Page, SenderQuery, TokenRef


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
            scope = await service.scope(authenticated.partner)
            return mappers.client_identity(authenticated, scope)


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


async def _nacs_mode(session: AsyncSession, client: ClientIdentity) -> NacsMode:
    partner = await PartnerService(session).partners.get(int(client.client_id))
    return NacsMode(partner.nacs_mode) if partner is not None else NacsMode.OMIT


def _filter(
    client: ClientIdentity, receiver: PartyRef | None, page: PageRequest | None = None
) -> LocationFilter:
    return LocationFilter(
        scope=scope_of(client),
        owner=(receiver.country_code, receiver.party_id) if receiver else None,
        date_from=page.date_from if page else None,
        date_to=page.date_to if page else None,
    )


class PartnerLocations:
    """Locations Sender: only published locations, or unpublished ones shared with one of the
    partner's parties; an invisible location is indistinguishable from a missing one."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_locations(
        self, client: ClientIdentity, query: SenderQuery
    ) -> Page[v221.Location]:
        async with session_scope(self._sessions) as session:
            nacs_mode = await _nacs_mode(session, client)
            views, total = await LocationService(session).visible_page(
                _filter(client, query.receiver, query.page),
                offset=query.page.offset,
                limit=query.page.limit,
            )
        return Page(
            items=[mappers.location_for_partner(v.location, v.evses, nacs_mode) for v in views],
            total=total,
        )

    async def get_location(
        self, client: ClientIdentity, location_id: str, receiver: PartyRef | None
    ) -> v221.Location:
        async with session_scope(self._sessions) as session:
            nacs_mode = await _nacs_mode(session, client)
            view = await LocationService(session).get_visible(
                location_id, _filter(client, receiver)
            )
        if view is None:
            raise LocationNotFound(f"Unknown location {location_id}")
        return mappers.location_for_partner(view.location, view.evses, nacs_mode)


class PartnerTariffs:
    """Tariffs Sender: the tariffs the partner may see (``hub.domain.access``): referenced by a
    location it sees, or by no location at all."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def list_tariffs(
        self,
        client: ClientIdentity,
        query: SenderQuery,
    ) -> Page[v221.Tariff]:
        receiver = query.receiver
        async with session_scope(self._sessions) as session:
            rows, total = await TariffService(session).page(
                scope=scope_of(client),
                owner=(receiver.country_code, receiver.party_id) if receiver else None,
                date_from=query.page.date_from,
                date_to=query.page.date_to,
                offset=query.page.offset,
                limit=query.page.limit,
            )
        return Page(items=[mappers.tariff_model(row) for row in rows], total=total)


class PartnerTokens:
    """Tokens Receiver: a partner reads and writes only tokens of the parties it owns
    (``TokenService``); any other party's token is refused with 2001 and nothing is stored,
    and reads of it are answered like an unknown token."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def get_token(self, client: ClientIdentity, ref: TokenRef) -> v221.Token:
        async with session_scope(self._sessions) as session:
            row = await TokenService(session).get(int(client.client_id), _key(ref))
        if row is None:
            raise TokenNotFound(f"Unknown token {ref.uid}")
        return mappers.token_model(row)

    async def put_token(self, client: ClientIdentity, token: v221.Token) -> None:
        try:
            async with session_scope(self._sessions) as session:
                await TokenService(session).put(int(client.client_id), mappers.token_record(token))
        except Forbidden as exc:
            raise _not_yours(exc) from None

    async def patch_token(
        self, client: ClientIdentity, ref: TokenRef, patch: v221.TokenPatch
    ) -> None:
        try:
            async with session_scope(self._sessions) as session:
                await TokenService(session).patch(
                    int(client.client_id), _key(ref), mappers.token_changes(patch)
                )
        except Forbidden as exc:
            raise _not_yours(exc) from None
        except NotFound:
            raise TokenNotFound(
                f"Unknown token {ref.uid!r} of type {ref.type.value}; PUT it first"
            ) from None
        except ValueError as exc:
            raise InvalidOrMissingParameters(f"Invalid request body: {exc}") from None


def _key(ref: TokenRef) -> tokens_domain.TokenKey:
    return key_of(ref.country_code, ref.party_id, ref.uid, TokenType(ref.type.value))


def _not_yours(exc: Forbidden) -> InvalidOrMissingParameters:
    return InvalidOrMissingParameters(
        f"Invalid country_code/party_id: {exc}; a partner may push only its own tokens"
    )


def build_ports(
    session_factory: async_sessionmaker[AsyncSession],
    handshake: CredentialsHandshake,
    *,
    commands: PartnerCommands | None = None,
    charging_profiles: PartnerChargingProfiles | None = None,
) -> OcpiPorts:
    return OcpiPorts(
        authentication=PartnerAuthentication(session_factory),
        credentials=PartnerCredentials(handshake),
        locations=PartnerLocations(session_factory),
        tariffs=PartnerTariffs(session_factory),
        tokens=PartnerTokens(session_factory),
        sessions=PartnerSessions(session_factory),
        cdrs=PartnerCdrs(session_factory),
        commands=commands,
        hub_client_info=PartnerHubClientInfo(session_factory),
        charging_profiles=charging_profiles,
    )
