"""Who may charge: the eMSP's whitelist rule (OCPI 2.2.1 ``mod_tokens`` "WhitelistType", with
the token rules of ``mod_commands`` START_SESSION / RESERVE_NOW) as two pure steps.

1. :func:`plan` looks at what we know (the stored token, if any; the presented token type;
   whether the eMSP just started or reserved for this token at this EVSE) and says whether we
   decide alone or must ask: the token's eMSP, or every eMSP (an unknown RFID: the broadcast,
   done by the caller within one time budget; the first ALLOWED wins).
2. :func:`conclude` turns the eMSP's answer (an ``AllowedType``, or one of :class:`NoVerdict`)
   into a :class:`Decision`: the ``AllowedType`` (None: refused without a verdict), the path
   taken and the OCPI ``auth_method`` it implies for the Session and CDR.

The matrix (``RFID`` and ``OTHER`` tokens, nobody started a session for it here recently)::

    whitelist        valid  ask      eMSP verdict   unknown     2002         unreachable/timeout
    ---------------  -----  -------  -------------  ----------  -----------  --------------------
    ALWAYS           true   nobody   -              -           -            - (ALLOWED, LOCAL)
    ALWAYS           false  nobody   -              -           -            - (BLOCKED, LOCAL)
    ALLOWED          true   nobody   -              -           -            - (ALLOWED, LOCAL)
    ALLOWED          false  issuer   verdict        unknown     NOT_ALLOWED  BLOCKED, fallback
    ALLOWED_OFFLINE  true   issuer   verdict        unknown     NOT_ALLOWED  ALLOWED, fallback
    ALLOWED_OFFLINE  false  issuer   verdict        unknown     NOT_ALLOWED  BLOCKED, fallback
    NEVER            true   issuer   verdict        unknown     NOT_ALLOWED  refused, fallback
    NEVER            false  issuer   verdict        unknown     NOT_ALLOWED  refused, fallback
    (not stored)     -      every    verdict        unknown     NOT_ALLOWED  unknown, fallback
    (not stored, broadcast off)      - (unknown, LOCAL)
    (not stored, issuer known: eMAID prefix) asks the issuer; answers as "(not stored)"

Other rows:

- ``AD_HOC_USER`` / ``APP_USER``: never real-time authorization (``mod_commands``): stored →
  ALLOWED if valid else BLOCKED, whatever the whitelist; not stored → unknown. LOCAL.
- Any type, ``recent_remote_start`` (a START_SESSION or RESERVE_NOW for this token at this EVSE
  less than :data:`REMOTE_START_GRACE` ago): ALLOWED, path COMMAND, no question asked. The eMSP
  authorized the token when it sent the command, and the CPO "SHALL NOT" check it again.

Readings of the spec, where it leaves room:

- ``valid=false`` never short-circuits a required real-time check (the spec says so); where we
  decide alone, an invalid token is refused as BLOCKED (ALWAYS "shall always allow", but an
  eMSP can withdraw a token only by ``valid=false``: there is no DELETE). The same holds for the
  ALLOWED_OFFLINE fallback: it allows a token the eMSP could not be asked about, not one it has
  withdrawn.
- ALLOWED lets the CPO choose: we decide locally when we hold a valid token (fast, no delay at
  the charger) and ask only when our copy says invalid (it may be stale).
- 2002 ("not enough information") is an answer, not an outage: refused as NOT_ALLOWED, and
  ALLOWED_OFFLINE does not apply (the eMSP is reachable).
- An unknown-token reply for a token the eMSP pushed earlier is believed (refused, unknown).
- The fallback's ``auth_method`` is WHITELIST: the eMSP did not authorize it, our copy did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from hub.domain.tokens import AllowedType, TokenKey, TokenType, WhitelistType

REMOTE_START_GRACE: Final = timedelta(minutes=15)
"""After a START_SESSION or RESERVE_NOW, no real-time authorization of that token at that EVSE
for this long (``mod_commands.asciidoc`` 2.2.1, StartSession)."""

_NEVER_REAL_TIME: Final = frozenset({TokenType.AD_HOC_USER, TokenType.APP_USER})
_MAY_BROADCAST: Final = frozenset({TokenType.RFID})


class Ask(StrEnum):
    """Whom :func:`plan` says to ask before deciding."""

    NOBODY = "NOBODY"
    ISSUER = "ISSUER"
    """Real-time authorization at the eMSP that issued the token."""
    EVERY_EMSP = "EVERY_EMSP"
    """The unknown-token broadcast: each eMSP offering real-time authorization."""


class DecisionPath(StrEnum):
    """How a decision was reached (the audit trail's "path taken")."""

    LOCAL = "LOCAL"
    """From our copy of the token, nobody asked."""
    REAL_TIME = "REAL_TIME"
    """The eMSP answered."""
    OFFLINE_FALLBACK = "OFFLINE_FALLBACK"
    """We asked, nobody answered in time; the whitelist rule decided."""
    CACHE = "CACHE"
    """An earlier decision replayed (see :meth:`Decision.from_cache`)."""
    COMMAND = "COMMAND"
    """The eMSP's own START_SESSION / RESERVE_NOW vouches for the token."""


class AuthMethod(StrEnum):
    """OCPI 2.2.1 ``AuthMethod`` of the Session and CDR."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class NoVerdict(StrEnum):
    """A reply to a real-time authorization that carries no ``AllowedType``."""

    UNKNOWN_TOKEN = "UNKNOWN_TOKEN"  # noqa: S105 (a reply kind, not a secret)
    """HTTP 404 or OCPI 2004: the eMSP does not know the token."""
    NOT_ENOUGH_INFORMATION = "NOT_ENOUGH_INFORMATION"
    """OCPI 2002: too little location information to decide."""
    UNREACHABLE = "UNREACHABLE"
    """No usable reply: connection failure, HTTP error, garbage."""
    TIMEOUT = "TIMEOUT"
    """No reply within our time budget."""


Answer = AllowedType | NoVerdict
"""What the real-time authorization client hands back."""


@dataclass(frozen=True, slots=True)
class KnownToken:
    """What the whitelist rule needs from a token an eMSP pushed (or we pulled)."""

    key: TokenKey
    whitelist: WhitelistType
    valid: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome. ``allowed`` is None when the token was refused without a verdict: nobody
    knows it (``unknown_token``), or a NEVER token's eMSP could not be asked."""

    allowed: AllowedType | None
    path: DecisionPath
    auth_method: AuthMethod
    reason: str
    unknown_token: bool = False

    @property
    def accepted(self) -> bool:
        return self.allowed is AllowedType.ALLOWED

    def from_cache(self) -> Decision:
        """This decision replayed from a cache: same verdict and auth_method, path CACHE."""
        return replace(self, path=DecisionPath.CACHE, reason=f"cached: {self.reason}")


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`plan` decided to do. ``decision`` is set exactly when ``ask`` is NOBODY."""

    ask: Ask
    token_type: TokenType
    token: KnownToken | None
    decision: Decision | None = None

    @property
    def needs_answer(self) -> bool:
        return self.ask is not Ask.NOBODY


def _local(allowed: AllowedType | None, reason: str, *, unknown: bool = False) -> Decision:
    return Decision(allowed, DecisionPath.LOCAL, AuthMethod.WHITELIST, reason, unknown)


def _by_copy(token: KnownToken, reason: str) -> Decision:
    if token.valid:
        return _local(AllowedType.ALLOWED, f"{reason}; our copy is valid")
    return _local(AllowedType.BLOCKED, f"{reason}; our copy is invalid (valid=false)")


def is_recent_remote_start(command_received_at: datetime, now: datetime) -> bool:
    """Whether a START_SESSION / RESERVE_NOW received at ``command_received_at`` still exempts
    its token from real-time authorization at that EVSE (both times aware)."""
    return timedelta(0) <= now - command_received_at <= REMOTE_START_GRACE


def plan(
    token: KnownToken | None,
    *,
    token_type: TokenType,
    recent_remote_start: bool = False,
    broadcast_unknown: bool = True,
    issuer_known: bool = False,
) -> Plan:
    """Decide alone, or say whom to ask (the table in the module docstring).

    ``token`` is our stored copy (None: no partner pushed it); ``token_type`` the OCPI type the
    charger's id token maps to. ``broadcast_unknown`` is the operator's unknown-token setting;
    ``issuer_known`` says that an unstored token's eMSP is known anyway (an eMAID routed by its
    prefix), so only that eMSP is asked.
    """
    if token is not None and token.key.type is not token_type:
        raise ValueError(f"token is {token.key.type}, but a {token_type} was presented")
    if recent_remote_start:
        decision = Decision(
            AllowedType.ALLOWED,
            DecisionPath.COMMAND,
            AuthMethod.COMMAND,
            "the eMSP started or reserved for this token here less than 15 minutes ago",
        )
        return Plan(Ask.NOBODY, token_type, token, decision)
    if token_type in _NEVER_REAL_TIME:
        if token is None:
            local = _local(None, f"no partner pushed this {token_type} token", unknown=True)
        else:
            local = _by_copy(token, f"{token_type} tokens never get real-time authorization")
        return Plan(Ask.NOBODY, token_type, token, local)
    if token is None:
        if issuer_known:
            return Plan(Ask.ISSUER, token_type, None)
        if broadcast_unknown and token_type in _MAY_BROADCAST:
            return Plan(Ask.EVERY_EMSP, token_type, None)
        reason = f"no partner pushed this {token_type} token and the broadcast is off"
        if token_type not in _MAY_BROADCAST:
            reason = f"no partner pushed this {token_type} token"
        return Plan(Ask.NOBODY, token_type, None, _local(None, reason, unknown=True))
    match token.whitelist:
        case WhitelistType.ALWAYS:
            return Plan(Ask.NOBODY, token_type, token, _by_copy(token, "whitelist ALWAYS"))
        case WhitelistType.ALLOWED if token.valid:
            return Plan(Ask.NOBODY, token_type, token, _by_copy(token, "whitelist ALLOWED"))
        case _:
            return Plan(Ask.ISSUER, token_type, token)


def conclude(chosen: Plan, answer: Answer | None) -> Decision:
    """The decision, given the eMSP's ``answer`` (None exactly when nobody was asked).

    For the broadcast, ``answer`` is the combined one: the first ALLOWED; else a verdict of an
    eMSP that knows the token; else UNKNOWN_TOKEN when every eMSP said so; else UNREACHABLE.
    """
    if chosen.decision is not None:
        if answer is not None:
            raise ValueError("nobody was to be asked, yet an answer was given")
        return chosen.decision
    if answer is None:
        raise ValueError(f"plan asks {chosen.ask}: an answer (or NoVerdict) is required")
    asked = "every eMSP" if chosen.ask is Ask.EVERY_EMSP else "the eMSP"
    if isinstance(answer, AllowedType):
        return Decision(
            answer, DecisionPath.REAL_TIME, AuthMethod.AUTH_REQUEST, f"{asked} answered {answer}"
        )
    if answer is NoVerdict.UNKNOWN_TOKEN:
        return Decision(
            None,
            DecisionPath.REAL_TIME,
            AuthMethod.AUTH_REQUEST,
            f"{asked} answered: unknown token",
            unknown_token=True,
        )
    if answer is NoVerdict.NOT_ENOUGH_INFORMATION:
        return Decision(
            AllowedType.NOT_ALLOWED,
            DecisionPath.REAL_TIME,
            AuthMethod.AUTH_REQUEST,
            f"{asked} answered 2002: not enough information to allow this location",
        )
    return _fallback(chosen, answer)


def _fallback(chosen: Plan, answer: NoVerdict) -> Decision:
    failure = "did not answer in time" if answer is NoVerdict.TIMEOUT else "could not be reached"
    token = chosen.token
    if token is None:
        who = "the eMSPs asked" if chosen.ask is Ask.EVERY_EMSP else "its eMSP"
        return Decision(
            None,
            DecisionPath.OFFLINE_FALLBACK,
            AuthMethod.WHITELIST,
            f"unknown token; {who} {failure}",
            unknown_token=True,
        )
    allowed: AllowedType | None
    match token.whitelist:
        case WhitelistType.NEVER:
            allowed, rule = None, "whitelist NEVER refuses when the eMSP cannot answer"
        case WhitelistType.ALLOWED_OFFLINE if token.valid:
            allowed, rule = AllowedType.ALLOWED, "whitelist ALLOWED_OFFLINE allows offline"
        case _:
            allowed = AllowedType.ALLOWED if token.valid else AllowedType.BLOCKED
            rule = (
                f"whitelist {token.whitelist}: our copy is {'valid' if token.valid else 'invalid'}"
            )
    return Decision(
        allowed, DecisionPath.OFFLINE_FALLBACK, AuthMethod.WHITELIST, f"the eMSP {failure}; {rule}"
    )
