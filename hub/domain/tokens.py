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
