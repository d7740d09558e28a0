"""Simulated charging stations speaking OCPP-J 1.6 and 2.0.1 with the ``ocpp`` package.

Used by ``hub sim chargers``, ``hub demo``, the tests and the benchmarks. A station connects to
``{ws_url}/{station_id}`` with HTTP Basic auth, boots, reports statuses and answers the calls a
CSMS may send (remote start/stop, reset, availability, trigger, configuration, data transfer).
OCPP 1.6 stations report per connector (each connector is one OCPI EVSE); 2.0.1 stations per
EVSE (connector 1). A 2.0.1 station has no station-level status message: it reports each EVSE.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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

    async def status(self, ocpp_id: int, status: str) -> None:
        """Report ``status`` for an EVSE (2.0.1) or connector (1.6; 0 = the whole station)."""
        if self.v16:
            await self._call(
                call16.StatusNotification(connector_id=ocpp_id, error_code="NoError", status=status)
            )
        else:
            await self._call(
                call201.StatusNotification(
                    timestamp=_now(), connector_status=status, evse_id=ocpp_id, connector_id=1
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

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            try:
                await self._task
            except Exception:
                logger.debug("station %s closed", self.station.station_id)
        self.log.append("closed")


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
) -> FleetReport:
    """Connect and boot every station (bounded concurrency), report all EVSEs Available, then
    make random plausible status changes at ``changes_per_second`` for ``duration`` seconds.

    ``on_progress`` gets a line for each milestone (connected n/N, failures, the status-change
    phase); ``on_event`` each random status change."""
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
    await asyncio.gather(*(c.close() for c in chargers))
    report.seconds = time.monotonic() - started
    return report
