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
(1.6 connector 0) of Unavailable or Faulted overrides every EVSE of the station. When several
OCPP connectors feed one OCPI EVSE, the busiest wins: CHARGING > RESERVED > AVAILABLE >
INOPERATIVE > OUTOFORDER > UNKNOWN (a free connector makes the EVSE usable even if another is
broken).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
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


def hash_password(password: str, salt: str | None = None) -> str:
    """``salt$sha256``. Passwords are random 32-character secrets we generate, so a salted
    SHA-256 is enough; a slow KDF would make a reconnect storm of 30,000 stations cost minutes
    of CPU at the handshake."""
    salt = salt or secrets.token_hex(8)
    digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
    return f"{salt}${digest}"


def password_matches(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against :func:`hash_password` output."""
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(hash_password(password, salt), stored)
