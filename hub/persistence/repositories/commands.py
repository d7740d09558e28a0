"""SQL of commands (``hub.persistence.tables.commands``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.commands import CommandKind, CommandState
from hub.persistence.tables import Command

UNFINISHED = (CommandState.PENDING.value, CommandState.CALLING.value, CommandState.WAITING.value)


class CommandRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: Command) -> Command:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, pk: int, *, for_update: bool = False) -> Command | None:
        return await self.session.get(Command, pk, with_for_update=for_update or None)

    async def pending(self, now: datetime, limit: int) -> list[int]:
        """Commands not sent yet and still in time, oldest first."""
        result = await self.session.execute(
            select(Command.id)
            .where(col(Command.state) == CommandState.PENDING.value, col(Command.deadline) > now)
            .order_by(col(Command.id))
            .limit(limit)
        )
        return [int(pk) for pk in result.scalars()]

    async def claim(self, pk: int, worker: str, until: datetime) -> bool:
        """Take a PENDING command for calling; False when another process took it first."""
        result = await self.session.execute(
            update(Command)
            .where(col(Command.id) == pk, col(Command.state) == CommandState.PENDING.value)
            .values(state=CommandState.CALLING.value, claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def overdue(self, now: datetime, limit: int) -> list[Command]:
        """Unfinished commands whose deadline has passed."""
        result = await self.session.execute(
            select(Command)
            .where(col(Command.state).in_(UNFINISHED), col(Command.deadline) <= now)
            .order_by(col(Command.deadline))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(result.scalars())

    async def start_for_transaction(
        self,
        station_id: str,
        *,
        since: datetime,
        id_tag: str | None = None,
        connector_id: int | None = None,
        command_id: int | None = None,
    ) -> Command | None:
        """The START_SESSION a new transaction at ``station_id`` answers: by ``command_id``
        (2.0.1 ``remoteStartId``, or a 1.6 idTag alias), else the newest one for ``id_tag`` at
        ``connector_id`` (or for the whole station) received after ``since`` that has no
        session yet."""
        statement = select(Command).where(
            col(Command.kind) == CommandKind.START_SESSION.value,
            col(Command.station_id) == station_id,
            col(Command.session_ref).is_(None),
            col(Command.received_at) >= since,
            col(Command.response) == "ACCEPTED",
        )
        if command_id is not None:
            statement = statement.where(col(Command.id) == command_id)
        else:
            if id_tag is None:
                return None
            statement = statement.where(col(Command.token_uid) == id_tag.upper())
            if connector_id:
                statement = statement.where(
                    (col(Command.ocpp_connector_id) == connector_id)
                    | col(Command.ocpp_connector_id).is_(None)
                )
        result = await self.session.execute(statement.order_by(col(Command.id).desc()).limit(1))
        return result.scalar_one_or_none()

    async def listing(
        self,
        *,
        partner_id: int | None = None,
        station_id: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[Command]:
        """The operator's view (``hub commands list``), newest first."""
        statement = select(Command)
        if partner_id is not None:
            statement = statement.where(col(Command.partner_id) == partner_id)
        if station_id is not None:
            statement = statement.where(col(Command.station_id) == station_id)
        if kind is not None:
            statement = statement.where(col(Command.kind) == kind)
        if since is not None:
            statement = statement.where(col(Command.received_at) >= since)
        result = await self.session.execute(statement.order_by(col(Command.id).desc()).limit(limit))
        return list(result.scalars())
