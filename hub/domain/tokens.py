"""Driver tokens as the platform reasons about them (OCPI 2.2.1 ``mod_tokens``), independent of
the wire: the token kinds, the eMSP's whitelist rule, the answers an authorization can have,
and the identity of a token.

A token is identified by the eMSP party that issued it, its ``uid`` and its ``type``: the same
uid may exist as an RFID of one party and an APP_USER of another (``mod_tokens.asciidoc``:
"uid + type" is unique per party).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class TokenType(StrEnum):
    """OCPI 2.2.1 ``TokenType``; an eMAID (Plug & Charge) has no type of its own in 2.2.1 and
    travels as OTHER (or RFID, per partner agreement)."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    """How the eMSP lets us decide on its token (``mod_tokens.asciidoc`` "WhitelistType")."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(StrEnum):
    """The outcome of an authorization (``mod_tokens.asciidoc`` "AllowedType")."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class ProfileType(StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


@dataclass(frozen=True, slots=True, order=True)
class TokenKey:
    """What identifies one token on the platform."""

    country_code: str
    party_id: str
    uid: str
    type: TokenType


def uid_digest(uid: str) -> str:
    """A short, stable stand-in for a card uid in logs and audit lines: a uid is personal data
    (it identifies a driver's card) and must not be written in clear where operators and log
    pipelines read."""
    return hashlib.sha256(uid.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class EnergyContract:
    supplier_name: str
    contract_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """Every field of an OCPI 2.2.1 Token, as the platform stores it."""

    key: TokenKey
    contract_id: str
    issuer: str
    valid: bool
    whitelist: WhitelistType
    last_updated: datetime
    visual_number: str | None = None
    group_id: str | None = None
    language: str | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None


TOKEN_FIELDS = (
    "contract_id", "visual_number", "issuer", "group_id", "valid", "whitelist", "language",
    "default_profile_type", "energy_contract", "last_updated",
)  # fmt: skip
"""The fields of a token besides its key: what a PUT replaces and a PATCH may change."""

REQUIRED_TOKEN_FIELDS = frozenset({"contract_id", "issuer", "valid", "whitelist", "last_updated"})
"""Fields a PATCH may change but never clear (cardinality 1 in ``mod_tokens.asciidoc``)."""


def key_of(country_code: str, party_id: str, uid: str, type_: TokenType) -> TokenKey:
    """A token key with the party in the platform's spelling (upper case; CiString)."""
    return TokenKey(country_code.upper(), party_id.upper(), uid, type_)


@dataclass(frozen=True, slots=True)
class PullCursorState:
    """What decides whether a partner's token pull is due (``pull_due``)."""

    in_progress: bool
    last_completed_at: datetime | None
    last_error_at: datetime | None


def pull_due(
    state: PullCursorState | None,
    now: datetime,
    *,
    interval: timedelta,
    retry_after: timedelta,
) -> bool:
    """Whether the scheduled token pull of a partner should run now.

    Never pulled (no state): at once, which is how a registration schedules the first pull.
    A run interrupted (crash, partner down) resumes, but not sooner than ``retry_after`` after
    its last failure; a completed one is repeated every ``interval`` as a delta pull.
    """
    if state is None:
        return True
    if state.last_error_at is not None and now < state.last_error_at + retry_after:
        return False
    if state.in_progress or state.last_completed_at is None:
        return True
    return now >= state.last_completed_at + interval
