"""OCPP id tokens ⇄ OCPI tokens, as pure functions the OCPP handlers call: which OCPI token
type (and which authorization route) a presented id token means, and how a :class:`Decision`
is written back as OCPP 1.6 ``idTagInfo`` or OCPP 2.0.1 ``idTokenInfo``.

Schemas: ``ocpp/v16/schemas/AuthorizeResponse.json`` (and StartTransaction), and
``ocpp/v201/schemas/AuthorizeResponse.json`` (and TransactionEvent) of the ``ocpp`` package.

OCPP 2.0.1 ``IdTokenEnumType`` → route and OCPI type:

- ISO14443, ISO15693 → TOKEN, RFID: RFID cards (proximity and vicinity cards).
- Central → TOKEN, APP_USER: an id the central system (an app) issued.
- Local → TOKEN, AD_HOC_USER: a one-time id generated for this use.
- eMAID → PLUG_AND_CHARGE, OTHER: parsed and routed by the eMAID's prefix; the type sent to the
  partner (OTHER, or RFID if the partner insists) is a per-partner setting.
- MacAddress → TOKEN, OTHER: the vehicle's MAC ("Autocharge"); eMSPs that offer it push such
  tokens as OTHER. Never broadcast: a MAC would identify the vehicle to every eMSP asked.
- KeyCode → REFUSE (Invalid): a code typed on the keypad has no OCPI token type, no eMSP issues
  one, and a short typed code is guessable, so it is neither looked up nor sent anywhere.
- NoAuthorization → FREE (Accepted): the station charges without identification (free vend);
  no eMSP is involved, so no roaming Session or CDR follows.

OCPP 1.6 ``idTag`` carries no type: always RFID.

OCPI ``AllowedType`` → OCPP status: ALLOWED → Accepted, BLOCKED → Blocked, EXPIRED → Expired,
NO_CREDIT → NoCredit (2.0.1) / Invalid (1.6), NOT_ALLOWED → NotAtThisLocation (2.0.1) /
Invalid (1.6); an unknown token → Unknown (2.0.1) / Invalid (1.6); refused without a verdict
(a NEVER token whose eMSP could not answer) → Invalid.

``group_id`` → 1.6 ``parentIdTag`` (at most 20 characters: a longer group id is left out,
as ``mod_tokens`` warns, so the charger never sees a cut one that could match another group),
2.0.1 ``groupIdToken`` (``{idToken: group_id, type: Central}``: the group id is an eMSP-side
identifier, not something a reader reads).

Cache expiry: an Accepted answer is cached by the charger until now + the operator's cache time;
refusals carry no expiry (the charger asks again next time). A charger treats a missing expiry
on Accepted as "no end date", so Accepted always gets one, offline fallbacks included.

``personalMessage`` (2.0.1) from the eMSP's ``info`` DisplayText: the one in the token's
language, else the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from hub.domain.authorization import Decision
from hub.domain.tokens import AllowedType, TokenType

OCPP16_PARENT_ID_TAG_MAX: Final = 20
"""``idTagInfo.parentIdTag`` maxLength (OCPP 1.6 schema)."""
OCPP201_ID_TOKEN_MAX: Final = 36
OCPP201_MESSAGE_CONTENT_MAX: Final = 512
OCPP201_LANGUAGE_MAX: Final = 8


class IdTokenRoute(StrEnum):
    """How a presented id token is authorized."""

    TOKEN = "TOKEN"  # noqa: S105 (a route name, not a secret)
    """Looked up among pushed tokens; the whitelist rule (hub.domain.authorization) decides."""
    PLUG_AND_CHARGE = "PLUG_AND_CHARGE"
    """An eMAID: parsed (hub.domain.emaid), matched on contract_id or routed by its prefix."""
    FREE = "FREE"
    """No identification: Accepted without asking anyone."""
    REFUSE = "REFUSE"
    """Not a roaming identifier: Invalid without asking anyone."""


class Ocpp201IdTokenType(StrEnum):
    """OCPP 2.0.1 ``IdTokenEnumType``."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class Ocpp16AuthorizationStatus(StrEnum):
    """OCPP 1.6 ``idTagInfo.status``."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


class Ocpp201AuthorizationStatus(StrEnum):
    """OCPP 2.0.1 ``AuthorizationStatusEnumType``."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    CONCURRENT_TX = "ConcurrentTx"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    NO_CREDIT = "NoCredit"
    NOT_ALLOWED_TYPE_EVSE = "NotAllowedTypeEVSE"
    NOT_AT_THIS_LOCATION = "NotAtThisLocation"
    NOT_AT_THIS_TIME = "NotAtThisTime"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class IdTokenPolicy:
    """What a presented OCPP id token type means for authorization."""

    route: IdTokenRoute
    ocpi_type: TokenType | None
    """The OCPI type to look up and ask about (None: not an OCPI token)."""
    broadcast_when_unknown: bool
    """Whether an unstored token of this kind may be asked of every eMSP."""


