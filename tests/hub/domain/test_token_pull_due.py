"""When the scheduled token pull of a partner runs (``hub.domain.tokens.pull_due``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.tokens import PullCursorState, pull_due

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def due(state: PullCursorState | None) -> bool:
    return pull_due(state, NOW, interval=6 * HOUR, retry_after=timedelta(minutes=5))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (None, True),  # never pulled: a registration's first pull is due at once
        (PullCursorState(in_progress=False, last_completed_at=None, last_error_at=None), True),
        (PullCursorState(True, NOW - 7 * HOUR, None), True),  # an interrupted run resumes
        (PullCursorState(True, NOW - 7 * HOUR, NOW - timedelta(minutes=1)), False),  # not yet
        (PullCursorState(True, NOW - 7 * HOUR, NOW - timedelta(minutes=5)), True),
        (PullCursorState(False, NOW - 5 * HOUR, None), False),  # delta not due before 6 h
        (PullCursorState(False, NOW - 6 * HOUR, None), True),
        (PullCursorState(False, NOW - 7 * HOUR, NOW - timedelta(minutes=1)), False),
    ],
)
def test_pull_due(state, expected):
    assert due(state) is expected
