"""Waiting in the background loops (push worker, token puller, local-list sync): sleep until
the next round is due, or until any of several events (stop, a wake-up) is set."""

from __future__ import annotations

import asyncio


async def until_any(*events: asyncio.Event, at_most: float) -> None:
    """Return when one of ``events`` is set, or after ``at_most`` seconds, whichever is first."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
