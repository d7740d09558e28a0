"""Minimal eMSP receivers for the push benchmarks, run in their own process.

``python -m tests.benchmarks.receivers PORT [PORT ...]`` serves one receiver per port. Every
push is answered at once and its arrival time (``time.time()``, the same clock as the process
that caused it on this machine) recorded:

* Locations PUT/PATCH: ``GET /stats`` returns, per EVSE status PATCH, the arrival time keyed
  by path and status (bench_locations).
* Sessions PUT/PATCH are counted (and the arrival of each final PUT kept); CDR POSTs are
  answered 201 with a ``Location``, a second POST of the same CDR id 2001 (as an eMSP that
  refuses duplicates would) and kept apart (bench_sessions). ``GET /sessions-cdrs/counts``
  returns the counts (cheap to poll) and ``GET /cdrs/arrivals`` every CDR as
  ``[id, evse_uid, start_date_time, arrival]``, the duplicates as ``[id, arrival]`` and the
  arrival of every final session PUT.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import uvicorn
from litestar import Litestar, Request, Response, get, post, route

OK = {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
FINAL = {"COMPLETED", "INVALID"}
DUPLICATE = {"status_code": 2001, "status_message": "CDR exists", "timestamp": OK["timestamp"]}


def receiver(port: int = 0) -> Litestar:
    arrivals: list[tuple[str, str, float]] = []
    cdrs: dict[str, tuple[str, str, str, float]] = {}
    duplicate_cdrs: list[tuple[str, float]] = []
    session_paths: set[str] = set()
    final_puts: list[float] = []
    counts = {"session_puts": 0, "session_patches": 0}

    @route("/ocpi/2.2.1/locations/{rest:path}", http_method=["PUT", "PATCH"], status_code=200)
    async def push(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await request.json()
        if request.method == "PATCH":
            arrivals.append((request.url.path, str(body.get("status")), time.time()))
        return OK

    @get("/stats", sync_to_thread=False)
    def stats() -> list[tuple[str, str, float]]:
        return arrivals

    @route("/ocpi/2.2.1/sessions/{rest:path}", http_method=["PUT", "PATCH"], status_code=200)
    async def session(request: Request[Any, Any, Any]) -> dict[str, Any]:
        if request.method == "PUT":
            body = await request.json()
            counts["session_puts"] += 1
            session_paths.add(request.url.path)
            if body.get("status") in FINAL:
                final_puts.append(time.time())
        else:
            await request.body()
            counts["session_patches"] += 1
        return OK

    @post("/ocpi/2.2.1/cdrs", status_code=201)
    async def cdr(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        body = await request.json()
        at = time.time()
        cdr_id = str(body.get("id"))
        if cdr_id in cdrs:
            duplicate_cdrs.append((cdr_id, at))
            return Response(DUPLICATE, status_code=200)
        location = body.get("cdr_location") or {}
        cdrs[cdr_id] = (cdr_id, str(location.get("evse_uid")), str(body.get("start_date_time")), at)
        where = f"http://127.0.0.1:{port}/ocpi/2.2.1/cdrs/{cdr_id}"
        return Response(OK, status_code=201, headers={"Location": where})

    @get("/sessions-cdrs/counts", sync_to_thread=False)
    def session_counts() -> dict[str, int]:
        return {
            **counts,
            "sessions": len(session_paths),
            "cdrs": len(cdrs),
            "duplicate_cdrs": len(duplicate_cdrs),
        }

    @get("/cdrs/arrivals", sync_to_thread=False)
    def cdr_arrivals() -> dict[str, Any]:
        return {
            "cdrs": list(cdrs.values()),
            "duplicates": duplicate_cdrs,
            "final_session_puts": final_puts,
        }

    return Litestar(route_handlers=[push, stats, session, cdr, session_counts, cdr_arrivals])


async def main(ports: list[int]) -> None:
    servers = [
        uvicorn.Server(uvicorn.Config(receiver(p), host="127.0.0.1", port=p, log_level="error"))
        for p in ports
    ]
    await asyncio.gather(*(server.serve() for server in servers))


if __name__ == "__main__":
    asyncio.run(main([int(p) for p in sys.argv[1:]]))
