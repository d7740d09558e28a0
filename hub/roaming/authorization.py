"""Real-time authorization: asking a driver's eMSP whether its token may charge here, now.

Two questions, each answered within one time budget (``HUB_AUTHORIZATION__REALTIME_BUDGET_SECONDS``,
below the chargers' OCPP timeout; the partner lookup counts against it too):

- :meth:`RealTimeAuthorizer.authorize`: a token we know (a :class:`~hub.domain.tokens.TokenKey`)
  is asked of the one partner that owns the token's party, never of anybody else. No owner, a
  suspended owner, or an owner without a Tokens Sender endpoint: nobody is asked and the answer
  is UNREACHABLE with that reason (the whitelist rule decides).
- :meth:`RealTimeAuthorizer.authorize_unknown`: a card no partner pushed is asked of every eMSP
  that offers real-time authorization (registered, not suspended, with a Tokens Sender
  endpoint), in parallel, as the OCPI working group advises. The first ALLOWED wins and the
  other requests are cancelled; otherwise the most telling answer is kept (an eMSP's refusal,
  then "needs the location", then unknown, then unreachable). It shows the card's uid and type
  to every eMSP, so it is an operator setting (``HUB_AUTHORIZATION__ASK_ALL_FOR_UNKNOWN``). Each
  eMSP gets the asked location only when it may see that location (published, or shared with
  one of its parties, :class:`~hub.domain.access.PartyScope`): the broadcast does not reveal a
  private site to eMSPs it is hidden from. The final answer is kept in memory per (uid, type)
  for ``unknown_answer_cache_seconds`` (unreachable answers are not kept); nothing about the
  eMSPs that answered "unknown" is kept or stored.

An eMSP's answer is accepted only when it is about the asked token (same uid and type) of a
party the answering partner owns; anything else counts as unreachable and is logged. Card uids
appear in logs only as :func:`~hub.domain.tokens.uid_digest`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import AuthorizationSettings
from hub.domain.access import LocationAccess, PartyScope
from hub.domain.partners import PartnerStatus
from hub.domain.realtime import (
    AuthorizedToken,
    DriverMessage,
    RealTimeAnswer,
    RealTimeAuthorization,
    RealTimeOutcome,
)
from hub.domain.tokens import AllowedType, TokenKey, TokenType, uid_digest
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.locations import LocationRepository
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.session import session_scope
from hub.persistence.tables import Partner
from hub.services import metrics
from ocpi.auth import TokenEncoding
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v221.client import PartnerClient
from ocpi.v221.models.tokens import AuthorizationInfo, LocationReferences
from ocpi.v221.realtime import AuthorizeAnswer, NotEnoughInformationAnswer, UnknownTokenAnswer

__all__ = ["RealTimeAuthorizer"]

logger = logging.getLogger(__name__)

_CACHE_ENTRIES = 10_000
"""At most this many broadcast answers are kept (the oldest go first)."""
_UID_MAX = 36
# The order in which a refusal is reported when several eMSPs refuse the same unknown card.
_REFUSALS = (
    AllowedType.BLOCKED,
    AllowedType.EXPIRED,
    AllowedType.NO_CREDIT,
    AllowedType.NOT_ALLOWED,
)


@dataclass(frozen=True, slots=True)
class _Emsp:
    """A partner we can ask, and how."""

    partner_id: int
    name: str
    tokens_url: str
    credentials: str
    encoding: TokenEncoding
    party: PartyRef | None
    """Its party for ``OCPI-to-*``: the token's party, or its first EMSP role."""
    scope: PartyScope


@dataclass(frozen=True, slots=True)
class _Place:
    """Where the driver is: the location and EVSEs asked about."""

    location_id: str | None
    evse_uids: tuple[str, ...]
    cpo: PartyRef | None
    """Our party owning the location (``OCPI-from-*``); None when the location is unknown."""
    access: LocationAccess | None
    """Who may see the location; None when it is unknown to us (then only its owner sees it)."""

    def references(self) -> LocationReferences | None:
        if self.location_id is None:
            return None
        return LocationReferences(
            location_id=self.location_id, evse_uids=list(self.evse_uids) or None
        )


