"""Interfaces the host application implements for the OCPI 2.2.1 server (``typing.Protocol``).

The server package handles HTTP, authentication headers, envelopes and the spec's status rules;
the ports answer the business questions. Implementations raise :mod:`ocpi.errors` exceptions
for OCPI-level failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from ocpi.auth import TokenEncoding
from ocpi.envelope import PageRequest
from ocpi.headers import PartyRef
from ocpi.v221.enums import ChargingPreferencesResponse, CommandType, TokenType
from ocpi.v221.models.cdrs import CDR
from ocpi.v221.models.charging_profiles import ChargingProfileResponse, SetChargingProfile
from ocpi.v221.models.commands import (
    CancelReservation,
    CommandResponse,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.hub_client_info import ClientInfo
from ocpi.v221.models.locations import Location
from ocpi.v221.models.sessions import ChargingPreferences, Session
from ocpi.v221.models.tariffs import Tariff
from ocpi.v221.models.tokens import Token, TokenPatch

ItemT = TypeVar("ItemT")

__all__ = [
    "AuthenticationPort",
    "CdrsSenderPort",
    "ChargingProfilesReceiverPort",
    "ClientIdentity",
    "CommandRequest",
    "CommandsReceiverPort",
    "CredentialsPort",
    "HubClientInfoReceiverPort",
    "LocationsSenderPort",
    "OcpiPorts",
    "Page",
    "SenderQuery",
    "SessionsSenderPort",
    "TariffsSenderPort",
    "TokenRef",
    "TokensReceiverPort",
]


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """The peer platform behind a request, as identified by its credentials token.

    Attributes:
        client_id: the host application's key for the peer.
        name: display name for logs.
        token: the credentials token the peer presented (echoed by credentials GET).
        registered: the peer completed a credentials exchange. ``False`` means the token is a
            registration token (OCPI ``CREDENTIALS_TOKEN_A``): versions and credentials only.
        active: ``False`` when the operator suspended the peer: functional modules refuse it.
        parties: the (country_code, party_id) pairs the peer declared in its credentials roles.
    """

    client_id: str
    name: str
    token: str
    registered: bool
    active: bool = True
    parties: tuple[PartyRef, ...] = field(default_factory=tuple)


class AuthenticationPort(Protocol):
    """Identify the peer behind an Authorization header."""

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        """Return the peer whose token is among ``candidates`` (see ``ocpi.auth``), or None."""
        ...


class CredentialsPort(Protocol):
    """Business side of the credentials module (``credentials.asciidoc``).

    The server has already enforced the registration-state rules (405) before calling.
    """

    async def get_credentials(self, client: ClientIdentity) -> Credentials:
        """Our credentials as seen by ``client``: its token, our versions URL, our roles."""
        ...

    async def register(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        """POST: store the client's credentials after fetching its versions; issue token C.

        Raises 3001 when the client's API cannot be used, 3002 without a common version and
        3003 when required endpoints are missing.
        """
        ...

    async def update(self, client: ClientIdentity, credentials: Credentials) -> Credentials:
        """PUT: refetch the client's versions and endpoints, store, and issue a new token."""
        ...

    async def unregister(self, client: ClientIdentity) -> None:
        """DELETE: the client's credentials and ours for it are no longer valid."""
        ...


