"""``hub serve``: one process, or a supervisor of several worker processes on the same port.

**One process** (SQLite, or ``--workers 1``): uvicorn runs the application in this process.

**Several workers** (PostgreSQL): this process only supervises. Each worker binds the public
address itself with ``SO_REUSEPORT``, so the kernel spreads new connections over the workers by
a hash of their addresses (on Linux; a shared inherited socket would hand most of a reconnect
storm to whichever process happened to be idle, and one process is limited to its open-file
limit of sockets). A worker holds the websockets it accepted; everything else is shared through
the database claims (push jobs, commands, token pulls), so any worker does any of it.

A call for a station must reach the worker holding its socket. Every worker therefore also
listens on an address of its own (``HUB_SERVER__WORKER_HOST``, a free port or
``HUB_SERVER__WORKER_PORTS_FROM`` + its slot) and records it as its node URL on the stations it
holds; the forwarding path of ``hub.ocpp.commands`` does the rest, exactly as between nodes.

A worker that ends (crash, ``kill -9``, out of memory) loses only its sockets: the stations
reconnect, and the kernel gives their new connections to the workers still listening; the
supervisor starts a worker in its place. SIGINT or SIGTERM stops the workers gracefully (each
closes its sockets and finishes its requests), then the supervisor ends.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from hub.config import Settings

logger = logging.getLogger("hub.serve")

# A worker that dies within this many seconds of its start, this many times in a row, is not
# started again: it cannot start (a port taken, a setting it refuses), and a tight restart
# loop would only fill the log.
QUICK_DEATH_SECONDS = 10.0
QUICK_DEATHS_TOLERATED = 5
RESTART_PAUSE_SECONDS = 1.0


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def worker_count(settings: Settings, cores: int | None = None) -> int:
    """How many processes ``hub serve`` runs: the setting, else one per core on PostgreSQL
    and one on SQLite. Several on SQLite is a ``ValueError`` saying why."""
    requested = settings.server.workers
    if is_sqlite(settings.database.url):
        if requested not in (None, 1):
            raise ValueError(
                f"SQLite is the single-process embedded database: `hub serve` runs one process "
                f"on it (workers {requested} asked); run several workers on PostgreSQL"
            )
        return 1
    return requested or cores or os.cpu_count() or 1


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def listening_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` and listening, as uvicorn would bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def tune_garbage_collector(threshold: int) -> None:
    """Collect Python's youngest generation every ``threshold`` allocations (0: leave the
    default), the next one every 20 of those.

    Measured with 30,000 stations on two workers: at Python's default each worker spent 26 s
    of a 92 s reconnect storm collecting, 20 s of it in six full collections of 3.4 s each
    (every object of 15,000 connections scanned, the event loop stopped meanwhile); at 50,000
    no full collection ran and the storm took 79 s. The objects of a message live a few
    milliseconds: collected less often, they are freed by reference counting before a
    collection promotes them to the old generation."""
    if threshold:
        gc.set_threshold(threshold, 20, 10)


def serve_in_this_process(settings: Settings, sockets: list[socket.socket] | None = None) -> None:
    """Run the application under uvicorn here until SIGINT/SIGTERM."""
    import uvicorn

    from hub import logs
    from hub.app import create_app
    from hub.ocpp.transport import uvicorn_options

    tune_garbage_collector(settings.server.gc_threshold)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        timeout_graceful_shutdown=round(settings.server.graceful_shutdown_seconds),
        **logs.uvicorn_log_options(settings.log_level),
        **uvicorn_options(settings.ocpp),
    )
    uvicorn.Server(config).run(sockets=sockets)


def run_worker(settings: Settings, slot: int) -> None:
    """A worker process (the target of the supervisor's ``spawn``): the public address shared
    with the other workers, its own address for forwarded station calls."""
    from hub import logs

    # A group of its own: a Ctrl-C at the terminal reaches the supervisor only, which stops the
    # workers one signal each (a second signal would make uvicorn skip its graceful shutdown).
    os.setpgrp()
    _end_with_the_supervisor(os.getppid())
    logs.configure_logging(settings.log_level, settings.log_format)
    server = settings.server
    public = listening_socket(server.host, server.port, reuse_port=True)
    own_port = server.worker_ports_from + slot if server.worker_ports_from else 0
    own = listening_socket(server.worker_host, own_port, reuse_port=False)
    node_url = f"http://{url_host(server.worker_host)}:{own.getsockname()[1]}"
    settings = settings.model_copy(
        update={"ocpp": settings.ocpp.model_copy(update={"node_url": node_url})}
    )
    logger.info(
        "worker %d (pid %d) serving %s:%d; its stations' calls reach it at %s",
        slot,
        os.getpid(),
        server.host,
        server.port,
        node_url,
    )
    serve_in_this_process(settings, [public, own])


def _end_with_the_supervisor(supervisor_pid: int) -> None:
    """SIGTERM to this worker once its supervisor is gone (killed with ``kill -9``, say): in a
    group of its own it would otherwise serve on, unsupervised, holding the port."""

    def watch() -> None:
        while os.getppid() == supervisor_pid:
            time.sleep(1.0)
        logger.warning("the supervisor (pid %d) is gone: stopping", supervisor_pid)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()


def with_shared_pools(settings: Settings, workers: int) -> Settings:
    """``settings`` whose database pools, unless set, are the one-process sizes divided among
    ``workers`` (each process has two pools: see ``DatabaseSettings``)."""
    from hub.persistence.session import POOL_OVERFLOW, POOL_SIZE

    database = settings.database
    sizes = {
        "pool_size": database.pool_size or max(4, POOL_SIZE // workers),
        "max_overflow": (
            max(2, POOL_OVERFLOW // workers)
            if database.max_overflow is None
            else database.max_overflow
        ),
    }
    return settings.model_copy(update={"database": database.model_copy(update=sizes)})


class Supervisor:
    """Keeps ``workers`` worker processes running until told to stop (see module docstring).

    ``start_worker`` makes and starts the process of a slot (injected by tests)."""

    def __init__(
        self,
        workers: int,
        start_worker: Callable[[int], BaseProcess],
        on_ended: Callable[[int], None] = lambda _pid: None,
    ) -> None:
        """``on_ended(pid)`` is called for every worker that ended, stopped ones included."""
        self.workers = workers
        self._start_worker = start_worker
        self._on_ended = on_ended
        self.processes: dict[int, BaseProcess] = {}
        self._started_at: dict[int, float] = {}
        self._quick_deaths: dict[int, int] = {}
        self.stopping = False

    def start(self) -> None:
        for slot in range(self.workers):
            self._start(slot)

    def _start(self, slot: int) -> None:
        process = self._start_worker(slot)
        self.processes[slot] = process
        self._started_at[slot] = time.monotonic()

    def watch(self, timeout: float) -> None:
        """Wait up to ``timeout`` for a worker to end; start another in its place."""
        wait([p.sentinel for p in self.processes.values()], timeout=timeout)
        for slot, process in list(self.processes.items()):
            if process.is_alive() or self.stopping:
                continue
            process.join()
            self._ended(process)
            lived = time.monotonic() - self._started_at[slot]
            quick = self._quick_deaths[slot] = (
                self._quick_deaths.get(slot, 0) + 1 if lived < QUICK_DEATH_SECONDS else 0
            )
            if quick >= QUICK_DEATHS_TOLERATED:
                raise WorkerCannotStart(
                    f"worker {slot} ended {quick} times within {QUICK_DEATH_SECONDS:.0f} s of "
                    f"its start (last exit code {process.exitcode}); see its log lines above"
                )
            logger.warning(
                "worker %d (pid %s) ended with exit code %s after %.0f s; starting another",
                slot,
                process.pid,
                process.exitcode,
                lived,
            )
            time.sleep(RESTART_PAUSE_SECONDS)
            self._start(slot)

    def stop(self, grace: float) -> None:
        """SIGTERM to every worker (uvicorn's graceful shutdown), SIGKILL after ``grace``."""
        self.stopping = True
        for process in self.processes.values():
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + grace
        for slot, process in self.processes.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("worker %d (pid %s) did not stop in time: killed", slot, process.pid)
                process.kill()
                process.join()
            self._ended(process)

    def _ended(self, process: BaseProcess) -> None:
        if process.pid is not None:
            self._on_ended(process.pid)


class WorkerCannotStart(RuntimeError):
    pass


def supervise(settings: Settings, workers: int) -> None:
    """Run ``workers`` worker processes on the public address until SIGINT/SIGTERM."""
    server = settings.server
    # Bound once here so that a port in use is one clear error, not N failing workers.
    listening_socket(server.host, server.port, reuse_port=True).close()
    if settings.ocpp.node_url:
        logger.warning(
            "HUB_OCPP__NODE_URL names one process; with %d workers each has its own node URL "
            "on HUB_SERVER__WORKER_HOST (%s)",
            workers,
            server.worker_host,
        )
    # The workers' metrics are summed from files in one directory (hub.services.metrics): a
    # fresh one per run, named before the workers start and import prometheus_client.
    from hub.services import metrics

    own_directory = not os.environ.get(metrics.MULTIPROCESS_DIRECTORY)
    directory = Path(
        tempfile.mkdtemp(prefix="hub-metrics-")
        if own_directory
        else os.environ[metrics.MULTIPROCESS_DIRECTORY]
    )
    for stale in directory.glob("*.db"):
        stale.unlink()  # an operator's directory: what an earlier run left would be summed
    os.environ[metrics.MULTIPROCESS_DIRECTORY] = str(directory)
    settings = with_shared_pools(settings, workers)
    context = multiprocessing.get_context("spawn")

    def start_worker(slot: int) -> BaseProcess:
        process = context.Process(
            target=run_worker, args=(settings, slot), name=f"hub-worker-{slot}"
        )
        process.start()
        return process

    supervisor = Supervisor(workers, start_worker, on_ended=metrics.process_ended)
    signals: list[int] = []

    def on_signal(number: int, _frame: FrameType | None) -> None:
        signals.append(number)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        supervisor.start()
        logger.info("supervising %d workers (pid %d)", workers, os.getpid())
        while not signals:
            supervisor.watch(timeout=0.5)
        logger.info("%s: stopping the workers", signal.Signals(signals[0]).name)
    finally:
        supervisor.stop(server.graceful_shutdown_seconds + 5)
        for number, handler in previous.items():
            signal.signal(number, handler)
        if own_directory:
            shutil.rmtree(directory, ignore_errors=True)
