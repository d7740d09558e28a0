"""Simulated charging stations speaking OCPP-J 1.6 and 2.0.1 with the ``ocpp`` package.

Used by ``hub sim chargers``, ``hub demo``, the tests and the benchmarks. A station connects to
``{ws_url}/{station_id}`` with HTTP Basic auth, boots, reports statuses and answers the calls a
CSMS may send (remote start/stop, unlock, reservations, reset, availability, trigger,
configuration, data transfer).
OCPP 1.6 stations report per connector (each connector is one OCPI EVSE); 2.0.1 stations per
EVSE (connector 1). A 2.0.1 station has no station-level status message: it reports each EVSE.

Commands the station acts on (decided when the call arrives, carried out once the answer is
sent, as OCPP orders them): a remote start (1.6 RemoteStartTransaction, 2.0.1
RequestStartTransaction) is Accepted when its connector/EVSE (or, none named, the one reserved
for the token, else the first free one) is free, and then runs a charge of ``remote_profile`` at
once (the car is plugged in): 1.6 StartTransaction with the idTag, 2.0.1 TransactionEvent
Started (trigger RemoteStart) with the idToken and ``transactionInfo.remoteStartId``; a remote
stop (RemoteStopTransaction, RequestStopTransaction) of a running transaction ends its charge
at once with reason Remote; UnlockConnector answers Unlocked. ReserveNow (1.6 connector 0, or
2.0.1 without ``evseId``: the first free one) holds a free connector/EVSE for one token
(StatusNotification Reserved), answers Occupied, Faulted or Unavailable otherwise, and a
reservation id held already is replaced; the token's start there uses it (1.6
StartTransaction ``reservationId``, 2.0.1 TransactionEvent ``reservationId``), any other token
is refused there; at ``expiryDate`` it ends (2.0.1 ReservationStatusUpdate Expired) and the
connector is Available again, as after an accepted CancelReservation (one not held: Rejected).

Charges (:meth:`SimulatedCharger.charge`, :func:`run_charges`) follow a :class:`ChargePlan`:
the driver's token, how long the car draws power, how much energy, how long it then stays
plugged in without charging, and the meter value interval. OCPP 1.6 sends StartTransaction,
MeterValues and StopTransaction; 2.0.1 sends TransactionEvent Started, Updated and Ended with
``seqNo`` 0, 1, 2... Power is constant while the car charges; the state of charge follows from
the battery size.

Meter values are clock-aligned (``Sample.Clock``: every ``meter_interval`` seconds of the UTC
clock, as OCPP's ClockAlignedDataInterval), so the hour and half-hour marks where a
time-of-day price changes always fall on a reading, and every event of a 2.0.1 transaction
carries the register at its own time (a charging-state change included): the energy of each
stretch is what the meter said, never a share of a longer interval.

Time (:class:`FastForwardClock`): charges can be replayed faster than real time. The clock of
the charges then starts ``lead`` seconds before the wall clock and runs ``speed`` times faster,
and it never passes the wall clock (it is capped at it): every timestamp a charger sends is one
it has reached, so timestamps are monotonic and never ahead of the hub's clock. A 30-minute
charge replayed at ``speed=600`` takes 3 s and is stamped as the half hour that ended about
then. At ``speed=1`` (the default of ``hub sim chargers``) charges run in real time.
"""

from __future__ import annotations

import asyncio
import base64
import heapq
import logging
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.typing import Subprotocol

logger = logging.getLogger(__name__)

# Plausible next statuses for a random walk, per version.
NEXT_16 = {
    "Available": ["Preparing", "Preparing", "Unavailable", "Faulted"],
    "Preparing": ["Charging", "Available"],
    "Charging": ["SuspendedEV", "Finishing", "Finishing"],
    "SuspendedEV": ["Charging", "Finishing"],
    "Finishing": ["Available"],
    "Unavailable": ["Available"],
    "Faulted": ["Available"],
}
NEXT_201 = {
    "Available": ["Occupied", "Occupied", "Reserved", "Unavailable", "Faulted"],
    "Occupied": ["Available"],
    "Reserved": ["Occupied", "Available"],
    "Unavailable": ["Available"],
    "Faulted": ["Available"],
}


