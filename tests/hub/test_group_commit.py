"""Group commit (``hub.persistence.group_commit``): units queued together share one transaction,
in the order of their keys; no caller hears of its unit before the commit; a unit that fails
fails alone and the rest of its group is stored; on PostgreSQL a group blocked on a row lock
gives up after its lock timeout, and its units are stored one by one (those before the blocked
one without waiting for the lock)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.persistence.group_commit import GroupCommit
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingStation

pytestmark = [pytest.mark.db]

caller = contextvars.ContextVar("caller", default="nobody")


async def stored_ids(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessions() as session:
        return set((await session.scalars(select(ChargingStation.station_id))).all())


def add_station(station_id: str, order: list[str] | None = None):
    async def work(session: AsyncSession) -> str:
        if order is not None:
            order.append(station_id)
        session.add(ChargingStation(station_id=station_id, password_hash="x"))
        await session.flush()
        return f"added {station_id} for {caller.get()}"

    return work


class Gate:
    """A unit that occupies its lane until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    async def work(self, session: AsyncSession) -> str:
        self.entered.set()
        await self.opened.wait()
        return "gate"

    @classmethod
    async def occupying(cls, group: GroupCommit, key: str = "gate") -> tuple[Gate, asyncio.Task]:
        """A gate occupying the group's (one) lane, and its unit's task."""
        gate = cls()
        task = asyncio.create_task(group.run(key, gate.work))
        await gate.entered.wait()
        return gate, task


async def test_units_queued_together_share_one_commit_in_key_order(sessions) -> None:
    group = GroupCommit(sessions, lanes=1)
    gate, first = await Gate.occupying(group)
    order: list[str] = []
    keys = ["S3", "S1", "S2"]

    async def one(key: str) -> tuple[str, set[str]]:
        caller.set(f"caller of {key}")
        result = await group.run(key, add_station(key, order))
        return result, await stored_ids(sessions)  # what the caller sees once answered

    waiting = [asyncio.create_task(one(key)) for key in keys]
    await asyncio.sleep(0)  # every task created so far has queued its unit
    assert group.queued == len(keys)
    assert await stored_ids(sessions) == set()
    gate.opened.set()
    assert await first == "gate"
    answers = await asyncio.gather(*waiting)
    await group.close()

    for key, (result, seen) in zip(keys, answers, strict=True):
        assert result == f"added {key} for caller of {key}"
        assert seen == {"S1", "S2", "S3"}  # committed before anyone was answered
    assert order == ["S1", "S2", "S3"]
    assert (group.stats.groups, group.stats.units, group.stats.largest) == (2, 4, 3)
    assert group.stats.fallbacks == 0


async def test_a_unit_that_fails_fails_alone(sessions) -> None:
    group = GroupCommit(sessions, lanes=1)
    gate, first = await Gate.occupying(group)

    async def add_then_fail(session: AsyncSession) -> None:
        session.add(ChargingStation(station_id="B", password_hash="x"))
        await session.flush()
        raise ValueError("no such connector")

    good_a = asyncio.create_task(group.run("A", add_station("A")))
    bad = asyncio.create_task(group.run("B", add_then_fail))
    good_c = asyncio.create_task(group.run("C", add_station("C")))
    # The same station id twice: the second insert breaks the group's transaction.
    twice = asyncio.create_task(group.run("D", add_station("A")))
    await asyncio.sleep(0)  # every task created so far has queued its unit
    assert group.queued == 4
    gate.opened.set()
    await first

    assert await good_a == "added A for nobody"
    assert await good_c == "added C for nobody"
    with pytest.raises(ValueError, match="no such connector"):
        await bad
    with pytest.raises(IntegrityError):
        await twice
    await group.close()
    assert await stored_ids(sessions) == {"A", "C"}
    assert group.stats.fallbacks == 1


async def test_a_caller_that_gives_up_does_not_undo_its_unit(sessions) -> None:
    group = GroupCommit(sessions, lanes=1)
    gate, first = await Gate.occupying(group)
    gone = asyncio.create_task(group.run("G", add_station("G")))
    stays = asyncio.create_task(group.run("H", add_station("H")))
    await asyncio.sleep(0)  # every task created so far has queued its unit
    assert group.queued == 2
    gone.cancel()  # its station closed the socket
    gate.opened.set()
    await first
    await stays
    await group.close()
    assert gone.cancelled()
    assert await stored_ids(sessions) == {"G", "H"}


