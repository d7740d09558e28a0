"""Station calls from the platform: failures are StationCallFailed in words, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from hub.ocpp.commands import StationCallFailed, call_local
from hub.ocpp.server import StationRegistry
from hub.ocpp.station import StationDisconnected


class ClosedStation:
    version = "1.6"

    async def call(self, request: Any, suppress: bool = True) -> Any:
        raise StationDisconnected("CS-1")


async def test_a_station_that_disconnected_fails_the_call_in_words():
    registry = StationRegistry()
    registry.attach("CS-1", ClosedStation(), object())  # type: ignore[arg-type]
    with pytest.raises(StationCallFailed, match="closed its connection before Reset was sent"):
        await call_local(registry, "CS-1", "Reset", {"type": "Soft"})
