"""Authorizing id tokens at chargers, the stored side: which stored token a presented id is,
where a station's EVSEs are, the eMSP commands that exempt a token from real-time authorization
(the 15-minute rule), the operator's token blocks, and the audit trail of every decision.

Decisions are taken in ``hub.ocpp.authorization`` (domain rule, real-time port); this module only
reads and writes what they need, in short units of work the caller opens and commits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.authorization import REMOTE_START_GRACE, KnownToken
from hub.domain.emaid import Emaid, MalformedEmaid, parse_emaid
from hub.domain.partners import EmaidTokenType
from hub.domain.tokens import TokenKey, TokenType, WhitelistType, uid_digest
from hub.errors import NotFound
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.authorization import (
    AuthorizationRepository,
    EvsePlace,
    TokenFacts,
    presented_facts,
    uid_spellings,
)
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.session import HotReads
from hub.persistence.tables import (
    AuthorizationDecisionRecord,
    OperatorTokenBlock,
    RemoteAuthorization,
    Token,
)
from hub.services.partners import PartnerService

__all__ = [
    "AuthorizationService",
    "EmaidRoute",
    "EvsePlace",
    "Presented",
    "StoredToken",
    "TokenAdminService",
    "note_remote_authorization",
    "presented",
]


@dataclass(frozen=True, slots=True)
class StoredToken:
    """What authorizing needs of a stored token (read inside a unit of work, used after it)."""

    key: TokenKey
    whitelist: WhitelistType
    valid: bool
    contract_id: str
    group_id: str | None
    language: str | None
    partner_id: int

    @property
    def known(self) -> KnownToken:
        return KnownToken(self.key, self.whitelist, self.valid)


def _stored(row: Token | TokenFacts) -> StoredToken:
    return StoredToken(
        key=TokenKey(row.country_code, row.party_id, row.uid, TokenType(row.type)),
        whitelist=WhitelistType(row.whitelist),
        valid=row.valid,
        contract_id=row.contract_id,
        group_id=row.group_id,
        language=row.language,
        partner_id=row.partner_id,
    )


@dataclass(frozen=True, slots=True)
class Presented:
    """What is stored about a presented uid: the token it is (None: none stored), whether the
    operator blocks that token, and whether a remote authorization exempts it here."""

    stored: StoredToken | None
    blocked: bool
    recent_remote_authorization: bool


_Row = TypeVar("_Row", Token, TokenFacts)


def _preferred(rows: Sequence[_Row]) -> _Row | None:
    """Among tokens of several parties sharing a uid and type: a valid one before an invalid
    one, then the most recently updated (a card re-issued by another eMSP wins over the old)."""
    if not rows:
        return None
    return max(rows, key=lambda row: (row.valid, row.last_updated, row.id or 0))


@dataclass(frozen=True, slots=True)
class EmaidRoute:
    """Where an eMAID is authorized: its partner, the key asked about, a stored match."""

    partner_id: int
    partner_name: str
    key: TokenKey
    """The token asked about in real time: uid = the eMAID, type = the partner's eMAID type,
    party = the eMAID's provider party when the partner owns it, else its first party."""
    stored: StoredToken | None
    """A pushed token of the partner's parties whose ``contract_id`` is this eMAID."""