@dataclass(frozen=True, slots=True)
class _Cached:
    answer: RealTimeAnswer
    location_id: str | None
    evse_uids: tuple[str, ...]
    expires: float


class RealTimeAuthorizer:
    """Asks eMSPs in real time (OCPI ``POST {tokens}{uid}/authorize``); see the module doc.

    ``clock`` drives the expiry of the unknown-card cache (tests pass their own); the budget
    and the latencies are measured on the event loop's clock.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: AuthorizationSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.settings = settings
        self.clock = clock
        self._cache: OrderedDict[tuple[str, TokenType], _Cached] = OrderedDict()

    async def authorize(
        self, token: TokenKey, *, location_id: str | None = None, evse_uids: Sequence[str] = ()
    ) -> RealTimeAnswer:
        """Ask the partner owning ``token``'s party (and only it) about the token, at
        ``location_id`` and its ``evse_uids`` when given."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.settings.realtime_budget_seconds
        refused = _invalid_uid(token.uid)
        if refused is not None:
            return RealTimeAnswer(RealTimeOutcome.UNKNOWN, 0.0, reason=refused)
        try:
            async with asyncio.timeout_at(deadline):
                async with session_scope(self.sessions) as session:
                    emsp, problem = await _owner(session, token)
                    place = await _place(session, location_id, evse_uids)
                if emsp is None:
                    answer = RealTimeAnswer(
                        RealTimeOutcome.UNREACHABLE, loop.time() - started, reason=problem
                    )
                else:
                    answer = await self._ask(emsp, token.uid, token.type, place, started)
        except TimeoutError:
            answer = RealTimeAnswer(
                RealTimeOutcome.UNREACHABLE,
                loop.time() - started,
                reason=self._over_budget(),
            )
        self._report(token.uid, token.type, answer)
        return answer

    async def authorize_unknown(
        self,
        uid: str,
        token_type: TokenType,
        *,
        location_id: str | None = None,
        evse_uids: Sequence[str] = (),
    ) -> RealTimeAnswer:
        """Ask every eMSP offering real-time authorization about a card none of them pushed."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        refused = _invalid_uid(uid)
        if refused is not None:
            return RealTimeAnswer(RealTimeOutcome.UNKNOWN, 0.0, reason=refused)
        if not self.settings.ask_all_for_unknown:
            return RealTimeAnswer(
                RealTimeOutcome.UNKNOWN,
                0.0,
                reason="no partner pushed this token, and asking every eMSP is switched off "
                "(HUB_AUTHORIZATION__ASK_ALL_FOR_UNKNOWN)",
            )
        key = (uid.upper(), token_type)  # uid is a CiString: case-insensitive
        cached = self._cached(key, location_id, tuple(evse_uids))
        if cached is not None:
            return cached
        deadline = started + self.settings.realtime_budget_seconds
        try:
            async with asyncio.timeout_at(deadline):
                async with session_scope(self.sessions) as session:
                    emsps = await _realtime_emsps(session)
                    place = await _place(session, location_id, evse_uids)
        except TimeoutError:
            answer = RealTimeAnswer(
                RealTimeOutcome.UNREACHABLE, loop.time() - started, reason=self._over_budget()
            )
            self._report(uid, token_type, answer)
            return answer
        if not emsps:
            answer = RealTimeAnswer(
                RealTimeOutcome.UNKNOWN,
                loop.time() - started,
                reason="no partner pushed this token and no eMSP offers real-time authorization",
            )
            self._report(uid, token_type, answer)
            return answer
        answers = await self._ask_all(emsps, uid, token_type, place, started, deadline)
        answer = _most_telling(answers, loop.time() - started)
        self._report(uid, token_type, answer, asked=len(emsps))
        self._remember(key, place, answer)
        return answer

    async def _ask_all(
        self,
        emsps: Sequence[_Emsp],
        uid: str,
        token_type: TokenType,
        place: _Place,
        started: float,
        deadline: float,
    ) -> list[RealTimeAnswer]:
        loop = asyncio.get_running_loop()
        tasks = {
            asyncio.create_task(
                self._ask(emsp, uid, token_type, place, started, broadcast=True)
            ): emsp
            for emsp in emsps
        }
        answers: list[RealTimeAnswer] = []
        pending = set(tasks)
        try:
            while pending:
                done, pending = await asyncio.wait(
                    pending,
                    timeout=max(0.0, deadline - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if not done:
                    break  # the budget is spent
                answers.extend(task.result() for task in done)
                if any(answer.is_allowed for answer in answers):
                    break
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        late = loop.time() - started
        answers.extend(
            RealTimeAnswer(
                RealTimeOutcome.UNREACHABLE,
                late,
                partner_id=tasks[task].partner_id,
                reason=f"{tasks[task].name}: {self._over_budget()}",
            )
            for task in pending
        )
        return answers

    async def _ask(
        self,
        emsp: _Emsp,
        uid: str,
        token_type: TokenType,
        place: _Place,
        started: float,
        *,
        broadcast: bool = False,
    ) -> RealTimeAnswer:
        loop = asyncio.get_running_loop()
        references = place.references()
        if broadcast and not _may_see(emsp.scope, place):
            references = None  # an unknown card does not reveal a hidden site to every eMSP
        client = PartnerClient(self.http, token=emsp.credentials, encoding=emsp.encoding)
        try:
            reply = await client.authorize(
                emsp.tokens_url,
                uid,
                token_type.value,
                references,
                routing=RoutingHeaders(sender=place.cpo, receiver=emsp.party),
            )
        except Exception:
            # One partner's failure (or our bug with its answer) must not sink a decision.
            logger.exception("real-time authorization at %s failed", emsp.name)
            reply = None
        answer = _answer(emsp, uid, token_type, place, reply, loop.time() - started)
        if (
            answer.outcome is RealTimeOutcome.NOT_ENOUGH_INFORMATION
            and references is None
            and place.location_id is not None
        ):
            answer = replace(
                answer,
                reason=f"{answer.reason}; the location was not sent: {emsp.name} may not see it",
            )
        if answer.outcome is RealTimeOutcome.UNREACHABLE:
            logger.warning(
                "real-time authorization of token %s (%s) at partner %s: %s",
                uid_digest(uid),
                token_type.value,
                emsp.name,
                answer.reason,
            )
        return answer

    def _over_budget(self) -> str:
        return (
            f"no answer within the real-time budget of {self.settings.realtime_budget_seconds:g} s "
            "(HUB_AUTHORIZATION__REALTIME_BUDGET_SECONDS)"
        )

    def _cached(
        self, key: tuple[str, TokenType], location_id: str | None, evse_uids: tuple[str, ...]
    ) -> RealTimeAnswer | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry.expires <= self.clock():
            del self._cache[key]
            return None
        # "Unknown to every eMSP" holds anywhere; an eMSP's decision only where it was made.
        same_place = (entry.location_id, entry.evse_uids) == (location_id, evse_uids)
        if entry.answer.outcome is not RealTimeOutcome.UNKNOWN and not same_place:
            return None
        return replace(entry.answer, cached=True, latency_seconds=0.0)

    def _remember(self, key: tuple[str, TokenType], place: _Place, answer: RealTimeAnswer) -> None:
        seconds = self.settings.unknown_answer_cache_seconds
        if seconds <= 0 or answer.outcome is RealTimeOutcome.UNREACHABLE:
            return  # an outage must not keep refusing a card once the eMSPs are back
        self._cache[key] = _Cached(
            answer, place.location_id, place.evse_uids, self.clock() + seconds
        )
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_ENTRIES:
            self._cache.popitem(last=False)

    @staticmethod
    def _report(
        uid: str, token_type: TokenType, answer: RealTimeAnswer, asked: int | None = None
    ) -> None:
        """Log the answer and count its latency (``hub_authorization_seconds``)."""
        verdict = answer.allowed.value if answer.allowed else answer.outcome.value
        metrics.AUTHORIZATION_SECONDS.labels(verdict).observe(answer.latency_seconds)
        logger.info(
            "real-time authorization of token %s (%s)%s: %s in %.0f ms%s",
            uid_digest(uid),
            token_type.value,
            f", asked of {asked} eMSP(s)" if asked is not None else "",
            verdict,
            answer.latency_seconds * 1000,
            f" ({answer.reason})" if answer.reason else "",
        )


# mypy checks here that the authorizer fits the port the platform asks through.
_PORT: type[RealTimeAuthorization] = RealTimeAuthorizer


def _invalid_uid(uid: str) -> str | None:
    """Why ``uid`` cannot be an OCPI token uid (CiString(36): printable ASCII), or None."""
    if not 0 < len(uid) <= _UID_MAX or not uid.isascii() or not uid.isprintable():
        return "not a valid OCPI token uid (1 to 36 printable ASCII characters); nobody asked"
    return None


def _may_see(scope: PartyScope, place: _Place) -> bool:
    return place.access is not None and scope.may_see_location(place.access)


async def _owner(session: AsyncSession, token: TokenKey) -> tuple[_Emsp | None, str]:
    party = (token.country_code.upper(), token.party_id.upper())
    partner_id = await AccessRepository(session).partner_owning(party)
    if partner_id is None:
        return None, f"no partner owns party {party[0]}*{party[1]}; nobody asked"
    partner = await PartnerRepository(session).get(partner_id)
    if partner is None:  # pragma: no cover - the party row references the partner
        return None, f"no partner owns party {party[0]}*{party[1]}; nobody asked"
    scope = await AccessRepository(session).scope_of(partner_id)
    return _emsp(partner, PartyRef(*party), scope)


async def _realtime_emsps(session: AsyncSession) -> list[_Emsp]:
    partners = PartnerRepository(session)
    registered = list(await partners.registered())
    scopes = await AccessRepository(session).scopes_of(p.require_id() for p in registered)
    emsps = []
    for partner in registered:
        roles = await partners.roles_of(partner.require_id())
        emsp_role = next((r for r in roles if r.role == "EMSP"), None)
        if emsp_role is None:
            continue
        party = PartyRef(emsp_role.country_code, emsp_role.party_id)
        emsp, _ = _emsp(partner, party, scopes[partner.require_id()])
        if emsp is not None:
            emsps.append(emsp)
    return emsps


def _emsp(partner: Partner, party: PartyRef, scope: PartyScope) -> tuple[_Emsp | None, str]:
    if partner.partner_status is not PartnerStatus.REGISTERED:
        return None, f"partner {partner.name} is {partner.status.lower()}; nobody asked"
    tokens_url = next(
        (
            str(e["url"])
            for e in partner.endpoints
            if e.get("identifier") == "tokens" and e.get("role") == "SENDER"
        ),
        None,
    )
    if tokens_url is None:
        return None, (
            f"partner {partner.name} offers no Tokens Sender endpoint "
            "(no real-time authorization); nobody asked"
        )
    if partner.outbound_token is None:
        return None, f"partner {partner.name} has no credentials; nobody asked"
    emsp = _Emsp(
        partner_id=partner.require_id(),
        name=partner.name,
        tokens_url=tokens_url,
        credentials=partner.outbound_token,
        encoding=TokenEncoding(partner.token_encoding),
        party=party,
        scope=scope,
    )
    return emsp, ""


async def _place(
    session: AsyncSession, location_id: str | None, evse_uids: Sequence[str]
) -> _Place:
    evses = tuple(evse_uids)
    if location_id is None:
        return _Place(None, evses, None, None)
    location = await LocationRepository(session).get(location_id)
    if location is None or location.id is None:
        return _Place(location_id, evses, None, None)
    access = (await AccessRepository(session).location_access([location.id])).get(location.id)
    return _Place(location_id, evses, PartyRef(location.country_code, location.party_id), access)


def _answer(
    emsp: _Emsp,
    uid: str,
    token_type: TokenType,
    place: _Place,
    reply: AuthorizeAnswer | None,
    latency: float,
) -> RealTimeAnswer:
    """The eMSP's reply in platform terms (the OCPI models end here)."""

    def other(outcome: RealTimeOutcome, reason: str) -> RealTimeAnswer:
        return RealTimeAnswer(outcome, latency, partner_id=emsp.partner_id, reason=reason)

    if reply is None:
        return other(RealTimeOutcome.UNREACHABLE, f"{emsp.name}: the call failed (see the log)")
    if isinstance(reply, UnknownTokenAnswer):
        return other(
            RealTimeOutcome.UNKNOWN, f"{emsp.name} does not know the token ({reply.detail})"
        )
    if isinstance(reply, NotEnoughInformationAnswer):
        return other(
            RealTimeOutcome.NOT_ENOUGH_INFORMATION,
            f"{emsp.name} needs more location information ({reply.detail})",
        )
    if not isinstance(reply, AuthorizationInfo):
        return other(RealTimeOutcome.UNREACHABLE, f"{emsp.name}: {reply.reason}")
    token = reply.token
    if token.uid.upper() != uid.upper() or str(token.type) != token_type.value:
        return other(
            RealTimeOutcome.UNREACHABLE,
            f"{emsp.name} answered about another token (uid {uid_digest(token.uid)}, "
            f"type {str(token.type)!r})",
        )
    if not emsp.scope.owns(token.country_code, token.party_id):
        # A partner must never authorize (and later be billed for) another party's driver.
        return other(
            RealTimeOutcome.UNREACHABLE,
            f"{emsp.name} answered for a token of party {token.country_code}*{token.party_id}, "
            "which it does not own",
        )
    allowed_evses = None  # the eMSP named no EVSEs: the whole location is meant
    location = reply.location
    if location is not None and location.evse_uids is not None:
        # EVSEs of another location than the asked one allow nothing here.
        same = location.location_id == place.location_id
        allowed_evses = tuple(location.evse_uids) if same else ()
    info = DriverMessage(reply.info.language, reply.info.text) if reply.info else None
    return RealTimeAnswer(
        RealTimeOutcome.ANSWERED,
        latency,
        allowed=AllowedType(reply.allowed.value),
        authorization_reference=reply.authorization_reference,
        info=info,
        allowed_evse_uids=allowed_evses,
        token=AuthorizedToken(
            key=TokenKey(token.country_code.upper(), token.party_id.upper(), token.uid, token_type),
            contract_id=token.contract_id,
            group_id=token.group_id,
            language=token.language,
        ),
        partner_id=emsp.partner_id,
    )


def _rank(answer: RealTimeAnswer) -> int:
    """Lower is more telling."""
    if answer.outcome is RealTimeOutcome.ANSWERED:
        if answer.allowed is None or answer.allowed is AllowedType.ALLOWED:
            return -1
        return _REFUSALS.index(answer.allowed)
    order = (
        RealTimeOutcome.NOT_ENOUGH_INFORMATION,
        RealTimeOutcome.UNKNOWN,
        RealTimeOutcome.UNREACHABLE,
    )
    return len(_REFUSALS) + order.index(answer.outcome)


def _most_telling(answers: Sequence[RealTimeAnswer], latency: float) -> RealTimeAnswer:
    best = min(answers, key=_rank)
    if best.outcome is RealTimeOutcome.ANSWERED:
        return replace(best, latency_seconds=latency)
    # Nobody decided: say what each eMSP answered (the reasons name the partners).
    reasons = "; ".join(sorted(a.reason or "" for a in answers if a.outcome is best.outcome))
    return RealTimeAnswer(
        best.outcome,
        latency,
        partner_id=best.partner_id if len(answers) == 1 else None,
        reason=reasons[:500],
    )
