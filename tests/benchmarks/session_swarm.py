"""Stations charging cars for the sessions benchmark, in one process, driven over stdin.

    python -m tests.benchmarks.session_swarm WS_URL PASSWORD STATIONS EMSPS TOKENS METER_SECONDS

connects stations ``BS00000`` .. (:func:`is_v201`: every fifth on OCPP 2.0.1, the rest on 1.6;
each serves one EVSE, runs one charge at a time and has one CALL outstanding at a time, as
OCPP-J asks), prints ``connected N SECONDS``, then obeys commands read from stdin, one per
line, each answered by one line:

* ``boot``: every station sends BootNotification and StatusNotification(Available):
  ``boot MESSAGES SECONDS ERRORS``;
* ``fill N``: charges start on random free stations until N are open, at most
  :data:`FILL_IN_FLIGHT` starts in flight: ``fill STARTED SECONDS ERRORS ACCEPTED_TOTAL``;
* ``steady SECONDS RATE``: RATE random open charges stop and RATE charges start on random free
  stations per second, each at its due time whatever the earlier ones' answers (an open loop,
  as independent chargers behave): ``steady ANSWERED SECONDS ACCEPTED_TOTAL`` (ANSWERED: every
  answer received in the window);
* ``burst``: every open charge stops at once: ``burst STOPS SECONDS ERRORS``;
* ``report PATH``: writes what was measured as JSON (see :meth:`SessionSwarm.report`);
* ``quit``.

An open charge sends its meter values every METER_SECONDS (the first after a random part of
it): MeterValues on 1.6, TransactionEvent(Updated) on 2.0.1. Each charge presents a random one
of the TOKENS tokens of each of the EMSPS eMSPs (:func:`token_uid`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.exceptions import ConnectionClosed

from tests.benchmarks.station_swarm import Station, open_station

ANSWER_TIMEOUT = 60.0
"""Seconds a station waits for an answer before it counts the CALL as failed (a charger would
send it again; these stations do not, and the hub still records what it answers late)."""
FILL_IN_FLIGHT = 100
POWER_W = 150_000
"""Every car charges at 150 kW (2.5 kWh per minute: every meter value moves the session by more
than the hub's PATCH step, so each one is PATCHed to the eMSP)."""


def is_v201(number: int) -> bool:
    return number % 5 == 4


def token_uid(emsp: int, index: int) -> str:
    """The uid of token ``index`` of eMSP ``emsp`` (the benchmark stores them, whitelist
    ALWAYS: decided by the hub, no eMSP asked)."""
    return f"BT{emsp:02d}{index:06d}"


def stamp(moment: float) -> str:
    """``moment`` (``time.time()``) as a charger writes it, to the millisecond."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


class Pool:
    """Station numbers, taken out at random in constant time."""

    def __init__(self, items: list[int] | None = None) -> None:
        self.items = list(items or [])
        self.places = {item: place for place, item in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.items)

    def add(self, item: int) -> None:
        self.places[item] = len(self.items)
        self.items.append(item)

    def take(self, chosen: random.Random) -> int | None:
        if not self.items:
            return None
        item = self.items[chosen.randrange(len(self.items))]
        last = self.items.pop()
        if last != item:
            place = self.places[item]
            self.items[place] = last
            self.places[last] = place
        del self.places[item]
        return item

    def take_all(self) -> list[int]:
        items, self.items, self.places = self.items, [], {}
        return items


class Charge:
    """One car charging at one station."""

    def __init__(self, station: Station, began: float, transaction_id: Any) -> None:
        self.station = station
        self.began = began
        self.start_stamp = stamp(began)
        self.transaction_id = transaction_id
        self.meter_start = 1_000_000 + station.number
        self.seq_no = 0
        self.stop = asyncio.Event()
        self.stop_asked_at = 0.0
        self.stop_phase = ""
        self.finished = asyncio.Event()

    def wh(self, moment: float) -> int:
        # At least 100 Wh: every charge is billable, however short.
        return self.meter_start + 100 + int((moment - self.began) * POWER_W / 3600)


def energy(moment: float, wh: int, *, v16: bool, power: bool) -> dict[str, Any]:
    unit = {"unit": "Wh"} if v16 else {"unitOfMeasure": {"unit": "Wh"}}
    sampled: list[dict[str, Any]] = [
        {"value": str(wh) if v16 else wh, "measurand": "Energy.Active.Import.Register", **unit}
    ]
    if power:
        watt = {"unit": "W"} if v16 else {"unitOfMeasure": {"unit": "W"}}
        sampled.append(
            {"value": str(POWER_W) if v16 else POWER_W, "measurand": "Power.Active.Import", **watt}
        )
    return {"timestamp": stamp(moment), "sampledValue": sampled}


def transaction_event(
    event_type: str, charge: Charge, moment: float, trigger: str, **extra: Any
) -> dict[str, Any]:
    info: dict[str, Any] = {"transactionId": charge.transaction_id, **extra.pop("info", {})}
    payload = {
        "eventType": event_type,
        "timestamp": stamp(moment),
        "triggerReason": trigger,
        "seqNo": charge.seq_no,
        "transactionInfo": info,
        "meterValue": [energy(moment, charge.wh(moment), v16=False, power=True)],
        **extra,
    }
    charge.seq_no += 1
    return payload


class SessionSwarm:
    def __init__(self, stations: list[Station], tokens: list[str], meter_seconds: float) -> None:
        self.stations = stations
        self.tokens = tokens
        self.meter_seconds = meter_seconds
        self.chosen = random.Random(7)
        self.free = Pool(list(range(len(stations))))
        self.stoppable = Pool()
        self.charges: dict[int, Charge] = {}
        self.phase = "idle"
        self.latencies: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(
            lambda: defaultdict(list)
        )
        self.errors: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.stops: list[list[Any]] = []
        self.stop_waits: defaultdict[str, list[float]] = defaultdict(list)
        self.accepted = 0
        self.answered = 0
        self.skipped_starts = 0
        self.transactions = 0
        self.tasks: set[asyncio.Task[None]] = set()

    # --- one CALL -----------------------------------------------------------------------------

    async def call(
        self, station: Station, action: str, label: str, payload: dict[str, Any]
    ) -> list[Any] | None:
        """The CALLRESULT of ``action``, or None (CALLERROR, timeout, socket gone: counted)."""
        phase = self.phase
        started = time.perf_counter()
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                frame = await station.request(action, payload)
        except TimeoutError:
            self.errors[phase][f"{label} (no answer in {ANSWER_TIMEOUT:.0f} s)"] += 1
            return None
        except ConnectionClosed:
            self.errors[phase][f"{label} (socket closed)"] += 1
            return None
        self.answered += 1
        self.latencies[phase][label].append(time.perf_counter() - started)
        if frame[0] != 3:
            self.errors[phase][f"{label} (CALLERROR {frame[2]})"] += 1
            return None
        return frame

    # --- one charge ---------------------------------------------------------------------------

    def spawn(self, number: int, gate: asyncio.Semaphore | None = None) -> asyncio.Future[bool]:
        started: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self.charge(number, started, gate))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return started

    async def charge(
        self, number: int, started: asyncio.Future[bool], gate: asyncio.Semaphore | None
    ) -> None:
        station = self.stations[number]
        try:
            async with gate or contextlib.nullcontext():
                charge = await self.start(station)
        except BaseException:
            started.set_result(False)
            raise
        started.set_result(charge is not None)
        if charge is None:
            self.free.add(number)
            return
        self.accepted += 1
        self.charges[number] = charge
        self.stoppable.add(number)
        loop = asyncio.get_running_loop()
        next_meter = loop.time() + self.chosen.uniform(0, self.meter_seconds)
        while not charge.stop.is_set():
            remaining = next_meter - loop.time()
            if remaining > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(charge.stop.wait(), remaining)
                continue
            await self.meter(charge)
            next_meter += self.meter_seconds
        await self.finish(charge)
        del self.charges[number]
        charge.finished.set()
        self.free.add(number)

    async def start(self, station: Station) -> Charge | None:
        began = time.time()
        token = self.chosen.choice(self.tokens)
        if station.v16:
            charge = Charge(station, began, None)
            payload = {
                "connectorId": 1,
                "idTag": token,
                "meterStart": charge.meter_start,
                "timestamp": charge.start_stamp,
            }
            frame = await self.call(station, "StartTransaction", "StartTransaction", payload)
            if frame is None:
                return None
            status = (frame[2].get("idTagInfo") or {}).get("status")
            charge.transaction_id = frame[2].get("transactionId")
        else:
            self.transactions += 1
            charge = Charge(station, began, f"BT-{station.number}-{self.transactions}")
            payload = transaction_event(
                "Started",
                charge,
                began,
                "Authorized",
                evse={"id": 1, "connectorId": 1},
                idToken={"idToken": token, "type": "ISO14443"},
                info={"chargingState": "Charging"},
            )
            frame = await self.call(
                station, "TransactionEvent", "TransactionEvent Started", payload
            )
            if frame is None:
                return None
            status = (frame[2].get("idTokenInfo") or {}).get("status")
        if status != "Accepted":
            self.errors[self.phase][f"start answered {status}"] += 1
            return None
        return charge

    async def meter(self, charge: Charge) -> None:
        station, now = charge.station, time.time()
        if station.v16:
            payload = {
                "connectorId": 1,
                "transactionId": charge.transaction_id,
                "meterValue": [energy(now, charge.wh(now), v16=True, power=True)],
            }
            await self.call(station, "MeterValues", "MeterValues", payload)
        else:
            payload = transaction_event("Updated", charge, now, "MeterValuePeriodic")
            await self.call(station, "TransactionEvent", "TransactionEvent Updated", payload)

    async def finish(self, charge: Charge) -> None:
        station = charge.station
        self.stop_waits[charge.stop_phase].append(time.monotonic() - charge.stop_asked_at)
        sent = time.time()
        if station.v16:
            payload = {
                "transactionId": charge.transaction_id,
                "meterStop": charge.wh(sent),
                "timestamp": stamp(sent),
                "reason": "EVDisconnected",
            }
            frame = await self.call(station, "StopTransaction", "StopTransaction", payload)
        else:
            payload = transaction_event(
                "Ended",
                charge,
                sent,
                "EVCommunicationLost",
                info={"stoppedReason": "EVDisconnected"},
            )
            frame = await self.call(station, "TransactionEvent", "TransactionEvent Ended", payload)
        self.stops.append(
            [charge.stop_phase, station.number, charge.start_stamp, sent, frame is not None]
        )

    def ask_stop(self, number: int) -> Charge:
        charge = self.charges[number]
        charge.stop_asked_at = time.monotonic()
        charge.stop_phase = self.phase
        charge.stop.set()
        return charge

    # --- commands -----------------------------------------------------------------------------

    async def boot(self) -> str:
        self.phase = "boot"
        gate = asyncio.Semaphore(FILL_IN_FLIGHT)

        async def one(station: Station) -> tuple[int, int]:
            async with gate:
                return await station.storm()

        started = time.monotonic()
        results = await asyncio.gather(*(one(s) for s in self.stations))
        self.phase = "idle"
        messages, errors = sum(r[0] for r in results), sum(r[1] for r in results)
        return f"boot {messages} {time.monotonic() - started:.2f} {errors}"

    async def fill(self, target: int) -> str:
        self.phase = "fill"
        gate = asyncio.Semaphore(FILL_IN_FLIGHT)
        began = time.monotonic()
        wanted = max(0, target - len(self.charges))
        numbers = [n for n in (self.free.take(self.chosen) for _ in range(wanted)) if n is not None]
        outcomes = await asyncio.gather(*(self.spawn(n, gate) for n in numbers))
        self.phase = "idle"
        started = sum(outcomes)
        failed = len(outcomes) - started
        return f"fill {started} {time.monotonic() - began:.2f} {failed} {self.accepted}"

    async def steady(self, seconds: float, rate: float) -> str:
        self.phase = "steady"
        loop = asyncio.get_running_loop()
        answered_before = self.answered
        began = loop.time()
        count = int(seconds * rate)
        for index in range(count):
            ahead = began + index / rate - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            stopping = self.stoppable.take(self.chosen)
            if stopping is not None:
                self.ask_stop(stopping)
            number = self.free.take(self.chosen)
            if number is None:
                self.skipped_starts += 1
            else:
                self.spawn(number)
        if (ahead := began + count / rate - loop.time()) > 0:
            await asyncio.sleep(ahead)
        window = loop.time() - began
        self.phase = "idle"
        answered = self.answered - answered_before
        return f"steady {answered} {window:.2f} {self.accepted}"

    async def burst(self) -> str:
        self.phase = "burst"
        charges = [self.ask_stop(number) for number in self.stoppable.take_all()]
        errors_before = sum(self.errors["burst"].values())
        began = time.monotonic()
        try:
            async with asyncio.timeout(600):
                await asyncio.gather(*(charge.finished.wait() for charge in charges))
        except TimeoutError:
            pass
        seconds = time.monotonic() - began
        self.phase = "idle"
        errors = sum(self.errors["burst"].values()) - errors_before
        return f"burst {len(charges)} {seconds:.2f} {errors}"

    def report(self, path: str) -> str:
        """``latencies``: phase -> message -> answer latencies (s); ``errors``: phase ->
        message -> count; ``stops``: [phase, station number, start timestamp sent, time.time()
        the stop was sent, answered]; ``stop_waits``: phase -> seconds from the decision to
        stop to the stop's sending (an earlier CALL of the station still unanswered)."""
        Path(path).write_text(
            json.dumps(
                {
                    "latencies": self.latencies,
                    "errors": self.errors,
                    "stops": self.stops,
                    "stop_waits": self.stop_waits,
                    "skipped_starts": self.skipped_starts,
                    "open": len(self.charges),
                }
            )
        )
        return f"report {path}"


async def main(argv: list[str]) -> None:
    url, password = argv[0], argv[1]
    count, emsps, tokens, meter_seconds = int(argv[2]), int(argv[3]), int(argv[4]), float(argv[5])
    gate = asyncio.Semaphore(200)
    began = time.monotonic()
    stations = await asyncio.gather(
        *(open_station(url, password, n, gate, v16=not is_v201(n)) for n in range(count))
    )
    print(f"connected {len(stations)} {time.monotonic() - began:.2f}", flush=True)
    swarm = SessionSwarm(
        list(stations),
        [token_uid(e, i) for e in range(emsps) for i in range(tokens)],
        meter_seconds,
    )
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "boot":
            reply = await swarm.boot()
        elif line[0] == "fill":
            reply = await swarm.fill(int(line[1]))
        elif line[0] == "steady":
            reply = await swarm.steady(float(line[1]), float(line[2]))
        elif line[0] == "burst":
            reply = await swarm.burst()
        elif line[0] == "report":
            reply = swarm.report(line[1])
        else:
            reply = f"unknown {line[0]}"
        print(reply, flush=True)
    for task in list(swarm.tasks):
        task.cancel()
    await asyncio.gather(*(s.socket.close() for s in stations), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
