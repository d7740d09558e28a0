"""Full resynchronisation of a partner: every object PUT again, in order, through the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.locations import LocationService
from hub.services.push import PushService
from hub.services.tariffs import TariffService


class SyncService:
    """Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self.push = PushService(session)
        self.locations = LocationService(session, self.push)
        self.tariffs = TariffService(session, self.push)

    async def resync(self, partner_id: int) -> int:
        """Queue a PUT of every tariff and every location the partner may see; the PUTs supersede
        whatever was still pending for it. Tariffs go first so connectors never reference a tariff
        the partner does not know yet. Returns the number of jobs queued.

        Raises:
            InvalidState: the partner is not registered or has no receiver endpoints.
        """
        await self.push.require_pushable(partner_id)
        await self.push.jobs.supersede([partner_id])
        queued = await self.push.fanout(
            await self.tariffs.all_changes(), only=partner_id, fresh=True
        )
        queued += await self.push.fanout(
            await self.locations.all_changes(), only=partner_id, fresh=True
        )
        return queued
