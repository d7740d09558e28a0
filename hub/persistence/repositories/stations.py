from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.persistence.tables import ChargingStation, Evse, EvseStatusChange


class StationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, station_id: str, *, for_update: bool = False) -> ChargingStation | None:
        return (await self.get_many([station_id], for_update=for_update)).get(station_id)

    async def get_many(
        self, station_ids: Iterable[str], *, for_update: bool = False
    ) -> dict[str, ChargingStation]:
        """The stations of ``station_ids`` that exist, by id; locked in id order (``for_update``)
        so that two callers locking overlapping sets wait for each other, not deadlock."""
        wanted = sorted(set(station_ids))
        if not wanted:
            return {}
        statement = (
            select(ChargingStation)
            .where(col(ChargingStation.station_id).in_(wanted))
            .order_by(col(ChargingStation.station_id))
        )
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement.execution_options(populate_existing=True))
        return {station.station_id: station for station in result.scalars()}

    async def add(self, station: ChargingStation) -> ChargingStation:
        self.session.add(station)
        await self.session.flush()
        return station

    async def delete(self, station: ChargingStation) -> None:
        await self.session.delete(station)
        await self.session.flush()

    async def list(self) -> Sequence[ChargingStation]:
        result = await self.session.execute(
            select(ChargingStation).order_by(col(ChargingStation.station_id))
        )
        return result.scalars().all()

    async def evses_of(self, station_id: str) -> Sequence[Evse]:
        return (await self.evses_of_many([station_id])).get(station_id, [])

    async def evses_of_many(self, station_ids: Iterable[str]) -> dict[str, Sequence[Evse]]:
        """:meth:`evses_of` for many stations in one query (a station without EVSEs: absent)."""
        wanted = sorted(set(station_ids))
        if not wanted:
            return {}
        grouped: defaultdict[str, builtins.list[Evse]] = defaultdict(builtins.list)
        result = await self.session.execute(
            select(Evse)
            .where(col(Evse.charging_station_id).in_(wanted))
            .order_by(col(Evse.ocpp_evse_id), col(Evse.ocpp_connector_id), col(Evse.id))
        )
        for evse in result.scalars():
            grouped[evse.charging_station_id or ""].append(evse)
        return dict(grouped)

    async def silent_since(self, cutoff: datetime) -> Sequence[ChargingStation]:
        """Online stations not heard from after ``cutoff`` (one last heard at ``cutoff`` has
        been silent for the whole delay: the caller counts it offline)."""
        result = await self.session.execute(
            select(ChargingStation).where(
                col(ChargingStation.online).is_(True),
                col(ChargingStation.last_seen_at) <= cutoff,
            )
        )
        return result.scalars().all()

    async def station_history(
        self, station_id: str, limit: int
    ) -> Sequence[tuple[str, EvseStatusChange]]:
        """The latest status changes of the EVSEs a station serves, newest first, with the
        EVSE uid of each."""
        result = await self.session.execute(
            select(Evse.uid, EvseStatusChange)
            .join(Evse, col(Evse.id) == col(EvseStatusChange.evse_ref))
            .where(Evse.charging_station_id == station_id)
            .order_by(col(EvseStatusChange.id).desc())
            .limit(limit)
        )
        return [(uid, change) for uid, change in result.all()]

    async def history(self, evse_ref: int, limit: int = 100) -> Sequence[EvseStatusChange]:
        result = await self.session.execute(
            select(EvseStatusChange)
            .where(EvseStatusChange.evse_ref == evse_ref)
            .order_by(col(EvseStatusChange.id).desc())
            .limit(limit)
        )
        return result.scalars().all()
