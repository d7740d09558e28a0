"""Authorizing an id token a charger presents (1.6 ``Authorize`` / ``StartTransaction.idTag``,
2.0.1 ``Authorize`` / ``TransactionEvent.idToken``): the one flow behind the thin handlers.

1. What was presented: the OCPP id token type says how it is authorized
   (``hub.domain.ocpp_tokens``); an eMAID is normalised and validated first
   (``hub.domain.emaid``): a malformed one is Invalid and never reaches an eMSP.
2. One short read-only unit of work reads what we know: the station's EVSEs (the charger's
   connector or EVSE → our OCPI EVSE uid and location; kept for
   ``STATION_EVSES_CACHE_SECONDS``), the stored token (for an eMAID: a pushed token of
   its partner whose ``contract_id`` is the eMAID, the partner found by its prefix), the
   operator's block, and a START_SESSION / RESERVE_NOW for the uid at that EVSE in the last
   15 minutes (for a presented card the last three in one statement).
3. ``hub.domain.authorization.plan`` says whether to decide alone or whom to ask; the question
   goes through the :class:`~hub.domain.realtime.RealTimeAuthorization` port with no database
   transaction open, within what is left of the budget
   (``HUB_AUTHORIZATION__REALTIME_BUDGET_SECONDS``, which covers the whole decision). When the
   EVSE is not known (1.6 ``Authorize`` has no connector) the eMSP is asked without EVSE (and
   with the location only when the station serves one): the real-time check is never skipped
   because the EVSE is unknown.
4. ``conclude`` decides; an ALLOWED naming other EVSEs than the one in use is NOT_ALLOWED.
5. The domain builders write the OCPP payload and the decision is recorded
   (``authorization_decisions``) before it is answered, by group commit: the rows of the
   decisions taken meanwhile share one transaction (:class:`_DecisionTrail`).

Card uids are logged and recorded only as :func:`~hub.domain.tokens.uid_digest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import AuthorizationSettings
from hub.domain.authorization import (
    Answer,
    AuthMethod,
    Decision,
    DecisionPath,
    NoVerdict,
    Plan,
    conclude,
    plan,
)
from hub.domain.contract_certificates import (
    CertificateStatus,
    ContractCertificateQuestion,
    ContractCertificateValidator,
    NoContractCertificateValidation,
    OcspRequestData,
)
from hub.domain.emaid import Emaid, MalformedEmaid, parse_emaid
from hub.domain.ocpp_tokens import (
    OCPP16_ID_TAG_POLICY,
    DisplayText,
    IdTokenPolicy,
    IdTokenRoute,
    ocpp16_id_tag_info,
    ocpp201_id_token_info,
    ocpp201_policy,
)
from hub.domain.realtime import RealTimeAnswer, RealTimeAuthorization, RealTimeOutcome
from hub.domain.sessions import SessionToken
from hub.domain.tokens import AllowedType, TokenKey, TokenType, uid_digest
from hub.persistence.base import utc_now
from hub.persistence.session import hot_reads, read_scope, session_scope
from hub.services.authorizations import AuthorizationService, EvsePlace, StoredToken, presented

logger = logging.getLogger(__name__)

STATION_EVSES_CACHE_SECONDS = 5.0
"""How long a station's EVSE links (charger connector/EVSE → our EVSE and location) are kept in
the process: they change only when a location import relinks them, so a relinked station is
decided (and recorded) at its old EVSEs for at most this long. Every decision reading them
would cost a query."""
PARTNER_NAME_CACHE_SECONDS = 5.0
"""How long the name of an asked partner is kept for the trail."""
_CACHE_MAX = 10_000
"""Entries of each cache before it is emptied (a bound, not an eviction policy)."""

OCPP16_ID_TAG = "idTag"
"""``presented_type`` of a 1.6 id tag, which has no type."""
_REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Presentation:
    """An id token as a charger presented it, and where."""

    station_id: str
    action: str
    uid: str
    presented_type: str
    policy: IdTokenPolicy
    evse_id: int | None = None
    """OCPP 2.0.1 ``evse.id`` (None: not said)."""
    connector_id: int | None = None
    """OCPP 1.6 ``connectorId`` (None: not said; 0 is the station)."""
    certificate: str | None = None
    hash_data: tuple[OcspRequestData, ...] = ()


@dataclass(frozen=True, slots=True)
class _Place:
    evse_uid: str | None
    location_id: str | None
    candidates: tuple[str, ...]
    """The EVSEs the driver may be at: the known one, else every EVSE of the station."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision with what the answer to the charger and the audit trail need."""

    decision: Decision
    key: TokenKey | None = None
    """The token decided about (its party and type), when known."""
    group_id: str | None = None
    language: str | None = None
    info: DisplayText | None = None
    answer: RealTimeAnswer | None = None
    verdict: Answer | None = None
    """What the asked eMSP(s) answered, in domain terms (None: nobody asked)."""
    asked_partner_id: int | None = None
    certificate_status: CertificateStatus | None = None
    token_type: TokenType | None = None
    place: _Place | None = None
    """Where the charger is, once read (None: the decision needed no reading)."""
    contract_id: str | None = None
    owner_partner_id: int | None = None
    """The eMSP that owns the token: the stored token's partner, else the one that answered."""

    def session_token(self, presentation: Presentation) -> SessionToken:
        """The token as a charging session records it (its ``cdr_token`` and auth method)."""
        key = self.key
        uid = presentation.uid
        if presentation.policy.route is IdTokenRoute.PLUG_AND_CHARGE:
            with contextlib.suppress(MalformedEmaid):
                uid = parse_emaid(uid).normalised
        return SessionToken(
            uid=key.uid if key is not None else uid,
            token_type=self.token_type or (key.type if key is not None else None),
            accepted=self.decision.accepted,
            auth_method=self.decision.auth_method.value,
            presented_type=presentation.presented_type,
            country_code=key.country_code if key is not None else None,
            party_id=key.party_id if key is not None else None,
            contract_id=self.contract_id,
            partner_id=self.owner_partner_id if key is not None else None,
            authorization_reference=(
                self.answer.authorization_reference if self.answer is not None else None
            ),
            plug_and_charge=presentation.policy.route is IdTokenRoute.PLUG_AND_CHARGE,
        )


