"""Minimal eMSP Locations receivers for the push benchmark, run in their own process.

``python -m tests.benchmarks.receivers PORT [PORT ...]`` serves one receiver per port. Every
PUT/PATCH is answered at once and its arrival time recorded; ``GET /stats`` returns, per EVSE
status PATCH, the wall-clock arrival time keyed by path and status.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import uvicorn
from litestar import Litestar, Request, get, route

OK = {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}


def receiver() -> Litestar:
    arrivals: list[tuple[str, str, float]] = []

    @route("/ocpi/2.2.1/locations/{rest:path}", http_method=["PUT", "PATCH"], status_code=200)
    async def push(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await request.json()
        if request.method == "PATCH":
            arrivals.append((request.url.path, str(body.get("status")), time.time()))
        return OK

    @get("/stats", sync_to_thread=False)
    def stats() -> list[tuple[str, str, float]]:
        return arrivals

    return Litestar(route_handlers=[push, stats])


async def main(ports: list[int]) -> None:
    servers = [
        uvicorn.Server(uvicorn.Config(receiver(), host="127.0.0.1", port=p, log_level="error"))
        for p in ports
    ]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    asyncio.run(main([int(p) for p in sys.argv[1:]]))
