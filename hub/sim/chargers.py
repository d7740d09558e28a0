"""Simulated charging stations speaking OCPP-J 1.6 and 2.0.1 with the ``ocpp`` package.

Used by ``hub sim chargers``, ``hub demo``, the tests and the benchmarks. A station connects to
``{ws_url}/{station_id}`` with HTTP Basic auth, boots, reports statuses and answers the calls a
CSMS may send (remote start/stop, reset, availability, trigger, configuration, data transfer).
OCPP 1.6 stations report per connector (each connector is one OCPI EVSE); 2.0.1 stations per
EVSE (connector 1). A 2.0.1 station has no station-level status message: it reports each EVSE.

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import on
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
        charged = min((at - start).total_seconds(), plan.charging_seconds)
        delivered = plan.energy_wh * int(charged) // plan.charging_seconds
        charging = at < full
        soc = min(100, plan.start_soc + 100 * delivered // plan.battery_wh)
        aligned = int(at.timestamp()) % plan.meter_interval_seconds == 0
        power = plan.power_w if charging and kind is not PointKind.STOP else 0
        return MeterPoint(at, kind, meter_start_wh + delivered, power, soc, charging, aligned)

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
    """CSMS-initiated calls a 1.6 station answers; every one is recorded."""

    received: list[str]

    @on(Action16.remote_start_transaction)
    def on_remote_start(self, **_: Any) -> Any:
        self.received.append("RemoteStartTransaction")
        return result16.RemoteStartTransaction(status="Accepted")

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, **_: Any) -> Any:
        self.received.append("RemoteStopTransaction")
        return result16.RemoteStopTransaction(status="Accepted")

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
    """CSMS-initiated calls a 2.0.1 station answers; every one is recorded."""

    received: list[str]

    @on(Action201.request_start_transaction)
    def on_request_start(self, **_: Any) -> Any:
        self.received.append("RequestStartTransaction")
        return result201.RequestStartTransaction(status="Accepted")

    @on(Action201.request_stop_transaction)
    def on_request_stop(self, **_: Any) -> Any:
        self.received.append("RequestStopTransaction")
        return result201.RequestStopTransaction(status="Accepted")

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
    """The time the station stamps its status messages with, outside charges."""
    _socket: ClientConnection | None = None
    _point: Any = None
    _task: asyncio.Task[None] | None = None

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
    ) -> Charge:
        """Run one whole charge at ``plan.ocpp_id`` starting at ``start`` (default: the clock's
        now), see the module docstring, keeping ``charge`` up to date as it goes. Each message
        is sent once ``clock`` has reached its time. An EVSE the status walk left in another
        status is reported Available first (the car arrives at a free EVSE). A token the hub
        refuses ends the transaction at once (DeAuthorized)."""
        ocpp_id = plan.ocpp_id
        if charge is None:
            charge = Charge(0, self.station.station_id, self.station.ocpp_version, "", plan)
        charge.evse_uid = charge.evse_uid or self.evse_uid_of(ocpp_id)
        try:
            start = (start or clock.now()).replace(microsecond=0)
            await clock.wait_until(start)
            if self.statuses.get(ocpp_id, "Available") != "Available":
                await self.status(ocpp_id, "Available", at=start)
            meter_start = self.meters.get(ocpp_id, 0)
            timeline = charge_timeline(plan, start, meter_start)
            charge.started_at, charge.meter_start_wh = start, meter_start
            charge.register_wh = meter_start
            if self.v16:
                await self._charge_16(plan, timeline, clock, charge)
            else:
                await self._charge_201(plan, timeline, clock, charge)
        except Exception as exc:
            charge.state = ChargeState.FAILED
            charge.error = describe_failure(exc)
            raise
        finally:
            self.meters[ocpp_id] = charge.register_wh
        return charge

    async def _charge_16(
        self, plan: ChargePlan, timeline: list[MeterPoint], clock: FastForwardClock, charge: Charge
    ) -> None:
        first, *middle, last = timeline
        connector = plan.ocpp_id
        await self.status(connector, "Preparing", at=first.at)
        answer = await self._call(
            call16.StartTransaction(
                connector_id=connector,
                id_tag=plan.token_uid,
                meter_start=first.register_wh,
                timestamp=_stamp(first.at),
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
        for point in middle:
            await clock.wait_until(point.at)
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
            charge.register_wh = point.register_wh
        await clock.wait_until(last.at)
        await self._stop_16(charge, last, plan.token_uid, "EVDisconnected")
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
        await self.status(charge.plan.ocpp_id, "Finishing", at=point.at)
        await self.status(charge.plan.ocpp_id, "Available", at=point.at)

    async def _charge_201(
        self, plan: ChargePlan, timeline: list[MeterPoint], clock: FastForwardClock, charge: Charge
    ) -> None:
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
                    "id_token": {"id_token": plan.token_uid, "type": "ISO14443"},
                }
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
        started = await event("Started", "Authorized", first, charging_state="Charging")
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
            charge.stopped_at = first.at
            charge.state = ChargeState.REFUSED
            await self.status(plan.ocpp_id, "Available", at=first.at)
            return
        charge.state = ChargeState.CHARGING
        for point in middle:
            await clock.wait_until(point.at)
            if point.kind is PointKind.SUSPENDED:
                charge.state = ChargeState.IDLE
                await event("Updated", "ChargingStateChanged", point, charging_state="SuspendedEV")
            else:
                await event("Updated", "MeterValueClock", point)
        await clock.wait_until(last.at)
        await event(
            "Ended",
            "EVCommunicationLost",
            last,
            charging_state="Idle",
            stopped_reason="EVDisconnected",
        )
        charge.stopped_at = last.at
        charge.state = ChargeState.DONE
        await self.status(plan.ocpp_id, "Available", at=last.at)

    async def close(self) -> None:
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
