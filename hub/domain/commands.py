"""Commands from eMSPs (OCPI ``mod_commands``): their states, their deadlines, and what each
charger answer means as an OCPI ``CommandResult``.

A command is a persisted state machine, so a restart (or another process) resumes it:

    PENDING ──call sent──▶ CALLING ──answer──▶ FINISHED (result decided, queued to the eMSP)
                              │
                              └─ START_SESSION accepted by the charger ─▶ WAITING
                                   ──transaction correlated──▶ FINISHED (ACCEPTED)
                                   ──deadline──▶ FINISHED (TIMEOUT)

A command past its deadline in any state but FINISHED is finished with TIMEOUT: the charger did
not answer, the process that called it died before recording the answer (whether the charger
acted is then unknown), or, for START_SESSION, no transaction began. A command refused when it
arrives (charger offline, not supported) is stored FINISHED without a result: the eMSP had its
answer in the ``CommandResponse``, and OCPI sends a ``CommandResult`` only for accepted ones.

START_SESSION's result is ACCEPTED only once the transaction has started (not when the charger
merely accepts the remote start): the eMSP's app learns that the charge runs, and a charger that
accepts but never starts (no car plugged in) yields TIMEOUT instead of a misleading ACCEPTED.
The declared ``timeout`` of START_SESSION covers the driver plugging in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.domain.charging_profiles import ProfileResult


class CommandKind(StrEnum):
    """OCPI ``CommandType``."""

    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    RESERVE_NOW = "RESERVE_NOW"
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    # Charging profiles (``hub.domain.charging_profiles``): PUT, GET and DELETE of
    # mod_charging_profiles, carried out as commands.
    SET_CHARGING_PROFILE = "SET_CHARGING_PROFILE"
    GET_ACTIVE_CHARGING_PROFILE = "GET_ACTIVE_CHARGING_PROFILE"
    CLEAR_CHARGING_PROFILE = "CLEAR_CHARGING_PROFILE"


class CommandState(StrEnum):
    PENDING = "PENDING"
    """Accepted from the eMSP; the charger has not been called yet."""
    CALLING = "CALLING"
    """A process holds the call (``claimed_by`` until ``claimed_until``)."""
    WAITING = "WAITING"
    """START_SESSION accepted by the charger; waiting for its transaction."""
    FINISHED = "FINISHED"
    """The result is decided (and queued to ``response_url``), or the command was refused."""


class Result(StrEnum):
    """OCPI ``CommandResultType``."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class Response(StrEnum):
    """OCPI ``CommandResponseType``: the answer given when the command arrives."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a charger's answer makes of a command: its result, in words, and whether the
    command goes on waiting (START_SESSION accepted: for the transaction)."""

    result: Result | ProfileResult
    """A CommandResultType; a ChargingProfileResultType for the charging-profile kinds."""
    message: str
    waits_for_session: bool = False


# Each OCPP answer status, per action, as an OCPI CommandResult (README "Commands"). Statuses
# the charger may send that are not here are FAILED, with the status quoted.
_ANSWERS: dict[str, dict[str, Result]] = {
    # 1.6 RemoteStartStopStatus, 2.0.1 RequestStartStopStatusEnumType: Accepted | Rejected. The
    # spec's sequence diagram answers a rejected remote start with FAILED.
    "RemoteStartTransaction": {"Accepted": Result.ACCEPTED, "Rejected": Result.FAILED},
    "RequestStartTransaction": {"Accepted": Result.ACCEPTED, "Rejected": Result.FAILED},
    "RemoteStopTransaction": {"Accepted": Result.ACCEPTED, "Rejected": Result.REJECTED},
    "RequestStopTransaction": {"Accepted": Result.ACCEPTED, "Rejected": Result.REJECTED},
    # 1.6 ReservationStatus; 2.0.1 ReserveNowStatusEnumType.
    "ReserveNow": {
        "Accepted": Result.ACCEPTED,
        "Faulted": Result.EVSE_INOPERATIVE,
        "Occupied": Result.EVSE_OCCUPIED,
        "Rejected": Result.REJECTED,
        "Unavailable": Result.EVSE_INOPERATIVE,
    },
    # 1.6 CancelReservationStatus; 2.0.1 CancelReservationStatusEnumType: Accepted | Rejected.
    # A charger rejects the cancellation of a reservation it does not hold.
    "CancelReservation": {"Accepted": Result.ACCEPTED, "Rejected": Result.UNKNOWN_RESERVATION},
    # 1.6 UnlockStatus; 2.0.1 UnlockStatusEnumType.
    "UnlockConnector": {
        "Unlocked": Result.ACCEPTED,
        "UnlockFailed": Result.FAILED,
        "NotSupported": Result.NOT_SUPPORTED,
        "OngoingAuthorizedTransaction": Result.EVSE_OCCUPIED,
        "UnknownConnector": Result.REJECTED,
    },
}