async def note_remote_authorization(
    session: AsyncSession,
    *,
    command: str,
    token: TokenKey,
    location_id: str,
    evse_uid: str | None,
    received_at: datetime,
    authorization_reference: str | None = None,
) -> None:
    """Remember that an eMSP sent ``command`` (START_SESSION or RESERVE_NOW) for ``token`` at
    ``location_id`` / ``evse_uid`` (None: any EVSE of the location) at ``received_at``: for the
    next 15 minutes a charger presenting that uid there is not authorized in real time again
    (``mod_commands``: the eMSP authorized it when it sent the command). Never commits."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be an aware datetime")
    if command not in ("START_SESSION", "RESERVE_NOW"):
        raise ValueError(f"{command!r} is not START_SESSION or RESERVE_NOW")
    await AuthorizationRepository(session).add_remote_authorization(
        RemoteAuthorization(
            command=command,
            country_code=token.country_code.upper(),
            party_id=token.party_id.upper(),
            uid=token.uid.upper(),
            token_type=token.type.value,
            location_id=location_id,
            evse_uid=evse_uid,
            authorization_reference=authorization_reference,
            received_at=received_at,
        )
    )


async def presented(
    reads: HotReads,
    uid: str,
    token_type: TokenType,
    *,
    evse_uids: Sequence[str],
    location_id: str | None,
    now: datetime,
) -> Presented:
    """The stored token a charger's id is (any party; see :func:`_preferred`), whether the
    operator blocks it (``is_blocked``) and ``recent_remote_authorization`` at one of
    ``evse_uids`` (or at ``location_id``), read in one statement outside any unit of work (the
    hot path of answering chargers; see :class:`~hub.persistence.session.HotReads`)."""
    facts = await presented_facts(
        reads,
        uid,
        token_type,
        since=now - REMOTE_START_GRACE,
        until=now,
        evse_uids=evse_uids,
        location_id=location_id,
    )
    row = _preferred(facts.tokens)
    return Presented(
        _stored(row) if row is not None else None,
        blocked=row is not None and row.blocked,
        recent_remote_authorization=facts.recent_remote_authorization,
    )


class AuthorizationService:
    """Reads and writes of the authorization flow. Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.repository = AuthorizationRepository(session)
        self.session = session

    async def emaid_route(self, emaid: Emaid) -> EmaidRoute | None:
        """The partner authorizing ``emaid`` (prefix table, else the party of its prefix) and
        the stored token matching it by ``contract_id``; None when no partner is routed."""
        partner = await PartnerService(self.session).partner_for_emaid(emaid.normalised)
        if partner is None:
            return None
        partner_id = partner.require_id()
        parties = sorted((await AccessRepository(self.session).scope_of(partner_id)).parties)
        candidates = _contract_id_spellings(emaid)
        row = _preferred(await self.repository.tokens_with_contract_id(candidates, parties))
        own = (emaid.country_code, emaid.provider_id)
        party = own if own in parties else (parties[0] if parties else own)
        token_type = TokenType(EmaidTokenType(partner.emaid_token_type).value)
        key = TokenKey(party[0], party[1], emaid.normalised, token_type)
        return EmaidRoute(partner_id, partner.name, key, _stored(row) if row is not None else None)

    async def station_evses(self, station_id: str) -> list[EvsePlace]:
        return await self.repository.evses_of_station(station_id)

    async def recent_remote_authorization(
        self, uid: str, *, evse_uids: Sequence[str], location_id: str | None, now: datetime
    ) -> RemoteAuthorization | None:
        """A START_SESSION / RESERVE_NOW for ``uid`` less than 15 minutes before ``now`` at one
        of ``evse_uids`` (or for no EVSE in particular at ``location_id``)."""
        return await self.repository.remote_authorization_since(
            uid,
            since=now - REMOTE_START_GRACE,
            until=now,
            evse_uids=evse_uids,
            location_id=location_id,
        )

    async def is_blocked(self, key: TokenKey) -> bool:
        return await self.repository.block(key) is not None

    async def partner_name(self, partner_id: int | None) -> str | None:
        if partner_id is None:
            return None
        partner = await PartnerRepository(self.session).get(partner_id)
        return partner.name if partner is not None else None

    async def record_many(self, rows: Sequence[dict[str, object]]) -> None:
        """Add decision rows given as column values (one INSERT for all)."""
        await self.repository.add_decisions(rows)


def _contract_id_spellings(emaid: Emaid) -> list[str]:
    """How an eMSP may have written this eMAID in ``contract_id``: normalised, with the check
    character, and the eMI3 form with separators (``DE-8AA-CA2B3C4D5-L``)."""
    body = f"{emaid.country_code}-{emaid.provider_id}-{emaid.instance}"
    check = emaid.with_check[-1]
    return sorted({emaid.normalised, emaid.with_check, body, f"{body}-{check}", f"{body}{check}"})


@dataclass(frozen=True, slots=True)
class TokenView:
    """A stored token for the operator, with its partner and the operator's block."""

    token: Token
    partner_name: str
    block: OperatorTokenBlock | None


class TokenAdminService:
    """The operator's view of tokens (``hub tokens``): never exposed to partners. Never
    commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.repository = AuthorizationRepository(session)
        self.session = session

    async def page(
        self, partner_name: str | None, *, limit: int, offset: int
    ) -> tuple[Sequence[tuple[Token, str]], int]:
        """Stored tokens (of one partner, if named) and the total.

        Raises:
            NotFound: no partner of that name.
        """
        partner_id = None
        if partner_name is not None:
            partner_id = (await PartnerService(self.session).get_by_name(partner_name)).require_id()
        return await self.repository.token_page(partner_id, limit=limit, offset=offset)

    async def show(self, key: TokenKey) -> TokenView:
        """The stored token and its block.

        Raises:
            NotFound: no such token stored.
        """
        token = await self.repository.token(key)
        if token is None:
            raise NotFound(
                f"no token {key.type} of party {key.country_code}*{key.party_id} with that uid "
                "is stored"
            )
        partner = await PartnerRepository(self.session).get(token.partner_id)
        return TokenView(token, partner.name if partner else "?", await self.repository.block(key))

    async def block(self, key: TokenKey, reason: str | None) -> tuple[OperatorTokenBlock, bool]:
        """Block the token (stored or not); returns the block and whether it is new."""
        existing = await self.repository.block(key)
        if existing is not None:
            return existing, False
        row = OperatorTokenBlock(
            country_code=key.country_code,
            party_id=key.party_id,
            uid=key.uid,
            type=key.type.value,
            reason=reason,
        )
        return await self.repository.add_block(row), True

    async def unblock(self, key: TokenKey) -> None:
        """Lift the operator's block.

        Raises:
            NotFound: the token is not blocked.
        """
        existing = await self.repository.block(key)
        if existing is None:
            raise NotFound(
                f"token {key.type} of party {key.country_code}*{key.party_id} is not blocked"
            )
        await self.repository.delete_block(existing)

    async def explain(
        self, uid: str, token_type: TokenType | None, limit: int
    ) -> Sequence[AuthorizationDecisionRecord]:
        """The latest decisions about ``uid`` (in any case), any party, newest first."""
        spellings = uid_spellings(uid)
        with contextlib.suppress(MalformedEmaid):
            spellings.append(parse_emaid(uid).normalised)  # eMAIDs are recorded normalised
        digests = [uid_digest(spelling) for spelling in spellings]
        return await self.repository.decisions_by_digest(digests, token_type, limit)