CARD_TOKEN_TYPE = "ISO14443"  # noqa: S105 - an OCPP enum value, not a secret
"""The OCPP 2.0.1 ``IdTokenEnumType`` of an RFID card."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SimulatedStation:
    """What a simulated station is: identity, secret, version, and what it serves.

    ``ocpp_ids`` are the OCPP 2.0.1 EVSE ids or the OCPP 1.6 connector ids, in the order of
    ``evse_uids`` (the OCPI EVSEs they feed).
    """

    station_id: str
    password: str
    ocpp_version: str
    ocpp_ids: tuple[int, ...]
    evse_uids: tuple[str, ...] = ()


class FastForwardClock:
    """The chargers' clock for charges replayed faster than real time (module docstring).

    It reads ``origin - lead + speed * elapsed``, capped at ``origin + elapsed`` (the wall
    clock), where ``origin`` is the wall clock when it was made and ``elapsed`` the real
    seconds since (``time.monotonic``, so a wall-clock step does not make it jump). ``wall``,
    ``monotonic`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        lead_seconds: float = 0.0,
        wall: Callable[[], datetime] = _wall_clock,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if speed < 1:
            raise ValueError("speed must be at least 1 (the clock never runs slower than time)")
        if lead_seconds < 0:
            raise ValueError("lead_seconds must be >= 0")
        self.speed = speed
        self.lead = timedelta(seconds=lead_seconds)
        self._origin = wall()
        self._started = monotonic()
        self._monotonic = monotonic
        self._sleep = sleep

    def _elapsed(self) -> float:
        return max(self._monotonic() - self._started, 0.0)

    def now(self) -> datetime:
        """The chargers' time now: never ahead of the wall clock."""
        elapsed = self._elapsed()
        simulated = self._origin - self.lead + timedelta(seconds=self.speed * elapsed)
        return min(simulated, self._origin + timedelta(seconds=elapsed))

    def real_seconds_until(self, moment: datetime) -> float:
        """Real seconds until :meth:`now` reaches ``moment`` (0 if it has)."""
        behind = (moment - self._origin).total_seconds()
        # Both parts of now() must have reached the moment: the fast one and the wall clock.
        needed = max((behind + self.lead.total_seconds()) / self.speed, behind)
        return max(needed - self._elapsed(), 0.0)

    async def wait_until(self, moment: datetime) -> None:
        """Return once :meth:`now` has reached ``moment``."""
        while (seconds := self.real_seconds_until(moment)) > 0:
            await self._sleep(seconds)


class ChargeState(StrEnum):
    WAITING = "waiting"
    CHARGING = "charging"
    IDLE = "idle"
    """Plugged in, not charging (the car is full): 2.0.1 reports SuspendedEV."""
    DONE = "done"
    REFUSED = "refused"
    """The hub did not accept the driver's token: the charger stopped at once."""
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ChargePlan:
    """One simulated charge. Seconds are the chargers' (simulated) seconds."""

    ocpp_id: int
    """The connector (1.6) or EVSE (2.0.1) of the station."""
    token_uid: str
    charging_seconds: int
    energy_wh: int
    idle_seconds: int = 0
    meter_interval_seconds: int = 60
    start_soc: int = 20
    battery_wh: int = 80_000
    token_type: str = CARD_TOKEN_TYPE
    """The OCPP 2.0.1 ``IdTokenEnumType`` of the token (a remote start: the one the CSMS sent)."""

    def __post_init__(self) -> None:
        if self.charging_seconds <= 0 or self.meter_interval_seconds <= 0:
            raise ValueError("charging_seconds and meter_interval_seconds must be > 0")
        if self.energy_wh < 0 or self.idle_seconds < 0:
            raise ValueError("energy_wh and idle_seconds must be >= 0")

    @property
    def seconds(self) -> int:
        return self.charging_seconds + self.idle_seconds

    @property
    def power_w(self) -> int:
        return round(self.energy_wh * 3600 / self.charging_seconds)


class PointKind(StrEnum):
    START = "start"
    READING = "reading"
    """A clock-aligned meter value."""
    SUSPENDED = "suspended"
    """The car stopped drawing power (only when the plan has idle time)."""
    STOP = "stop"


@dataclass(frozen=True, slots=True)
class MeterPoint:
    """What the meter says at one moment of a charge."""

    at: datetime
    kind: PointKind
    register_wh: int
    power_w: int
    soc: int
    charging: bool
    aligned: bool = False
    """At a multiple of the meter interval on the UTC clock (a ``Sample.Clock`` reading)."""


def meter_point(
    plan: ChargePlan, start: datetime, meter_start_wh: int, at: datetime, kind: PointKind
) -> MeterPoint:
    """What the meter of a charge that started at ``start`` says at ``at`` (a whole second)."""
    full = start + timedelta(seconds=plan.charging_seconds)
    charged = min((at - start).total_seconds(), plan.charging_seconds)
    delivered = plan.energy_wh * int(charged) // plan.charging_seconds
    charging = at < full
    soc = min(100, plan.start_soc + 100 * delivered // plan.battery_wh)
    aligned = int(at.timestamp()) % plan.meter_interval_seconds == 0
    power = plan.power_w if charging and kind is not PointKind.STOP else 0
    return MeterPoint(at, kind, meter_start_wh + delivered, power, soc, charging, aligned)


def charge_timeline(plan: ChargePlan, start: datetime, meter_start_wh: int) -> list[MeterPoint]:
    """The moments of a charge that start at ``start`` (whole seconds, UTC): the start, the
    clock-aligned readings strictly inside the charge, the moment the car stops drawing power
    when the plan has idle time, and the stop. The register rises evenly (whole Wh, rounded
    down) while the car charges and ends exactly ``energy_wh`` above ``meter_start_wh``."""
    if start.microsecond or start.utcoffset() != timedelta(0):
        raise ValueError("a charge starts on a whole second, in UTC")
    full = start + timedelta(seconds=plan.charging_seconds)
    stop = full + timedelta(seconds=plan.idle_seconds)

    def point(at: datetime, kind: PointKind) -> MeterPoint:
        return meter_point(plan, start, meter_start_wh, at, kind)

    interval = plan.meter_interval_seconds
    first = (int(start.timestamp()) // interval + 1) * interval
    moments = {
        datetime.fromtimestamp(second, UTC): PointKind.READING
        for second in range(first, int(stop.timestamp()), interval)
    }
    if plan.idle_seconds:
        moments[full] = PointKind.SUSPENDED
    points = [point(start, PointKind.START)]
    points += [point(at, kind) for at, kind in sorted(moments.items())]
    points.append(point(stop, PointKind.STOP))
    return points


@dataclass
class Charge:
    """A charge as it goes: its plan, where it runs, and what happened (newest state)."""

    number: int
    station_id: str
    ocpp_version: str
    evse_uid: str
    plan: ChargePlan
    state: ChargeState = ChargeState.WAITING
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    meter_start_wh: int = 0
    register_wh: int = 0
    transaction_id: str | None = None
    authorization: str | None = None
    """The hub's answer to the driver's token: Accepted, Invalid, Blocked..."""
    messages: int = 0
    error: str | None = None
    remote_start_id: int | None = None
    """2.0.1: the ``remoteStartId`` of the RequestStartTransaction that began it."""
    reservation_id: int | None = None
    """The reservation it used (sent in StartTransaction / TransactionEvent Started)."""
    stop_reason: str | None = None
    """Why it ended: ``EVDisconnected`` (the plan ran out), ``Remote`` (stopped by the CSMS),
    ``DeAuthorized`` (the token was refused)."""

    @property
    def delivered_wh(self) -> int:
        return self.register_wh - self.meter_start_wh if self.started_at else 0

    @property
    def kwh(self) -> Decimal:
        return Decimal(self.delivered_wh) / 1000

    @property
    def finished(self) -> bool:
        """Ended as the driver meant: billable when it delivered energy."""
        return self.state is ChargeState.DONE


class _Handlers16(ChargePoint16):  # type: ignore[misc]
    """CSMS-initiated calls a 1.6 station answers; every one is recorded. The commands a
    station acts on are decided by its :class:`SimulatedCharger` (``owner``) when the call
    arrives and carried out once the answer is sent (``@after``: OCPP 1.6 sends the
    StartTransaction or StopTransaction after the RemoteStart/RemoteStop answer)."""

    received: list[str]
    owner: SimulatedCharger
    decided: dict[str, int]
    """What a call decided (a connector), by its message id, for its ``@after`` handler."""

    @on(Action16.remote_start_transaction)
    def on_remote_start(
        self, id_tag: str, call_unique_id: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        self.received.append("RemoteStartTransaction")
        ocpp_id = self.owner.claim_remote_start(id_tag, connector_id)
        if ocpp_id is None:
            return result16.RemoteStartTransaction(status="Rejected")
        self.decided[call_unique_id] = ocpp_id
        return result16.RemoteStartTransaction(status="Accepted")

    @after(Action16.remote_start_transaction)
    def after_remote_start(self, id_tag: str, call_unique_id: str, **_: Any) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.start_remote(ocpp_id, id_tag)

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self.received.append("RemoteStopTransaction")
        found = self.owner.running_transaction(str(transaction_id)) is not None
        return result16.RemoteStopTransaction(status="Accepted" if found else "Rejected")

    @after(Action16.remote_stop_transaction)
    def after_remote_stop(self, transaction_id: int, **_: Any) -> None:
        self.owner.stop_remote(str(transaction_id))

    @on(Action16.unlock_connector)
    def on_unlock(self, connector_id: int, **_: Any) -> Any:
        self.received.append("UnlockConnector")
        known = connector_id in self.owner.station.ocpp_ids
        return result16.UnlockConnector(status="Unlocked" if known else "NotSupported")

    @on(Action16.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        call_unique_id: str,
        **_: Any,
    ) -> Any:
        self.received.append("ReserveNow")
        status, ocpp_id = self.owner.reserve(
            reservation_id, connector_id or None, id_tag, _parse_stamp(expiry_date)
        )
        if ocpp_id is not None:
            self.decided[call_unique_id] = ocpp_id
        return result16.ReserveNow(status=status)

    @after(Action16.reserve_now)
    def after_reserve_now(self, call_unique_id: str, **_: Any) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.background(self.owner.reserved(ocpp_id), "reserved")

    @on(Action16.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, call_unique_id: str, **_: Any) -> Any:
        self.received.append("CancelReservation")
        ocpp_id = self.owner.cancel_reservation(reservation_id)
        if ocpp_id is None:
            return result16.CancelReservation(status="Rejected")
        self.decided[call_unique_id] = ocpp_id
        return result16.CancelReservation(status="Accepted")

    @after(Action16.cancel_reservation)
    def after_cancel_reservation(self, call_unique_id: str, **_: Any) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.background(self.owner.released(ocpp_id), "released")

    @on(Action16.reset)
    def on_reset(self, **_: Any) -> Any:
        self.received.append("Reset")
        return result16.Reset(status="Accepted")

    @on(Action16.change_availability)
    def on_change_availability(self, **_: Any) -> Any:
        self.received.append("ChangeAvailability")
        return result16.ChangeAvailability(status="Accepted")

    @on(Action16.trigger_message)
    def on_trigger(self, **_: Any) -> Any:
        self.received.append("TriggerMessage")
        return result16.TriggerMessage(status="Accepted")

    @on(Action16.get_configuration)
    def on_get_configuration(self, **_: Any) -> Any:
        self.received.append("GetConfiguration")
        return result16.GetConfiguration(configuration_key=[], unknown_key=[])

    @on(Action16.data_transfer)
    def on_data_transfer(self, **_: Any) -> Any:
        self.received.append("DataTransfer")
        return result16.DataTransfer(status="Rejected")


class _Handlers201(ChargePoint201):  # type: ignore[misc]
    """CSMS-initiated calls a 2.0.1 station answers; every one is recorded (commands: as
    :class:`_Handlers16`)."""

    received: list[str]
    owner: SimulatedCharger
    decided: dict[str, int]

    @on(Action201.request_start_transaction)
    def on_request_start(
        self,
        id_token: dict[str, Any],
        remote_start_id: int,
        call_unique_id: str,
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        self.received.append("RequestStartTransaction")
        ocpp_id = self.owner.claim_remote_start(str(id_token["id_token"]), evse_id)
        if ocpp_id is None:
            return result201.RequestStartTransaction(status="Rejected")
        self.decided[call_unique_id] = ocpp_id
        return result201.RequestStartTransaction(status="Accepted")

    @after(Action201.request_start_transaction)
    def after_request_start(
        self, id_token: dict[str, Any], remote_start_id: int, call_unique_id: str, **_: Any
    ) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.start_remote(
                ocpp_id,
                str(id_token["id_token"]),
                token_type=str(id_token.get("type") or "Central"),
                remote_start_id=remote_start_id,
            )

    @on(Action201.request_stop_transaction)
    def on_request_stop(self, transaction_id: str, **_: Any) -> Any:
        self.received.append("RequestStopTransaction")
        found = self.owner.running_transaction(transaction_id) is not None
        return result201.RequestStopTransaction(status="Accepted" if found else "Rejected")

    @after(Action201.request_stop_transaction)
    def after_request_stop(self, transaction_id: str, **_: Any) -> None:
        self.owner.stop_remote(transaction_id)

    @on(Action201.unlock_connector)
    def on_unlock(self, evse_id: int, connector_id: int, **_: Any) -> Any:
        self.received.append("UnlockConnector")
        known = evse_id in self.owner.station.ocpp_ids and connector_id == 1
        return result201.UnlockConnector(status="Unlocked" if known else "UnknownConnector")

    @on(Action201.reserve_now)
    def on_reserve_now(
        self,
        id: int,
        expiry_date_time: str,
        id_token: dict[str, Any],
        call_unique_id: str,
        evse_id: int | None = None,
        **_: Any,
    ) -> Any:
        self.received.append("ReserveNow")
        status, ocpp_id = self.owner.reserve(
            id, evse_id, str(id_token["id_token"]), _parse_stamp(expiry_date_time)
        )
        if ocpp_id is not None:
            self.decided[call_unique_id] = ocpp_id
        return result201.ReserveNow(status=status)

    @after(Action201.reserve_now)
    def after_reserve_now(self, call_unique_id: str, **_: Any) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.background(self.owner.reserved(ocpp_id), "reserved")

    @on(Action201.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, call_unique_id: str, **_: Any) -> Any:
        self.received.append("CancelReservation")
        ocpp_id = self.owner.cancel_reservation(reservation_id)
        if ocpp_id is None:
            return result201.CancelReservation(status="Rejected")
        self.decided[call_unique_id] = ocpp_id
        return result201.CancelReservation(status="Accepted")

    @after(Action201.cancel_reservation)
    def after_cancel_reservation(self, call_unique_id: str, **_: Any) -> None:
        ocpp_id = self.decided.pop(call_unique_id, None)
        if ocpp_id is not None:
            self.owner.background(self.owner.released(ocpp_id), "released")

    @on(Action201.reset)
    def on_reset(self, **_: Any) -> Any:
        self.received.append("Reset")
        return result201.Reset(status="Accepted")

    @on(Action201.change_availability)
    def on_change_availability(self, **_: Any) -> Any:
        self.received.append("ChangeAvailability")
        return result201.ChangeAvailability(status="Accepted")

    @on(Action201.trigger_message)
    def on_trigger(self, **_: Any) -> Any:
        self.received.append("TriggerMessage")
        return result201.TriggerMessage(status="Accepted")

    @on(Action201.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self.received.append("GetVariables")
        return result201.GetVariables(
            get_variable_result=[
                {
                    "attribute_status": "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                for item in get_variable_data
            ]
        )

    @on(Action201.data_transfer)
    def on_data_transfer(self, **_: Any) -> Any:
        self.received.append("DataTransfer")
        return result201.DataTransfer(status="Rejected")


@dataclass(frozen=True, slots=True)
class Reservation:
    """A reservation a station holds (OCPP 1.6 / 2.0.1 ReserveNow) on one connector (1.6) or
    EVSE (2.0.1) until ``expires_at``, for ``id_tag``."""

    reservation_id: int
    ocpp_id: int
    id_tag: str
    expires_at: datetime


@dataclass(eq=False)
class _Run:
    """A charge under way on a connector/EVSE; ``stop`` ends it early (a remote stop)."""

    charge: Charge
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def _same_tag(a: str, b: str) -> bool:
    """OCPP id tags are case-insensitive (1.6 CiString20; 2.0.1 compares them so too)."""
    return a.casefold() == b.casefold()


def _parse_stamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class SimulatedCharger:
    """One station's connection and state; ``log`` keeps what happened, newest last."""

    station: SimulatedStation
    ws_url: str
    statuses: dict[int, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    heartbeat_interval: int | None = None
    meters: dict[int, int] = field(default_factory=dict)
    """The energy register (Wh) of each connector (1.6) or EVSE (2.0.1)."""
    clock: Callable[[], datetime] = _wall_clock
    """The time the station stamps its status messages with, outside charges, and the clock
    its reservations expire on."""
    remote_profile: ChargeProfile = field(
        default_factory=lambda: ChargeProfile()  # noqa: PLW0108 - defined further down
    )
    """The charge a remote start (RemoteStartTransaction, RequestStartTransaction) runs: the
    car is plugged in already, so it starts at once, on ``remote_clock``."""
    remote_clock: FastForwardClock | None = None
    """The clock of remotely started charges (default: real time, from the moment of the
    start: a fast-forward clock would stamp the charge before the command)."""
    remote_charges: list[Charge] = field(default_factory=list)
    """The remotely started charges, oldest first (kept up to date as they go)."""
    on_remote_charge: Callable[[Charge], None] | None = None
    """Called when a remotely started charge starts and when it ends."""
    reservations: dict[int, Reservation] = field(default_factory=dict)
    """The reservations held, by connector (1.6) or EVSE (2.0.1)."""
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    """How a reservation waits for its expiry (injectable: tests release it by hand)."""
    _socket: ClientConnection | None = None
    _point: Any = None
    _task: asyncio.Task[None] | None = None
    _runs: dict[int, _Run] = field(default_factory=dict)
    _claimed: set[int] = field(default_factory=set)
    """Connectors a remote start was accepted for, whose charge has not begun yet."""
    _expiries: dict[int, asyncio.Task[None]] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def evse_uids(self) -> tuple[str, ...]:
        return self.station.evse_uids

    @property
    def received(self) -> list[str]:
        return list(self._point.received) if self._point is not None else []

    @property
    def v16(self) -> bool:
        return self.station.ocpp_version == "1.6"

    async def connect(self) -> None:
        credentials = f"{self.station.station_id}:{self.station.password}"
        self._socket = await connect(
            f"{self.ws_url}/{self.station.station_id}",
            subprotocols=[Subprotocol(f"ocpp{self.station.ocpp_version}")],
            additional_headers={
                "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()
            },
            open_timeout=30,
        )
        handlers = _Handlers16 if self.v16 else _Handlers201
        self._point = handlers(self.station.station_id, self._socket, response_timeout=30)
        self._point.received = []
        self._point.owner = self
        self._point.decided = {}
        self._task = asyncio.create_task(self._point.start(), name=f"sim-{self.station.station_id}")
        self.log.append("connected")

    async def _call(self, request: Any) -> Any:
        if self._point is None:
            raise RuntimeError(f"{self.station.station_id} is not connected")
        return await self._point.call(request, suppress=False)

    async def boot(self) -> str:
        if self.v16:
            answer = await self._call(
                call16.BootNotification(charge_point_vendor="HubSim", charge_point_model="DC-350")
            )
        else:
            answer = await self._call(
                call201.BootNotification(
                    charging_station={"vendor_name": "HubSim", "model": "DC-400"},
                    reason="PowerUp",
                )
            )
        self.heartbeat_interval = int(answer.interval)
        self.log.append(f"boot {answer.status}")
        return str(answer.status)

    async def heartbeat(self) -> str:
        answer = await self._call(call16.Heartbeat() if self.v16 else call201.Heartbeat())
        return str(answer.current_time)

    async def status(self, ocpp_id: int, status: str, *, at: datetime | None = None) -> None:
        """Report ``status`` for an EVSE (2.0.1) or connector (1.6; 0 = the whole station), as
        of ``at`` (default: the station's clock; 2.0.1 stamps it)."""
        if self.v16:
            await self._call(
                call16.StatusNotification(connector_id=ocpp_id, error_code="NoError", status=status)
            )
        else:
            await self._call(
                call201.StatusNotification(
                    timestamp=_stamp(self.clock()),
                    connector_status=status,
                    evse_id=ocpp_id,
                    connector_id=1,
                )
            )
        if ocpp_id:
            self.statuses[ocpp_id] = status
        self.log.append(f"{ocpp_id}: {status}")

    async def all_available(self) -> None:
        for ocpp_id in self.station.ocpp_ids:
            await self.status(ocpp_id, "Available")

    async def random_step(self, rng: random.Random) -> tuple[int, str]:
        """Move one EVSE/connector to a plausible next status."""
        ocpp_id = rng.choice(self.station.ocpp_ids)
        current = self.statuses.get(ocpp_id, "Available")
        nexts = (NEXT_16 if self.v16 else NEXT_201).get(current, ["Available"])
        status = rng.choice(nexts)
        await self.status(ocpp_id, status)
        return ocpp_id, status

    def evse_uid_of(self, ocpp_id: int) -> str:
        """The OCPI EVSE that connector (1.6) or EVSE (2.0.1) ``ocpp_id`` feeds."""
        index = self.station.ocpp_ids.index(ocpp_id)
        return self.station.evse_uids[index] if index < len(self.station.evse_uids) else ""

    async def charge(
        self,
        plan: ChargePlan,
        clock: FastForwardClock,
        charge: Charge | None = None,
        *,
        start: datetime | None = None,
        claimed: bool = False,
    ) -> Charge:
        """Run one whole charge at ``plan.ocpp_id`` starting at ``start`` (default: the clock's
        now), see the module docstring, keeping ``charge`` up to date as it goes. Each message
        is sent once ``clock`` has reached its time. An EVSE the status walk left in another
        status is reported Available first (the car arrives at a free EVSE). A token the hub
        refuses ends the transaction at once (DeAuthorized). A connector/EVSE that is charging
        already, or reserved for another token, refuses the charge (no message: the station
        would not start it); one reserved for this token uses the reservation. A remote stop of
        its transaction ends it early (Remote). ``claimed``: the connector was taken for this
        charge by an accepted remote start."""
        ocpp_id = plan.ocpp_id
        if charge is None:
            charge = Charge(0, self.station.station_id, self.station.ocpp_version, "", plan)
        charge.evse_uid = charge.evse_uid or self.evse_uid_of(ocpp_id)
        run = _Run(charge)
        try:
            start = (start or clock.now()).replace(microsecond=0)
            await clock.wait_until(start)
            if ocpp_id in self._runs or (ocpp_id in self._claimed and not claimed):
                charge.state, charge.authorization = ChargeState.REFUSED, "Occupied"
                return charge
            held = self.reservations.get(ocpp_id)
            if held is not None and not _same_tag(held.id_tag, plan.token_uid):
                # The station starts no charge for another driver on a reserved connector.
                charge.state, charge.authorization = ChargeState.REFUSED, "Reserved"
                return charge
            self._runs[ocpp_id] = run
            self._claimed.discard(ocpp_id)
            if held is not None:
                self._drop_reservation(held)
                charge.reservation_id = held.reservation_id
            elif self.statuses.get(ocpp_id, "Available") != "Available":
                await self.status(ocpp_id, "Available", at=start)
            meter_start = self.meters.get(ocpp_id, 0)
            timeline = charge_timeline(plan, start, meter_start)
            charge.started_at, charge.meter_start_wh = start, meter_start
            charge.register_wh = meter_start
            if self.v16:
                await self._charge_16(plan, timeline, clock, run)
            else:
                await self._charge_201(plan, timeline, clock, run)
        except Exception as exc:
            charge.state = ChargeState.FAILED
            charge.error = describe_failure(exc)
            raise
        finally:
            if claimed:
                self._claimed.discard(ocpp_id)
            if self._runs.get(ocpp_id) is run:
                del self._runs[ocpp_id]
                self.meters[ocpp_id] = charge.register_wh
        return charge

    async def _reach(self, clock: FastForwardClock, moment: datetime, run: _Run) -> bool:
        """Wait until ``clock`` reaches ``moment``; False if the charge is stopped first."""
        if run.stop.is_set():
            return False
        if clock.real_seconds_until(moment) > 0:
            reached = asyncio.ensure_future(clock.wait_until(moment))
            stopped = asyncio.ensure_future(run.stop.wait())
            try:
                await asyncio.wait({reached, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                reached.cancel()
                stopped.cancel()
        return not run.stop.is_set()

    async def _stopped_at(
        self,
        plan: ChargePlan,
        clock: FastForwardClock,
        run: _Run,
        after: MeterPoint,
        end: MeterPoint,
    ) -> MeterPoint:
        """The meter when a remote stop ends the charge: now on the charge's clock (whole
        seconds), after the last point sent (at least a second: two readings of one moment
        that differ would be conflicting samples), never after the planned end. A stop due
        within the second of the last point waits for the next second."""
        at = min(max(clock.now().replace(microsecond=0), after.at + timedelta(seconds=1)), end.at)
        await clock.wait_until(at)
        assert run.charge.started_at is not None  # noqa: S101 - set before the first message
        return meter_point(
            plan, run.charge.started_at, run.charge.meter_start_wh, at, PointKind.STOP
        )

    async def _charge_16(
        self, plan: ChargePlan, timeline: list[MeterPoint], clock: FastForwardClock, run: _Run
    ) -> None:
        charge = run.charge
        first, *middle, last = timeline
        connector = plan.ocpp_id
        await self.status(connector, "Preparing", at=first.at)
        answer = await self._call(
            call16.StartTransaction(
                connector_id=connector,
                id_tag=plan.token_uid,
                meter_start=first.register_wh,
                timestamp=_stamp(first.at),
                reservation_id=charge.reservation_id,
            )
        )
        charge.messages += 1
        charge.transaction_id = str(answer.transaction_id)
        charge.authorization = str(answer.id_tag_info["status"])
        if charge.authorization != "Accepted":
            await self._stop_16(charge, first, plan.token_uid, "DeAuthorized")
            charge.state = ChargeState.REFUSED
            return
        charge.state = ChargeState.CHARGING
        await self.status(connector, "Charging", at=first.at)
        sent = first
        for point in middle:
            if not await self._reach(clock, point.at, run):
                break
            if point.kind is PointKind.SUSPENDED:
                charge.state = ChargeState.IDLE
                await self.status(connector, "SuspendedEV", at=point.at)
            if point.aligned:
                await self._call(
                    call16.MeterValues(
                        connector_id=connector,
                        transaction_id=int(charge.transaction_id),
                        meter_value=[meter_value_16(point)],
                    )
                )
                charge.messages += 1
            charge.register_wh, sent = point.register_wh, point
        if await self._reach(clock, last.at, run):
            await self._stop_16(charge, last, plan.token_uid, "EVDisconnected")
        else:
            await self._stop_16(
                charge,
                await self._stopped_at(plan, clock, run, sent, last),
                plan.token_uid,
                "Remote",
            )
        charge.state = ChargeState.DONE

    async def _stop_16(self, charge: Charge, point: MeterPoint, id_tag: str, reason: str) -> None:
        await self._call(
            call16.StopTransaction(
                meter_stop=point.register_wh,
                timestamp=_stamp(point.at),
                transaction_id=int(charge.transaction_id or 0),
                reason=reason,
                id_tag=id_tag,
            )
        )
        charge.messages += 1
        charge.register_wh, charge.stopped_at = point.register_wh, point.at
        charge.stop_reason = reason
        await self.status(charge.plan.ocpp_id, "Finishing", at=point.at)
        await self.status(charge.plan.ocpp_id, "Available", at=point.at)

    async def _charge_201(
        self, plan: ChargePlan, timeline: list[MeterPoint], clock: FastForwardClock, run: _Run
    ) -> None:
        charge = run.charge
        first, *middle, last = timeline
        evse = {"id": plan.ocpp_id, "connector_id": 1}
        transaction_id = uuid.uuid4().hex
        charge.transaction_id = transaction_id
        seq_no = 0

        async def event(event_type: str, trigger: str, point: MeterPoint, **info: Any) -> Any:
            nonlocal seq_no
            extra: dict[str, Any] = {}
            if event_type == "Started":
                extra = {
                    "evse": evse,
                    "id_token": {"id_token": plan.token_uid, "type": plan.token_type},
                    "reservation_id": charge.reservation_id,
                }
                if charge.remote_start_id is not None:
                    info["remote_start_id"] = charge.remote_start_id
            answer = await self._call(
                call201.TransactionEvent(
                    event_type=event_type,
                    timestamp=_stamp(point.at),
                    trigger_reason=trigger,
                    seq_no=seq_no,
                    transaction_info={"transaction_id": transaction_id, **info},
                    meter_value=[meter_value_201(point)],
                    **extra,
                )
            )
            seq_no += 1
            charge.messages += 1
            charge.register_wh = point.register_wh
            return answer

        await self.status(plan.ocpp_id, "Occupied", at=first.at)
        trigger = "RemoteStart" if charge.remote_start_id is not None else "Authorized"
        started = await event("Started", trigger, first, charging_state="Charging")
        charge.authorization = str((started.id_token_info or {}).get("status"))
        if charge.authorization != "Accepted":
            refusal = MeterPoint(
                first.at, PointKind.STOP, first.register_wh, 0, first.soc, charging=False
            )
            await event(
                "Ended",
                "Deauthorized",
                refusal,
                charging_state="EVConnected",
                stopped_reason="DeAuthorized",
            )
            charge.stopped_at, charge.stop_reason = first.at, "DeAuthorized"
            charge.state = ChargeState.REFUSED
            await self.status(plan.ocpp_id, "Available", at=first.at)
            return
        charge.state = ChargeState.CHARGING
        sent = first
        for point in middle:
            if not await self._reach(clock, point.at, run):
                break
            if point.kind is PointKind.SUSPENDED:
                charge.state = ChargeState.IDLE
                await event("Updated", "ChargingStateChanged", point, charging_state="SuspendedEV")
            else:
                await event("Updated", "MeterValueClock", point)
            sent = point
        if await self._reach(clock, last.at, run):
            end, trigger, state, reason = last, "EVCommunicationLost", "Idle", "EVDisconnected"
        else:
            end = await self._stopped_at(plan, clock, run, sent, last)
            trigger, state, reason = "RemoteStop", "EVConnected", "Remote"
        await event("Ended", trigger, end, charging_state=state, stopped_reason=reason)
        charge.stopped_at, charge.stop_reason = end.at, reason
        charge.state = ChargeState.DONE
        await self.status(plan.ocpp_id, "Available", at=end.at)

    # --- commands from the CSMS (decided in the handlers, carried out after the answer) --------

    def _free_for(self, ocpp_id: int, id_tag: str | None, replacing: int | None = None) -> bool:
        """Whether a charge (or a reservation) for ``id_tag`` may begin at ``ocpp_id`` now:
        not charging, not taken by an accepted remote start, Available, or reserved for that
        token (``replacing``: a reservation id that is being replaced, which does not count)."""
        if ocpp_id not in self.station.ocpp_ids or ocpp_id in self._runs:
            return False
        if ocpp_id in self._claimed:
            return False
        held = self.reservations.get(ocpp_id)
        if held is not None and held.reservation_id != replacing:
            return id_tag is not None and _same_tag(held.id_tag, id_tag)
        return held is not None or self.statuses.get(ocpp_id, "Available") == "Available"

    def claim_remote_start(self, id_tag: str, ocpp_id: int | None) -> int | None:
        """The connector (1.6) or EVSE (2.0.1) a remote start for ``id_tag`` takes, now taken
        (``ocpp_id`` None: the one reserved for the token, else the first free one); None when
        it is not free (the start is Rejected)."""
        if ocpp_id is None:
            mine = [r.ocpp_id for r in self.reservations.values() if _same_tag(r.id_tag, id_tag)]
            candidates = mine + list(self.station.ocpp_ids)
        else:
            candidates = [ocpp_id]
        chosen = next((c for c in candidates if self._free_for(c, id_tag)), None)
        if chosen is not None:
            self._claimed.add(chosen)
        return chosen

    def start_remote(
        self,
        ocpp_id: int,
        token_uid: str,
        *,
        token_type: str = CARD_TOKEN_TYPE,
        remote_start_id: int | None = None,
    ) -> Charge:
        """Run a charge of ``remote_profile`` for ``token_uid`` at ``ocpp_id`` (claimed by
        :meth:`claim_remote_start`), starting now on ``remote_clock``."""
        plan = replace(self.remote_profile.plan(ocpp_id, token_uid), token_type=token_type)
        charge = Charge(
            len(self.remote_charges) + 1,
            self.station.station_id,
            self.station.ocpp_version,
            self.evse_uid_of(ocpp_id),
            plan,
            remote_start_id=remote_start_id,
        )
        self.remote_charges.append(charge)
        if self.remote_clock is None:
            self.remote_clock = FastForwardClock()
        self.background(self._remote_charge(charge, self.remote_clock), f"remote-{ocpp_id}")
        return charge

    async def _remote_charge(self, charge: Charge, clock: FastForwardClock) -> None:
        notify = self.on_remote_charge or (lambda _: None)
        notify(charge)
        try:
            await self.charge(charge.plan, clock, charge, claimed=True)
        except Exception:
            logger.debug("remote charge at %s failed: %s", self.station.station_id, charge.error)
        notify(charge)

    def running_transaction(self, transaction_id: str) -> Charge | None:
        """The charge under way with that transaction id, if any."""
        run = self._run_of(transaction_id)
        return run.charge if run is not None else None

    def _run_of(self, transaction_id: str) -> _Run | None:
        return next(
            (r for r in self._runs.values() if r.charge.transaction_id == transaction_id), None
        )

    def stop_remote(self, transaction_id: str) -> bool:
        """End the charge of ``transaction_id`` now (reason Remote); False if none runs."""
        run = self._run_of(transaction_id)
        if run is None:
            return False
        run.stop.set()
        return True

    def reserve(
        self, reservation_id: int, ocpp_id: int | None, id_tag: str, expires_at: datetime
    ) -> tuple[str, int | None]:
        """Decide a ReserveNow (``ocpp_id`` None: any connector/EVSE): its status, and the
        connector/EVSE now held (None unless Accepted). A reservation with the id of one held
        replaces it (OCPP 1.6 §5.13, 2.0.1 H01.FR.02)."""
        candidates = list(self.station.ocpp_ids) if ocpp_id is None else [ocpp_id]
        if ocpp_id is not None and ocpp_id not in self.station.ocpp_ids:
            return "Rejected", None
        chosen = next(
            (c for c in candidates if self._free_for(c, None, replacing=reservation_id)), None
        )
        if chosen is None:
            statuses = {self.statuses.get(c, "Available") for c in candidates}
            for status in ("Faulted", "Unavailable"):
                if statuses == {status}:
                    return status, None
            return "Occupied", None
        previous = self._reservation(reservation_id)
        if previous is not None:
            self._drop_reservation(previous)
            if previous.ocpp_id != chosen:
                self.background(self.released(previous.ocpp_id), "reservation-moved")
        self.reservations[chosen] = Reservation(reservation_id, chosen, id_tag, expires_at)
        return "Accepted", chosen

    def _reservation(self, reservation_id: int) -> Reservation | None:
        return next(
            (r for r in self.reservations.values() if r.reservation_id == reservation_id), None
        )

    async def reserved(self, ocpp_id: int) -> None:
        """Report the reservation just accepted (StatusNotification Reserved) and wait for
        its expiry."""
        held = self.reservations.get(ocpp_id)
        if held is None:
            return
        if self.statuses.get(ocpp_id) != "Reserved":
            await self.status(ocpp_id, "Reserved")
        self._expiries[ocpp_id] = self.background(self._expire(held), f"reservation-{ocpp_id}")

    async def _expire(self, held: Reservation) -> None:
        while (left := (held.expires_at - self.clock()).total_seconds()) > 0:
            await self.sleep(left)
        if self.reservations.get(held.ocpp_id) is not held:
            return  # used or cancelled meanwhile
        del self.reservations[held.ocpp_id]
        self._expiries.pop(held.ocpp_id, None)
        if not self.v16:
            await self._call(
                call201.ReservationStatusUpdate(
                    reservation_id=held.reservation_id, reservation_update_status="Expired"
                )
            )
        await self.status(held.ocpp_id, "Available")

    def cancel_reservation(self, reservation_id: int) -> int | None:
        """Drop the reservation ``reservation_id``: the connector/EVSE it held, or None if the
        station holds no such reservation (Rejected)."""
        held = self._reservation(reservation_id)
        if held is None:
            return None
        self._drop_reservation(held)
        return held.ocpp_id

    async def released(self, ocpp_id: int) -> None:
        """Report a connector/EVSE whose reservation ended Available (unless reserved again or
        charging meanwhile)."""
        if ocpp_id not in self.reservations and ocpp_id not in self._runs:
            await self.status(ocpp_id, "Available")

    def _drop_reservation(self, held: Reservation) -> None:
        if self.reservations.get(held.ocpp_id) is held:
            del self.reservations[held.ocpp_id]
        timer = self._expiries.pop(held.ocpp_id, None)
        if timer is not None:
            timer.cancel()

    def background(self, work: Awaitable[None], name: str) -> asyncio.Task[None]:
        """Run ``work`` as a task of the station (cancelled by :meth:`close`); a failure is
        logged in ``log``."""

        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.append(f"{name} failed: {describe_failure(exc)}")

        task = asyncio.create_task(run(), name=f"sim-{self.station.station_id}-{name}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def wait_remote_charges(self) -> None:
        """Wait until every remotely started charge (and every reservation message) is over."""
        pending = [t for t in self._background if t not in self._expiries.values()]
        while pending:
            await asyncio.gather(*pending, return_exceptions=True)
            pending = [t for t in self._background if t not in self._expiries.values()]

    async def close(self) -> None:
        # Cancelled again until done: on Python 3.11 ``asyncio.wait_for`` (inside every
        # ``ocpp`` call) drops a cancellation that lands as the answer arrives, and the charge
        # would then wait for the next meter reading for ever.
        pending = set(self._background)
        while pending:
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.05)
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                logger.debug("station %s closed", self.station.station_id)
        self.log.append("closed")


def reading_context(point: MeterPoint) -> str:
    """The OCPP ``context`` of the meter value taken at ``point``."""
    if point.kind is PointKind.START:
        return "Transaction.Begin"
    if point.kind is PointKind.STOP:
        return "Transaction.End"
    # A reading at a charging-state change: one of 2.0.1's TxUpdated measurands.
    return "Sample.Clock" if point.aligned else "Sample.Periodic"


def meter_value_16(point: MeterPoint) -> dict[str, Any]:
    """The OCPP 1.6 MeterValue at ``point`` (snake_case, as the ``ocpp`` package takes it)."""
    context = reading_context(point)
    return {
        "timestamp": _stamp(point.at),
        "sampled_value": [
            {
                "value": str(point.register_wh),
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {
                "value": str(point.power_w),
                "context": context,
                "measurand": "Power.Active.Import",
                "unit": "W",
            },
            {
                "value": str(point.soc),
                "context": context,
                "measurand": "SoC",
                "location": "EV",
                "unit": "Percent",
            },
        ],
    }


def meter_value_201(point: MeterPoint) -> dict[str, Any]:
    """The OCPP 2.0.1 MeterValue at ``point`` (snake_case)."""
    context = reading_context(point)

    def sampled(value: int, measurand: str, unit: str, **extra: Any) -> dict[str, Any]:
        return {
            "value": value,
            "context": context,
            "measurand": measurand,
            "unit_of_measure": {"unit": unit},
            **extra,
        }

    return {
        "timestamp": _stamp(point.at),
        "sampled_value": [
            sampled(point.register_wh, "Energy.Active.Import.Register", "Wh"),
            sampled(point.power_w, "Power.Active.Import", "W"),
            sampled(point.soc, "SoC", "Percent", location="EV"),
        ],
    }


def fleet_for_network(
    locations: Sequence[dict[str, Any]], password_for: Callable[[str], str]
) -> list[SimulatedStation]:
    """The stations of an OCPI Location list whose EVSEs carry the hub's ``hub_ocpp`` link."""
    found: dict[str, dict[str, Any]] = {}
    for location in locations:
        for evse in location.get("evses", []):
            link = evse.get("hub_ocpp")
            if not link:
                continue
            station = found.setdefault(
                link["charging_station_id"],
                {"version": link.get("ocpp_version") or "2.0.1", "ids": [], "uids": []},
            )
            station["ids"].append(
                link["connector_id"] if station["version"] == "1.6" else link["evse_id"]
            )
            station["uids"].append(evse["uid"])
    return [
        SimulatedStation(
            station_id=station_id,
            password=password_for(station_id),
            ocpp_version=info["version"],
            ocpp_ids=tuple(info["ids"]),
            evse_uids=tuple(info["uids"]),
        )
        for station_id, info in found.items()
    ]


@dataclass
class FleetReport:
    stations: int = 0
    connected: int = 0
    booted: int = 0
    status_notifications: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    connected_ids: list[str] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)

    def charges_in(self, state: ChargeState) -> list[Charge]:
        return [charge for charge in self.charges if charge.state is state]


@dataclass(frozen=True, slots=True)
class ChargeProfile:
    """How the charges of ``hub sim chargers`` go: all alike (simulated seconds, Wh)."""

    charging_seconds: int = 1800
    energy_wh: int = 30_000
    idle_seconds: int = 0
    meter_interval_seconds: int = 60

    def plan(self, ocpp_id: int, token_uid: str) -> ChargePlan:
        return ChargePlan(
            ocpp_id=ocpp_id,
            token_uid=token_uid,
            charging_seconds=self.charging_seconds,
            energy_wh=self.energy_wh,
            idle_seconds=self.idle_seconds,
            meter_interval_seconds=self.meter_interval_seconds,
        )


def describe_failure(exc: BaseException) -> str:
    """Why a simulated station failed, in words (no exception repr)."""
    if isinstance(exc, InvalidStatus):
        code = exc.response.status_code
        meaning = {
            401: "wrong password",
            404: "unknown station: register it (hub chargers add, or --register)",
            429: "too many failed logins: wait, or fix the password",
        }.get(code, "")
        return f"the hub refused the connection with HTTP {code}" + (
            f" ({meaning})" if meaning else ""
        )
    if isinstance(exc, OCPPError):
        return f"the hub answered CallError {exc.code}: {exc.description}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, InvalidURI):
        return f"not a websocket URL: {exc.uri}"
    if isinstance(exc, OSError):
        return str(exc.strerror or exc)
    if isinstance(exc, ConnectionClosed):
        return "the hub closed the connection"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _milestone(done: int, total: int) -> bool:
    """Report every station of a small fleet, every tenth of a large one, and the last."""
    return total <= 20 or done == total or done % max(1, total // 10) == 0


async def run_fleet(
    ws_url: str,
    stations: Sequence[SimulatedStation],
    *,
    duration: float,
    changes_per_second: float = 5.0,
    seed: int = 7,
    connect_concurrency: int = 100,
    on_event: Callable[[SimulatedCharger, str], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    charges: int = 0,
    profile: ChargeProfile | None = None,
    tokens: Sequence[str] = (),
    concurrent: int = 4,
    speed: float = 1.0,
    on_charge: Callable[[Charge], None] | None = None,
) -> FleetReport:
    """Connect and boot every station (bounded concurrency), report all EVSEs Available, then
    make random plausible status changes at ``changes_per_second`` for ``duration`` seconds,
    then run ``charges`` charges of ``profile`` (:func:`run_charges`, ``concurrent`` at once,
    over the fleet's EVSEs in turn, the drivers' ``tokens`` in turn) on a
    :class:`FastForwardClock` running ``speed`` times faster than real time.

    ``on_progress`` gets a line for each milestone (connected n/N, failures, the status-change
    phase, the charges); ``on_event`` each random status change; ``on_charge`` each charge as
    it starts and ends."""
    if charges and not tokens:
        raise ValueError("charges need the drivers' tokens")
    report = FleetReport(stations=len(stations))
    started = time.monotonic()
    gate = asyncio.Semaphore(connect_concurrency)
    chargers: list[SimulatedCharger] = []
    say = on_progress or (lambda _: None)
    total = len(stations)

    async def bring_up(station: SimulatedStation) -> None:
        charger = SimulatedCharger(station, ws_url)
        step = "connect"
        try:
            async with gate:
                await charger.connect()
            report.connected += 1
            report.connected_ids.append(station.station_id)
            if _milestone(report.connected, total):
                say(f"connected {report.connected}/{total}")
            step = "boot"
            await charger.boot()
            report.booted += 1
            step = "report Available"
            await charger.all_available()
            report.status_notifications += len(station.ocpp_ids)
            chargers.append(charger)
        except Exception as exc:
            error = f"{station.station_id}: could not {step}: {describe_failure(exc)}"
            report.errors.append(error)
            say(error)
            if step != "connect":
                await charger.close()

    say(f"connecting {total} stations to {ws_url}")
    await asyncio.gather(*(bring_up(s) for s in stations))
    say(
        f"{report.connected}/{total} connected, {report.booted} booted; "
        + (
            f"status changes for {duration:g} s at {changes_per_second:g}/s"
            if chargers
            else "no station to drive"
        )
    )
    rng = random.Random(seed)
    deadline = time.monotonic() + duration
    while chargers and time.monotonic() < deadline:
        charger = rng.choice(chargers)
        try:
            _, status = await charger.random_step(rng)
            report.status_notifications += 1
            if on_event is not None:
                on_event(charger, status)
        except Exception as exc:
            error = f"{charger.station.station_id}: status change failed: {describe_failure(exc)}"
            report.errors.append(error)
            say(error)
        await asyncio.sleep(1 / changes_per_second)
    if charges and chargers:
        await _fleet_charges(
            report,
            chargers,
            charges,
            profile or ChargeProfile(),
            tokens,
            concurrent,
            speed,
            say,
            on_charge,
        )
    await asyncio.gather(*(c.close() for c in chargers))
    report.seconds = time.monotonic() - started
    return report


async def _fleet_charges(
    report: FleetReport,
    chargers: Sequence[SimulatedCharger],
    count: int,
    profile: ChargeProfile,
    tokens: Sequence[str],
    concurrent: int,
    speed: float,
    say: Callable[[str], None],
    on_charge: Callable[[Charge], None] | None,
) -> None:
    slots = charge_slots(sorted(chargers, key=lambda c: c.station.station_id))
    assignments = [
        (slots[i % len(slots)][0], profile.plan(slots[i % len(slots)][1], tokens[i % len(tokens)]))
        for i in range(count)
    ]
    starts = charge_schedule(assignments, concurrent=concurrent)
    clock = replay_clock(assignments, starts, speed)
    power_kw = profile.energy_wh * 3.6 / profile.charging_seconds
    say(
        f"{count} charges, {min(concurrent, count)} at a time: {profile.charging_seconds / 60:g}"
        f" min at {power_kw:.0f} kW ({profile.energy_wh / 1000:g} kWh)"
        + (f" + {profile.idle_seconds / 60:g} min plugged in idle" if profile.idle_seconds else "")
        + f", meter values every {profile.meter_interval_seconds} s"
        + (
            f"; {speed:g}x real time, stamped from {_stamp(clock.now())} on"
            if speed > 1
            else "; in real time"
        )
    )

    def changed(charge: Charge) -> None:
        if charge.state in {ChargeState.DONE, ChargeState.REFUSED, ChargeState.FAILED}:
            say(_charge_line(charge))
        if on_charge is not None:
            on_charge(charge)

    report.charges = await run_charges(
        assignments, concurrent=concurrent, clock=clock, on_change=changed
    )
    for charge in report.charges_in(ChargeState.FAILED):
        report.errors.append(f"{charge.station_id}: charge {charge.number} failed: {charge.error}")


def _charge_line(charge: Charge) -> str:
    where = f"charge {charge.number} at {charge.evse_uid or charge.station_id}"
    if charge.state is ChargeState.DONE:
        return (
            f"{where}: {charge.kwh} kWh, {charge.plan.seconds / 60:g} min, transaction "
            f"{charge.transaction_id}"
        )
    if charge.state is ChargeState.REFUSED:
        return f"{where}: the hub answered {charge.authorization} for token {charge.plan.token_uid}"
    return f"{where}: failed: {charge.error}"


def charge_slots(chargers: Sequence[SimulatedCharger]) -> list[tuple[SimulatedCharger, int]]:
    """Every (charger, connector or EVSE) of the fleet, spread over stations: the first one of
    each station, then the second of each, and so on (consecutive charges go to different
    stations)."""
    slots: list[tuple[int, int, SimulatedCharger, int]] = []
    for order, charger in enumerate(chargers):
        for index, ocpp_id in enumerate(charger.station.ocpp_ids):
            slots.append((index, order, charger, ocpp_id))
    return [(charger, ocpp_id) for _, _, charger, ocpp_id in sorted(slots, key=lambda s: s[:2])]


def charge_schedule(
    assignments: Sequence[tuple[SimulatedCharger, ChargePlan]],
    *,
    concurrent: int,
    stagger_seconds: float | None = None,
) -> list[int]:
    """When each charge starts, in whole seconds after the first: charge ``i`` is due
    ``i * stagger_seconds`` after the first (default: the longest charge over ``concurrent``, a
    steady flow), and starts then or once its EVSE is free and fewer than ``concurrent``
    charges run, whichever is later (all in the chargers' time). Charges start in their order
    (a queue of drivers), so a charge waiting for its EVSE holds up the ones after it."""
    if concurrent < 1:
        raise ValueError("concurrent must be at least 1")
    if stagger_seconds is None:
        longest = max((plan.seconds for _, plan in assignments), default=0)
        stagger_seconds = longest / concurrent
    running: list[int] = []  # end times of the charges running, a heap
    evse_free: dict[tuple[str, int], int] = {}
    starts: list[int] = []
    for index, (charger, plan) in enumerate(assignments):
        key = (charger.station.station_id, plan.ocpp_id)
        # In order: with starts never going back, the charges running when one starts are
        # the most that run at any moment of it, which the heap of end times counts.
        start = max(
            math.ceil(index * stagger_seconds), evse_free.get(key, 0), starts[-1] if starts else 0
        )
        while running and running[0] <= start:
            heapq.heappop(running)
        if len(running) >= concurrent:
            start = max(start, heapq.heappop(running))
            while running and running[0] <= start:
                heapq.heappop(running)
        heapq.heappush(running, start + plan.seconds)
        evse_free[key] = start + plan.seconds
        starts.append(start)
    return starts


def replay_clock(
    assignments: Sequence[tuple[SimulatedCharger, ChargePlan]],
    starts: Sequence[int],
    speed: float,
) -> FastForwardClock:
    """A clock for replaying charges that start at ``starts``: at ``speed`` 1 the charges run
    now, in real time; faster, the clock starts as far before now as the charges last (and a
    minute), so that they end at about the time the replay does and never after it."""
    span = max(
        (s + plan.seconds for s, (_, plan) in zip(starts, assignments, strict=True)), default=0
    )
    return FastForwardClock(speed=speed, lead_seconds=span + 60 if speed > 1 else 0)


async def run_charges(
    assignments: Sequence[tuple[SimulatedCharger, ChargePlan]],
    *,
    concurrent: int,
    speed: float = 1.0,
    stagger_seconds: float | None = None,
    clock: FastForwardClock | None = None,
    charges: Sequence[Charge] | None = None,
    on_change: Callable[[Charge], None] | None = None,
) -> list[Charge]:
    """Run every planned charge on the timetable of :func:`charge_schedule`, on a
    :func:`replay_clock` of ``speed`` (or ``clock``): a charge's timestamps come from the
    timetable, and each message is sent once the clock has reached its time, so a hub that
    answers slower than the replay runs delays the messages, never changes their times. At most
    ``concurrent`` charges send at once, and one at a time per EVSE. A charge that fails (the
    hub closed the socket, an OCPP error) is recorded as FAILED with its reason; the others go
    on. ``charges`` (one per assignment) are the objects to keep up to date, so a live view can
    watch them; ``on_change`` is called when a charge starts and when it ends."""
    starts = charge_schedule(assignments, concurrent=concurrent, stagger_seconds=stagger_seconds)
    clock = clock or replay_clock(assignments, starts, speed)
    if charges is None:
        charges = [
            Charge(
                number,
                charger.station.station_id,
                charger.station.ocpp_version,
                charger.evse_uid_of(plan.ocpp_id),
                plan,
            )
            for number, (charger, plan) in enumerate(assignments, start=1)
        ]
    gate = asyncio.Semaphore(concurrent)
    evse_locks: dict[tuple[str, int], asyncio.Lock] = {}
    origin = clock.now().replace(microsecond=0)
    notify = on_change or (lambda _: None)

    async def one(charger: SimulatedCharger, plan: ChargePlan, charge: Charge, at: int) -> None:
        start = origin + timedelta(seconds=at)
        await clock.wait_until(start)
        lock = evse_locks.setdefault((charger.station.station_id, plan.ocpp_id), asyncio.Lock())
        async with lock, gate:
            notify(charge)
            try:
                await charger.charge(plan, clock, charge, start=start)
            except Exception:
                logger.debug("charge %s failed: %s", charge.number, charge.error)
            notify(charge)

    await asyncio.gather(
        *(
            one(charger, plan, charge, at)
            for (charger, plan), charge, at in zip(assignments, charges, starts, strict=True)
        )
    )
    return list(charges)
