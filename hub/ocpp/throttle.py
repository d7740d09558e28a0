"""Rate limit for warnings a station can provoke at will (one bad frame after another)."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field


@dataclass
class LogThrottle:
    """At most one log line per key and ``interval`` seconds of ``clock``.

    ``admit(key)`` answers ``None`` while the key is muted (the line is counted, not logged), or
    the number of lines muted since the previous admitted one, to be mentioned in this line.
    """

    interval: float
    clock: Callable[[], float] = time.monotonic
    _muted_until: dict[Hashable, float] = field(default_factory=dict)
    _muted: dict[Hashable, int] = field(default_factory=dict)

    def admit(self, key: Hashable) -> int | None:
        now = self.clock()
        if now < self._muted_until.get(key, float("-inf")):
            self._muted[key] = self._muted.get(key, 0) + 1
            return None
        self._muted_until[key] = now + self.interval
        return self._muted.pop(key, 0)
