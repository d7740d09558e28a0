"""Charging stations as the OCPP layer sees them: versions, credentials, and the documented
mapping from OCPP connector status to OCPI EVSE status.

Status mapping (OCPP 1.6 ``ChargePointStatus`` and 2.0.1 ``ConnectorStatusEnumType``):

=============================================  ===========================
OCPP                                           OCPI EVSE status
=============================================  ===========================
Available                                      AVAILABLE
Preparing (1.6)                                configurable: CHARGING (default) or AVAILABLE
Charging, SuspendedEV, SuspendedEVSE (1.6)     CHARGING
Finishing (1.6), Occupied (2.0.1)              CHARGING
Reserved                                       RESERVED
Unavailable                                    INOPERATIVE
Faulted                                        OUTOFORDER
station offline (no socket, missed heartbeats) UNKNOWN
=============================================  ===========================

Preparing means a driver plugged in or authorised: the EVSE cannot take another driver, hence
CHARGING by default; some networks prefer AVAILABLE until energy flows. A station-level status
(1.6 connector 0, 2.0.1 EVSE 0) of Unavailable or Faulted overrides every EVSE of the station.
When several OCPP connectors feed one OCPI EVSE, the busiest wins: CHARGING > RESERVED >
AVAILABLE > INOPERATIVE > OUTOFORDER > UNKNOWN (a free connector makes the EVSE usable even if
another is broken).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hub.domain.assets import EvseStatus


class OcppVersion(StrEnum):
    V16 = "1.6"
    V201 = "2.0.1"

    @property
    def subprotocol(self) -> str:
        return f"ocpp{self.value}"

    @classmethod
    def from_subprotocol(cls, subprotocol: str) -> OcppVersion | None:
        for version in cls:
            if version.subprotocol == subprotocol.lower():
                return version
        return None


_MAPPING = {
    "Available": EvseStatus.AVAILABLE,
    "Charging": EvseStatus.CHARGING,
    "SuspendedEV": EvseStatus.CHARGING,
    "SuspendedEVSE": EvseStatus.CHARGING,
    "Finishing": EvseStatus.CHARGING,
    "Occupied": EvseStatus.CHARGING,
    "Reserved": EvseStatus.RESERVED,
    "Unavailable": EvseStatus.INOPERATIVE,
    "Faulted": EvseStatus.OUTOFORDER,
}

_BUSIEST_FIRST = [
    EvseStatus.CHARGING,
    EvseStatus.RESERVED,
    EvseStatus.AVAILABLE,
    EvseStatus.INOPERATIVE,
    EvseStatus.OUTOFORDER,
    EvseStatus.UNKNOWN,
]


def evse_status(ocpp_status: str, *, preparing: EvseStatus = EvseStatus.CHARGING) -> EvseStatus:
    """The OCPI status for one OCPP connector status (see the module table)."""
    if ocpp_status == "Preparing":
        return preparing
    return _MAPPING.get(ocpp_status, EvseStatus.UNKNOWN)


def combined_status(
    connector_statuses: Iterable[str],
    station_status: str | None,
    *,
    preparing: EvseStatus = EvseStatus.CHARGING,
) -> EvseStatus:
    """The status of an OCPI EVSE fed by ``connector_statuses``, under a station-level status."""
    if station_status in {"Unavailable", "Faulted"}:
        return evse_status(station_status, preparing=preparing)
    mapped = {evse_status(s, preparing=preparing) for s in connector_statuses}
    for status in _BUSIEST_FIRST:
        if status in mapped:
            return status
    return EvseStatus.UNKNOWN


def generate_password() -> str:
    """A station password for OCPP security profile 1 (OCPP 2.0.1 allows 16-40 characters)."""
    return secrets.token_urlsafe(24)  # 32 characters


def hash_password(password: str | bytes, salt: str | None = None) -> str:
    """``salt$sha256``. Passwords are random 32-character secrets we generate (or 20-byte
    keys), so a salted SHA-256 is enough; a slow KDF would make a reconnect storm of 30,000
    stations cost minutes of CPU at the handshake. A text password is hashed as UTF-8, a binary
    one as its bytes."""
    salt = salt or secrets.token_hex(8)
    raw = password.encode() if isinstance(password, str) else password
    digest = hashlib.sha256(salt.encode() + b"$" + raw).hexdigest()
    return f"{salt}${digest}"


AUTHORIZATION_KEY_BYTES = 20
"""OCPP 1.6 (OCPP-J §7, security whitepaper): the AuthorizationKey is a 20-byte key, written as
40 hexadecimal characters in the configuration; the Basic password is the key's raw bytes."""


