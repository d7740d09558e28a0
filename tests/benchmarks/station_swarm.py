"""A swarm of raw OCPP-J stations in one process, driven by the OCPP benchmark over stdin.

``python -m tests.benchmarks.station_swarm WS_URL PASSWORD FIRST COUNT`` connects stations
``BS{FIRST}`` .. ``BS{FIRST+COUNT-1}`` (every fifth one on OCPP 1.6, the rest on 2.0.1), prints
``connected N SECONDS``, then obeys commands read from stdin, one per line:

* ``storm``: every station sends BootNotification then two StatusNotifications of its connector
  (Unavailable while it starts, then Available) at once; prints ``storm MESSAGES SECONDS ERRORS``;
* ``load SECONDS``: every station sends Heartbeats back to back; prints ``load ANSWERED SECONDS``;
* ``quit``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import sys
import time
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

BOOT_16 = {"chargePointVendor": "Bench", "chargePointModel": "Swarm"}
BOOT_201 = {"reason": "PowerUp", "chargingStation": {"vendorName": "Bench", "model": "Swarm"}}


CONNECT_ATTEMPTS = 20


def is_v16(number: int) -> bool:
    return number % 5 == 0


class Station:
    def __init__(
        self, number: int, socket: ClientConnection, *, v16: bool | None = None, attempts: int = 1
    ) -> None:
        self.number = number
        self.socket = socket
        self.attempts = attempts  # connection attempts it took (refusals to come back first)
        self.v16 = is_v16(number) if v16 is None else v16
        self.sent = 0

    async def request(self, action: str, payload: dict[str, Any]) -> list[Any]:
        """Send a CALL and return its answer (CALLRESULT or CALLERROR). Frames that answer
        nothing of ours (a CALL from the hub, an answer to a call given up on) are skipped."""
        self.sent += 1
        unique_id = str(self.sent)
        await self.socket.send(json.dumps([2, unique_id, action, payload]))
        while True:
            frame = json.loads(await self.socket.recv())
            if frame[0] in (3, 4) and frame[1] == unique_id:
                return list(frame)

    async def call(self, action: str, payload: dict[str, Any]) -> bool:
        return bool((await self.request(action, payload))[0] == 3)

    async def storm(self) -> tuple[int, int]:
        errors = 0
        if self.v16:
            errors += not await self.call("BootNotification", BOOT_16)
        else:
            errors += not await self.call("BootNotification", BOOT_201)
        for state in ("Unavailable", "Available"):
            if self.v16:
                status = {"connectorId": 1, "errorCode": "NoError", "status": state}
            else:
                status = {
                    "timestamp": "2026-11-24T00:00:00Z",
                    "connectorStatus": state,
                    "evseId": 1,
                    "connectorId": 1,
                }
            errors += not await self.call("StatusNotification", status)
        return 3, errors

    async def load(self, until: float) -> int:
        answered = 0
        while time.monotonic() < until:
            answered += await self.call("Heartbeat", {})
        return answered


async def open_station(
    url: str,
    password: str,
    number: int,
    gate: asyncio.Semaphore,
    *,
    v16: bool | None = None,
    source: str | None = None,
) -> Station:
    """Station ``BS{number}`` connected; ``v16`` picks its protocol (default: :func:`is_v16`)."""
    station_id = f"BS{number:05d}"
    auth = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    v16 = is_v16(number) if v16 is None else v16
    protocol = "ocpp1.6" if v16 else "ocpp2.0.1"
    for attempt in range(1, CONNECT_ATTEMPTS + 1):
        async with gate:
            try:
                socket = await connect(
                    f"{url}/ocpp/{station_id}",
                    subprotocols=[Subprotocol(protocol)],
                    additional_headers={"Authorization": f"Basic {auth}"},
                    open_timeout=120,
                    ping_interval=None,
                    max_queue=4,
                    # One source address has some 28,000 ephemeral ports towards one server
                    # address: more stations need more (loopback has 127.0.0.0/8).
                    **({"local_addr": (source, 0)} if source else {}),
                )
                return Station(number, socket, v16=v16, attempts=attempt)
            except InvalidStatus as refused:
                # Told to come back (503: the hub's database was busy; 429): as chargers do,
                # after a random pause, so that the retries do not arrive together.
                if refused.response.status_code not in (429, 503) or attempt == CONNECT_ATTEMPTS:
                    raise
        await asyncio.sleep(random.uniform(1.0, 5.0))
    raise AssertionError("unreachable")  # pragma: no cover


async def main(url: str, password: str, first: int, count: int, source: str | None) -> None:
    gate = asyncio.Semaphore(200)
    started = time.monotonic()
    stations = await asyncio.gather(
        *(open_station(url, password, n, gate, source=source) for n in range(first, first + count))
    )
    retried = sum(1 for s in stations if s.attempts > 1)
    print(f"connected {len(stations)} {time.monotonic() - started:.2f} {retried}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
        if not line or line[0] == "quit":
            break
        if line[0] == "storm":
            started = time.monotonic()
            results = await asyncio.gather(*(s.storm() for s in stations))
            messages = sum(r[0] for r in results)
            errors = sum(r[1] for r in results)
            print(f"storm {messages} {time.monotonic() - started:.2f} {errors}", flush=True)
        elif line[0] == "load":
            started = time.monotonic()
            until = started + float(line[1])
            answered = sum(await asyncio.gather(*(s.load(until) for s in stations)))
            print(f"load {answered} {time.monotonic() - started:.2f}", flush=True)
    await asyncio.gather(*(s.socket.close() for s in stations), return_exceptions=True)


if __name__ == "__main__":
    source = sys.argv[5] if len(sys.argv) > 5 else None  # the source address of its sockets
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), source))
