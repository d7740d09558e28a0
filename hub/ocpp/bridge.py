"""What OCPP handlers need from the platform, one short transaction per message."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import OcppSettings
from hub.domain.assets import EvseStatus
from hub.domain.stations import OcppVersion
from hub.persistence.session import session_scope
from hub.services.stations import StationService, StatusOutcome

logger = logging.getLogger(__name__)

SEEN_WRITE_INTERVAL = 30.0
"""Seconds between two ``last_seen_at`` writes for heartbeats of one station."""


@dataclass
class Bridge:
    """Per-process entry point of the OCPP layer into the services.

    ``on_change`` is called after a commit that changed EVSE statuses (the push worker wakes up
    instead of waiting for its next poll).
    """

    sessions: async_sessionmaker[AsyncSession]
    settings: OcppSettings
    node: str
    on_change: Callable[[], None] = lambda: None
    _seen_written: dict[str, float] = field(default_factory=dict)

    def _service(self, session: AsyncSession) -> StationService:
        return StationService(session, preparing=EvseStatus(self.settings.preparing_status))

    async def authenticate(self, station_id: str, password: str) -> bool:
        async with session_scope(self.sessions) as session:
            return await self._service(session).authenticate(station_id, password) is not None

    async def connected(self, station_id: str, version: OcppVersion) -> None:
        async with session_scope(self.sessions) as session:
            await self._service(session).connected(station_id, version, self.node)
        self._seen_written[station_id] = time.monotonic()
        self.on_change()

    async def disconnected(self, station_id: str) -> None:
        self._seen_written.pop(station_id, None)
        async with session_scope(self.sessions) as session:
            await self._service(session).disconnected(station_id, self.node)

    async def seen(self, station_id: str) -> None:
        last = self._seen_written.get(station_id, 0.0)
        if time.monotonic() - last < SEEN_WRITE_INTERVAL:
            return
        async with session_scope(self.sessions) as session:
            await self._service(session).seen(station_id)
        self._seen_written[station_id] = time.monotonic()
        self.on_change()

    async def booted(self, station_id: str, **info: str | None) -> None:
        async with session_scope(self.sessions) as session:
            await self._service(session).booted(
                station_id,
                vendor=info.get("vendor") or "",
                model=info.get("model") or "",
                serial_number=info.get("serial_number"),
                firmware_version=info.get("firmware_version"),
            )
        self._seen_written[station_id] = time.monotonic()

    async def connector_status(
        self, station_id: str, *, evse_id: int | None, connector_id: int, ocpp_status: str
    ) -> StatusOutcome:
        async with session_scope(self.sessions) as session:
            outcome = await self._service(session).connector_status(
                station_id, evse_id=evse_id, connector_id=connector_id, ocpp_status=ocpp_status
            )
        self._seen_written[station_id] = time.monotonic()
        if outcome.unmapped:
            logger.warning(
                "station %s reported EVSE %s connector %s (%s), which no EVSE is linked to",
                station_id,
                evse_id,
                connector_id,
                ocpp_status,
            )
        if outcome.changed:
            self.on_change()
        return outcome

    async def sweep(self) -> list[str]:
        """Mark stations silent for longer than the offline delay offline."""
        from datetime import timedelta

        async with session_scope(self.sessions) as session:
            offline = await self._service(session).mark_silent_offline(
                disconnected_for=timedelta(seconds=self.settings.offline_after_seconds),
                silent_for=timedelta(
                    seconds=self.settings.heartbeat_interval_seconds
                    * self.settings.missed_heartbeats
                ),
            )
        for station_id in offline:
            logger.warning("station %s is offline: its EVSEs are now UNKNOWN", station_id)
        if offline:
            self.on_change()
        return offline
