"""The supervisor of ``hub serve --workers N`` (``hub.cli.serving``), with real child processes
that do nothing but live, end or ignore SIGTERM; and how many workers a database gets."""

from __future__ import annotations

import gc
import multiprocessing
import signal
import sys
import time
from multiprocessing.process import BaseProcess

import pytest

from hub.cli import serving
from hub.cli.serving import Supervisor, WorkerCannotStart, tune_garbage_collector, worker_count
from hub.config import DatabaseSettings, ServerSettings, Settings

FORK = multiprocessing.get_context("fork")


def live() -> None:
    time.sleep(60)


def end_at_once() -> None:
    sys.exit(3)


SIGTERM_IGNORED = FORK.Event()


def ignore_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    SIGTERM_IGNORED.set()
    time.sleep(60)


class Starts:
    """Starts ``targets[n]`` as the n-th process (the last one from then on)."""

    def __init__(self, *targets: object) -> None:
        self.targets = targets
        self.started: list[tuple[int, BaseProcess]] = []

    def __call__(self, slot: int) -> BaseProcess:
        target = self.targets[min(len(self.started), len(self.targets) - 1)]
        process = FORK.Process(target=target)  # type: ignore[arg-type]
        process.start()
        self.started.append((slot, process))
        return process


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving, "RESTART_PAUSE_SECONDS", 0.0)


def test_a_worker_that_ends_is_replaced_in_its_slot_and_the_others_are_left_alone():
    starts = Starts(end_at_once, live)
    ended_pids: list[int] = []
    supervisor = Supervisor(2, starts, on_ended=ended_pids.append)
    supervisor.start()
    try:
        ended = starts.started[0][1]
        ended.join(10)
        supervisor.watch(timeout=5)
        assert [slot for slot, _ in starts.started] == [0, 1, 0]
        assert ended.exitcode == 3
        assert supervisor.processes[0] is starts.started[2][1]
        assert supervisor.processes[1] is starts.started[1][1]
        assert all(p.is_alive() for p in supervisor.processes.values())
        assert ended_pids == [ended.pid]  # its metrics are forgotten
    finally:
        supervisor.stop(grace=5)
    assert not any(p.is_alive() for _, p in starts.started)
    assert sorted(ended_pids) == sorted(p.pid for _, p in starts.started)


def test_a_worker_that_cannot_start_is_given_up_after_a_few_quick_deaths():
    starts = Starts(end_at_once)
    supervisor = Supervisor(1, starts)
    supervisor.start()
    for _ in range(serving.QUICK_DEATHS_TOLERATED - 1):
        starts.started[-1][1].join()  # ended at once...
        supervisor.watch(timeout=0)  # ...and started again
    starts.started[-1][1].join()
    with pytest.raises(WorkerCannotStart, match="ended 5 times within 10 s of its start"):
        supervisor.watch(timeout=0)
    assert len(starts.started) == serving.QUICK_DEATHS_TOLERATED
    supervisor.stop(grace=1)


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace():
    starts = Starts(ignore_sigterm)
    supervisor = Supervisor(1, starts)
    supervisor.start()
    # Its handler installed first (a SIGTERM before that would just end it).
    assert SIGTERM_IGNORED.wait(30)
    supervisor.stop(grace=0.5)
    ((_, process),) = starts.started
    assert process.exitcode == -signal.SIGKILL
    supervisor.watch(timeout=0.1)  # stopping: nothing is started again
    assert len(starts.started) == 1


POSTGRES = "postgresql+asyncpg://hub@db/hub"
SQLITE = "sqlite+aiosqlite:///./hub.db"


@pytest.mark.parametrize(
    ("url", "requested", "expected"),
    [(SQLITE, None, 1), (SQLITE, 1, 1), (POSTGRES, None, 4), (POSTGRES, 3, 3), (POSTGRES, 1, 1)],
)
def test_worker_count(url: str, requested: int | None, expected: int):
    settings = Settings(
        database=DatabaseSettings(url=url), server=ServerSettings(workers=requested)
    )
    assert worker_count(settings, cores=4) == expected


def test_several_workers_on_sqlite_are_refused_with_the_reason():
    settings = Settings(database=DatabaseSettings(url=SQLITE), server=ServerSettings(workers=2))
    with pytest.raises(ValueError, match="SQLite is the single-process embedded database"):
        worker_count(settings, cores=4)


@pytest.mark.parametrize(
    ("workers", "pool_size", "max_overflow", "expected"),
    [
        (1, None, None, (20, 10)),
        (2, None, None, (10, 5)),
        (8, None, None, (4, 2)),
        (2, 7, 0, (7, 0)),
    ],
)
def test_the_database_pools_are_shared_among_the_workers_unless_set(
    workers: int, pool_size: int | None, max_overflow: int | None, expected: tuple[int, int]
):
    settings = Settings(
        database=DatabaseSettings(url=POSTGRES, pool_size=pool_size, max_overflow=max_overflow)
    )
    database = serving.with_shared_pools(settings, workers).database
    assert (database.pool_size, database.max_overflow) == expected


def test_the_garbage_collector_is_tuned_as_configured_and_left_alone_at_zero():
    before = gc.get_threshold()
    try:
        tune_garbage_collector(0)
        assert gc.get_threshold() == before
        tune_garbage_collector(50_000)
        assert gc.get_threshold() == (50_000, 20, 10)
        assert Settings().server.gc_threshold == 50_000  # what `hub serve` applies by default
    finally:
        gc.set_threshold(*before)
