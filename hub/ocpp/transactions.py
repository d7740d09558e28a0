"""OCPP transactions (1.6 StartTransaction / MeterValues / StopTransaction, 2.0.1
TransactionEvent) fed into charging sessions (``hub.services.sessions``).

Each message is answered only after what it says is committed. The id token of a start is
decided first (``hub.ocpp.authorization``, no transaction open while an eMSP may be asked), then
one unit of work records the message. A message about a transaction we never issued (1.6) is
answered as OCPP asks and logged with the station id; it changes nothing.

2.0.1 events are idempotent by (station, transactionId, seqNo): a repeated event is answered
and ignored. The first event we see of a transaction opens its session, whatever its type (a
lost or late Started does not lose the charge); an ``idToken`` that comes on a later event
authorizes the session then; ``evse`` is taken from the first event that has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import SessionSettings
from hub.domain.sessions import PushThrottle, SessionStatus, SessionToken
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.persistence.base import utc_now
from hub.persistence.group_commit import GroupCommit, committed
from hub.persistence.session import read_scope, session_scope
from hub.persistence.tables import ChargingSession, Command, Reservation
from hub.services.commands import CommandService, session_token
from hub.services.reservations import LIVE, ReservationService
from hub.services.sessions import MeterMessage, SessionService, TariffCodec, TransactionStart

logger = logging.getLogger(__name__)

INVALID = {"status": "Invalid"}
ACCEPTED = {"status": "Accepted"}


def _refused(uid: str, presented_type: str) -> SessionToken:
    return SessionToken(
        uid=uid, token_type=None, accepted=False, auth_method="WHITELIST",
        presented_type=presented_type,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Reserved:
    reservation: int
    command: Command
    session: int


class Transactions:
    """The OCPP transaction messages of every station of this process."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: SessionSettings,
        *,
        codec: TariffCodec,
        authorizer: IdTokenAuthorizer | None,
        clock: Callable[[], datetime] = utc_now,
        on_change: Callable[[], None] = lambda: None,
        group: GroupCommit | None = None,
    ) -> None:
        self.sessions = sessions
        # Meter values and TransactionEvents are committed in groups with the station's other
        # messages (``hub.persistence.group_commit``); None: each in a transaction of its own.
        self.group = group
        self.settings = settings
        self.codec = codec
        self.authorizer = authorizer
        self.clock = clock
        self.on_change = on_change
        self.throttle = PushThrottle(
            timedelta(seconds=settings.patch_interval_seconds), settings.patch_kwh_step
        )

    def _service(self, session: AsyncSession) -> SessionService:
        return SessionService(session, codec=self.codec, clock=self.clock, throttle=self.throttle)

    # --- OCPP 1.6 -----------------------------------------------------------------------------

    async def started_16(
        self,
        station_id: str,
        *,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: str,
        reservation_id: int | None = None,
    ) -> tuple[int, dict[str, str]]:
        """StartTransaction: the transaction id we assign, and the id tag's answer.

        A transaction an eMSP's START_SESSION asked for (the idTag at that connector, within 15
        minutes) is the command's: its token, ``auth_method`` COMMAND, its
        ``authorization_reference``; the token is not authorized again (``mod_commands``)."""
        reserved = await self._reservation(station_id, reservation_id)
        # An app start on a reserved EVSE is both: the START_SESSION gets its result, the
        # session stays the reservation's (its token, its reference unless the start has one).
        started = await self._remote_start(station_id, id_tag=id_tag, connector_id=connector_id)
        command = started or (reserved.command if reserved else None)
        if command is not None:
            info, token = dict(ACCEPTED), session_token(command)
        elif self.authorizer is None:
            info, token = INVALID, _refused(id_tag, "idTag")
        else:
            info, token = await self.authorizer.id_tag_decision(
                station_id, id_tag, action="StartTransaction", connector_id=connector_id
            )
        started_at = self._moment(timestamp, station_id)
        async with session_scope(self.sessions) as session:
            row = await self._service(session).start(
                TransactionStart(
                    station_id=station_id,
                    ocpp_version="1.6",
                    started_at=started_at,
                    ocpp_connector_id=connector_id,
                    token=token,
                    meter_start_kwh=Decimal(meter_start) / 1000,
                    reservation_session=reserved.session if reserved else None,
                )
            )
            if reserved is not None:
                await self._reservation_used(session, reserved, station_id)
            if started is not None:
                await self._answered(session, started.require_id(), row)
            transaction_id = int(row.transaction_id or 0)
        self.on_change()
        return transaction_id, info

    async def meter_values_16(
        self,
        station_id: str,
        *,
        connector_id: int,
        transaction_id: int | None,
        meter_value: Sequence[Mapping[str, Any]],
    ) -> None:
        """MeterValues of a transaction (values outside one are not a session's)."""
        if transaction_id is None:
            return

        async def record(session: AsyncSession) -> bool:
            service = self._service(session)
            row = await service.transaction(station_id, str(transaction_id))
            if row is None:
                return False
            await service.record(
                row,
                MeterMessage(
                    "MeterValues",
                    _first_time(meter_value) or self.clock(),
                    [dict(value) for value in meter_value],
                ),
            )
            return True

        if await committed(self.group, self.sessions, station_id, record):
            self.on_change()
        else:
            logger.warning(
                "station %s sent meter values of connector %s for transaction %s, which we never "
                "issued",
                station_id,
                connector_id,
                transaction_id,
            )

    async def stopped_16(
        self,
        station_id: str,
        *,
        transaction_id: int,
        meter_stop: int,
        timestamp: str,
        reason: str | None,
        transaction_data: Sequence[Mapping[str, Any]] | None,
    ) -> None:
        """StopTransaction: the session ends and, when billable, its CDR is queued."""
        ended_at = self._moment(timestamp, station_id)
        async with session_scope(self.sessions) as session:
            service = self._service(session)
            row = await service.transaction(station_id, str(transaction_id))
            if row is None:
                logger.warning(
                    "station %s stopped transaction %s, which we never issued; answered, "
                    "nothing recorded",
                    station_id,
                    transaction_id,
                )
                return
            data = [dict(value) for value in transaction_data or ()]
            await service.end(
                row,
                at=ended_at,
                meter_stop_kwh=Decimal(meter_stop) / 1000,
                stop_reason=reason or "Local",
                last=MeterMessage("StopTransaction", ended_at, data) if data else None,
            )
        self.on_change()

    # --- OCPP 2.0.1 ---------------------------------------------------------------------------

    async def event_201(
        self,
        station_id: str,
        *,
        event_type: str,
        timestamp: str,
        seq_no: int,
        transaction_info: Mapping[str, Any],
        evse: Mapping[str, Any] | None,
        id_token: Mapping[str, Any] | None,
        meter_value: Sequence[Mapping[str, Any]] | None,
        reservation_id: int | None = None,
    ) -> dict[str, object] | None:
        """TransactionEvent: the ``idTokenInfo`` when the event carries an id token."""
        info: dict[str, object] | None = None
        token: SessionToken | None = None
        evse_id = (evse or {}).get("id")
        moment = self._moment(timestamp, station_id)
        transaction_id = str(transaction_info.get("transaction_id", ""))[:36]
        remote_start_id = transaction_info.get("remote_start_id")
        reserved = await self._reservation(station_id, reservation_id)
        started = None
        if isinstance(remote_start_id, int):
            started = await self._remote_start(station_id, remote_start_id=remote_start_id)
        command = started or (reserved.command if reserved else None)
        if command is not None:
            # The transaction of an eMSP's START_SESSION: the command's token, not re-authorized.
            token = session_token(command)
            info = dict(ACCEPTED) if id_token is not None else None
        elif id_token is not None:
            decided = await self._decided(station_id, transaction_id, id_token)
            if decided is not None:
                info = {"status": decided}
            elif self.authorizer is None:
                info = dict(INVALID)
                token = _refused(str(id_token.get("id_token", "")), str(id_token.get("type")))
            else:
                info, _, token = await self.authorizer.id_token_decision(
                    station_id, id_token, action="TransactionEvent", evse_id=evse_id
                )

        async def record(session: AsyncSession) -> None:
            await self._event(
                session,
                station_id,
                event_type=event_type,
                moment=moment,
                seq_no=seq_no,
                transaction_id=transaction_id,
                transaction_info=transaction_info,
                evse=evse,
                token=token,
                meter_value=meter_value,
                command=started.require_id() if started is not None else None,
                reserved=reserved,
            )

        for attempt in (1, 2):
            try:
                await committed(self.group, self.sessions, station_id, record)
                break
            except IntegrityError:
                # Two first events of one transaction at once (another process opened the
                # session first): the second try finds it.
                if attempt == 2:
                    raise
        self.on_change()
        return info

    async def _event(
        self,
        session: AsyncSession,
        station_id: str,
        *,
        event_type: str,
        moment: datetime,
        seq_no: int,
        transaction_id: str,
        transaction_info: Mapping[str, Any],
        evse: Mapping[str, Any] | None,
        token: SessionToken | None,
        meter_value: Sequence[Mapping[str, Any]] | None,
        command: int | None = None,
        reserved: _Reserved | None = None,
    ) -> None:
        service = self._service(session)
        row = await service.transaction(station_id, transaction_id)
        if row is None:
            if reserved is not None:
                await self._reservation_used(session, reserved, station_id)
            row = await service.start(
                TransactionStart(
                    station_id=station_id,
                    ocpp_version="2.0.1",
                    started_at=moment,
                    transaction_id=transaction_id,
                    ocpp_evse_id=(evse or {}).get("id"),
                    ocpp_connector_id=(evse or {}).get("connector_id"),
                    token=token,
                    remote_start_id=transaction_info.get("remote_start_id"),
                    reservation_session=reserved.session if reserved else None,
                )
            )
        else:
            if event_type == "Started" and moment < row.start_date_time:
                row.start_date_time = moment  # a repeated or late Started names the true start
            if token is not None and row.token_uid is None:
                await service.authorize(row, token)
            elif token is not None:
                # Another card on a later event (a stop by a driver of the same group): answered,
                # but the session stays its first driver's.
                logger.info(
                    "station %s: transaction %s has a token; the one on a later event is not "
                    "the session's",
                    station_id,
                    transaction_id,
                )
            if row.remote_start_id is None and transaction_info.get("remote_start_id"):
                row.remote_start_id = transaction_info["remote_start_id"]
        if command is not None:
            await self._answered(session, command, row)
        message = MeterMessage(
            "TransactionEvent",
            moment,
            [dict(value) for value in meter_value or ()],
            seq_no=seq_no,
            charging_state=transaction_info.get("charging_state"),
        )
        if event_type == "Ended":
            await service.end(
                row, at=moment, stop_reason=transaction_info.get("stopped_reason"), last=message
            )
        else:
            await service.record(row, message)

    async def _reservation(self, station_id: str, reservation_id: int | None) -> _Reserved | None:
        """The live reservation of ours a transaction names (its id is ours: the charger got
        it in ReserveNow), with the RESERVE_NOW that made it and its RESERVATION session."""
        if reservation_id is None:
            return None
        async with read_scope(self.sessions) as session:
            row = await session.get(Reservation, reservation_id)
            if row is None or row.station_id != station_id or row.state not in LIVE:
                return None
            command = await session.get(Command, row.command_ref) if row.command_ref else None
        if command is None or row.session_ref is None:
            return None
        return _Reserved(row.require_id(), command, row.session_ref)

    async def _reservation_used(
        self, session: AsyncSession, reserved: _Reserved, station_id: str
    ) -> None:
        await ReservationService(session, codec=self.codec, clock=self.clock).used(
            reserved.reservation, station_id
        )

    async def _remote_start(
        self,
        station_id: str,
        *,
        id_tag: str | None = None,
        connector_id: int | None = None,
        remote_start_id: int | None = None,
    ) -> Command | None:
        """The START_SESSION a new transaction answers, read outside the unit of work."""
        async with read_scope(self.sessions) as session:
            return await CommandService(session, clock=self.clock).start_for_transaction(
                station_id,
                id_tag=id_tag,
                connector_id=connector_id,
                remote_start_id=remote_start_id,
            )

    async def _answered(self, session: AsyncSession, command_pk: int, row: ChargingSession) -> None:
        commands = CommandService(session, clock=self.clock)
        command = await commands.get(command_pk, for_update=True)
        if command is not None:
            await commands.session_started(command, row)

    async def _decided(
        self, station_id: str, transaction_id: str, id_token: Mapping[str, Any]
    ) -> str | None:
        """The answer already given for this transaction's own token (events repeat it, up to
        the Ended): the status the session stands for, without deciding or asking again. None
        when the token is not the session's (or there is no session yet)."""
        uid = str(id_token.get("id_token", ""))
        async with read_scope(self.sessions) as session:
            row = await self._service(session).transaction(
                station_id, transaction_id, for_update=False
            )
        if row is None or row.token_uid is None or row.token_uid.upper() != uid.upper():
            return None
        accepted = row.status in (SessionStatus.ACTIVE.value, SessionStatus.COMPLETED.value)
        return "Accepted" if accepted else "Invalid"

    # --- sessions the charger will not end ----------------------------------------------------

    async def sweep(self) -> int:
        """Close sessions that went silent, and those of stations that booted again and did
        not report their end within the grace; returns how many were closed."""
        now = self.clock()
        closed = 0
        async with session_scope(self.sessions) as session:
            service = self._service(session)
            closed += await service.close_silent(
                before=now - timedelta(seconds=self.settings.silence_limit_seconds)
            )
            closed += await service.close_rebooted(
                booted_before=now - timedelta(seconds=self.settings.reboot_grace_seconds)
            )
        if closed:
            self.on_change()
        return closed

    def _moment(self, timestamp: str, station_id: str) -> datetime:
        """The charger's time of an event; a missing or broken one is now (logged)."""
        try:
            moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            logger.warning("station %s sent an unreadable timestamp %r", station_id, timestamp)
            return self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


def _first_time(meter_value: Sequence[Mapping[str, Any]]) -> datetime | None:
    for value in meter_value:
        try:
            moment = datetime.fromisoformat(str(value.get("timestamp")).replace("Z", "+00:00"))
        except ValueError:
            continue
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None
