"""The eMSP of the commands benchmark, in its own process, driven over stdin: it POSTs
START_SESSION commands to the hub and takes their CommandResults at response URLs of its own.

    python -m tests.benchmarks.command_emsp HUB_URL TOKEN PORT COUNTRY PARTY EVSES_JSON

listens on ``PORT`` (``POST /ocpi/2.2.1/commands/START_SESSION/{n}``: the result of command
``n``, its arrival time taken by ``time.time()`` as it comes), prints ``listening``, then obeys
commands read from stdin, one per line, each answered by one line:

* ``run RATE SECONDS``: START_SESSION ``n`` is POSTed at ``n / RATE`` seconds, each at its due
  time whatever the earlier ones' answers (an open loop, as the apps of many drivers behave),
  for an APP_USER token of its own (uid ``BENCHAPP{n}``, authorization_reference ``B{n}``) at
  the EVSEs of EVSES_JSON (``[[location_id, evse_uid], ...]``) in turn: ``run SENT SECONDS
  ERRORS`` once every POST is answered;
* ``wait LIMIT QUIET``: until every ACCEPTED command has its result, nothing came for QUIET
  seconds, or LIMIT seconds passed: ``wait RESULTS SECONDS``;
* ``report PATH``: per command ``[n, due, responded, response, results, sent]`` (times by
  ``time.time()``: ``sent`` later than ``due`` when :data:`IN_FLIGHT` POSTs were under way;
  ``results``: ``[[result, arrival], ...]``) as JSON;
* ``quit``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, post
from litestar.params import FromPath

OK = {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
IN_FLIGHT = 64
"""POSTs in flight at most (connections to the hub): a command due while all are busy waits
here, and its latency still counts from its due time. (httpx's pool spends CPU on every
queued request: thousands queued in it starve this process's own result receiver.)"""


class BenchEmsp:
    def __init__(
        self, hub_url: str, token: str, port: int, party: tuple[str, str], evses: list[Any]
    ) -> None:
        self.url = f"{hub_url}/ocpi/2.2.1/commands/START_SESSION"
        self.headers = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
        self.base = f"http://127.0.0.1:{port}"
        self.party = party
        self.evses = evses
        self.commands: dict[int, list[Any]] = {}
        self.results: dict[int, list[list[Any]]] = {}
        self.errors = 0
        self.last_result = time.monotonic()

    def app(self) -> Litestar:
        emsp = self

        @post("/ocpi/2.2.1/commands/START_SESSION/{n:int}", status_code=200)
        async def result(request: Request[Any, Any, Any], n: FromPath[int]) -> dict[str, Any]:
            body = await request.json()
            emsp.results.setdefault(n, []).append([str(body.get("result")), time.time()])
            emsp.last_result = time.monotonic()
            return OK

        return Litestar(route_handlers=[result], logging_config=None)

    def body(self, n: int) -> dict[str, Any]:
        location_id, evse_uid = self.evses[n % len(self.evses)]
        uid = f"BENCHAPP{n:07d}"
        return {
            "response_url": f"{self.base}/ocpi/2.2.1/commands/START_SESSION/{n}",
            "token": {
                "country_code": self.party[0],
                "party_id": self.party[1],
                "uid": uid,
                "type": "APP_USER",
                "contract_id": f"{self.party[0]}-{self.party[1]}-C{n:08d}",
                "issuer": "Bench app",
                "valid": True,
                "whitelist": "NEVER",
                "last_updated": "2026-11-01T00:00:00Z",
            },
            "location_id": location_id,
            "evse_uid": evse_uid,
            "authorization_reference": f"B{n}",
        }

    async def post(self, http: httpx.AsyncClient, n: int, gate: asyncio.Semaphore) -> None:
        due = time.time()
        record = self.commands[n] = [n, due, None, None, None]
        async with gate:
            record[4] = time.time()
            try:
                answer = await http.post(self.url, json=self.body(n), headers=self.headers)
                envelope = answer.json()
                record[3] = (envelope.get("data") or {}).get("result") or (
                    f"HTTP {answer.status_code} / {envelope.get('status_code')}"
                )
            except (httpx.HTTPError, ValueError) as exc:
                self.errors += 1
                record[3] = type(exc).__name__
            record[2] = time.time()

    async def run(self, http: httpx.AsyncClient, rate: float, seconds: float) -> str:
        loop = asyncio.get_running_loop()
        began = loop.time()
        first = len(self.commands)
        tasks = []
        gate = asyncio.Semaphore(IN_FLIGHT)
        for index in range(int(rate * seconds)):
            ahead = began + index / rate - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            tasks.append(asyncio.create_task(self.post(http, first + index, gate)))
        await asyncio.gather(*tasks)
        return f"run {len(tasks)} {loop.time() - began:.2f} {self.errors}"

    async def wait(self, limit: float, quiet: float) -> str:
        began = time.monotonic()
        while True:
            expected = {n for n, c in self.commands.items() if c[3] == "ACCEPTED"}
            now = time.monotonic()
            if expected <= self.results.keys() or now - began > limit:
                break
            if now - max(self.last_result, began) > quiet:
                break
            await asyncio.sleep(0.2)
        got = sum(len(r) for r in self.results.values())
        return f"wait {got} {time.monotonic() - began:.2f}"

    def report(self, path: str) -> str:
        rows = [[*c[:4], self.results.get(n, []), c[4]] for n, c in sorted(self.commands.items())]
        Path(path).write_text(json.dumps({"commands": rows}))
        return f"report {path}"


async def main(argv: list[str], evses: list[Any]) -> None:
    hub_url, token, port = argv[0], argv[1], int(argv[2])
    party = (argv[3], argv[4])
    emsp = BenchEmsp(hub_url, token, port, party, evses)
    server = uvicorn.Server(
        uvicorn.Config(emsp.app(), host="127.0.0.1", port=port, log_level="error")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn's Server offers no event
        await asyncio.sleep(0.05)
    print("listening", flush=True)
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "run":
                reply = await emsp.run(http, float(line[1]), float(line[2]))
            elif line[0] == "wait":
                reply = await emsp.wait(float(line[1]), float(line[2]))
            elif line[0] == "report":
                reply = emsp.report(line[1])
            else:
                reply = f"unknown {line[0]}"
            print(reply, flush=True)
    server.should_exit = True
    await serving


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:], json.loads(Path(sys.argv[6]).read_text())))