def parse_authorization_key(text: str) -> bytes:
    """The 20 bytes of an AuthorizationKey given in hex. Raises ValueError otherwise."""
    if len(text) != 2 * AUTHORIZATION_KEY_BYTES:
        raise ValueError(f"{2 * AUTHORIZATION_KEY_BYTES} hexadecimal characters expected")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("not hexadecimal") from None


def password_matches(password: str | bytes, stored: str) -> bool:
    """Constant-time check of ``password`` against :func:`hash_password` output.

    40 hexadecimal characters also match as the 20-byte key they spell: some 1.6 chargers send
    their AuthorizationKey in its hex form instead of as raw bytes.
    """
    salt, _, _ = stored.partition("$")
    raw = password.encode() if isinstance(password, str) else password
    candidates = [raw]
    if len(raw) == 2 * AUTHORIZATION_KEY_BYTES:
        with contextlib.suppress(ValueError):  # UnicodeDecodeError included
            candidates.append(parse_authorization_key(raw.decode("ascii")))
    matches = [hmac.compare_digest(hash_password(c, salt), stored) for c in candidates]
    return any(matches)


@dataclass(frozen=True, slots=True)
class AuthBackoff:
    """How long a key (a station, a source address) must wait after consecutive failed logins.

    The first ``free_attempts`` failures cost nothing (a mistyped password, a charger retrying
    once). From then on every further failure makes the next attempt wait ``base_seconds``,
    doubled per failure, capped at ``cap_seconds``; attempts made while waiting are refused
    without their password being checked, so they are no guesses.
    """

    free_attempts: int
    base_seconds: float
    cap_seconds: float

    def delay(self, failures: int) -> timedelta:
        """The wait after the latest of ``failures`` consecutive failures."""
        if failures < self.free_attempts:
            return timedelta(0)
        doublings = min(failures - self.free_attempts, 62)
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2**doublings))

    def retry_at(self, failures: int, last_failure_at: datetime | None) -> datetime | None:
        """When the next attempt may be checked; None when it may be checked now."""
        if last_failure_at is None:
            return None
        delay = self.delay(failures)
        return last_failure_at + delay if delay else None


class SourceThrottle:
    """Consecutive login failures per source address, in memory (one hub process).

    A success from a source clears it. Sources quiet for ``forget_after`` are forgotten, and at
    most ``max_sources`` are remembered (the oldest go first), so a scan from many addresses
    cannot exhaust memory.
    """

    def __init__(
        self, backoff: AuthBackoff, *, forget_after: timedelta, max_sources: int = 100_000
    ) -> None:
        self.backoff = backoff
        self.forget_after = forget_after
        self.max_sources = max_sources
        self._failures: OrderedDict[str, tuple[int, datetime]] = OrderedDict()

    def retry_at(self, source: str, now: datetime) -> datetime | None:
        """When ``source`` may try again; None if it may try now."""
        entry = self._entry(source, now)
        if entry is None:
            return None
        retry_at = self.backoff.retry_at(*entry)
        return retry_at if retry_at is not None and retry_at > now else None

    def failed(self, source: str, now: datetime) -> int:
        """Record a failure; returns the source's consecutive failures."""
        entry = self._entry(source, now)
        failures = (entry[0] if entry else 0) + 1
        self._failures[source] = (failures, now)
        self._failures.move_to_end(source)
        while len(self._failures) > self.max_sources:
            self._failures.popitem(last=False)
        return failures

    def succeeded(self, source: str) -> None:
        self._failures.pop(source, None)

    def failures(self, source: str, now: datetime) -> int:
        entry = self._entry(source, now)
        return entry[0] if entry else 0

    def _entry(self, source: str, now: datetime) -> tuple[int, datetime] | None:
        entry = self._failures.get(source)
        if entry is not None and now - entry[1] >= self.forget_after:
            del self._failures[source]
            return None
        return entry
