"""Reservations (OCPI RESERVE_NOW / CANCEL_RESERVATION): their states and the rules the spec
sets on them.

    REQUESTED ──charger Accepted──▶ RESERVED ──driver starts──▶ USED
        │                              ├──expiry_date──▶ EXPIRED
        └──charger refuses──▶ REFUSED  ├──CANCEL_RESERVATION──▶ CANCELLED
                                       └──charger fault, offline, operator──▶ CANCELED_BY_CPO

* The eMSP's ``reservation_id`` never reaches the charger: the charger gets our reservation's
  row id, an integer unique on the platform and so per station (``mod_commands``: the CPO makes
  it unique across eMSPs).
* The same ``reservation_id`` + location from the same eMSP replaces the earlier reservation:
  the charger gets the same id again, which OCPP makes a replacement (1.6 ReserveNow, 2.0.1
  ReserveNow "id"). A replacement at another charger is refused (the old one would linger).
* An accepted reservation is a Session in status RESERVATION; it becomes ACTIVE when the driver
  starts there (the charger names our id in the transaction), or COMPLETED at ``expiry_date``
  or when cancelled. Its reservation time is priced by the tariff's RESERVATION restrictions
  (RESERVATION_EXPIRES ones when it expired unused) into the CDR.
* Without ``evse_uid`` the reservation is for any EVSE of the location (README "Reservations"):
  when every reservable EVSE of the location is on one OCPP 1.6 charger that says
  ReserveConnectorZeroSupported, connector 0; on one 2.0.1 charger, a ReserveNow without
  ``evseId``; otherwise the first AVAILABLE reservable EVSE, in the location's order.
"""

from __future__ import annotations

from enum import StrEnum


class ReservationState(StrEnum):
    REQUESTED = "REQUESTED"
    RESERVED = "RESERVED"
    USED = "USED"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    CANCELED_BY_CPO = "CANCELED_BY_CPO"
    REFUSED = "REFUSED"

    @property
    def live(self) -> bool:
        """Whether the reservation may still be used, replaced or cancelled."""
        return self in {ReservationState.REQUESTED, ReservationState.RESERVED}


RESERVABLE = "RESERVABLE"
"""The EVSE capability without which RESERVE_NOW is NOT_SUPPORTED there."""

CPO_CANCEL_STATUSES = frozenset({"OUTOFORDER", "INOPERATIVE", "REMOVED"})
"""EVSE statuses that make us cancel a reservation held there (with an offline charger)."""
