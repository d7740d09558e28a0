"""Charging sessions: their states, how they end, when a change is pushed, what a driver's
charge is reported as (NEVI), and which sessions are billed.

A session is the hub's view of one OCPP transaction (1.6 StartTransaction ... StopTransaction,
2.0.1 TransactionEvent Started ... Ended), published to the eMSP of the driver's token as an
OCPI Session and, once over, as exactly one CDR.

States (OCPI ``SessionStatus``) and transitions (:func:`next_status`):

- PENDING: the transaction exists but nobody has vouched for the driver yet (a 2.0.1
  transaction started on cable plug-in, before its ``idToken``).
- ACTIVE: the token is accepted; energy may flow.
- COMPLETED: the transaction ended (or was closed by the hub, see :class:`CloseReason`).
- INVALID: the token was refused, or the data cannot be trusted: never billed.

COMPLETED and INVALID are final, but for one thing: a COMPLETED session whose CDR is not yet
made may still take late meter values of its own transaction (offline-queued 2.0.1 events).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from hub.domain.metering import ProblemCode
from hub.domain.tokens import TokenType


class SessionStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    RESERVATION = "RESERVATION"
    """An EVSE reserved for the driver (RESERVE_NOW accepted by the charger): ACTIVE when the
    driver starts there, COMPLETED when the reservation expires or is cancelled."""
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"

    @property
    def final(self) -> bool:
        return self in {SessionStatus.COMPLETED, SessionStatus.INVALID}


class SessionEvent(StrEnum):
    """What happens to a session, as the transitions see it."""

    AUTHORIZED = "AUTHORIZED"
    REFUSED = "REFUSED"
    ENDED = "ENDED"
    UNTRUSTED = "UNTRUSTED"


_TRANSITIONS: dict[tuple[SessionStatus, SessionEvent], SessionStatus] = {
    (SessionStatus.PENDING, SessionEvent.AUTHORIZED): SessionStatus.ACTIVE,
    (SessionStatus.PENDING, SessionEvent.REFUSED): SessionStatus.INVALID,
    (SessionStatus.PENDING, SessionEvent.ENDED): SessionStatus.COMPLETED,
    (SessionStatus.PENDING, SessionEvent.UNTRUSTED): SessionStatus.INVALID,
    (SessionStatus.ACTIVE, SessionEvent.AUTHORIZED): SessionStatus.ACTIVE,
    (SessionStatus.ACTIVE, SessionEvent.REFUSED): SessionStatus.INVALID,
    (SessionStatus.ACTIVE, SessionEvent.ENDED): SessionStatus.COMPLETED,
    (SessionStatus.ACTIVE, SessionEvent.UNTRUSTED): SessionStatus.INVALID,
    (SessionStatus.RESERVATION, SessionEvent.AUTHORIZED): SessionStatus.ACTIVE,
    (SessionStatus.RESERVATION, SessionEvent.REFUSED): SessionStatus.INVALID,
    (SessionStatus.RESERVATION, SessionEvent.ENDED): SessionStatus.COMPLETED,
    (SessionStatus.COMPLETED, SessionEvent.ENDED): SessionStatus.COMPLETED,
    (SessionStatus.COMPLETED, SessionEvent.UNTRUSTED): SessionStatus.INVALID,
    (SessionStatus.INVALID, SessionEvent.ENDED): SessionStatus.INVALID,
}


def next_status(status: SessionStatus, event: SessionEvent) -> SessionStatus:
    """The status after ``event``; an event that does not apply leaves the status as it is (a
    duplicate Ended, a late authorization of an ended session): chargers repeat themselves, and
    a repeated message must never reopen or re-bill a session."""
    return _TRANSITIONS.get((status, event), status)


class CloseReason(StrEnum):
    """Why a session ended; recorded on the session and shown to operators."""

    STOPPED = "STOPPED"
    """The charger reported the end (1.6 StopTransaction, 2.0.1 Ended)."""
    STATION_REBOOTED = "STATION_REBOOTED"
    """The station booted again and did not report the end within the grace after the boot."""
    REPLACED = "REPLACED"
    """A new transaction started on the same connector: the old one cannot still be running."""
    SILENT = "SILENT"
    """No message of the transaction for longer than the configured limit."""
    RESERVATION_EXPIRED = "RESERVATION_EXPIRED"
    """A reservation session whose driver never came."""
    RESERVATION_CANCELLED = "RESERVATION_CANCELLED"
    """A reservation session cancelled by the eMSP or by us."""


@dataclass(frozen=True, slots=True)
class PushThrottle:
    """How often a running session's changes are PATCHed to its eMSP: at most once per
    ``interval`` unless the energy moved by ``kwh_step`` since the last push; a status change is
    always pushed at once."""

    interval: timedelta = timedelta(seconds=60)
    kwh_step: Decimal = Decimal(1)


def patch_due(
    throttle: PushThrottle,
    *,
    status_changed: bool,
    last_pushed_at: datetime | None,
    last_pushed_kwh: Decimal | None,
    now: datetime,
    kwh: Decimal,
) -> bool:
    """Whether a change of a session should be pushed now (see :class:`PushThrottle`)."""
    if status_changed or last_pushed_at is None or last_pushed_kwh is None:
        return True
    if now - last_pushed_at >= throttle.interval:
        return True
    return abs(kwh - last_pushed_kwh) >= throttle.kwh_step


def billable(*, kwh: Decimal, total_cost: Decimal | None) -> bool:
    """Whether an ended session gets a CDR: it delivered energy or costs something (an
    idle-only session with a parking fee does); a session with neither (a plug-in that never
    charged, a refused start) is kept, reported to NEVI as unsuccessful, and not billed."""
    return kwh > 0 or (total_cost is not None and total_cost > 0)


class PaymentMethod(StrEnum):
    """How the driver paid, for EV-ChART Module 2 ``payment_method`` (the reports issue maps
    these to the EV-ChART vocabulary, which is data, not code)."""

    APP = "APP"
    """Started from the automaker's or eMSP's app (an APP_USER token)."""
    RFID_ROAMING = "RFID_ROAMING"
    """A card of a roaming partner (RFID or OTHER token presented at the charger)."""
    PLUG_AND_CHARGE = "PLUG_AND_CHARGE"
    """ISO 15118 contract (an eMAID)."""
    AD_HOC = "AD_HOC"
    """An ad hoc payment (an AD_HOC_USER token: card terminal, website)."""
    NONE = "NONE"
    """No identification was asked (free vend) or none is known."""


def payment_method(token_type: TokenType | None, *, plug_and_charge: bool) -> PaymentMethod:
    if plug_and_charge:
        return PaymentMethod.PLUG_AND_CHARGE
    match token_type:
        case TokenType.APP_USER:
            return PaymentMethod.APP
        case TokenType.AD_HOC_USER:
            return PaymentMethod.AD_HOC
        case TokenType.RFID | TokenType.OTHER:
            return PaymentMethod.RFID_ROAMING
        case _:
            return PaymentMethod.NONE


# OCPP stop reasons (1.6 ``Reason``, 2.0.1 ``ReasonEnumType``) that mean the charge failed
# rather than ended as the driver or the EV wanted: faults, resets and the token withdrawn
# mid-charge. A session ending so is "unsuccessful" for NEVI. Other, Local, Remote,
# EVDisconnected, the limits reached and LocalOutOfCredit are ordinary ends.
FAILED_STOP_REASONS = frozenset(
    {
        "DeAuthorized",
        "EmergencyStop",
        "GroundFault",
        "HardReset",
        "ImmediateReset",
        "OvercurrentFault",
        "PowerLoss",
        "PowerQuality",
        "Reboot",
        "SoftReset",
        "Timeout",
        "UnlockCommand",
    }
)


def session_error(
    *, stop_reason: str | None, kwh: Decimal, close_reason: CloseReason | None
) -> str | None:
    """The error of an unsuccessful session for NEVI (None: the session succeeded): a charge
    that never delivered energy, a stop for a fault, or a session the hub had to close."""
    if close_reason is not None and close_reason is not CloseReason.STOPPED:
        return close_reason.value
    if stop_reason is not None and stop_reason in FAILED_STOP_REASONS:
        return stop_reason
    if kwh <= 0:
        return "NO_ENERGY_DELIVERED"
    return None


@dataclass(frozen=True, slots=True)
class SessionToken:
    """Who is charging, as the authorization decided it: the session's ``cdr_token`` and how
    it was authorized.

    ``country_code``/``party_id``/``contract_id`` are the token's when a stored token or the
    eMSP's answer named it (None: nobody vouched for the uid); ``partner_id`` is the eMSP that
    owns it, the only partner the session and its CDR are ever sent to.
    """

    uid: str
    token_type: TokenType | None
    accepted: bool
    auth_method: str
    """OCPI ``AuthMethod``: AUTH_REQUEST, COMMAND or WHITELIST."""
    presented_type: str
    country_code: str | None = None
    party_id: str | None = None
    contract_id: str | None = None
    partner_id: int | None = None
    authorization_reference: str | None = None
    plug_and_charge: bool = False


UNTRUSTED_METER_DATA = frozenset(
    {
        ProblemCode.REGISTER_DECREASED,
        ProblemCode.NEGATIVE_REGISTER,
        ProblemCode.UNIT_MISMATCH,
        ProblemCode.CONFLICTING_SAMPLES,
        ProblemCode.VALUE_OUT_OF_RANGE,
        ProblemCode.END_BEFORE_START,
    }
)
"""Meter data problems after which the session's bill cannot be trusted as computed: the
session is held for review (``hub sessions review``) instead of billed; an operator releases
it (billed as computed) or invalidates it. Problems outside this set (an unknown measurand, a
naive timestamp, a Trigger reading, a reading before the start or after the end, which is left
out) change nothing that is billed; they are listed on the session all the same."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the hub's clock a charger's timestamp may be (clock drift) before the
session is held for review: a charge dated in the future would be priced at the wrong hours."""
