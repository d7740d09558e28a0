"""Roaming partners: invitations, credentials exchanges, rotation, suspension, unregistration.

The service owns every state transition of a partner; ``hub.roaming.handshake`` performs the
HTTP side of a credentials exchange and calls in here before and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import Party, PartyScope, party_label
from hub.domain.credentials import generate_token, hash_token, token_matches
from hub.domain.emaid import MalformedEmaid, parse_routing_prefix, routing_prefix_of
from hub.domain.partners import (
    HeaderTokenEncoding,
    PartnerConnection,
    PartnerStatus,
)
from hub.errors import Conflict, Forbidden, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.tables import Partner, PartnerRole


@dataclass(frozen=True, slots=True)
class AuthenticatedPartner:
    """A partner identified by the token it presented."""

    partner: Partner
    token: str
    encoding: HeaderTokenEncoding


class AlreadyInvited(Conflict):
    """The partner holds a registration token not used yet; issuing another revokes it."""

    def __init__(self, name: str, issued_at: datetime) -> None:
        self.name = name
        self.issued_at = issued_at
        super().__init__(
            f"partner {name!r} was already issued a registration token on "
            f"{issued_at:%Y-%m-%d %H:%M} UTC, not used yet"
        )


class PartnerService:
    """Use cases on roaming partners. Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.partners = PartnerRepository(session)
        self.access = AccessRepository(session)

    async def get_by_name(self, name: str) -> Partner:
        """The partner called ``name``.

        Raises:
            NotFound: no such partner.
        """
        partner = await self.partners.get_by_name(name)
        if partner is None:
            raise NotFound(f"no partner named {name!r}")
        return partner

    async def list(self) -> Sequence[Partner]:
        """All partners, by name, whatever their status."""
        return await self.partners.list()

    async def roles(self, partner: Partner) -> Sequence[PartnerRole]:
        """The roles (parties) the partner declared in its credentials."""
        return await self.partners.roles_of(partner.require_id())

    async def scope(self, partner: Partner) -> PartyScope:
        """The parties the partner owns: the key of every authorization decision about it."""
        return await self.access.scope_of(partner.require_id())

    async def owned_parties(self, partner: Partner) -> Sequence[Party]:
        """The parties the operator assigned to the partner, sorted."""
        return await self.partners.owned_parties(partner.require_id())

    async def assign_parties(self, partner: Partner, parties: Iterable[Party]) -> None:
        """Pin the parties the partner owns; it may declare roles only for these.

        A party held by an unregistered partner is taken over (that partner can no longer use
        it); one held by any other partner is refused.

        Raises:
            InvalidState: no party given.
            Conflict: a party belongs to another partner.
        """
        wanted = sorted({(cc.upper(), pid.upper()) for cc, pid in parties})
        if not wanted:
            raise InvalidState("a partner needs at least one party (--party COUNTRY*PARTY)")
        partner_id = partner.require_id()
        released = []
        for party, holder in (await self.partners.owners_of(wanted)).items():
            if holder.id == partner_id:
                continue
            if holder.partner_status is not PartnerStatus.UNREGISTERED:
                raise Conflict(
                    f"party {party_label(party)} belongs to partner {holder.name!r} "
                    f"({holder.status}); a party belongs to one partner only"
                )
            released.append(party)
        await self.partners.release_parties(released)
        await self.partners.replace_owned_parties(partner_id, wanted)

    async def route_emaid_prefix(self, partner: Partner, text: str) -> str:
        """Route Plug & Charge contracts whose eMAID starts with ``text`` (``US-ABC``) to the
        partner; returns the stored prefix.

        A prefix routes to one partner: another partner's explicit route, or its own party
        (which routes to it by default), is refused rather than silently taken over, because
        the drivers of that provider would then be authorized by the wrong eMSP.

        Raises:
            InvalidState: not a prefix.
            Conflict: the prefix routes to another partner.
        """
        prefix = _routing_prefix(text)
        partner_id = partner.require_id()
        holder = await self.partners.emaid_prefix_holder(prefix)
        if holder is None:
            holder = await self._owner_of_prefix_party(prefix)
        if holder is not None and holder.id != partner_id:
            raise Conflict(
                f"eMAID prefix {prefix} routes to partner {holder.name!r}; "
                "a prefix routes to one partner only"
            )
        if prefix not in await self.partners.emaid_prefixes(partner_id):
            await self.partners.add_emaid_prefix(partner_id, prefix)
        return prefix

    async def unroute_emaid_prefix(self, partner: Partner, text: str) -> str:
        """Undo ``route_emaid_prefix``.

        Raises:
            InvalidState: not a prefix.
            NotFound: the partner has no such route.
        """
        prefix = _routing_prefix(text)
        if not await self.partners.remove_emaid_prefix(partner.require_id(), prefix):
            raise NotFound(f"partner {partner.name!r} has no eMAID prefix {prefix}")
        return prefix

    async def emaid_prefixes(self, partner: Partner) -> Sequence[str]:
        """The prefixes routed to the partner: explicit routes, and its own parties."""
        explicit = await self.partners.emaid_prefixes(partner.require_id())
        own = [
            routing_prefix_of(cc, pid)
            for cc, pid in await self.partners.owned_parties(partner.require_id())
        ]
        return sorted(set(explicit) | set(own))

    async def partner_for_emaid(self, emaid: str) -> Partner | None:
        """The partner that authorizes a normalised eMAID: the explicit route of its prefix
        (country code and provider id), else the partner owning that country and party id."""
        prefix = routing_prefix_of(emaid[:2], emaid[2:5])
        holder = await self.partners.emaid_prefix_holder(prefix)
        if holder is not None:
            return holder
        return await self._owner_of_prefix_party(prefix)

    async def _owner_of_prefix_party(self, prefix: str) -> Partner | None:
        party = (prefix[:2], prefix[3:])
        return (await self.partners.owners_of([party])).get(party)

    async def authenticate(
        self, candidates: Mapping[HeaderTokenEncoding, str]
    ) -> AuthenticatedPartner | None:
        """Find the partner whose issued token is among ``candidates``.

        ``candidates`` maps each way the Authorization header could have been encoded to the
        token it would carry. A match counts only if the partner's encoding setting allows that
        encoding. Unregistered partners hold no token and never match.
        """
        by_hash = {hash_token(token): (encoding, token) for encoding, token in candidates.items()}
        for partner in await self.partners.find_by_token_hashes(by_hash):
            allowed = HeaderTokenEncoding(partner.token_encoding)
            for encoding, token in by_hash.values():
                if allowed is not HeaderTokenEncoding.AUTO and encoding is not allowed:
                    continue
                if token_matches(token, partner.inbound_token_hash) or token_matches(
                    token, partner.pending_inbound_token_hash
                ):
                    return AuthenticatedPartner(partner=partner, token=token, encoding=encoding)
        return None

    async def invite(
        self,
        name: str,
        *,
        parties: Sequence[Party],
        token_encoding: HeaderTokenEncoding = HeaderTokenEncoding.AUTO,
        reissue: bool = False,
    ) -> tuple[Partner, str]:
        """Issue a registration token (OCPI token A) for a partner that will register with us.

        A new partner is created; an unregistered one gets a fresh token, and so does a
        still-invited one with ``reissue`` (its earlier token stops working).
        ``parties`` are the parties it owns (see :meth:`assign_parties`): its credentials may
        declare roles for these only.

        Returns:
            The partner and the plain token, to hand over out of band. Only its hash is stored.

        Raises:
            AlreadyInvited: the partner is invited and ``reissue`` is not set.
            Conflict: a partner with this name is registering or registered, or a party
                belongs to another partner.
            InvalidState: no party given.
        """
        token = generate_token()
        partner = await self.partners.get_by_name(name)
        if partner is None:
            partner = Partner(name=name)
        elif partner.partner_status not in {PartnerStatus.INVITED, PartnerStatus.UNREGISTERED}:
            raise Conflict(f"partner {name!r} is {partner.status}; unregister it first")
        issued_at = self.invitation_issued_at(partner)
        if issued_at is not None and not reissue:
            raise AlreadyInvited(name, issued_at)
        partner.status = PartnerStatus.INVITED.value
        partner.invited_at = utc_now()
        partner.token_encoding = token_encoding.value
        partner.inbound_token_hash = hash_token(token)
        partner.pending_inbound_token_hash = None
        partner.outbound_token = None
        partner.touch()
        await self.partners.add(partner)
        await self.assign_parties(partner, parties)
        return partner, token

    async def pending_invitation(self, name: str) -> datetime | None:
        """When the registration token of partner ``name`` was issued, if it holds one not
        used yet (see :meth:`invitation_issued_at`)."""
        partner = await self.partners.get_by_name(name)
        return self.invitation_issued_at(partner) if partner is not None else None

    @staticmethod
    def invitation_issued_at(partner: Partner) -> datetime | None:
        """When the registration token the partner holds (invited, not registered yet) was
        issued; None if it holds none. Partners invited before this was recorded: their last
        change."""
        if partner.partner_status is not PartnerStatus.INVITED or not partner.inbound_token_hash:
            return None
        return partner.invited_at or partner.updated_at

    async def check_can_register_with(self, name: str) -> Partner | None:
        """The existing partner called ``name``, if any, after checking we may register with it.

        Raises:
            Conflict: a partner with this name is registered or suspended.
        """
        partner = await self.partners.get_by_name(name)
        if partner is not None and partner.partner_status.has_credentials:
            raise Conflict(f"partner {name!r} is {partner.status}; unregister it first")
        return partner

    async def begin_outbound_registration(
        self,
        name: str,
        *,
        versions_url: str,
        registration_token: str,
        parties: Sequence[Party],
        token_encoding: HeaderTokenEncoding = HeaderTokenEncoding.AUTO,
    ) -> tuple[Partner, str]:
        """First step when we register with a partner (we are the credentials Sender).

        ``parties`` are the parties the partner owns (see :meth:`assign_parties`); the
        credentials it answers with may declare roles for these only.

        Stores the partner's registration token (its token A, used for our calls until the
        exchange completes) and issues the token the partner will use to call us; the partner
        calls our versions endpoint with it while our POST is still in flight, so the caller
        must commit before POSTing.

        Raises:
            Conflict: a partner with this name exists and is not unregistered.
        """
        partner = await self.check_can_register_with(name) or Partner(name=name)
        token = generate_token()
        partner.status = PartnerStatus.REGISTERING.value
        partner.token_encoding = token_encoding.value
        partner.versions_url = versions_url
        partner.outbound_token = registration_token
        partner.inbound_token_hash = hash_token(token)
        partner.pending_inbound_token_hash = None
        partner.touch()
        await self.partners.add(partner)
        await self.assign_parties(partner, parties)
        return partner, token

    async def complete_outbound_registration(
        self, partner_id: int, connection: PartnerConnection
    ) -> Partner:
        """Store what the partner returned to our POST; the partner is now registered.

        Raises:
            InvalidState: the partner is no longer registering (e.g. removed meanwhile).
            Forbidden: a declared party is not one the partner owns.
        """
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.REGISTERING}, "complete a registration")
        await self._apply_connection(partner, connection)
        partner.status = PartnerStatus.REGISTERED.value
        partner.registered_at = utc_now()
        return partner

    async def abort_outbound_registration(self, partner_id: int) -> None:
        """Undo :meth:`begin_outbound_registration` after a failed POST: revoke our token."""
        partner = await self._locked(partner_id)
        if partner.partner_status is PartnerStatus.REGISTERING:
            self._revoke(partner)

    async def register_inbound(self, partner_id: int, connection: PartnerConnection) -> str:
        """The partner registered with us (credentials POST): store its side, issue token C.

        Returns:
            The new token for the partner (plain; only its hash is stored).

        Raises:
            InvalidState: the partner is not waiting to register (already registered: OCPI 405).
            Forbidden: a declared party is not one the partner owns.
        """
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.INVITED}, "register")
        await self._apply_connection(partner, connection)
        token = generate_token()
        partner.inbound_token_hash = hash_token(token)
        partner.pending_inbound_token_hash = None
        partner.status = PartnerStatus.REGISTERED.value
        partner.registered_at = utc_now()
        return token

    async def update_inbound(self, partner_id: int, connection: PartnerConnection) -> str:
        """The partner updated its credentials (credentials PUT): store them, issue a new token.

        The old token stops working when the caller commits; the new one starts at that moment.

        Raises:
            InvalidState: the partner is not registered (OCPI 405).
            Forbidden: a declared party is not one the partner owns.
        """
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.REGISTERED, PartnerStatus.SUSPENDED}, "update")
        await self._apply_connection(partner, connection)
        token = generate_token()
        partner.inbound_token_hash = hash_token(token)
        partner.pending_inbound_token_hash = None
        return token

    async def begin_rotation(self, partner_id: int) -> tuple[Partner, str]:
        """Issue the next token for the partner before we PUT our credentials to it.

        Both the current and the next token are accepted until :meth:`complete_rotation` or
        :meth:`abort_rotation`, because the partner fetches our versions with the new token
        before it answers the PUT.
        """
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.REGISTERED, PartnerStatus.SUSPENDED}, "rotate")
        token = generate_token()
        partner.pending_inbound_token_hash = hash_token(token)
        partner.touch()
        return partner, token

    async def complete_rotation(self, partner_id: int, connection: PartnerConnection) -> Partner:
        """Switch to the rotated tokens in one step: ours for the partner and the partner's."""
        partner = await self._locked(partner_id)
        if partner.pending_inbound_token_hash is None:
            raise InvalidState(f"partner {partner.name!r} has no rotation in progress")
        await self._apply_connection(partner, connection)
        partner.inbound_token_hash = partner.pending_inbound_token_hash
        partner.pending_inbound_token_hash = None
        return partner

    async def abort_rotation(self, partner_id: int) -> None:
        """Forget the pending token after a failed rotation; the current tokens stay valid."""
        partner = await self._locked(partner_id)
        partner.pending_inbound_token_hash = None
        partner.touch()

    async def unregister(self, partner_id: int) -> Partner:
        """Revoke all credentials of the partner (either side unregistered). Kept for history."""
        partner = await self._locked(partner_id)
        self._revoke(partner)
        await self.partners.replace_roles(partner.require_id(), [])
        return partner

    async def suspend(self, partner_id: int) -> Partner:
        """Pause a registered partner: functional modules refuse it and nothing is pushed."""
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.REGISTERED, PartnerStatus.SUSPENDED}, "suspend")
        partner.status = PartnerStatus.SUSPENDED.value
        partner.touch()
        return partner

    async def resume(self, partner_id: int) -> Partner:
        """Undo :meth:`suspend`."""
        partner = await self._locked(partner_id)
        self._require(partner, {PartnerStatus.REGISTERED, PartnerStatus.SUSPENDED}, "resume")
        partner.status = PartnerStatus.REGISTERED.value
        partner.touch()
        return partner

    async def _locked(self, partner_id: int) -> Partner:
        partner = await self.partners.get(partner_id, for_update=True)
        if partner is None:
            raise NotFound(f"partner {partner_id} no longer exists")
        return partner

    @staticmethod
    def _require(partner: Partner, allowed: set[PartnerStatus], action: str) -> None:
        if partner.partner_status not in allowed:
            raise InvalidState(f"partner {partner.name!r} is {partner.status}; cannot {action}")

    @staticmethod
    def _revoke(partner: Partner) -> None:
        partner.status = PartnerStatus.UNREGISTERED.value
        partner.inbound_token_hash = None
        partner.pending_inbound_token_hash = None
        partner.outbound_token = None
        partner.endpoints = []
        partner.touch()

    async def _apply_connection(self, partner: Partner, connection: PartnerConnection) -> None:
        partner_id = partner.require_id()
        keys = [role.key for role in connection.roles]
        if len(set(keys)) != len(keys):
            raise Conflict("credentials list the same (role, country_code, party_id) twice")
        owned: set[Party] = set(await self.partners.owned_parties(partner_id))
        foreign = sorted({(cc, pid) for _, cc, pid in keys} - owned)
        if foreign:
            raise Forbidden(
                "credentials declare parties not assigned to this partner: "
                + ", ".join(party_label(p) for p in foreign)
                + "; assigned: "
                + (", ".join(party_label(p) for p in sorted(owned)) or "none")
            )
        partner.versions_url = connection.versions_url
        partner.version = connection.version
        partner.endpoints = [
            {"identifier": e.identifier, "role": e.role, "url": e.url} for e in connection.endpoints
        ]
        partner.outbound_token = connection.token
        partner.touch()
        await self.partners.replace_roles(
            partner_id,
            [
                PartnerRole(
                    partner_id=partner_id,
                    role=role.role.upper(),
                    country_code=role.country_code.upper(),
                    party_id=role.party_id.upper(),
                    business_details=role.business_details,
                )
                for role in connection.roles
            ],
        )


def _routing_prefix(text: str) -> str:
    try:
        return parse_routing_prefix(text)
    except MalformedEmaid as exc:
        raise InvalidState(f"{text!r} is not an eMAID provider prefix: {exc.reason}") from exc
