"""Stations that act on remote starts, for the commands benchmark, in one process, driven over
stdin.

    python -m tests.benchmarks.command_swarm WS_URL PASSWORD STATIONS HOLD_SECONDS

connects stations ``BS00000`` .. (:func:`tests.benchmarks.session_swarm.is_v201`: every fifth
on OCPP 2.0.1, the rest on 1.6; one EVSE each), each reading its socket in one loop (the
answers to its own CALLs, one outstanding at a time as OCPP-J asks, and the hub's CALLs),
prints ``connected N SECONDS``, then obeys commands read from stdin, one per line, each
answered by one line:

* ``boot``: every station sends BootNotification and StatusNotification(Available):
  ``boot MESSAGES SECONDS ERRORS``;
* ``report PATH``: writes what was measured as JSON (see :meth:`CommandSwarm.report`);
* ``quit``.

All along, as the simulated chargers of ``hub.sim.chargers`` do: a RemoteStartTransaction
(1.6) or RequestStartTransaction (2.0.1) for a free EVSE is answered Accepted at once and the
transaction starts at once (the car is plugged in): StartTransaction with the ``idTag``, or
TransactionEvent Started (trigger RemoteStart) with the ``idToken`` and
``transactionInfo.remoteStartId``; HOLD_SECONDS later the car leaves (StopTransaction,
TransactionEvent Ended, EVDisconnected). A start for a busy EVSE is Rejected; any other call
gets a CallError NotImplemented. These raw-frame stations are lighter than the ``ocpp``
package's (no schema validation), so one process keeps up with the hub.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.benchmarks.session_swarm import energy, is_v201, stamp
from tests.benchmarks.station_swarm import BOOT_16, BOOT_201

ANSWER_TIMEOUT = 60.0
STARTS = ("RemoteStartTransaction", "RequestStartTransaction")


class CommandStation:
    def __init__(self, number: int, socket: ClientConnection, *, v16: bool) -> None:
        self.number = number
        self.socket = socket
        self.v16 = v16
        self.busy = False
        self.sent = 0
        self.transactions = 0
        self._lock = asyncio.Lock()
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}

    async def request(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL (one at a time) and return its CALLRESULT or CALLERROR frame."""
        async with self._lock:
            self.sent += 1
            unique_id = str(self.sent)
            answer: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
            self._pending[unique_id] = answer
            try:
                await self.socket.send(json.dumps([2, unique_id, action, payload]))
                return await asyncio.wait_for(answer, ANSWER_TIMEOUT)
            finally:
                self._pending.pop(unique_id, None)

    async def read(self, swarm: CommandSwarm) -> None:
        try:
            async for message in self.socket:
                frame = json.loads(message)
                if frame[0] == 2:
                    await swarm.on_call(self, frame)
                elif (answer := self._pending.get(frame[1])) is not None and not answer.done():
                    answer.set_result(list(frame))
        except ConnectionClosed:
            return


