"""Password guessing against the OCPP handshake (prints figures; not a test).

    .venv/bin/python -m tests.benchmarks.bench_ocpp_auth [--attempts 200] [--database-url URL]

Starts ``hub serve`` on a fresh database with one station, then opens ``--attempts`` websocket
handshakes in a row from 127.0.0.1 with wrong passwords, as a password guesser would. Prints
the attempts per second, the HTTP answers by status, and how many attempts had their password
actually checked (every answer except 429 Too Many Requests), then whether the right password
is accepted right after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from hub.persistence import migrations
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.services.stations import StationService
from tests.support.servers import free_port, hub_environment, wait_until_up

STATION = "GUESSED-1"
PASSWORD = "the-right-password-0123456789"


async def seed(url: str) -> None:
    engine = create_engine(url)
    async with session_scope(create_session_factory(engine)) as session:
        await StationService(session).add(STATION, PASSWORD)
    await dispose_engine(engine)


async def attempt(ws_url: str, password: str) -> int:
    token = base64.b64encode(f"{STATION}:{password}".encode()).decode()
    try:
        async with connect(
            f"{ws_url}/ocpp/{STATION}",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {token}"},
            open_timeout=10,
        ):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def guess(ws_url: str, attempts: int) -> None:
    answers: collections.Counter[int] = collections.Counter()
    started = time.perf_counter()
    for number in range(attempts):
        answers[await attempt(ws_url, f"wrong-password-{number:08d}")] += 1
    elapsed = time.perf_counter() - started
    checked = sum(n for status, n in answers.items() if status != 429)
    print(f"{attempts} wrong passwords in {elapsed:.2f}s: {attempts / elapsed:.0f} attempts/s")
    print(f"answers: {dict(sorted(answers.items()))}")
    print(f"passwords checked: {checked} ({checked / elapsed:.1f} guesses/s)")
    print(f"right password right after: HTTP {await attempt(ws_url, PASSWORD)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'auth.db'}"
        migrations.upgrade(url)
        asyncio.run(seed(url))
        port = free_port()
        env = {**hub_environment(url, port), "HUB_PUSH__ENABLED": "false"}
        with (Path(tmp) / "hub.log").open("wb") as log:
            hub = subprocess.Popen(
                [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=log
            )
            try:
                wait_until_up(f"http://127.0.0.1:{port}/health", process=hub)
                asyncio.run(guess(f"ws://127.0.0.1:{port}", args.attempts))
            finally:
                hub.terminate()
                hub.wait(timeout=10)


if __name__ == "__main__":
    main()
