"""Reservations (``hub.domain.reservations``): made by RESERVE_NOW, replaced by the same
``reservation_id`` at the same location, a Session in status RESERVATION while they hold, used
by the driver's transaction, expired, or cancelled by the eMSP, by us (a charger fault or an
offline charger) or by the operator. Never commits.

A reservation we cancel ourselves sends CANCELED_RESERVATION to the ``response_url`` of the
RESERVE_NOW that made it (``mod_commands`` "Reservation canceled by the CPO"), after that
command's own result on the same queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from hub.domain.push import JobKind, command_queue
from hub.domain.reservations import CPO_CANCEL_STATUSES, ReservationState
from hub.domain.sessions import SessionToken
from hub.errors import NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.partners import PartnerRepository
from hub.persistence.tables import ChargingStation, Command, Evse, Reservation
from hub.services.push import Change, PushService
from hub.services.sessions import ReservationStart, SessionService, TariffCodec

LIVE = (ReservationState.REQUESTED.value, ReservationState.RESERVED.value)


@dataclass(frozen=True, slots=True)
class Ended:
    """A reservation that ended without the driver: which, and why (for the log)."""

    reservation: Reservation
    state: ReservationState
    reason: str


class ReservationService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        codec: TariffCodec,
        clock: Callable[[], datetime] = utc_now,
        push: PushService | None = None,
    ) -> None:
        self.session = session
        self.clock = clock
        self.push = push or PushService(session, clock=clock)
        self.sessions = SessionService(session, codec=codec, clock=clock, push=self.push)

    async def get(self, pk: int) -> Reservation | None:
        return await self.session.get(Reservation, pk)

    async def live_of(
        self, partner_id: int, reservation_id: str, location_id: str | None = None
    ) -> Reservation | None:
        """The partner's reservation with this id (at this location) that still holds."""
        statement = select(Reservation).where(
            col(Reservation.partner_id) == partner_id,
            col(Reservation.reservation_id) == reservation_id,
            col(Reservation.state).in_(LIVE),
        )
        if location_id is not None:
            statement = statement.where(col(Reservation.location_id) == location_id)
        result = await self.session.execute(statement.order_by(col(Reservation.id).desc()))
        return result.scalars().first()

    async def request(
        self, command: Command, reservation_id: str, expiry: datetime, *, any_evse: bool
    ) -> str | None:
        """The reservation a RESERVE_NOW makes or replaces, linked to ``command``; a reason
        when it cannot be done (a replacement at another charger)."""
        existing = await self.live_of(command.partner_id, reservation_id, command.location_id)
        if existing is not None:
            if existing.station_id != command.station_id:
                return (
                    f"reservation {reservation_id} is held at charger {existing.station_id}; "
                    "a replacement must stay there (cancel it first)"
                )
            command.reservation_ref = existing.id
            return None
        row = Reservation(
            partner_id=command.partner_id,
            reservation_id=reservation_id,
            country_code=command.country_code,
            party_id=command.party_id,
            location_id=command.location_id or "",
            evse_uid=None if any_evse else command.evse_uid,
            station_id=command.station_id or "",
            expiry_date=expiry,
            command_ref=None,
            created_at=self.clock(),
        )
        self.session.add(row)
        await self.session.flush()
        command.reservation_ref = row.id
        return None

    async def accepted_by_charger(
        self, command: Command, token: SessionToken, expiry: datetime
    ) -> None:
        """The charger holds it: RESERVED, with its RESERVATION session (a replacement keeps
        its session and takes the new expiry and command)."""
        row = await self.get(command.reservation_ref or 0)
        if row is None or not ReservationState(row.state).live:
            return
        row.state = ReservationState.RESERVED.value
        row.expiry_date = expiry
        row.command_ref = command.id
        if row.session_ref is None:
            session = await self.sessions.reserve(
                ReservationStart(row.station_id, command.evse_uid or "", token)
            )
            row.session_ref = session.id
            command.session_ref = session.id

    async def refused_by_charger(self, command: Command, why: str) -> None:
        """The charger would not reserve: a new reservation is REFUSED; one being replaced
        still holds as it was."""
        row = await self.get(command.reservation_ref or 0)
        if row is None or row.state != ReservationState.REQUESTED.value:
            return
        row.state = ReservationState.REFUSED.value
        row.ended_at, row.end_reason = self.clock(), why[:255]

    async def cancelled(self, command: Command, why: str) -> None:
        """CANCEL_RESERVATION done (or the charger no longer held it): it ends."""
        row = await self.get(command.reservation_ref or 0)
        if row is not None and ReservationState(row.state).live:
            await self._end(row, ReservationState.CANCELLED, why)

    async def used(self, pk: int, station_id: str) -> Reservation | None:
        """The charger started a transaction on our reservation ``pk``: USED. None when it is
        not one of this station's live reservations."""
        row = await self.get(pk)
        if row is None or row.station_id != station_id or row.state not in LIVE:
            return None
        row.state = ReservationState.USED.value
        row.ended_at = self.clock()
        return row

    async def expire(self, limit: int = 100) -> list[Ended]:
        """Reservations past their expiry: EXPIRED, their sessions completed (and billed when
        the tariff prices reservations)."""
        now = self.clock()
        result = await self.session.execute(
            select(Reservation)
            .where(
                col(Reservation.state) == ReservationState.RESERVED.value,
                col(Reservation.expiry_date) <= now,
            )
            .order_by(col(Reservation.expiry_date))
            .limit(limit)
        )
        ended = []
        for row in result.scalars():
            await self._end(row, ReservationState.EXPIRED, "expired unused", at=row.expiry_date)
            ended.append(Ended(row, ReservationState.EXPIRED, "expired unused"))
        return ended

    async def cancel_where_unusable(self, limit: int = 100) -> list[Ended]:
        """Reservations at a charger that is offline or an EVSE out of order: cancelled by us
        (README "Reservations"), the eMSP told CANCELED_RESERVATION."""
        result = await self.session.execute(
            select(Reservation, ChargingStation.online, Evse.status)
            .join(ChargingStation, col(ChargingStation.station_id) == col(Reservation.station_id))
            .outerjoin(Evse, col(Evse.uid) == col(Reservation.evse_uid))
            .where(col(Reservation.state) == ReservationState.RESERVED.value)
            .limit(limit)
        )
        ended = []
        for row, online, evse_status in result.all():
            if not online:
                why = f"charger {row.station_id} went offline"
            elif evse_status in CPO_CANCEL_STATUSES:
                why = f"EVSE {row.evse_uid} is {evse_status}"
            else:
                continue
            await self.cancel_by_cpo(row, why)
            ended.append(Ended(row, ReservationState.CANCELED_BY_CPO, why))
        return ended

    async def cancel_by_cpo(self, row: Reservation, why: str) -> None:
        """We cancel it: CANCELED_RESERVATION to the eMSP, the session completed."""
        await self._end(row, ReservationState.CANCELED_BY_CPO, why)
        if row.command_ref is None:
            return
        command = await self.session.get(Command, row.command_ref)
        if command is None or command.operator:
            return
        await self.push.fanout(
            [
                Change(
                    JobKind.COMMAND_RESULT,
                    command_queue(command.require_id()),
                    {
                        "command": command.id,
                        "country_code": command.country_code,
                        "party_id": command.party_id,
                        "result": "CANCELED_RESERVATION",
                        "message": f"reservation cancelled: {why}"[:255],
                    },
                    coalesce_parts=("canceled",),
                    recipients=frozenset({command.partner_id}),
                )
            ],
            only=command.partner_id,
            fresh=True,
        )

    async def operator_listing(
        self, *, partner: str | None = None, live: bool = False, limit: int = 100
    ) -> list[tuple[Reservation, str]]:
        """Reservations for the operator (``hub reservations list``), newest first, with the
        name of the eMSP of each. Raises ``NotFound`` for an unknown partner name."""
        partners = PartnerRepository(self.session)
        statement = select(Reservation)
        if partner is not None:
            found = await partners.get_by_name(partner)
            if found is None:
                raise NotFound(f"no partner named {partner!r}")
            statement = statement.where(col(Reservation.partner_id) == found.require_id())
        if live:
            statement = statement.where(col(Reservation.state).in_(LIVE))
        result = await self.session.execute(
            statement.order_by(col(Reservation.id).desc()).limit(limit)
        )
        names = {p.require_id(): p.name for p in await partners.list()}
        return [(row, names.get(row.partner_id, f"#{row.partner_id}")) for row in result.scalars()]

    async def _end(
        self, row: Reservation, state: ReservationState, why: str, *, at: datetime | None = None
    ) -> None:
        moment = at or self.clock()
        row.state = state.value
        row.ended_at, row.end_reason = moment, why[:255]
        if row.session_ref is not None:
            session = await self.sessions.get(row.session_ref)
            if session is not None:
                await self.sessions.end_reservation(
                    session, at=moment, expired=state is ReservationState.EXPIRED
                )