class CommandSwarm:
    def __init__(self, stations: list[CommandStation], hold_seconds: float) -> None:
        self.stations = stations
        self.hold_seconds = hold_seconds
        self.answer_times: list[float] = []
        """Seconds from a remote start's arrival to its answer sent (the charger's own)."""
        self.latencies: defaultdict[str, list[float]] = defaultdict(list)
        """The hub's answer time per message the stations sent."""
        self.errors: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.rejected = 0
        self.started = 0
        self.stopped = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def call(
        self, station: CommandStation, action: str, label: str, payload: dict[str, Any]
    ) -> list[Any] | None:
        began = time.perf_counter()
        try:
            frame = await station.request(action, payload)
        except TimeoutError:
            self.errors[f"{label} (no answer in {ANSWER_TIMEOUT:.0f} s)"] += 1
            return None
        except ConnectionClosed:
            self.errors[f"{label} (socket closed)"] += 1
            return None
        self.latencies[label].append(time.perf_counter() - began)
        if frame[0] != 3:
            self.errors[f"{label} (CALLERROR {frame[2]})"] += 1
            return None
        return frame

    async def on_call(self, station: CommandStation, frame: list[Any]) -> None:
        arrived = time.perf_counter()
        _, unique_id, action, payload = frame
        self.calls[action] += 1
        if action not in STARTS:
            await station.socket.send(json.dumps([4, unique_id, "NotImplemented", "", {}]))
            return
        free = not station.busy
        station.busy = True
        status = "Accepted" if free else "Rejected"
        await station.socket.send(json.dumps([3, unique_id, {"status": status}]))
        self.answer_times.append(time.perf_counter() - arrived)
        if not free:
            self.rejected += 1
            return
        task = asyncio.create_task(self.charge(station, payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def charge(self, station: CommandStation, command: dict[str, Any]) -> None:
        try:
            began = time.time()
            meter_start = 1_000_000 + station.number
            if station.v16:
                frame = await self.call(
                    station,
                    "StartTransaction",
                    "StartTransaction",
                    {
                        "connectorId": 1,
                        "idTag": command["idTag"],
                        "meterStart": meter_start,
                        "timestamp": stamp(began),
                    },
                )
                transaction_id = frame[2].get("transactionId") if frame else None
            else:
                station.transactions += 1
                transaction_id = f"CT-{station.number}-{station.transactions}"
                frame = await self.call(
                    station,
                    "TransactionEvent",
                    "TransactionEvent Started",
                    {
                        "eventType": "Started",
                        "timestamp": stamp(began),
                        "triggerReason": "RemoteStart",
                        "seqNo": 0,
                        "transactionInfo": {
                            "transactionId": transaction_id,
                            "remoteStartId": command["remoteStartId"],
                            "chargingState": "Charging",
                        },
                        "evse": {"id": 1, "connectorId": 1},
                        "idToken": command["idToken"],
                        "meterValue": [energy(began, meter_start, v16=False, power=False)],
                    },
                )
            if frame is None or transaction_id is None:
                return
            self.started += 1
            await asyncio.sleep(self.hold_seconds)
            ended = time.time()
            meter_stop = meter_start + 100 + int(self.hold_seconds * 50)
            if station.v16:
                await self.call(
                    station,
                    "StopTransaction",
                    "StopTransaction",
                    {
                        "transactionId": transaction_id,
                        "meterStop": meter_stop,
                        "timestamp": stamp(ended),
                        "reason": "EVDisconnected",
                    },
                )
            else:
                await self.call(
                    station,
                    "TransactionEvent",
                    "TransactionEvent Ended",
                    {
                        "eventType": "Ended",
                        "timestamp": stamp(ended),
                        "triggerReason": "EVCommunicationLost",
                        "seqNo": 1,
                        "transactionInfo": {
                            "transactionId": transaction_id,
                            "stoppedReason": "EVDisconnected",
                        },
                        "meterValue": [energy(ended, meter_stop, v16=False, power=False)],
                    },
                )
            self.stopped += 1
        finally:
            station.busy = False

    async def boot(self) -> str:
        gate = asyncio.Semaphore(100)

        async def one(station: CommandStation) -> int:
            async with gate:
                errors = 0
                boot = BOOT_16 if station.v16 else BOOT_201
                errors += await self.call(station, "BootNotification", "boot", boot) is None
                status = (
                    {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
                    if station.v16
                    else {
                        "timestamp": stamp(time.time()),
                        "connectorStatus": "Available",
                        "evseId": 1,
                        "connectorId": 1,
                    }
                )
                errors += await self.call(station, "StatusNotification", "boot", status) is None
                return errors

        began = time.monotonic()
        errors = sum(await asyncio.gather(*(one(s) for s in self.stations)))
        self.latencies.pop("boot", None)
        return f"boot {2 * len(self.stations)} {time.monotonic() - began:.2f} {errors}"

    def report(self, path: str) -> str:
        """``answer_times``: the charger's answer to each remote start (s); ``latencies``:
        message -> the hub's answer times (s); ``errors``; ``calls``: the hub's CALLs by
        action; counts of starts rejected (EVSE busy), transactions started and stopped."""
        Path(path).write_text(
            json.dumps(
                {
                    "answer_times": self.answer_times,
                    "latencies": self.latencies,
                    "errors": self.errors,
                    "calls": self.calls,
                    "rejected": self.rejected,
                    "started": self.started,
                    "stopped": self.stopped,
                }
            )
        )
        return f"report {path}"


async def open_station(
    url: str, password: str, number: int, gate: asyncio.Semaphore
) -> CommandStation:
    station_id = f"BS{number:05d}"
    auth = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    v16 = not is_v201(number)
    async with gate:
        socket = await connect(
            f"{url}/ocpp/{station_id}",
            subprotocols=[Subprotocol("ocpp1.6" if v16 else "ocpp2.0.1")],
            additional_headers={"Authorization": f"Basic {auth}"},
            open_timeout=120,
            ping_interval=None,
        )
    return CommandStation(number, socket, v16=v16)


async def main(argv: list[str]) -> None:
    url, password, count, hold = argv[0], argv[1], int(argv[2]), float(argv[3])
    gate = asyncio.Semaphore(200)
    began = time.monotonic()
    stations = await asyncio.gather(*(open_station(url, password, n, gate) for n in range(count)))
    swarm = CommandSwarm(list(stations), hold)
    readers = [asyncio.create_task(s.read(swarm)) for s in stations]
    print(f"connected {len(stations)} {time.monotonic() - began:.2f}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "boot":
            reply = await swarm.boot()
        elif line[0] == "report":
            reply = swarm.report(line[1])
        else:
            reply = f"unknown {line[0]}"
        print(reply, flush=True)
    for task in [*swarm.tasks, *readers]:
        task.cancel()
    await asyncio.gather(*(s.socket.close() for s in stations), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