@dataclass(frozen=True, slots=True)
class _Known:
    """What the first unit of work found."""

    place: _Place
    stored: StoredToken | None = None
    ask_key: TokenKey | None = None
    """The key to ask the issuer about (the stored token's, or an eMAID's route)."""
    partner_id: int | None = None
    blocked: bool = False
    recent_remote_start: bool = False
    normalised_uid: str | None = None


def _local(allowed: AllowedType | None, reason: str, *, unknown: bool = False) -> Decision:
    return Decision(allowed, DecisionPath.LOCAL, AuthMethod.WHITELIST, reason, unknown)


class IdTokenAuthorizer:
    """Decides on presented id tokens (see the module doc); one per hub process.

    ``clock`` is "now" for the 15-minute rule, the cache expiry and the trail; the budget and
    latencies use the event loop's clock.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        realtime: RealTimeAuthorization,
        settings: AuthorizationSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        certificates: ContractCertificateValidator | None = None,
    ) -> None:
        self.sessions = sessions
        self.realtime = realtime
        self.settings = settings
        self.clock = clock
        self.certificates = certificates or NoContractCertificateValidation()
        self._evses: dict[str, tuple[float, tuple[EvsePlace, ...]]] = {}
        self._reads = hot_reads(sessions)
        self._trail = _DecisionTrail(sessions)

    @property
    def cache_time(self) -> timedelta:
        return timedelta(seconds=self.settings.charger_cache_seconds)

    # --- the OCPP answers ---------------------------------------------------------------------

    async def id_tag_info(
        self, station_id: str, id_tag: str, *, action: str, connector_id: int | None = None
    ) -> dict[str, str]:
        """OCPP 1.6 ``idTagInfo`` for ``id_tag`` presented at ``connector_id``."""
        payload, _ = await self.id_tag_decision(
            station_id, id_tag, action=action, connector_id=connector_id
        )
        return payload

    async def id_tag_decision(
        self, station_id: str, id_tag: str, *, action: str, connector_id: int | None = None
    ) -> tuple[dict[str, str], SessionToken]:
        """``id_tag_info`` and the token as a charging session records it."""
        presentation = Presentation(
            station_id, action, id_tag, OCPP16_ID_TAG, OCPP16_ID_TAG_POLICY,
            connector_id=connector_id,
        )  # fmt: skip
        outcome = await self.decide(presentation)
        payload = ocpp16_id_tag_info(
            outcome.decision,
            group_id=outcome.group_id,
            now=self.clock(),
            cache_time=self.cache_time,
        )
        await self._record(presentation, outcome, payload["status"])
        return payload, outcome.session_token(presentation)

    async def id_token_info(
        self,
        station_id: str,
        id_token: Mapping[str, Any],
        *,
        action: str,
        evse_id: int | None = None,
        certificate: str | None = None,
        hash_data: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[dict[str, object], str | None]:
        """OCPP 2.0.1 ``idTokenInfo`` (and ``certificateStatus`` when the charger sent
        certificate data) for ``id_token`` (the ``ocpp`` package's snake_case dict)."""
        payload, status, _ = await self.id_token_decision(
            station_id,
            id_token,
            action=action,
            evse_id=evse_id,
            certificate=certificate,
            hash_data=hash_data,
        )
        return payload, status

    async def id_token_decision(
        self,
        station_id: str,
        id_token: Mapping[str, Any],
        *,
        action: str,
        evse_id: int | None = None,
        certificate: str | None = None,
        hash_data: Sequence[Mapping[str, Any]] | None = None,
    ) -> tuple[dict[str, object], str | None, SessionToken]:
        """``id_token_info`` and the token as a charging session records it."""
        presented_type = str(id_token.get("type", ""))
        presentation = Presentation(
            station_id,
            action,
            str(id_token.get("id_token", "")),
            presented_type,
            ocpp201_policy(presented_type),
            evse_id=evse_id,
            certificate=certificate,
            hash_data=tuple(_ocsp(entry) for entry in hash_data or ()),
        )
        outcome = await self.decide(presentation)
        payload = ocpp201_id_token_info(
            outcome.decision,
            group_id=outcome.group_id,
            language=outcome.language,
            info=outcome.info,
            now=self.clock(),
            cache_time=self.cache_time,
        )
        status = outcome.certificate_status.value if outcome.certificate_status else None
        await self._record(presentation, outcome, str(payload["status"]))
        return payload, status, outcome.session_token(presentation)

    # --- the decision -----------------------------------------------------------------------

    async def decide(self, presentation: Presentation) -> Outcome:
        """The decision on one presentation (nothing recorded yet)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        policy = presentation.policy
        if policy.route is IdTokenRoute.FREE:
            return Outcome(_local(AllowedType.ALLOWED, "no identification asked (NoAuthorization)"))
        if policy.route is IdTokenRoute.REFUSE or policy.ocpi_type is None:
            return Outcome(
                _local(
                    None,
                    f"a {presentation.presented_type} id is not a roaming token; nobody asked",
                )
            )
        if policy.route is IdTokenRoute.PLUG_AND_CHARGE:
            try:
                emaid = parse_emaid(presentation.uid)
            except MalformedEmaid as malformed:
                return Outcome(
                    _local(None, f"malformed eMAID, nobody asked: {malformed.reason}"),
                    token_type=policy.ocpi_type,
                )
            place = _place_of(await self._station_evses(presentation.station_id), presentation)
            async with read_scope(self.sessions) as session:
                known = await self._read_emaid(session, place, emaid)
        else:
            known = await self._read_token(presentation, policy.ocpi_type)
        if policy.route is IdTokenRoute.PLUG_AND_CHARGE and (
            presentation.certificate is not None or presentation.hash_data
        ):
            refused = await self._check_certificate(presentation, known)
            if refused is not None:
                return refused
        return await self._decide_known(presentation, known, started)

    async def _read_token(self, presentation: Presentation, token_type: TokenType) -> _Known:
        place = _place_of(await self._station_evses(presentation.station_id), presentation)
        found = await presented(
            self._reads,
            presentation.uid,
            token_type,
            evse_uids=place.candidates,
            location_id=place.location_id,
            now=self.clock(),
        )
        stored = found.stored
        return _Known(
            place,
            stored=stored,
            ask_key=stored.key if stored else None,
            partner_id=stored.partner_id if stored else None,
            blocked=found.blocked,
            recent_remote_start=found.recent_remote_authorization,
        )

    async def _station_evses(self, station_id: str) -> Sequence[EvsePlace]:
        """The station's EVSE links, kept for ``STATION_EVSES_CACHE_SECONDS`` (see there)."""
        now = time.monotonic()
        cached = self._evses.get(station_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with read_scope(self.sessions) as session:
            evses = tuple(await AuthorizationService(session).station_evses(station_id))
        if len(self._evses) >= _CACHE_MAX:
            self._evses.clear()
        self._evses[station_id] = (now + STATION_EVSES_CACHE_SECONDS, evses)
        return evses

    async def _read_emaid(self, session: AsyncSession, place: _Place, emaid: Emaid) -> _Known:
        normalised = emaid.normalised
        service = AuthorizationService(session)
        recent = await self._recent(service, normalised, place)
        route = await service.emaid_route(emaid)
        if route is None:
            return _Known(place, recent_remote_start=recent, normalised_uid=normalised)
        stored = route.stored
        key = stored.key if stored is not None else route.key
        return _Known(
            place,
            stored=stored,
            ask_key=key,
            partner_id=route.partner_id,
            blocked=await service.is_blocked(key),
            recent_remote_start=recent,
            normalised_uid=normalised,
        )

    async def _recent(self, service: AuthorizationService, uid: str, place: _Place) -> bool:
        found = await service.recent_remote_authorization(
            uid, evse_uids=place.candidates, location_id=place.location_id, now=self.clock()
        )
        return found is not None

    async def _check_certificate(self, presentation: Presentation, known: _Known) -> Outcome | None:
        question = ContractCertificateQuestion(
            known.normalised_uid or presentation.uid, presentation.certificate,
            presentation.hash_data,
        )  # fmt: skip
        try:
            status = await self.certificates.validate(question)
        except Exception:
            logger.exception("contract certificate validation failed")
            status = CertificateStatus.NO_CERTIFICATE_AVAILABLE
        if status is CertificateStatus.ACCEPTED:
            return None
        return Outcome(
            _local(None, f"the contract certificate was not validated ({status}); nobody asked"),
            place=known.place,
            key=known.ask_key,
            certificate_status=status,
            token_type=known.ask_key.type if known.ask_key else presentation.policy.ocpi_type,
        )

    async def _decide_known(
        self, presentation: Presentation, known: _Known, started: float
    ) -> Outcome:
        policy = presentation.policy
        assert policy.ocpi_type is not None  # noqa: S101 - checked by decide()
        plug_and_charge = policy.route is IdTokenRoute.PLUG_AND_CHARGE
        stored = known.stored
        token_type = known.ask_key.type if known.ask_key is not None else policy.ocpi_type
        base = Outcome(
            _local(None, ""),
            place=known.place,
            key=known.ask_key,
            group_id=stored.group_id if stored else None,
            language=stored.language if stored else None,
            token_type=token_type,
            contract_id=stored.contract_id if stored else None,
            owner_partner_id=known.partner_id,
        )
        certificate_status = (
            CertificateStatus.ACCEPTED
            if plug_and_charge and (presentation.certificate or presentation.hash_data)
            else None
        )
        base = replace(base, certificate_status=certificate_status)
        if known.blocked:
            return replace(
                base,
                decision=_local(
                    AllowedType.BLOCKED, "blocked by the operator (hub tokens block); nobody asked"
                ),
            )
        if plug_and_charge and known.ask_key is None:
            return replace(
                base,
                decision=_local(
                    None,
                    "no partner is routed for this eMAID's prefix (hub partners emaid-prefix); "
                    "nobody asked",
                    unknown=True,
                ),
            )
        chosen = plan(
            stored.known if stored is not None else None,
            token_type=token_type,
            recent_remote_start=known.recent_remote_start,
            broadcast_unknown=self.settings.ask_all_for_unknown and policy.broadcast_when_unknown,
            issuer_known=plug_and_charge,
        )
        if not chosen.needs_answer:
            return replace(base, decision=conclude(chosen, None))
        answer, verdict = await self._ask(chosen, known, presentation, started)
        decision = _restricted(conclude(chosen, verdict), answer, known.place)
        outcome = replace(
            base,
            decision=decision,
            answer=answer,
            verdict=verdict,
            asked_partner_id=answer.partner_id if answer else known.partner_id,
        )
        if answer is not None and answer.token is not None:
            # The eMSP's own copy is the freshest word on the group and the language.
            outcome = replace(
                outcome,
                key=outcome.key or answer.token.key,
                group_id=answer.token.group_id or outcome.group_id,
                language=answer.token.language or outcome.language,
                contract_id=answer.token.contract_id or outcome.contract_id,
                owner_partner_id=outcome.owner_partner_id or answer.partner_id,
            )
        if answer is not None and answer.info is not None:
            outcome = replace(outcome, info=DisplayText(answer.info.language, answer.info.text))
        return outcome

    async def _ask(
        self, chosen: Plan, known: _Known, presentation: Presentation, started: float
    ) -> tuple[RealTimeAnswer | None, Answer]:
        """Ask through the port within what is left of the budget (no transaction is open)."""
        loop = asyncio.get_running_loop()
        remaining = self.settings.realtime_budget_seconds - (loop.time() - started)
        if remaining <= 0:
            return None, NoVerdict.TIMEOUT
        place = known.place
        evse_uids = (place.evse_uid,) if place.evse_uid is not None else ()
        try:
            async with asyncio.timeout(remaining):
                if known.ask_key is not None:
                    answer = await self.realtime.authorize(
                        known.ask_key, location_id=place.location_id, evse_uids=evse_uids
                    )
                else:
                    answer = await self.realtime.authorize_unknown(
                        presentation.uid,
                        chosen.token_type,
                        location_id=place.location_id,
                        evse_uids=evse_uids,
                    )
        except TimeoutError:
            return None, NoVerdict.TIMEOUT
        except Exception:
            # A failure of the question must not leave the charger without an answer.
            logger.exception("real-time authorization failed")
            return None, NoVerdict.UNREACHABLE
        return answer, _verdict(answer)

    # --- the trail ----------------------------------------------------------------------------

    async def _record(self, presentation: Presentation, outcome: Outcome, result: str) -> None:
        decision = outcome.decision
        answer = outcome.answer
        key = outcome.key
        uid = presentation.uid
        if presentation.policy.route is IdTokenRoute.PLUG_AND_CHARGE:
            with contextlib.suppress(MalformedEmaid):
                uid = parse_emaid(uid).normalised
        place = outcome.place
        if place is None:
            place = _place_of(await self._station_evses(presentation.station_id), presentation)
        row = {
            "decided_at": self.clock(),
            "station_id": presentation.station_id,
            "ocpp_action": presentation.action,
            "evse_uid": place.evse_uid,
            "location_id": place.location_id,
            "presented_type": presentation.presented_type[:16],
            "uid_digest": uid_digest(uid),
            "token_type": outcome.token_type.value if outcome.token_type else None,
            "country_code": key.country_code if key else None,
            "party_id": key.party_id if key else None,
            "path": decision.path.value,
            "auth_method": decision.auth_method.value,
            "allowed": decision.allowed.value if decision.allowed else None,
            "partner_id": outcome.asked_partner_id,
            "partner_name": None,  # the trail fills it in (see _DecisionTrail)
            "emsp_answer": outcome.verdict.value if outcome.verdict is not None else None,
            "emsp_latency_ms": (
                round(answer.latency_seconds * 1000, 1) if answer is not None else None
            ),
            "result": result,
            "certificate_status": (
                outcome.certificate_status.value if outcome.certificate_status else None
            ),
            "authorization_reference": answer.authorization_reference if answer else None,
            "reason": _reason(decision, answer)[:_REASON_MAX],
        }
        await self._trail.write(row)
        logger.info(
            "authorization at %s (%s) of token %s (%s): %s via %s; %s",
            presentation.station_id,
            presentation.action,
            row["uid_digest"],
            presentation.presented_type,
            result,
            decision.path.value,
            row["reason"],
        )


class _DecisionTrail:
    """Writes decision rows by group commit: a decision waits until its row is committed (the
    trail never lags the answer), but the rows of decisions taken meanwhile share one
    transaction and one INSERT, so concurrent decisions do not queue for a commit each.

    A batch that fails is retried row by row, so one bad row fails only its own decision.
    ``partner_name`` is looked up in the batch's transaction and kept for
    ``PARTNER_NAME_CACHE_SECONDS`` (a renamed partner's trail shows the old name that long).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._names: dict[int, tuple[float, str | None]] = {}

    async def write(self, row: dict[str, Any]) -> None:
        """Returns once ``row`` is committed; raises what its insert raised."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        self._pending.append((row, written))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            # A task of its own: a decision whose caller is cancelled still gets its row.
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(written)

    async def _drain(self) -> None:
        batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                await self._write_batch(batch)
        except BaseException as stopped:
            # Cancelled (the loop is shutting down): no decision waits for ever.
            for _, written in batch + self._pending:
                _settle(written, RuntimeError("the decision trail's writer was stopped"))
            self._pending = []
            raise stopped

    async def _write_batch(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]) -> None:
        try:
            await self._insert([row for row, _ in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0][1], error)
                return
            for row, written in batch:
                try:
                    await self._insert([row])
                except Exception as single:
                    _settle(written, single)
                else:
                    _settle(written, None)
        else:
            for _, written in batch:
                _settle(written, None)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with session_scope(self.sessions) as session:
            service = AuthorizationService(session)
            for row in rows:
                row["partner_name"] = await self._partner_name(service, row["partner_id"])
            await service.record_many(rows)

    async def _partner_name(
        self, service: AuthorizationService, partner_id: int | None
    ) -> str | None:
        if partner_id is None:
            return None
        now = time.monotonic()
        cached = self._names.get(partner_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        name = await service.partner_name(partner_id)
        if len(self._names) >= _CACHE_MAX:
            self._names.clear()
        self._names[partner_id] = (now + PARTNER_NAME_CACHE_SECONDS, name)
        return name


def _settle(written: asyncio.Future[None], error: BaseException | None) -> None:
    if written.done():
        return
    if error is None:
        written.set_result(None)
    else:
        written.set_exception(error)


def _ocsp(entry: Mapping[str, Any]) -> OcspRequestData:
    return OcspRequestData(
        hash_algorithm=str(entry.get("hash_algorithm", "")),
        issuer_name_hash=str(entry.get("issuer_name_hash", "")),
        issuer_key_hash=str(entry.get("issuer_key_hash", "")),
        serial_number=str(entry.get("serial_number", "")),
        responder_url=str(entry.get("responder_url", "")),
    )


def _place_of(evses: Sequence[EvsePlace], presentation: Presentation) -> _Place:
    """Our EVSE for the charger's connector (1.6) or EVSE (2.0.1); the location when known or
    when the station serves one location only."""
    found: EvsePlace | None = None
    if presentation.evse_id:
        found = next((e for e in evses if e.ocpp_evse_id == presentation.evse_id), None)
    elif presentation.connector_id:
        found = next(
            (
                e
                for e in evses
                if e.ocpp_evse_id is None and e.ocpp_connector_id == presentation.connector_id
            ),
            None,
        )
    if found is not None:
        return _Place(found.evse_uid, found.location_id, (found.evse_uid,))
    locations = {e.location_id for e in evses}
    location = locations.pop() if len(locations) == 1 else None
    return _Place(None, location, tuple(e.evse_uid for e in evses))


def _verdict(answer: RealTimeAnswer) -> Answer:
    match answer.outcome:
        case RealTimeOutcome.ANSWERED if answer.allowed is not None:
            return answer.allowed
        case RealTimeOutcome.UNKNOWN:
            return NoVerdict.UNKNOWN_TOKEN
        case RealTimeOutcome.NOT_ENOUGH_INFORMATION:
            return NoVerdict.NOT_ENOUGH_INFORMATION
        case _:
            return NoVerdict.UNREACHABLE


def _restricted(decision: Decision, answer: RealTimeAnswer | None, place: _Place) -> Decision:
    """An ALLOWED that names EVSEs excludes the others: at an EVSE it did not name (or when it
    named EVSEs of another location only) the token is NOT_ALLOWED here."""
    if not decision.accepted or answer is None or answer.allowed_evse_uids is None:
        return decision
    allowed = answer.allowed_evse_uids
    if allowed and (place.evse_uid is None or place.evse_uid in allowed):
        return decision
    return replace(
        decision,
        allowed=AllowedType.NOT_ALLOWED,
        reason=f"{decision.reason}, but for other EVSEs than this one",
    )


def _reason(decision: Decision, answer: RealTimeAnswer | None) -> str:
    if answer is not None and answer.reason and answer.outcome is not RealTimeOutcome.ANSWERED:
        return f"{decision.reason} ({answer.reason})"
    if answer is not None and answer.cached:
        return f"{decision.reason} (answer cached)"
    return decision.reason
