"""Real servers on 127.0.0.1 for end-to-end tests: the hub as a process, ASGI apps in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tests.support.cli_process import CLI_SERVER

FIRST_PORT = 20000
"""Test servers listen below the kernel's ephemeral range (32768-60999 on Linux by default).
A port the kernel hands out (``bind(0)``) is also what it gives the next outgoing connection
of any process, and between our probe and the server's bind one took it now and then: the
test then talked to whatever answered there (seen as a versions GET without ``data``)."""
PORTS_PER_PROCESS = 1000
_ports = itertools.count()


def _band() -> int:
    """Each pytest-xdist worker gets a band of its own (1, 2, ...), so two workers never pick
    the same port; a pytest without workers takes one of bands 6-11 by its pid, so that a few
    run side by side (engineers sharing a machine) seldom meet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:]) + 1
    return 6 + os.getpid() % 6


def free_port() -> int:
    """A port of this process's band that nothing listens on now (taken in turn, so a port a
    previous test's server just left is not handed out again at once)."""
    first = FIRST_PORT + _band() * PORTS_PER_PROCESS
    for _ in range(PORTS_PER_PROCESS):
        port = first + next(_ports) % PORTS_PER_PROCESS
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {first}-{first + PORTS_PER_PROCESS - 1}")


def wait_until_up(
    url: str, timeout: float = 30.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} was up")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} not up after {timeout}s")


class _PromptServer(uvicorn.Server):
    """uvicorn's server, which stops as soon as it is told to: uvicorn's own main loop looks
    at ``should_exit`` every 0.1 s, and the suite starts and stops some thousand servers."""

    _loop: asyncio.AbstractEventLoop | None = None
    _wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000  # as uvicorn counts its ticks
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections or self.server_state.tasks or sockets:
            await super().shutdown(sockets)
            return
        # Nothing to let finish (uvicorn would still give the connections 0.1 s): close the
        # listening sockets and end the application.
        for server in self.servers:
            server.close()
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def stop(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # its loop closed already
                loop.call_soon_threadsafe(wake.set)


@contextlib.contextmanager
def asgi_server(app: Any, port: int | None = None, **config: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL. ``config``: more
    ``uvicorn.Config`` arguments (``hub serve``'s websocket protocol, ping interval)."""
    port = port or free_port()
    server = _PromptServer(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **config
        )
    )
    thread = threading.Thread(target=server.run, name=f"asgi-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"test server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)


def hub_environment(database_url: str, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_DATABASE__URL=database_url,
        HUB_SERVER__HOST="127.0.0.1",
        HUB_SERVER__PORT=str(port),
        HUB_OCPI__PUBLIC_URL=f"http://127.0.0.1:{port}",
        HUB_OCPI__PARTNER_TIMEOUT_SECONDS="5",
        # The local authorization list pass calls every station after its boot; tests whose
        # raw stations answer calls one by one would read its frames (tests/e2e/
        # test_ocpp_local_lists.py drives the pass itself).
        HUB_LOCAL_LIST__ENABLED="false",
        # One process, as on SQLite, unless a test asks for workers (tests/e2e/test_workers.py).
        HUB_SERVER__WORKERS="1",
    )
    return env


def run_hub_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``hub ARGS`` as the operator would, in its own process (forked from a server that
    has the platform imported: tests.support.cli_process)."""
    return CLI_SERVER.run(env, *args)


@contextlib.contextmanager
def hub_process(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``hub serve`` in its own process; yields its base URL."""
    port = env["HUB_SERVER__PORT"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{base_url}/health", process=process)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