_RFID: Final = IdTokenPolicy(IdTokenRoute.TOKEN, TokenType.RFID, broadcast_when_unknown=True)

_OCPP201_POLICIES: Final = {
    Ocpp201IdTokenType.ISO14443: _RFID,
    Ocpp201IdTokenType.ISO15693: _RFID,
    Ocpp201IdTokenType.CENTRAL: IdTokenPolicy(IdTokenRoute.TOKEN, TokenType.APP_USER, False),
    Ocpp201IdTokenType.LOCAL: IdTokenPolicy(IdTokenRoute.TOKEN, TokenType.AD_HOC_USER, False),
    Ocpp201IdTokenType.EMAID: IdTokenPolicy(
        IdTokenRoute.PLUG_AND_CHARGE, TokenType.OTHER, broadcast_when_unknown=False
    ),
    Ocpp201IdTokenType.MAC_ADDRESS: IdTokenPolicy(IdTokenRoute.TOKEN, TokenType.OTHER, False),
    Ocpp201IdTokenType.KEY_CODE: IdTokenPolicy(IdTokenRoute.REFUSE, None, False),
    Ocpp201IdTokenType.NO_AUTHORIZATION: IdTokenPolicy(IdTokenRoute.FREE, None, False),
}

OCPP16_ID_TAG_POLICY: Final = _RFID
"""An OCPP 1.6 ``idTag`` has no type: it is always treated as an RFID."""


def ocpp201_policy(id_token_type: str) -> IdTokenPolicy:
    """The policy for an OCPP 2.0.1 ``idToken.type`` (ValueError for a type not in the
    schema, which the OCPP library's validation should already have refused)."""
    try:
        return _OCPP201_POLICIES[Ocpp201IdTokenType(id_token_type)]
    except ValueError:
        raise ValueError(f"{id_token_type!r} is not an OCPP 2.0.1 IdTokenEnumType") from None


_OCPP16_STATUS: Final = {
    AllowedType.ALLOWED: Ocpp16AuthorizationStatus.ACCEPTED,
    AllowedType.BLOCKED: Ocpp16AuthorizationStatus.BLOCKED,
    AllowedType.EXPIRED: Ocpp16AuthorizationStatus.EXPIRED,
    AllowedType.NO_CREDIT: Ocpp16AuthorizationStatus.INVALID,
    AllowedType.NOT_ALLOWED: Ocpp16AuthorizationStatus.INVALID,
}
_OCPP201_STATUS: Final = {
    AllowedType.ALLOWED: Ocpp201AuthorizationStatus.ACCEPTED,
    AllowedType.BLOCKED: Ocpp201AuthorizationStatus.BLOCKED,
    AllowedType.EXPIRED: Ocpp201AuthorizationStatus.EXPIRED,
    AllowedType.NO_CREDIT: Ocpp201AuthorizationStatus.NO_CREDIT,
    AllowedType.NOT_ALLOWED: Ocpp201AuthorizationStatus.NOT_AT_THIS_LOCATION,
}


def ocpp16_status(decision: Decision) -> Ocpp16AuthorizationStatus:
    """``idTagInfo.status`` for a decision (1.6 has no NoCredit, NotAtThisLocation, Unknown)."""
    if decision.allowed is None:
        return Ocpp16AuthorizationStatus.INVALID
    return _OCPP16_STATUS[decision.allowed]


def ocpp201_status(decision: Decision) -> Ocpp201AuthorizationStatus:
    """``idTokenInfo.status`` for a decision."""
    if decision.allowed is None:
        if decision.unknown_token:
            return Ocpp201AuthorizationStatus.UNKNOWN
        return Ocpp201AuthorizationStatus.INVALID
    return _OCPP201_STATUS[decision.allowed]


