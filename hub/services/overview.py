"""The hub at a glance, from the database: what ``hub status`` prints and ``/metrics`` exposes
as gauges (see :mod:`hub.persistence.repositories.overview`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from hub.persistence.base import utc_now
from hub.persistence.repositories.overview import Overview, OverviewRepository, PartnerQueue

__all__ = ["Overview", "OverviewService", "PartnerQueue"]


class OverviewService:
    """Reads the operator's overview; never writes."""

    def __init__(self, session: AsyncSession, *, clock: Callable[[], datetime] = utc_now) -> None:
        """Read through ``session``; ``clock`` is the "now" the queue ages are counted to."""
        self.repository = OverviewRepository(session)
        self.clock = clock

    async def overview(self) -> Overview:
        """Stations connected per node, every partner's push queue and health, CDR backlog."""
        return await self.repository.overview(self.clock())
