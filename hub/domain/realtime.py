"""The outcome of asking a driver's eMSP in real time whether a token may charge, as the rest of
the platform sees it (protocol-neutral: ``hub.roaming.authorization`` maps the OCPI answers).

Four outcomes: the eMSP decided (:attr:`RealTimeOutcome.ANSWERED`, with its
:class:`~hub.domain.tokens.AllowedType`), it does not know the token, it needs more location
information, or it could not be asked or gave no usable answer within the time budget. The
whitelist rule decides what the last three mean for the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from hub.domain.tokens import AllowedType, TokenKey, TokenType


class RealTimeOutcome(StrEnum):
    ANSWERED = "ANSWERED"
    """The eMSP decided: see ``allowed``."""
    UNKNOWN = "UNKNOWN"
    """The eMSP does not know the token (OCPI: HTTP 404 or 2004), or, for a card no partner
    pushed, none of the eMSPs asked knows it (or the broadcast is switched off)."""
    NOT_ENOUGH_INFORMATION = "NOT_ENOUGH_INFORMATION"
    """The eMSP needs the location (and EVSEs) to decide (OCPI 2002)."""
    UNREACHABLE = "UNREACHABLE"
    """No usable answer: no partner to ask, no answer within the budget, an HTTP error, an
    answer that is not OCPI or breaks it. ``reason`` says which."""


@dataclass(frozen=True, slots=True)
class DriverMessage:
    """A text for the driver, in one language (ISO 639-1)."""

    language: str
    text: str


@dataclass(frozen=True, slots=True)
class AuthorizedToken:
    """What the eMSP said about the token it authorized (its own, complete copy)."""

    key: TokenKey
    contract_id: str
    group_id: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class RealTimeAnswer:
    """One real-time authorization, final: what was answered, by whom, how fast."""

    outcome: RealTimeOutcome
    latency_seconds: float
    """From the start of the question to its answer (or to the end of the budget)."""
    allowed: AllowedType | None = None
    """Set exactly when ``outcome`` is ANSWERED."""
    authorization_reference: str | None = None
    """To be copied into the Session and CDR (OCPI ``authorization_reference``)."""
    info: DriverMessage | None = None
    allowed_evse_uids: tuple[str, ...] | None = None
    """The EVSEs the eMSP allows at the asked location; None when it named none (the location
    as a whole); empty when it named EVSEs of another location only."""
    token: AuthorizedToken | None = None
    """The token as the answering eMSP holds it (ANSWERED only)."""
    partner_id: int | None = None
    """The partner whose answer this is (None: no partner answered, e.g. none to ask)."""
    reason: str | None = None
    """Why, in words, for every outcome but ANSWERED (for logs and the audit trail)."""
    cached: bool = False
    """Served from the unknown-token answer cache instead of asking again."""

    @property
    def is_allowed(self) -> bool:
        return self.outcome is RealTimeOutcome.ANSWERED and self.allowed is AllowedType.ALLOWED


class RealTimeAuthorization(Protocol):
    """The port the OCPP bridge and the services ask through; ``hub.app`` plugs in
    ``hub.roaming.authorization.RealTimeAuthorizer`` (tests plug in fakes)."""

    async def authorize(
        self, token: TokenKey, *, location_id: str | None = None, evse_uids: Sequence[str] = ()
    ) -> RealTimeAnswer:
        """Ask the partner owning ``token``'s party, and no other."""
        ...

    async def authorize_unknown(
        self,
        uid: str,
        token_type: TokenType,
        *,
        location_id: str | None = None,
        evse_uids: Sequence[str] = (),
    ) -> RealTimeAnswer:
        """Ask every eMSP offering real-time authorization about a card none of them pushed."""
        ...
