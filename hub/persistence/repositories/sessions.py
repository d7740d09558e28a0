"""SQL of charging sessions, the charger's messages about them, and CDRs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.access import PartyScope
from hub.domain.sessions import SessionStatus
from hub.persistence.repositories.access import owned_by
from hub.persistence.tables import (
    ChargeDetailRecord,
    ChargingSession,
    ChargingStation,
    Evse,
    Location,
    SessionMessage,
)

OPEN = (SessionStatus.PENDING.value, SessionStatus.ACTIVE.value)

_Owned = TypeVar("_Owned", ChargingSession, ChargeDetailRecord)


@dataclass(frozen=True, slots=True)
class PageWindow:
    """One page of a Sender GET: objects last updated in [date_from, date_to) at the ``cpo``
    party's locations (None: any of ours), from ``offset``, at most ``limit``."""

    offset: int
    limit: int
    date_from: datetime | None = None
    date_to: datetime | None = None
    cpo: tuple[str, str] | None = None


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- where a transaction runs -------------------------------------------------------------

    async def station_evses(self, station_id: str) -> Sequence[tuple[Evse, Location]]:
        result = await self.session.execute(
            select(Evse, Location)
            .join(Location, col(Location.id) == col(Evse.location_ref))
            .where(col(Evse.charging_station_id) == station_id)
            .order_by(col(Evse.ocpp_evse_id), col(Evse.ocpp_connector_id), col(Evse.id))
        )
        return [(evse, location) for evse, location in result.all()]

    # --- sessions -----------------------------------------------------------------------------

    async def add(self, row: ChargingSession) -> ChargingSession:
        self.session.add(row)
        await self.session.flush()
        return row

    async def get(self, pk: int) -> ChargingSession | None:
        return await self.session.get(ChargingSession, pk)

    async def load(self, session_pks: Sequence[int], cdr_pks: Sequence[int]) -> None:
        """Read these sessions and CDRs into the unit of work in two statements (``get`` then
        finds them without a query each)."""
        if session_pks:
            await self.session.execute(
                select(ChargingSession).where(col(ChargingSession.id).in_(sorted(session_pks)))
            )
        if cdr_pks:
            await self.session.execute(
                select(ChargeDetailRecord).where(col(ChargeDetailRecord.id).in_(sorted(cdr_pks)))
            )

    async def by_transaction(
        self, station_id: str, transaction_id: str, *, for_update: bool = False
    ) -> ChargingSession | None:
        """The session of a station's transaction; ``for_update`` locks its row until the unit
        of work ends (PostgreSQL; SQLite's units of work are serialised anyway)."""
        statement = select(ChargingSession).where(
            col(ChargingSession.station_id) == station_id,
            col(ChargingSession.transaction_id) == transaction_id,
        )
        if for_update:
            statement = statement.with_for_update()
        result = await self.session.execute(statement)
        return result.scalar_one_or_none()

    async def by_session_id(
        self, country_code: str, party_id: str, session_id: str
    ) -> ChargingSession | None:
        result = await self.session.execute(
            select(ChargingSession).where(
                col(ChargingSession.country_code) == country_code,
                col(ChargingSession.party_id) == party_id,
                col(ChargingSession.session_id) == session_id,
            )
        )
        return result.scalar_one_or_none()

    async def open_at(self, station_id: str, evse_uid: str | None = None) -> list[ChargingSession]:
        """Sessions of the station (at one EVSE, when given) not ended yet."""
        statement = select(ChargingSession).where(
            col(ChargingSession.station_id) == station_id,
            col(ChargingSession.status).in_(OPEN),
        )
        if evse_uid is not None:
            statement = statement.where(col(ChargingSession.evse_uid) == evse_uid)
        result = await self.session.execute(statement.order_by(col(ChargingSession.id)))
        return list(result.scalars())

    async def silent_since(self, before: datetime, limit: int) -> list[ChargingSession]:
        """Open sessions whose last message is older than ``before``."""
        result = await self.session.execute(
            select(ChargingSession)
            .where(
                col(ChargingSession.status).in_(OPEN),
                col(ChargingSession.last_event_at) < before,
            )
            .order_by(col(ChargingSession.id))
            .limit(limit)
        )
        return list(result.scalars())

    async def owned_by_session_id(
        self, scope: PartyScope, session_id: str, cpo: tuple[str, str] | None
    ) -> ChargingSession | None:
        """The session with this OCPI id if it is one of the scope's tokens' (else None: a
        session of another partner is indistinguishable from a missing one)."""
        statement = select(ChargingSession).where(
            col(ChargingSession.session_id) == session_id,
            owned_by(
                scope, col(ChargingSession.token_country_code), col(ChargingSession.token_party_id)
            ),
        )
        if cpo is not None:
            statement = statement.where(
                col(ChargingSession.country_code) == cpo[0],
                col(ChargingSession.party_id) == cpo[1],
            )
        result = await self.session.execute(statement.limit(1))
        return result.scalar_one_or_none()

    async def open_before_boot(self, booted_before: datetime, limit: int) -> list[ChargingSession]:
        """Open sessions whose station booted after their last message, before
        ``booted_before``."""
        result = await self.session.execute(
            select(ChargingSession)
            .join(
                ChargingStation,
                col(ChargingStation.station_id) == col(ChargingSession.station_id),
            )
            .where(
                col(ChargingSession.status).in_(OPEN),
                col(ChargingStation.booted_at) > col(ChargingSession.last_event_at),
                col(ChargingStation.booted_at) <= booted_before,
            )
            .order_by(col(ChargingSession.id))
            .limit(limit)
        )
        return list(result.scalars())

    async def owned_page(
        self, scope: PartyScope, window: PageWindow
    ) -> tuple[list[ChargingSession], int]:
        """The sessions of the scope's tokens in ``window``, oldest change first, and how many
        there are in all."""
        return await self._owned(ChargingSession, scope, window)

    async def owned_cdr_page(
        self, scope: PartyScope, window: PageWindow
    ) -> tuple[list[ChargeDetailRecord], int]:
        """The CDRs of the scope's tokens in ``window`` (see ``owned_page``)."""
        return await self._owned(ChargeDetailRecord, scope, window)

    async def _owned(
        self, model: type[_Owned], scope: PartyScope, window: PageWindow
    ) -> tuple[list[_Owned], int]:
        conditions = [
            owned_by(scope, col(model.token_country_code), col(model.token_party_id)),
            col(model.partner_id).is_not(None),
        ]
        if window.cpo is not None:
            conditions += [
                col(model.country_code) == window.cpo[0],
                col(model.party_id) == window.cpo[1],
            ]
        if window.date_from is not None:
            conditions.append(col(model.last_updated) >= window.date_from)
        if window.date_to is not None:
            conditions.append(col(model.last_updated) < window.date_to)
        total = await self.session.scalar(
            select(func.count()).select_from(model).where(*conditions)
        )
        result = await self.session.execute(
            select(model)
            .where(*conditions)
            .order_by(col(model.last_updated), col(model.id))
            .offset(window.offset)
            .limit(window.limit)
        )
        return list(result.scalars()), int(total or 0)

    async def listing(
        self,
        *,
        partner_id: int | None = None,
        station_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        unassigned: bool = False,
        review: bool = False,
        limit: int = 50,
    ) -> list[ChargingSession]:
        """Sessions for operators, newest first."""
        statement = select(ChargingSession)
        if partner_id is not None:
            statement = statement.where(col(ChargingSession.partner_id) == partner_id)
        if station_id is not None:
            statement = statement.where(col(ChargingSession.station_id) == station_id)
        if since is not None:
            statement = statement.where(col(ChargingSession.start_date_time) >= since)
        if until is not None:
            statement = statement.where(col(ChargingSession.start_date_time) < until)
        if unassigned:
            statement = statement.where(col(ChargingSession.partner_id).is_(None))
        if review:
            statement = statement.where(col(ChargingSession.held_for_review).is_(True))
        result = await self.session.execute(
            statement.order_by(col(ChargingSession.start_date_time).desc()).limit(limit)
        )
        return list(result.scalars())

    async def find(self, reference: str) -> ChargingSession | None:
        """A session by its OCPI id or its transaction id (operators type either)."""
        result = await self.session.execute(
            select(ChargingSession)
            .where(
                or_(
                    col(ChargingSession.session_id) == reference,
                    col(ChargingSession.transaction_id) == reference,
                )
            )
            .order_by(col(ChargingSession.id).desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    # --- the charger's messages ---------------------------------------------------------------

    def add_message(self, message: SessionMessage) -> None:
        """Stage a message (inserted with the unit of work). The caller holds the session's row
        lock and has checked that its ``seq_no`` is new; the unique constraint on
        (session_ref, seq_no) stays the last word."""
        self.session.add(message)

    async def messages(self, session_ref: int) -> list[SessionMessage]:
        result = await self.session.execute(
            select(SessionMessage)
            .where(col(SessionMessage.session_ref) == session_ref)
            .order_by(
                col(SessionMessage.timestamp),
                col(SessionMessage.seq_no),
                col(SessionMessage.id),
            )
        )
        return list(result.scalars())

    # --- CDRs ---------------------------------------------------------------------------------

    async def add_cdr(self, row: ChargeDetailRecord) -> ChargeDetailRecord:
        self.session.add(row)
        await self.session.flush()
        return row

    async def cdr(self, pk: int) -> ChargeDetailRecord | None:
        return await self.session.get(ChargeDetailRecord, pk)

    async def cdr_by_id(self, cdr_id: str) -> ChargeDetailRecord | None:
        result = await self.session.execute(
            select(ChargeDetailRecord).where(col(ChargeDetailRecord.cdr_id) == cdr_id)
        )
        return result.scalars().first()

    async def cdrs_of_session(self, session_ref: int) -> list[ChargeDetailRecord]:
        result = await self.session.execute(
            select(ChargeDetailRecord)
            .where(col(ChargeDetailRecord.session_ref) == session_ref)
            .order_by(col(ChargeDetailRecord.id))
        )
        return list(result.scalars())

    async def cdr_listing(
        self,
        *,
        partner_id: int | None = None,
        station_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
    ) -> list[ChargeDetailRecord]:
        statement = select(ChargeDetailRecord)
        if partner_id is not None:
            statement = statement.where(col(ChargeDetailRecord.partner_id) == partner_id)
        if station_id is not None:
            statement = statement.join(
                ChargingSession,
                col(ChargingSession.id) == col(ChargeDetailRecord.session_ref),
            ).where(col(ChargingSession.station_id) == station_id)
        if since is not None:
            statement = statement.where(col(ChargeDetailRecord.created_at) >= since)
        if until is not None:
            statement = statement.where(col(ChargeDetailRecord.created_at) < until)
        result = await self.session.execute(
            statement.order_by(col(ChargeDetailRecord.id).desc()).limit(limit)
        )
        return list(result.scalars())

    async def credit_of(
        self, country_code: str, party_id: str, cdr_id: str
    ) -> ChargeDetailRecord | None:
        """The credit CDR of the CPO party's CDR ``cdr_id`` (None: it is not credited)."""
        result = await self.session.execute(
            select(ChargeDetailRecord)
            .where(
                col(ChargeDetailRecord.country_code) == country_code,
                col(ChargeDetailRecord.party_id) == party_id,
                col(ChargeDetailRecord.credit_reference_id) == cdr_id,
                col(ChargeDetailRecord.credit).is_(True),
            )
            .order_by(col(ChargeDetailRecord.id))
            .limit(1)
        )
        return result.scalar_one_or_none()