async def test_close_commits_what_is_queued(sessions) -> None:
    group = GroupCommit(sessions, lanes=2, max_units=1)
    units = [asyncio.create_task(group.run(f"K{n}", add_station(f"K{n}"))) for n in range(5)]
    await asyncio.sleep(0)
    await group.close()
    assert all(unit.done() for unit in units)
    assert await stored_ids(sessions) == {f"K{n}" for n in range(5)}
    assert group.stats.largest == 1  # max_units 1: a transaction per unit


async def test_a_group_blocked_on_a_lock_gives_up_and_stores_the_others(
    sessions, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("lock timeouts are PostgreSQL's (SQLite has one writer at a time)")
    async with session_scope(sessions) as session:
        session.add(ChargingStation(station_id="LOCKED", password_hash="x"))
    group = GroupCommit(sessions, lanes=1, lock_timeout_ms=100)

    async def touch_locked(session: AsyncSession) -> str:
        station = (
            await session.scalars(
                select(ChargingStation)
                .where(ChargingStation.station_id == "LOCKED")
                .with_for_update()
            )
        ).one()
        station.vendor = "touched"
        return "touched"

    async with sessions() as holder:  # another process holding the row
        await holder.execute(
            text("SELECT 1 FROM charging_stations WHERE station_id = 'LOCKED' FOR UPDATE")
        )
        gate, first = await Gate.occupying(group, "0")
        blocked = asyncio.create_task(group.run("LOCKED", touch_locked))
        free = asyncio.create_task(group.run("A", add_station("A")))
        await asyncio.sleep(0)  # every task created so far has queued its unit
        assert group.queued == 2
        gate.opened.set()
        await first
        assert await free == "added A for nobody"  # while the lock is still held
        assert not blocked.done()
        await holder.rollback()
    assert await blocked == "touched"
    await group.close()
    assert group.stats.fallbacks == 1
    assert await stored_ids(sessions) == {"LOCKED", "A"}


class StationBatch:
    """A batch that adds the stations of its items, recording each call's items."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, session: AsyncSession, items: list[str]) -> list[str]:
        self.calls.append(list(items))
        if "BAD" in items:
            raise ValueError("a bad item")
        session.add_all(ChargingStation(station_id=item, password_hash="x") for item in items)
        await session.flush()
        return [f"batched {item}" for item in items]


async def test_units_of_one_batch_are_done_in_one_call_and_a_key_twice_in_a_later_one(
    sessions,
) -> None:
    group = GroupCommit(sessions, lanes=1)
    batch = StationBatch()
    gate, first = await Gate.occupying(group)
    order: list[str] = []
    queued = [
        group.run_batched("S2", batch, "S2"),
        group.run("S1", add_station("S1", order)),
        group.run_batched("S3", batch, "S3"),
        group.run_batched("S2", batch, "S2-again"),  # the same key: after the first S2
        group.run_batched("S0", batch, "S0"),
    ]
    waiting = [asyncio.ensure_future(unit) for unit in queued]
    await asyncio.sleep(0)
    assert group.queued == 5
    gate.opened.set()
    await first
    answers = await asyncio.gather(*waiting)
    await group.close()

    assert answers == [
        "batched S2",
        "added S1 for nobody",
        "batched S3",
        "batched S2-again",
        "batched S0",
    ]
    assert batch.calls == [["S0", "S2", "S3"], ["S2-again"]]
    assert order == ["S1"]
    assert await stored_ids(sessions) == {"S0", "S1", "S2", "S3", "S2-again"}
    assert (group.stats.groups, group.stats.largest, group.stats.fallbacks) == (2, 5, 0)


async def test_a_batch_that_fails_is_done_again_one_item_at_a_time(sessions) -> None:
    group = GroupCommit(sessions, lanes=1)
    batch = StationBatch()
    gate, first = await Gate.occupying(group)
    good = asyncio.ensure_future(group.run_batched("A", batch, "A"))
    bad = asyncio.ensure_future(group.run_batched("B", batch, "BAD"))
    other = asyncio.ensure_future(group.run("C", add_station("C")))
    await asyncio.sleep(0)
    gate.opened.set()
    await first

    assert await good == "batched A"
    assert await other == "added C for nobody"
    with pytest.raises(ValueError, match="a bad item"):
        await bad
    await group.close()
    assert batch.calls == [["A", "BAD"], ["A"], ["BAD"]]
    assert await stored_ids(sessions) == {"A", "C"}
    assert group.stats.fallbacks == 1