def answer_outcome(kind: CommandKind, action: str, status: str) -> Outcome:
    """The outcome of the charger answering ``status`` to ``action`` (sent for ``kind``)."""
    result = _ANSWERS.get(action, {}).get(status)
    if result is None:
        return Outcome(Result.FAILED, f"the charger answered {action} with status {status!r}")
    if kind is CommandKind.START_SESSION and result is Result.ACCEPTED:
        return Outcome(
            result, "the charger accepted the remote start; waiting for the transaction", True
        )
    words = {
        Result.ACCEPTED: f"the charger accepted {action}",
        Result.FAILED: f"the charger could not carry out {action} ({status})",
        Result.REJECTED: f"the charger rejected {action}",
    }.get(result, f"the charger answered {action}: {status}")
    return Outcome(result, words)


class CallProblem(StrEnum):
    """Why a charger could not be called (hub.ocpp.commands.CallFailure, as the domain sees it)."""

    NOT_CONNECTED = "not_connected"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    """A CallError or an answer that is not valid OCPP."""


def call_problem_outcome(problem: CallProblem, action: str, detail: str) -> Outcome:
    """A call that got no usable answer: a charger that went offline before it could be called
    is FAILED (the ``CommandResponse`` said ACCEPTED because it was online then); one that did
    not answer in time is TIMEOUT; a CallError (e.g. NotImplemented) or a malformed answer is
    FAILED, or NOT_SUPPORTED when the charger says it does not implement the action."""
    if problem is CallProblem.TIMEOUT:
        return Outcome(Result.TIMEOUT, f"the charger did not answer {action} in time")
    if problem is CallProblem.NOT_CONNECTED:
        return Outcome(Result.FAILED, f"the charger went offline before {action}: {detail}")
    if "NotImplemented" in detail or "NotSupported" in detail:
        return Outcome(Result.NOT_SUPPORTED, f"the charger does not support {action}: {detail}")
    return Outcome(Result.FAILED, f"the charger refused {action}: {detail}")


TIMED_OUT = Outcome(Result.TIMEOUT, "no answer from the charger before the declared timeout")
NO_SESSION = Outcome(
    Result.TIMEOUT, "the charger accepted the remote start, but no charge began before the timeout"
)
SESSION_STARTED = Outcome(Result.ACCEPTED, "the charge has started")
UNKNOWN_RESERVATION = Outcome(
    Result.UNKNOWN_RESERVATION, "no reservation of yours holds under that reservation_id"
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """The ``timeout`` declared in each ``CommandResponse``: the charger's own answer time plus
    margin, and for START_SESSION also the time a driver takes to plug in."""

    call: timedelta = timedelta(seconds=30)
    start_session: timedelta = timedelta(seconds=180)

    def of(self, kind: CommandKind) -> timedelta:
        return self.start_session if kind is CommandKind.START_SESSION else self.call


# OCPI TokenType -> OCPP 2.0.1 IdTokenEnumType of a remote start (the inverse of how
# hub.domain.ocpp_tokens reads presented tokens): the charger echoes it in its TransactionEvent.
OCPP201_ID_TOKEN_TYPES = {
    "RFID": "ISO14443",
    "APP_USER": "Central",
    "AD_HOC_USER": "Local",
    "OTHER": "Central",
}

OCPP16_ID_TAG_LENGTH = 20
"""OCPP 1.6 ``idTag`` is a CiString20; OCPI token uids are up to 36 characters."""


def ocpp16_id_tag(uid: str, command_id: int) -> str:
    """The ``idTag`` of a 1.6 remote start: the token's uid when it fits, else an alias naming
    the command (``CMD<id>``): app and ad hoc uids are often UUIDs, which 1.6 cannot carry. The
    charger's StartTransaction then carries the alias, which finds the command again."""
    if len(uid) <= OCPP16_ID_TAG_LENGTH:
        return uid
    return f"CMD{command_id}"


def command_of_alias(id_tag: str) -> int | None:
    """The command an ``ocpp16_id_tag`` alias names, or None."""
    if id_tag.upper().startswith("CMD") and id_tag[3:].isdigit():
        return int(id_tag[3:])
    return None