@dataclass(frozen=True, slots=True)
class SenderQuery:
    """A Sender GET list request: pagination filters and the addressed party, if any.

    ``receiver`` comes from the ``OCPI-to-country-code``/``OCPI-to-party-id`` headers: on a
    platform hosting several parties it selects one of them. For Sessions ``page.date_from`` is
    never None: the server refuses a request without it (2001) before asking the port.
    """

    page: PageRequest
    receiver: PartyRef | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a Sender GET and the total number of matching objects."""

    items: Sequence[ItemT]
    total: int


class LocationsSenderPort(Protocol):
    """Locations module, Sender interface (``mod_locations.asciidoc``): what a client may see."""

    async def list_locations(self, client: ClientIdentity, query: SenderQuery) -> Page[Location]:
        """Locations visible to ``client``, oldest first, filtered on ``last_updated``."""
        ...

    async def get_location(
        self, client: ClientIdentity, location_id: str, receiver: PartyRef | None
    ) -> Location:
        """One Location with its EVSEs as ``client`` sees it.

        Raises ``LocationNotFound`` when it does not exist or is not visible to ``client``.
        """
        ...


class TariffsSenderPort(Protocol):
    """Tariffs module, Sender interface (``mod_tariffs.asciidoc``)."""

    async def list_tariffs(self, client: ClientIdentity, query: SenderQuery) -> Page[Tariff]:
        """Tariffs, oldest first, filtered on ``last_updated``."""
        ...


class SessionsSenderPort(Protocol):
    """Sessions module, Sender interface (``mod_sessions.asciidoc`` "Sender Interface")."""

    async def list_sessions(self, client: ClientIdentity, query: SenderQuery) -> Page[Session]:
        """Sessions ``client`` may see, oldest first, filtered on ``last_updated``.

        ``query.page.date_from`` is always given (the spec makes it required for Sessions).
        """
        ...

    async def put_charging_preferences(
        self,
        client: ClientIdentity,
        session_id: str,
        preferences: ChargingPreferences,
        receiver: PartyRef | None,
    ) -> ChargingPreferencesResponse:
        """Set the driver's Charging Preferences for an ongoing session (PUT).

        ``receiver`` is the party of the ``OCPI-to-*`` headers, if any: the URL names no party.

        Raises ``UnknownObject`` when there is no such session for ``client``, and
        ``ChargingPreferencesNotSupported`` (2001, HTTP 404) when the session's EVSE lacks the
        ``CHARGING_PREFERENCES_CAPABLE`` capability.
        """
        ...


class CdrsSenderPort(Protocol):
    """CDRs module, Sender interface (``mod_cdrs.asciidoc`` "Sender Interface")."""

    async def list_cdrs(self, client: ClientIdentity, query: SenderQuery) -> Page[CDR]:
        """CDRs for ``client``, oldest first, filtered on ``last_updated`` (their creation).

        A CPO may return only the CDRs relevant to the requesting eMSP.
        """
        ...


@dataclass(frozen=True, slots=True)
class TokenRef:
    """The token a Tokens Receiver URL addresses.

    ``{country_code}/{party_id}/{token_uid}[?type=]``, already checked to be a possible token
    (CiStrings of the right length, a 2.2.1 TokenType).
    """

    country_code: str
    party_id: str
    uid: str
    type: TokenType


class TokensReceiverPort(Protocol):
    """Tokens module, Receiver interface (``mod_tokens.asciidoc`` "Receiver Interface").

    The server has checked that a body's identity (country_code, party_id, uid, type) equals
    the URL's. The port decides whether the client owns the party.
    """

    async def get_token(self, client: ClientIdentity, ref: TokenRef) -> Token:
        """The token as stored.

        Raises ``TokenNotFound`` when it does not exist or belongs to a party the client does
        not own (indistinguishable).
        """
        ...

    async def put_token(self, client: ClientIdentity, token: Token) -> None:
        """Store a new token or replace the stored one.

        Raises ``InvalidOrMissingParameters`` (2001) when the party is not the client's;
        nothing is stored then.
        """
        ...

    async def patch_token(self, client: ClientIdentity, ref: TokenRef, patch: TokenPatch) -> None:
        """Change some fields of a stored token.

        Raises 2001 when the party is not the client's, ``TokenNotFound`` when there is no
        such token.
        """
        ...


CommandRequest = StartSession | StopSession | ReserveNow | CancelReservation | UnlockConnector
"""The body of a command POST: the object of its ``CommandType`` (``mod_commands.asciidoc``)."""


class CommandsReceiverPort(Protocol):
    """Commands module, Receiver interface (``mod_commands.asciidoc`` "Receiver Interface").

    The server has parsed the body into the model of ``command`` (``START_SESSION`` gives a
    :class:`StartSession`, and so on) and checked what needs no knowledge of the host: every
    field of the object, a ``response_url`` that is an absolute http(s) URL, and a StartSession
    ``connector_id`` only with an ``evse_uid``. Anything wrong there is 2001 and the port is not
    called.
    """

    async def command(
        self,
        client: ClientIdentity,
        command: CommandType,
        request: CommandRequest,
        receiver: PartyRef | None,
    ) -> CommandResponse:
        """Take a command; answer at once. The result goes later to ``request.response_url``.

        Sending that result (a ``CommandResult`` POST) is the host's job.

        ``receiver`` is the party of the ``OCPI-to-*`` headers, if any: the URL names no party.

        The answer is the CPO's, not the Charge Point's (``"CommandResponse Object"``):
        ``ACCEPTED`` when the command goes to the Charge Point, then a ``CommandResult`` is
        POSTed to ``request.response_url`` within ``timeout`` seconds; ``REJECTED`` (e.g. the
        session is not the client's), ``NOT_SUPPORTED`` or ``UNKNOWN_SESSION`` otherwise.
        May raise ``UnknownLocation`` (2003: "Command: START_SESSION with unknown location",
        ``status_codes.asciidoc``) for a ``location_id`` that does not exist or is not visible
        to the client. The Token of a START_SESSION or RESERVE_NOW is not to be checked for
        validity (the eMSP authorized it), but it SHALL be one of the client's own: whether
        its party is the client's is the port's decision, as for the Tokens module.
        """
        ...


class ChargingProfilesReceiverPort(Protocol):
    """ChargingProfiles module, Receiver interface (``mod_charging_profiles.asciidoc``).

    Every method answers at once with a :class:`ChargingProfileResponse` (the CPO's, not the
    EVSE's: ``ACCEPTED``, ``NOT_SUPPORTED``, ``REJECTED``, ``TOO_OFTEN``, ``UNKNOWN_SESSION``
    and a ``timeout`` in seconds); with ``ACCEPTED`` the host later POSTs the EVSE's result to
    ``response_url``. ``receiver`` is the party of the ``OCPI-to-*`` headers, if any.

    The server has checked that ``session_id`` can be a Session.id (``CiString(36)``; an id that
    cannot is answered like an unknown session, HTTP 404 / 2000), that ``response_url`` is an
    absolute http(s) URL, ``duration`` a whole number of seconds, 0 or more, and a profile's
    numbers (``duration``, ``min_charging_rate``, ``limit`` not negative, rates with at most one
    decimal, ``start_period`` 0 or more and increasing). A session that does not exist or is
    not the client's is answered with ``UNKNOWN_SESSION`` (or by raising ``UnknownObject``:
    HTTP 404, "Unknown session ...").
    """

    async def set_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        request: SetChargingProfile,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        """PUT: set or replace the session's profile; a ``ChargingProfileResult`` follows.

        Once a client has set a profile on a session, the CPO SHALL PUT every change of the
        session's ActiveChargingProfile to the client (``"PUT Method"`` of the Sender
        interface): ``PartnerClient.put_active_charging_profile``.
        """
        ...

    async def get_active_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        duration: int,
        response_url: str,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        """GET: ask the EVSE for the next ``duration`` seconds of the ActiveChargingProfile.

        An ``ActiveChargingProfileResult`` follows to ``response_url``.
        """
        ...

    async def clear_charging_profile(
        self,
        client: ClientIdentity,
        session_id: str,
        response_url: str,
        receiver: PartyRef | None,
    ) -> ChargingProfileResponse:
        """DELETE: clear the profile the client set on the session.

        A ``ClearProfileResult`` follows to ``response_url``.
        """
        ...


@dataclass(frozen=True, slots=True)
class OcpiPorts:
    """The implementations the router is built from; modules without a port are not offered."""

    authentication: AuthenticationPort
    credentials: CredentialsPort
    locations: LocationsSenderPort | None = None
    tariffs: TariffsSenderPort | None = None
    tokens: TokensReceiverPort | None = None
    sessions: SessionsSenderPort | None = None
    cdrs: CdrsSenderPort | None = None
    commands: CommandsReceiverPort | None = None
    charging_profiles: ChargingProfilesReceiverPort | None = None
    hub_client_info: HubClientInfoReceiverPort | None = None


class HubClientInfoReceiverPort(Protocol):
    """Hub Client Info module, Receiver interface (``mod_hub_client_info.asciidoc``).

    A hub tells us the state of its connections to other parties ("Receiver Interface").
    A configuration module: no routing headers. The server has checked that a body's
    ``country_code`` and ``party_id`` equal the URL's. The port decides whether the client is a
    hub, and answers each hub only with what that hub reported.
    """

    async def get_client_info(
        self, client: ClientIdentity, country_code: str, party_id: str
    ) -> ClientInfo:
        """The ClientInfo the client reported for this party, as stored ("GET Method").

        Raises ``UnknownObject`` when the client reported none for it (also when the client is
        not a hub): indistinguishable.
        """
        ...

    async def put_client_info(self, client: ClientIdentity, info: ClientInfo) -> None:
        """Store a new or updated ClientInfo ("PUT Method").

        There is no DELETE: a hub sends SUSPENDED instead. Raises
        ``InvalidOrMissingParameters`` (2001) when the client is not a hub; nothing is stored
        then.
        """
        ...