def ocpp16_parent_id_tag(group_id: str | None) -> str | None:
    """``parentIdTag`` from an OCPI ``group_id``; None when there is none or it is longer than
    OCPP 1.6 allows (cutting it could make two groups one)."""
    if group_id is None or len(group_id) > OCPP16_PARENT_ID_TAG_MAX:
        return None
    return group_id


@dataclass(frozen=True, slots=True)
class GroupIdToken:
    """OCPP 2.0.1 ``groupIdToken`` (an ``IdTokenType``)."""

    id_token: str
    type: Ocpp201IdTokenType = Ocpp201IdTokenType.CENTRAL

    def as_payload(self) -> dict[str, str]:
        return {"idToken": self.id_token, "type": self.type.value}


def ocpp201_group_id_token(group_id: str | None) -> GroupIdToken | None:
    """``groupIdToken`` from an OCPI ``group_id`` (both at most 36 characters)."""
    if group_id is None or len(group_id) > OCPP201_ID_TOKEN_MAX:
        return None
    return GroupIdToken(group_id)


def cache_expiry(decision: Decision, *, now: datetime, cache_time: timedelta) -> datetime | None:
    """``expiryDate`` (1.6) / ``cacheExpiryDateTime`` (2.0.1): now + cache_time for an accepted
    token, None for a refusal. ``now`` must be aware."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if not decision.accepted:
        return None
    return (now + cache_time).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DisplayText:
    """OCPI ``DisplayText``: a text in one language (ISO 639-1)."""

    language: str
    text: str


@dataclass(frozen=True, slots=True)
class PersonalMessage:
    """OCPP 2.0.1 ``MessageContentType`` (format UTF8)."""

    content: str
    language: str | None

    def as_payload(self) -> dict[str, str]:
        payload = {"format": "UTF8", "content": self.content}
        if self.language:
            payload["language"] = self.language
        return payload


def personal_message(
    info: Sequence[DisplayText] | DisplayText | None, language: str | None
) -> PersonalMessage | None:
    """The eMSP's ``info`` in the token's ``language`` (case-insensitive), else the first one;
    None when there is none. The content is cut to the 512 characters OCPP allows."""
    if info is None:
        return None
    texts = [info] if isinstance(info, DisplayText) else list(info)
    texts = [t for t in texts if t.text]
    if not texts:
        return None
    wanted = (language or "").casefold()
    chosen = next((t for t in texts if wanted and t.language.casefold() == wanted), texts[0])
    chosen_language = chosen.language[:OCPP201_LANGUAGE_MAX] or None
    return PersonalMessage(chosen.text[:OCPP201_MESSAGE_CONTENT_MAX], chosen_language)


def _ocpp_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def ocpp16_id_tag_info(
    decision: Decision,
    *,
    group_id: str | None,
    now: datetime,
    cache_time: timedelta,
) -> dict[str, str]:
    """The complete OCPP 1.6 ``idTagInfo`` payload (Authorize, StartTransaction)."""
    payload = {"status": ocpp16_status(decision).value}
    expiry = cache_expiry(decision, now=now, cache_time=cache_time)
    if expiry is not None:
        payload["expiryDate"] = _ocpp_datetime(expiry)
    parent = ocpp16_parent_id_tag(group_id)
    if parent is not None:
        payload["parentIdTag"] = parent
    return payload


def ocpp201_id_token_info(
    decision: Decision,
    *,
    group_id: str | None,
    language: str | None,
    info: Sequence[DisplayText] | DisplayText | None,
    now: datetime,
    cache_time: timedelta,
) -> dict[str, object]:
    """The complete OCPP 2.0.1 ``idTokenInfo`` payload (Authorize, TransactionEvent)."""
    payload: dict[str, object] = {"status": ocpp201_status(decision).value}
    expiry = cache_expiry(decision, now=now, cache_time=cache_time)
    if expiry is not None:
        payload["cacheExpiryDateTime"] = _ocpp_datetime(expiry)
    group = ocpp201_group_id_token(group_id)
    if group is not None:
        payload["groupIdToken"] = group.as_payload()
    if language:
        payload["language1"] = language[:OCPP201_LANGUAGE_MAX]
    message = personal_message(info, language)
    if message is not None:
        payload["personalMessage"] = message.as_payload()
    return payload
