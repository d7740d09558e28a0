"""Group commit: many small units of work of many callers in one transaction.

Under a reconnect storm every charger sends its BootNotification and StatusNotifications at
once; each is a few statements, and a transaction of its own costs more than they do (a pool
checkout, its pre-ping, BEGIN, COMMIT and the WAL flush, the session's setup). Here a caller
hands its unit of work to :meth:`GroupCommit.run` and waits: ``lanes`` tasks each take every
unit queued (up to ``max_units``), run them one after the other in one transaction, commit, and
only then give each caller its result, so an answer a caller sends afterwards still means "this
is stored". Idle, a unit runs at once, alone; the busier the process, the larger the groups.

Failures stay each caller's own. A group in which any unit raises, or whose commit fails, is
rolled back and its units are run again each in a transaction of its own: the failing one fails
alone (with its own exception) and the others are stored. Units must therefore touch nothing but
the session (whatever they do outside it, such as caching what they stored, belongs after
``run`` returns) and must not commit.

Batches: a unit may name a :data:`Batch`, a function that does many units of one kind at
once (:meth:`GroupCommit.run_batched`). A group then hands all its units of that batch to it in
one call, which can load and write their rows with a few set-based statements instead of a few
statements each. A batch call never gets two units of one key: the second waits for a later
call in the same transaction, so one station's units still run in the order they came.

Locks: a group holds the row locks of all its units until its commit. Units are run in the
order of their ``key`` (the charging station), so that two groups (of two lanes, or two
processes) that touch rows shared by neighbouring stations, such as their location, take those
locks in the same order instead of deadlocking; and on PostgreSQL a group waits at most
``lock_timeout_ms`` for a lock before it falls back to single units, which bounds what an
unforeseen cycle costs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.persistence.session import session_scope

logger = logging.getLogger(__name__)

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 (an item of a batch)
R = TypeVar("R")
Work = Callable[[AsyncSession], Awaitable[Any]]
Batch = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]
"""Many units of one kind at once: their items in, one result per item out, in that order."""


@dataclass(slots=True)
class _Unit:
    key: str
    work: Work
    context: contextvars.Context
    batch: Batch | None = None
    item: Any = None
    outcome: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class GroupCommitStats:
    """What the groups did (counted for the tests, which check how units were grouped)."""

    groups: int = 0
    units: int = 0
    largest: int = 0
    fallbacks: int = 0


class GroupCommit:
    """Runs units of work in shared transactions (see the module docstring).

    ``max_units`` 1 gives every unit a transaction of its own (no grouping). Start the lanes with
    :meth:`start` (or let the first :meth:`run` do it) and end them with :meth:`close`.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        max_units: int = 100,
        lanes: int = 4,
        lock_timeout_ms: int = 250,
    ) -> None:
        if max_units < 1 or lanes < 1:
            raise ValueError("max_units and lanes must be at least 1")
        self.sessions = sessions
        self.max_units = max_units
        self.lanes = lanes
        self.lock_timeout_ms = lock_timeout_ms
        self.stats = GroupCommitStats()
        self._queue: asyncio.Queue[_Unit] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        engine = sessions.kw.get("bind")
        self._postgresql = getattr(getattr(engine, "dialect", None), "name", "") == "postgresql"

    @property
    def queued(self) -> int:
        """Units waiting for a lane."""
        return self._queue.qsize()

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._lane(), name=f"group-commit-{n}")
                for n in range(self.lanes)
            ]

    async def close(self) -> None:
        """Stop the lanes; units queued or running are committed first."""
        if self._tasks:
            await self._queue.join()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def run(self, key: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``work(session)``'s result once it is committed; its exception if it raised (the
        unit is then not stored), or the commit's if that failed."""
        result: T = await self._queued(_Unit(key, work, contextvars.copy_context()))
        return result

    async def run_batched(
        self, key: str, batch: Callable[[AsyncSession, list[I]], Awaitable[list[R]]], item: I
    ) -> R:
        """Like :meth:`run` for a unit done by ``batch`` together with the group's other units
        of that batch (``batch`` is compared by equality: pass the same function each time).
        Alone (and when a group falls back to single units) it gets a list of one item."""

        alone = _alone(batch, item)
        answer: R = await self._queued(_Unit(key, alone, contextvars.copy_context(), batch, item))
        return answer

    async def _queued(self, unit: _Unit) -> Any:
        self.start()
        # Read by nobody if the caller gave up: retrieved here so that it is not logged.
        unit.outcome.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._queue.put_nowait(unit)
        # Shielded: a caller that gives up (its socket closed) does not cancel a group that
        # others share; its unit is stored or not with the rest.
        return await asyncio.shield(unit.outcome)

    async def _lane(self) -> None:
        while True:
            units = [await self._queue.get()]
            while len(units) < self.max_units and not self._queue.empty():
                units.append(self._queue.get_nowait())
            try:
                await self._commit(units)
            except Exception:  # never expected: _commit reports to every unit
                logger.exception("group commit lane failed")
            finally:
                for unit in units:
                    if not unit.outcome.done():  # cancelled: nobody waits in vain
                        unit.outcome.cancel()
                    self._queue.task_done()

    async def _commit(self, units: list[_Unit]) -> None:
        units.sort(key=lambda unit: unit.key)  # stable: one key's units keep their order
        self.stats.groups += 1
        self.stats.units += len(units)
        self.stats.largest = max(self.stats.largest, len(units))
        if len(units) > 1:
            try:
                results = await self._together(units)
            except Exception as problem:
                self.stats.fallbacks += 1
                logger.info(
                    "a group of %d units failed (%s: %s); running them one by one",
                    len(units),
                    type(problem).__name__,
                    problem,
                )
            else:
                for unit, result in zip(units, results, strict=True):
                    _settle(unit.outcome, result=result)
                return
        for unit in units:
            try:
                async with session_scope(self.sessions) as session:
                    result = await _in_context(unit, session)
            except Exception as problem:
                _settle(unit.outcome, error=problem)
            else:
                _settle(unit.outcome, result=result)

    async def _together(self, units: list[_Unit]) -> list[Any]:
        async with session_scope(self.sessions) as session:
            if self._postgresql and self.lock_timeout_ms:
                await session.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
            results: dict[int, Any] = {}
            for call in _calls(units):
                batch = call[0].batch
                if batch is None or len(call) == 1:
                    (unit,) = call
                    results[id(unit)] = await _in_context(unit, session)
                    continue
                # In the lane's context: the batch speaks for several callers.
                answers = await batch(session, [unit.item for unit in call])
                results.update(
                    (id(unit), answer) for unit, answer in zip(call, answers, strict=True)
                )
            return [results[id(unit)] for unit in units]


