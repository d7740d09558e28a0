"""Carrying out eMSP commands on chargers (``hub.domain.commands``): each process claims the
commands waiting to be sent, calls the charger (wherever its socket is held:
``StationCommands``), records the answer, and finishes overdue commands with TIMEOUT.

A command survives its process: it is PENDING in the database until a process claims it, and
one claimed by a process that died before recording the answer is finished with TIMEOUT at its
deadline by any other process (whether the charger acted is unknown then; a START_SESSION whose
transaction begins anyway is still matched to it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import CommandSettings
from hub.domain.charging_profiles import PROFILE_KINDS, profile_answer_outcome
from hub.domain.commands import (
    OCPP201_ID_TOKEN_TYPES,
    CallProblem,
    CommandKind,
    answer_outcome,
    call_problem_outcome,
    ocpp16_id_tag,
)
from hub.ocpp.charging_profiles import profile_call
from hub.ocpp.commands import CallFailure, StationCallFailed, StationCommands
from hub.persistence.base import utc_now
from hub.persistence.repositories.sessions import SessionRepository
from hub.persistence.repositories.stations import StationRepository
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession, Command
from hub.services.charging_profiles import ChargingProfileService
from hub.services.commands import CommandService
from hub.services.reservations import ReservationService
from hub.services.sessions import TariffCodec
from hub.waiting import until_any

logger = logging.getLogger(__name__)

_PROBLEMS = {
    CallFailure.TIMEOUT: CallProblem.TIMEOUT,
    CallFailure.NOT_CONNECTED: CallProblem.NOT_CONNECTED,
    CallFailure.DISCONNECTED: CallProblem.NOT_CONNECTED,
    CallFailure.NODE_UNREACHABLE: CallProblem.NOT_CONNECTED,
}


def ocpp_call(
    row: Command,
    version: str,
    transaction_id: str | None,
    *,
    session: ChargingSession | None = None,
) -> tuple[str, dict[str, Any]]:
    """The OCPP action and payload that carry out ``row`` on a charger speaking ``version``
    (``session``: the one ``row.session_ref`` names)."""
    kind = CommandKind(row.kind)
    if kind in PROFILE_KINDS:
        return profile_call(row, version, session)
    v16 = version == "1.6"
    if kind is CommandKind.START_SESSION:
        uid = str((row.request.get("token") or {}).get("uid") or row.token_uid)
        if v16:
            payload: dict[str, Any] = {"idTag": ocpp16_id_tag(uid, row.require_id())}
            if row.ocpp_connector_id:
                payload["connectorId"] = row.ocpp_connector_id
            return "RemoteStartTransaction", payload
        payload = {
            "idToken": {
                "idToken": uid,
                "type": OCPP201_ID_TOKEN_TYPES.get(row.token_type or "", "Central"),
            },
            "remoteStartId": row.require_id(),
        }
        if row.ocpp_evse_id:
            payload["evseId"] = row.ocpp_evse_id
        return "RequestStartTransaction", payload
    if kind is CommandKind.STOP_SESSION:
        if v16:
            return "RemoteStopTransaction", {"transactionId": int(transaction_id or 0)}
        return "RequestStopTransaction", {"transactionId": transaction_id}
    if kind is CommandKind.UNLOCK_CONNECTOR:
        if v16:
            return "UnlockConnector", {"connectorId": row.ocpp_connector_id or 1}
        return "UnlockConnector", {
            "evseId": row.ocpp_evse_id or 1,
            "connectorId": row.ocpp_connector_id or 1,
        }
    if kind is CommandKind.RESERVE_NOW:
        return _reserve_now(row, v16)
    if kind is CommandKind.CANCEL_RESERVATION:
        return "CancelReservation", {"reservationId": row.reservation_ref}
    raise ValueError(f"no OCPP call for {kind}")


def _reserve_now(row: Command, v16: bool) -> tuple[str, dict[str, Any]]:
    """ReserveNow with our reservation id (never the eMSP's ``reservation_id``). Without an
    ``evse_uid`` in the command: 2.0.1 reserves any EVSE of the charger (no ``evseId``); 1.6
    names the chosen EVSE's connector, made 0 by the runner when the charger supports that."""
    uid = str((row.request.get("token") or {}).get("uid") or row.token_uid)
    expiry = str(row.request.get("expiry_date"))
    if v16:
        return "ReserveNow", {
            "connectorId": row.ocpp_connector_id or 1,
            "expiryDate": expiry,
            "idTag": ocpp16_id_tag(uid, row.require_id()),
            "reservationId": row.reservation_ref,
        }
    payload: dict[str, Any] = {
        "id": row.reservation_ref,
        "expiryDateTime": expiry,
        "idToken": {
            "idToken": uid,
            "type": OCPP201_ID_TOKEN_TYPES.get(row.token_type or "", "Central"),
        },
    }
    if row.request.get("evse_uid") is not None and row.ocpp_evse_id:
        payload["evseId"] = row.ocpp_evse_id
    return "ReserveNow", payload


ZERO_SUPPORTED = "ReserveConnectorZeroSupported"


@dataclass(frozen=True, slots=True)
class _Call:
    command: int
    kind: CommandKind
    station_id: str
    action: str
    payload: dict[str, Any]
    any_connector: bool = False
    """A 1.6 RESERVE_NOW for any EVSE: connector 0 if the charger supports it."""


class CommandRunner:
    """One per process (``hub serve``); see the module docstring."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        stations: StationCommands,
        settings: CommandSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_result: Callable[[], None] = lambda: None,
        name: str | None = None,
        codec: TariffCodec,
    ) -> None:
        self.sessions = sessions
        self.codec = codec
        self.stations = stations
        self.settings = settings
        self.clock = clock
        self.on_result = on_result
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._wakeup = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()
        self._last_sweep = -math.inf
        self._limit = asyncio.Semaphore(settings.concurrency)

    def _service(self, session: AsyncSession) -> CommandService:
        return CommandService(
            session, timeouts=self.settings.timeouts(), clock=self.clock, codec=self.codec
        )

    def wake(self) -> None:
        """Look for commands now (one was just committed in this process)."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wakeup.clear()
            # A wake-up (a command just arrived) claims it at once; timeouts and reservation
            # expiries are looked for once per poll interval, not at every wake-up as well.
            now = time.monotonic()
            sweep = now - self._last_sweep >= self.settings.poll_interval_seconds
            try:
                await self.run_once(sweep=sweep)
                if sweep:
                    self._last_sweep = now
            except Exception:
                logger.exception("command runner: round failed")
            await until_any(stop, self._wakeup, at_most=self.settings.poll_interval_seconds)
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)

    async def run_once(self, *, sweep: bool = True) -> int:
        """Time out overdue commands and end reservations (``sweep``), then claim the
        pending commands in one unit of work and start calling them; returns how many calls
        were started (they run on as tasks: ``drain`` waits for them)."""
        if sweep:
            await self._sweep()
        async with session_scope(self.sessions) as session:
            service = self._service(session)
            calls = []
            for pk in await service.pending(limit=self.settings.concurrency):
                call = await self._claim(session, service, pk)
                if call is not None:
                    calls.append(call)
        for call in calls:
            task = asyncio.create_task(self._call(call), name=f"command-{call.command}")
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        return len(calls)

    async def _sweep(self) -> None:
        async with session_scope(self.sessions) as session:
            overdue = await self._service(session).time_out()
        for row in overdue:
            logger.warning(
                "command %s %s for station %s: %s", row.id, row.kind, row.station_id, row.result
            )
        async with session_scope(self.sessions) as session:
            reservations = ReservationService(session, codec=self.codec, clock=self.clock)
            ended = [*await reservations.expire(), *await reservations.cancel_where_unusable()]
        for gone in ended:
            logger.warning(
                "reservation %s (%s of partner %s) at %s: %s, %s",
                gone.reservation.id,
                gone.reservation.reservation_id,
                gone.reservation.partner_id,
                gone.reservation.station_id,
                gone.state.value,
                gone.reason,
            )
        if overdue or ended:
            self.on_result()

    async def _zero_supported(self, station_id: str) -> bool:
        """Whether a 1.6 charger takes reservations of connector 0 (any of its connectors):
        its ``ReserveConnectorZeroSupported`` configuration key."""
        try:
            answer = await self.stations.call(
                station_id, "GetConfiguration", {"key": [ZERO_SUPPORTED]}
            )
        except StationCallFailed:
            return False
        keys = answer.get("configurationKey") or []
        return any(
            k.get("key") == ZERO_SUPPORTED and str(k.get("value")).lower() == "true" for k in keys
        )

    async def drain(self) -> None:
        """Wait for the calls started so far (tests)."""
        await asyncio.gather(*list(self._calls), return_exceptions=True)

    async def _claim(self, session: AsyncSession, service: CommandService, pk: int) -> _Call | None:
        """Claim ``pk`` (None: another process has it) and build its OCPP call."""
        lease = timedelta(seconds=self.settings.lease_seconds)
        row = await service.claim(pk, self.name, lease)
        if row is None or row.station_id is None:
            return None
        station = await StationRepository(session).get(row.station_id)
        version = (station.ocpp_version if station else None) or "1.6"
        transaction_id, target = None, None
        if row.session_ref is not None:
            target = await SessionRepository(session).get(row.session_ref)
            transaction_id = target.transaction_id if target else None
        action, payload = ocpp_call(row, version, transaction_id, session=target)
        any_connector = (
            row.kind == CommandKind.RESERVE_NOW.value
            and version == "1.6"
            and row.request.get("evse_uid") is None
        )
        return _Call(pk, CommandKind(row.kind), row.station_id, action, payload, any_connector)

    async def _call(self, call: _Call) -> None:
        async with self._limit:
            answer: dict[str, Any] | None = None
            problem: CallProblem | None = None
            payload = call.payload
            try:
                if call.any_connector and await self._zero_supported(call.station_id):
                    payload = {**payload, "connectorId": 0}
                answer = await self.stations.call(call.station_id, call.action, payload)
                if call.kind in PROFILE_KINDS:
                    outcome = profile_answer_outcome(call.action, answer)
                else:
                    outcome = answer_outcome(call.kind, call.action, str(answer.get("status")))
            except StationCallFailed as exc:
                problem = _PROBLEMS.get(exc.kind, CallProblem.REFUSED)
                outcome = call_problem_outcome(problem, call.action, str(exc))
            except Exception as exc:  # the station is unknown, or a bug: the eMSP hears FAILED
                logger.exception("command %s: calling %s failed", call.command, call.station_id)
                outcome = call_problem_outcome(CallProblem.REFUSED, call.action, str(exc))
            async with session_scope(self.sessions) as session:
                service = self._service(session)
                row = await service.get(call.command, for_update=True)
                if row is None:
                    return
                grace = timedelta(seconds=self.settings.offline_grace_seconds)
                if problem is CallProblem.NOT_CONNECTED and self.clock() < row.received_at + grace:
                    # Chargers reconnect after a hub restart or a blip: try again next round.
                    await service.call_again(row)
                    return
                await service.called(
                    row, action=call.action, request=payload, answer=answer, outcome=outcome
                )
                if call.kind in PROFILE_KINDS:
                    await ChargingProfileService(session, clock=self.clock).answered(row)
        logger.info(
            "command %s %s at %s: %s", call.command, call.action, call.station_id, outcome.message
        )
        self.on_result()