async def committed(
    group: GroupCommit | None,
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    work: Callable[[AsyncSession], Awaitable[T]],
) -> T:
    """``work``'s result once committed: in ``group`` (see :meth:`GroupCommit.run`) when there
    is one, else in a transaction of its own."""
    if group is not None:
        return await group.run(key, work)
    async with session_scope(sessions) as session:
        return await work(session)


async def committed_batched(
    group: GroupCommit | None,
    sessions: async_sessionmaker[AsyncSession],
    key: str,
    batch: Callable[[AsyncSession, list[I]], Awaitable[list[R]]],
    item: I,
) -> R:
    """:func:`committed` for one item of a batch (see :meth:`GroupCommit.run_batched`)."""
    if group is not None:
        return await group.run_batched(key, batch, item)
    return await committed(None, sessions, key, _alone(batch, item))


def _alone(
    batch: Callable[[AsyncSession, list[I]], Awaitable[list[R]]], item: I
) -> Callable[[AsyncSession], Awaitable[R]]:
    """The unit of work that does ``item`` as a batch of one."""

    async def alone(session: AsyncSession) -> R:
        (result,) = await batch(session, [item])
        return result

    return alone


def _calls(units: list[_Unit]) -> list[list[_Unit]]:
    """The calls that do ``units`` (sorted by key): in rounds, the n-th unit of every key in
    round n; in a round, one call per batch with all its units (in key order), and one per
    unit without a batch. A key's units thus run in their order, each in a later call."""
    rounds: list[list[_Unit]] = []
    seen: dict[str, int] = {}
    for unit in units:
        n = seen.get(unit.key, 0)
        seen[unit.key] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(unit)
    calls: list[list[_Unit]] = []
    for round_units in rounds:
        batched: dict[Batch, list[_Unit]] = {}
        for unit in round_units:
            if unit.batch is None:
                calls.append([unit])
            elif unit.batch in batched:
                batched[unit.batch].append(unit)
            else:
                batched[unit.batch] = [unit]
                calls.append(batched[unit.batch])
    return calls


async def _in_context(unit: _Unit, session: AsyncSession) -> Any:
    """Run the unit in its caller's context (its log lines name the caller's station)."""
    return await asyncio.create_task(_call(unit.work, session), context=unit.context.copy())


async def _call(work: Work, session: AsyncSession) -> Any:
    return await work(session)


def _settle(
    outcome: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if outcome.done():
        return
    if error is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(result)
