"""Charging sessions and CDRs: OCPP transactions turned into OCPI Sessions, priced with the
tariff locked at their start, and billed as exactly one CDR to the eMSP of the driver's token.

Energy and periods are always recomputed from every stored message of the session
(:mod:`hub.domain.metering`), in timestamp order, so messages that arrive late, twice or out of
order count once and in their place. A session is only ever sent to the partner that owns its
token (``PartyScope.owns``): its PUT on creation, PATCHes throttled by
:class:`~hub.domain.sessions.PushThrottle` (a status change always goes at once), then its CDR
on the same queue, after the last PATCH.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain import metering
from hub.domain.access import PartyScope
from hub.domain.pricing import PricingResult, Tariff, price_session
from hub.domain.pricing import Reservation as PricedReservation
from hub.domain.pricing import Session as PricedTimeline
from hub.domain.push import JobKind, session_queue
from hub.domain.sessions import (
    FUTURE_TOLERANCE,
    UNTRUSTED_METER_DATA,
    CloseReason,
    PushThrottle,
    SessionEvent,
    SessionStatus,
    SessionToken,
    billable,
    next_status,
    patch_due,
    payment_method,
    session_error,
)
from hub.errors import NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.sessions import PageWindow, SessionRepository
from hub.persistence.repositories.tariffs import TariffRepository
from hub.persistence.tables import (
    ChargeDetailRecord,
    ChargingSession,
    Evse,
    Location,
    SessionMessage,
)
from hub.services.push import Change, PushService

logger = logging.getLogger(__name__)

NOT_APPLICABLE = "#NA"
"""What OCPI puts where a session has no EVSE or connector (used for a transaction at a
connector no EVSE of ours is linked to; such a session is held for review)."""
DEFAULT_CURRENCY = "USD"
AUTHORIZATION_REFUSED = "AUTHORIZATION_REFUSED"
"""The NEVI ``session_error`` of a charge that never started: the driver's token was refused."""


class TariffCodec(Protocol):
    """The tariff's wire form to the pricing engine and back (the roaming adapter's job; the
    services never import the protocol package)."""

    def tariff(self, snapshot: Mapping[str, Any]) -> Tariff:
        """The pricing engine's tariff for a stored OCPI tariff (wire form)."""
        ...

    def priced_fields(self, result: PricingResult) -> dict[str, Any]:
        """The priced fields of an OCPI CDR (``charging_periods``, totals, costs) in wire
        form."""
        ...


@dataclass(frozen=True, slots=True)
class TransactionStart:
    """A transaction as the charger started it."""

    station_id: str
    ocpp_version: str
    started_at: datetime
    transaction_id: str | None = None
    """The station's id (2.0.1); None: we assign it (1.6)."""
    ocpp_evse_id: int | None = None
    ocpp_connector_id: int | None = None
    token: SessionToken | None = None
    meter_start_kwh: Decimal | None = None
    remote_start_id: int | None = None
    meter_id: str | None = None
    reservation_session: int | None = None
    """The RESERVATION session the charger says this transaction uses (its reservation)."""


@dataclass(frozen=True, slots=True)
class ReservationStart:
    """A reservation the charger accepted: where, and the driver's token (``cdr_token``)."""

    station_id: str
    evse_uid: str
    token: SessionToken


@dataclass(slots=True)
class MeterMessage:
    """A charger's message with meter values (or a charging state) for a session."""

    action: str
    timestamp: datetime
    meter_values: list[dict[str, Any]] = field(default_factory=list)
    seq_no: int | None = None
    charging_state: str | None = None


def tariff_snapshot(row: Any) -> dict[str, Any]:
    """A stored tariff in OCPI wire form, as locked on a session."""
    return {
        **row.attributes,
        "country_code": row.country_code,
        "party_id": row.party_id,
        "id": row.tariff_id,
        "currency": row.currency,
        "last_updated": _iso(row.last_updated),
    }


def content_hash(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class _Computed:
    summary: metering.EnergySummary
    priced: PricingResult | None
    problems: list[metering.MeterProblem]
    messages: list[SessionMessage]
    readings: list[metering.MeterReading]


class SessionService:
    """Use cases of charging sessions and CDRs. Never commits."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        codec: TariffCodec,
        push: PushService | None = None,
        clock: Callable[[], datetime] = utc_now,
        throttle: PushThrottle | None = None,
    ) -> None:
        self.session = session
        self.repository = SessionRepository(session)
        self.codec = codec
        self.push = push or PushService(session, clock=clock)
        self.clock = clock
        self.throttle = throttle or PushThrottle()

    # --- the transaction's life ---------------------------------------------------------------

    async def start(self, start: TransactionStart) -> ChargingSession:
        """A new session for a started transaction (1.6: its id is this row's, unique on the
        platform). A session still open at the same EVSE is closed first: its connector
        cannot run two transactions."""
        evse, location = await self._place(start)
        reserved = await self._reserved(start)
        if evse is not None:
            for stale in await self.repository.open_at(start.station_id, evse.uid):
                if _same_start(stale, start):
                    # A 1.6 charger that lost our answer sends its StartTransaction again: the
                    # same transaction, answered with the same id.
                    return stale
                await self.close(stale, CloseReason.REPLACED, at=start.started_at)
        now = self.clock()
        token = start.token
        if reserved is not None:
            return await self._use_reservation(reserved, start, evse, location)
        row = ChargingSession(
            country_code=location.country_code if location else _cpo_party(token)[0],
            party_id=location.party_id if location else _cpo_party(token)[1],
            session_id=uuid.uuid4().hex,
            station_id=start.station_id,
            ocpp_version=start.ocpp_version,
            transaction_id=start.transaction_id,
            ocpp_evse_id=start.ocpp_evse_id,
            ocpp_connector_id=start.ocpp_connector_id,
            remote_start_id=start.remote_start_id,
            location_id=location.location_id if location else NOT_APPLICABLE,
            evse_uid=evse.uid if evse else NOT_APPLICABLE,
            connector_id=_connector_id(evse, start) if evse else NOT_APPLICABLE,
            meter_id=start.meter_id,
            status=SessionStatus.PENDING.value,
            start_date_time=start.started_at,
            meter_start_kwh=start.meter_start_kwh,
            currency=DEFAULT_CURRENCY,
            time_zone=location.time_zone if location else "UTC",
            last_event_at=now,
            last_updated=now,
        )
        if evse is None or location is None:
            row.problems = [
                f"station {start.station_id} connector/EVSE "
                f"{start.ocpp_evse_id or start.ocpp_connector_id} is not linked to an EVSE"
            ]
            row.held_for_review = True
        else:
            row.cdr_location = _cdr_location(location, evse, row.connector_id)
            await self._lock_tariff(row, evse)
        if start.started_at > now + FUTURE_TOLERANCE:
            _note(row, f"the transaction is dated in the future ({_iso(start.started_at)})")
            row.held_for_review = True
        if token is not None:
            _apply_token(row, token)
            if not token.accepted:
                row.session_error = AUTHORIZATION_REFUSED
        await self.repository.add(row)
        if row.transaction_id is None:
            row.transaction_id = str(row.id)
        await self.session.flush()
        await self._publish(row, status_changed=True)
        return row

    async def _reserved(self, start: TransactionStart) -> ChargingSession | None:
        if start.reservation_session is None:
            return None
        row = await self.repository.get(start.reservation_session)
        if (
            row is None
            or row.status != SessionStatus.RESERVATION.value
            or row.station_id != start.station_id
        ):
            return None
        return row

    async def _use_reservation(
        self,
        row: ChargingSession,
        start: TransactionStart,
        evse: Evse | None,
        location: Location | None,
    ) -> ChargingSession:
        """The driver started where they reserved: the reservation's session is this
        transaction's from now on (its tariff stays the one locked at the reservation)."""
        row.transaction_id = start.transaction_id or str(row.id)
        row.ocpp_version = start.ocpp_version
        row.ocpp_evse_id, row.ocpp_connector_id = start.ocpp_evse_id, start.ocpp_connector_id
        if evse is not None and location is not None:
            row.evse_uid = evse.uid
            row.connector_id = _connector_id(evse, start)
            row.cdr_location = _cdr_location(location, evse, row.connector_id)
        row.start_date_time = start.started_at
        row.meter_start_kwh = start.meter_start_kwh
        row.remote_start_id = start.remote_start_id
        row.meter_id = start.meter_id or row.meter_id
        row.last_event_at = row.last_updated = self.clock()
        if start.token is not None:
            reference = row.authorization_reference
            _apply_token(row, start.token)
            row.authorization_reference = row.authorization_reference or reference
        await self.session.flush()
        await self._publish(row, status_changed=True)
        return row

    async def reserve(self, reservation: ReservationStart) -> ChargingSession:
        """A Session in status RESERVATION for a reservation the charger accepted."""
        candidates = await self.repository.station_evses(reservation.station_id)
        evse, location = next(
            ((e, loc) for e, loc in candidates if e.uid == reservation.evse_uid),
            (None, None),
        )
        if evse is None or location is None:
            raise NotFound(f"EVSE {reservation.evse_uid} is not at {reservation.station_id}")
        now = self.clock()
        connector_id = str((evse.connectors or [{"id": "1"}])[0]["id"])
        row = ChargingSession(
            country_code=location.country_code,
            party_id=location.party_id,
            session_id=uuid.uuid4().hex,
            station_id=reservation.station_id,
            ocpp_version="",
            location_id=location.location_id,
            evse_uid=evse.uid,
            connector_id=connector_id,
            status=SessionStatus.RESERVATION.value,
            start_date_time=now,
            reserved_from=now,
            currency=DEFAULT_CURRENCY,
            time_zone=location.time_zone,
            last_event_at=now,
            last_updated=now,
        )
        row.cdr_location = _cdr_location(location, evse, connector_id)
        await self._lock_tariff(row, evse)
        _apply_token(row, reservation.token)
        row.status = SessionStatus.RESERVATION.value  # the token does not make it ACTIVE yet
        await self.repository.add(row)
        await self._publish(row, status_changed=True)
        return row

    async def end_reservation(
        self, row: ChargingSession, *, at: datetime, expired: bool
    ) -> ChargeDetailRecord | None:
        """A reservation that was not used: expired or cancelled at ``at``. Its reservation
        time is billed when the tariff prices it (RESERVATION_EXPIRES when it expired)."""
        if row.status != SessionStatus.RESERVATION.value:
            return None
        row.reservation_expired = expired
        reason = CloseReason.RESERVATION_EXPIRED if expired else CloseReason.RESERVATION_CANCELLED
        return await self.end(row, at=at, reason=reason)

    async def get(self, pk: int) -> ChargingSession | None:
        return await self.repository.get(pk)

    async def cdr(self, pk: int) -> ChargeDetailRecord | None:
        return await self.repository.cdr(pk)

    async def preload(self, session_pks: Sequence[int], cdr_pks: Sequence[int]) -> None:
        """Read many sessions and CDRs at once (a push round's), before ``get``/``cdr``."""
        await self.repository.load(session_pks, cdr_pks)

    async def put_change(self, row: ChargingSession) -> Change | None:
        """A PUT of the whole session for its eMSP (a PATCH it did not know the session for)."""
        if row.partner_id is None:
            return None
        return Change(
            JobKind.SESSION_PUT,
            session_queue(row.country_code, row.party_id, row.session_id),
            {
                "country_code": row.country_code,
                "party_id": row.party_id,
                "session": row.id,
                "session_id": row.session_id,
            },
            recipients=frozenset({row.partner_id}),
        )

    async def transaction(
        self, station_id: str, transaction_id: str, *, for_update: bool = True
    ) -> ChargingSession | None:
        return await self.repository.by_transaction(
            station_id, transaction_id, for_update=for_update
        )

    async def record(self, row: ChargingSession, message: MeterMessage) -> bool:
        """Store a message of the session and bring the session up to date; False (nothing
        changed) when it repeats a stored event."""
        messages = await self._store(row, message)
        if messages is None:
            return False
        if not row.cdr_made:
            await self.refresh_totals(row, messages)
            await self._publish(row, status_changed=False)
        return True

    async def _store(
        self, row: ChargingSession, message: MeterMessage
    ) -> list[SessionMessage] | None:
        """Stage ``message`` and return the session's messages with it, in order; None when it
        repeats a stored event (same ``seq_no``), in which case nothing changes."""
        messages = await self.repository.messages(_pk(row))
        if message.seq_no is not None and any(m.seq_no == message.seq_no for m in messages):
            return None
        now = self.clock()
        stored = SessionMessage(
            session_ref=_pk(row),
            action=message.action,
            seq_no=message.seq_no,
            timestamp=message.timestamp,
            charging_state=message.charging_state,
            meter_values=message.meter_values,
            received_at=now,
        )
        self.repository.add_message(stored)
        row.last_event_at = now
        if row.cdr_made:
            # Offline-queued data that arrives after the bill: kept, shown, never re-billed (a
            # correction is a credit CDR: hub cdrs credit).
            _note(row, f"a {message.action} message arrived after the CDR was made, not billed")
        elif message.timestamp > now + FUTURE_TOLERANCE:
            _note(
                row,
                f"a {message.action} message is dated in the future ({_iso(message.timestamp)})",
            )
            row.held_for_review = True
        return _in_order([*messages, stored])

    async def authorize(self, row: ChargingSession, token: SessionToken) -> None:
        """The token of a session that started without one (2.0.1), or a later word on it."""
        before = row.status
        _apply_token(row, token)
        row.last_updated = self.clock()
        await self._publish(row, status_changed=row.status != before)

    async def end(
        self,
        row: ChargingSession,
        *,
        at: datetime,
        meter_stop_kwh: Decimal | None = None,
        stop_reason: str | None = None,
        reason: CloseReason = CloseReason.STOPPED,
        last: MeterMessage | None = None,
    ) -> ChargeDetailRecord | None:
        """The transaction ended: the session is COMPLETED (or stays INVALID) and, when
        billable, its CDR is made and queued. ``last``: the message that ended it (its meter
        values count; stored as :meth:`record` stores). Ending an ended session again changes
        nothing."""
        messages = await self._store(row, last) if last is not None else None
        if SessionStatus(row.status).final and row.end_date_time is not None:
            return None
        row.end_date_time = max(at, row.start_date_time)
        if meter_stop_kwh is not None:
            row.meter_stop_kwh = meter_stop_kwh
        row.stop_reason = stop_reason[:32] if stop_reason else None
        row.close_reason = reason.value
        row.status = next_status(SessionStatus(row.status), SessionEvent.ENDED).value
        row.last_event_at = self.clock()
        computed = await self.refresh_totals(row, messages)
        if row.status != SessionStatus.INVALID.value or row.session_error is None:
            row.session_error = session_error(
                stop_reason=stop_reason, kwh=row.kwh, close_reason=reason
            )
        await self._publish(row, status_changed=True)
        return await self.make_cdr(row, computed)

    async def close(self, row: ChargingSession, reason: CloseReason, *, at: datetime) -> None:
        """Close a session whose end the charger will not report (see :class:`CloseReason`)."""
        logger.warning(
            "session %s (transaction %s at %s) closed by the hub: %s",
            row.session_id,
            row.transaction_id,
            row.station_id,
            reason.value,
        )
        # It ended at its last message at the latest (``at`` when it has none).
        last = await self._last_message_time(row)
        await self.end(row, at=max(last or at, row.start_date_time), reason=reason)

    async def close_silent(self, *, before: datetime, limit: int = 500) -> int:
        """Close open sessions with no message since ``before``; returns how many."""
        rows = await self.repository.silent_since(before, limit)
        for row in rows:
            await self.close(row, CloseReason.SILENT, at=row.last_event_at)
        return len(rows)

    async def close_rebooted(self, *, booted_before: datetime, limit: int = 500) -> int:
        """Close open sessions whose station booted again (before ``booted_before``: the grace
        is over) after their last message, without reporting their end."""
        rows = await self.repository.open_before_boot(booted_before, limit)
        for row in rows:
            await self.close(row, CloseReason.STATION_REBOOTED, at=row.last_event_at)
        return len(rows)

    # --- energy and price ---------------------------------------------------------------------

    async def refresh_totals(
        self, row: ChargingSession, messages: Sequence[SessionMessage] | None = None
    ) -> _Computed:
        """Energy, peaks, periods and the running cost from every message stored (or
        ``messages``, the session's messages in order, when the caller has them)."""
        computed = await self._compute(row, messages)
        summary = computed.summary
        row.kwh = summary.kwh
        row.max_power_kw = summary.max_power_kw
        meter = sorted({METER_NOTE + p.message for p in computed.problems})
        notes = [p for p in row.problems or [] if not p.startswith(METER_NOTE)]
        if notes + meter != list(row.problems or []):
            row.problems = (notes + meter)[:50]
        untrusted = sorted(
            {p.code.value for p in computed.problems if p.code in UNTRUSTED_METER_DATA}
        )
        if untrusted and not row.held_for_review:
            row.held_for_review = True
            logger.warning(
                "session %s (transaction %s at %s) held for review: %s",
                row.session_id,
                row.transaction_id,
                row.station_id,
                ", ".join(untrusted),
            )
        if computed.priced is not None:
            fields = self.codec.priced_fields(computed.priced)
            row.charging_periods = fields.get("charging_periods", [])
            total = fields.get("total_cost") or {}
            row.total_cost_excl_vat = _decimal(total.get("excl_vat"))
            row.total_cost_incl_vat = _decimal(total.get("incl_vat"))
        row.signed_data = _signed(computed.readings)
        row.last_updated = self.clock()
        return computed

    async def _compute(
        self, row: ChargingSession, messages: Sequence[SessionMessage] | None = None
    ) -> _Computed:
        if messages is None:
            messages = await self.repository.messages(_pk(row))
        readings, problems = _readings(messages, row.ocpp_version)
        end = row.end_date_time or max(
            [row.start_date_time, *(m.timestamp for m in messages)], default=row.start_date_time
        )
        summary = metering.summarise(
            readings,
            meter_start_kwh=row.meter_start_kwh,
            meter_stop_kwh=row.meter_stop_kwh,
            start=row.start_date_time,
            end=end,
        )
        priced = self._price(row, readings, messages, end)
        return _Computed(summary, priced, [*problems, *summary.problems], list(messages), readings)

    def _price(
        self,
        row: ChargingSession,
        readings: Sequence[metering.MeterReading],
        messages: Sequence[SessionMessage],
        end: datetime,
    ) -> PricingResult | None:
        if row.tariff is None:
            return None
        periods = metering.periods(
            readings,
            start=row.start_date_time,
            end=end,
            meter_start_kwh=row.meter_start_kwh,
            meter_stop_kwh=row.meter_stop_kwh,
            charging_changes=_charging_changes(messages),
        )
        reservation = None
        if row.reserved_from is not None:
            used = row.transaction_id is not None
            until = row.start_date_time if used else end
            reservation = PricedReservation(
                row.reserved_from, max(until, row.reserved_from), expired=row.reservation_expired
            )
        if reservation is not None and row.transaction_id is None:
            timeline = PricedTimeline(start=end, end=end, periods=(), reservation=reservation)
        else:
            timeline = PricedTimeline(
                start=row.start_date_time, end=end, periods=periods, reservation=reservation
            )
        try:
            return price_session(self.codec.tariff(row.tariff), timeline, row.time_zone)
        except (ValueError, ArithmeticError) as error:
            logger.exception("session %s could not be priced", row.session_id)
            row.held_for_review = True
            row.problems = [*row.problems, f"not priced: {error}"][:50]
            return None

    async def _last_message_time(self, row: ChargingSession) -> datetime | None:
        messages = await self.repository.messages(_pk(row))
        return max((m.timestamp for m in messages), default=None)

    # --- the CDR ------------------------------------------------------------------------------

    async def make_cdr(
        self, row: ChargingSession, computed: _Computed | None = None
    ) -> ChargeDetailRecord | None:
        """The session's one CDR, made once (its id is the session id, so a retry finds it):
        None when the session is not billed (INVALID, held for review, nothing delivered and
        nothing owed; see :func:`~hub.domain.sessions.billable`)."""
        if row.cdr_made:
            existing = await self.repository.cdrs_of_session(_pk(row))
            return existing[0] if existing else None
        cost = row.total_cost_excl_vat
        if (
            row.status != SessionStatus.COMPLETED.value
            or row.held_for_review
            or not billable(kwh=row.kwh, total_cost=cost)
        ):
            return None
        if row.tariff is None:
            row.held_for_review = True
            row.problems = [*row.problems, "no tariff was in effect at the start: not billed"]
            return None
        body = await self._cdr_body(row, computed)
        if body is None:
            return None
        cdr = ChargeDetailRecord(
            country_code=row.country_code,
            party_id=row.party_id,
            cdr_id=row.session_id,
            session_ref=row.id,
            token_country_code=row.token_country_code or row.country_code,
            token_party_id=row.token_party_id or row.party_id,
            partner_id=row.partner_id,
            body=body,
            total_cost_excl_vat=Decimal(str(body["total_cost"]["excl_vat"])),
            total_energy=Decimal(str(body["total_energy"])),
            created_at=self.clock(),
            last_updated=_parse(body["last_updated"]),
        )
        await self.repository.add_cdr(cdr)
        row.cdr_made = True
        if row.partner_id is not None:
            await self.push.fanout(
                [
                    Change(
                        JobKind.CDR_POST,
                        session_queue(row.country_code, row.party_id, row.session_id),
                        {
                            "country_code": row.country_code,
                            "party_id": row.party_id,
                            "cdr": cdr.id,
                            "cdr_id": cdr.cdr_id,
                        },
                        coalesce_parts=(cdr.cdr_id,),
                        recipients=frozenset({row.partner_id}),
                    )
                ],
                only=row.partner_id,
            )
        return cdr

    async def _cdr_body(
        self, row: ChargingSession, computed: _Computed | None = None
    ) -> dict[str, Any] | None:
        assert row.end_date_time is not None  # noqa: S101 - a CDR is made of an ended session
        if computed is None:
            computed = await self._compute(row)
        if computed.priced is None:
            return None
        priced = self.codec.priced_fields(computed.priced)
        body: dict[str, Any] = {
            "country_code": row.country_code,
            "party_id": row.party_id,
            "id": row.session_id,
            # mod_cdrs: "or in-case of a reservation (before the start of a session) the start
            # of the reservation".
            "start_date_time": _iso(row.reserved_from or row.start_date_time),
            "end_date_time": _iso(row.end_date_time),
            "session_id": row.session_id,
            "cdr_token": cdr_token(row),
            "auth_method": row.auth_method or "WHITELIST",
            "cdr_location": row.cdr_location,
            "currency": row.currency,
            "tariffs": [row.tariff],
            **priced,
            "last_updated": _iso(self.clock()),
        }
        if row.authorization_reference:
            body["authorization_reference"] = row.authorization_reference
        if row.meter_id:
            body["meter_id"] = row.meter_id
        if row.signed_data:
            body["signed_data"] = _signed_data(row.signed_data)
        return body

    # --- what partners see --------------------------------------------------------------------

    async def owned_page(
        self, scope: PartyScope, window: PageWindow
    ) -> tuple[list[ChargingSession], int]:
        """The sessions a partner may see (its own tokens'), for the Sessions Sender GET."""
        return await self.repository.owned_page(scope, window)

    async def owned_cdr_page(
        self, scope: PartyScope, window: PageWindow
    ) -> tuple[list[ChargeDetailRecord], int]:
        """The CDRs a partner may see (its own tokens'), for the CDRs Sender GET."""
        return await self.repository.owned_cdr_page(scope, window)

    async def set_charging_preferences(
        self,
        scope: PartyScope,
        session_id: str,
        preferences: Mapping[str, Any],
        *,
        cpo: tuple[str, str] | None = None,
    ) -> bool | None:
        """Keep the driver's preferences on the partner's session. None: no such session of
        the partner's; False: its EVSE does not take preferences (no
        ``CHARGING_PREFERENCES_CAPABLE``); True: kept (acting on them is smart charging's)."""
        row = await self.repository.owned_by_session_id(scope, session_id, cpo)
        if row is None:
            return None
        evses = await self.repository.station_evses(row.station_id)
        evse = next((e for e, _ in evses if e.uid == row.evse_uid), None)
        capabilities = (evse.attributes.get("capabilities") or []) if evse is not None else []
        if "CHARGING_PREFERENCES_CAPABLE" not in capabilities:
            return False
        row.charging_preferences = dict(preferences)
        return True

    async def cdr_delivered(self, cdr_pk: int, *, location_url: str | None) -> None:
        """The eMSP took the CDR (and said where it keeps it)."""
        cdr = await self.repository.cdr(cdr_pk)
        if cdr is None:
            return
        cdr.delivered_at = self.clock()
        if location_url:
            cdr.location_url = location_url[:512]

    # --- helpers ------------------------------------------------------------------------------

    async def _place(self, start: TransactionStart) -> tuple[Evse | None, Location | None]:
        candidates = await self.repository.station_evses(start.station_id)
        for evse, location in candidates:
            if start.ocpp_evse_id:
                if evse.ocpp_evse_id == start.ocpp_evse_id:
                    return evse, location
            elif evse.ocpp_evse_id is None and evse.ocpp_connector_id == start.ocpp_connector_id:
                return evse, location
        if len(candidates) == 1 and not start.ocpp_evse_id and not start.ocpp_connector_id:
            return candidates[0]
        return None, None

    async def _lock_tariff(self, row: ChargingSession, evse: Evse) -> None:
        """The price lock: the tariff in effect for the connector now is the session's."""
        connector = _connector(evse, row.connector_id)
        tariffs = TariffRepository(self.session)
        for tariff_id in (connector or {}).get("tariff_ids") or []:
            tariff = await tariffs.get(row.country_code, row.party_id, str(tariff_id))
            if tariff is None:
                continue
            snapshot = tariff_snapshot(tariff)
            row.tariff = snapshot
            row.tariff_id = tariff.tariff_id
            row.tariff_hash = content_hash(snapshot)
            row.currency = tariff.currency
            return

    async def _publish(self, row: ChargingSession, *, status_changed: bool) -> None:
        """Queue the session for its token's eMSP (never anyone else), throttled. A session at
        a connector no EVSE of ours is linked to has no location to show: it waits for
        review."""
        if row.partner_id is None or row.location_id == NOT_APPLICABLE:
            return
        first = row.pushed_at is None
        if not first and not patch_due(
            self.throttle,
            status_changed=status_changed or row.status != row.pushed_status,
            last_pushed_at=row.pushed_at,
            last_pushed_kwh=row.pushed_kwh,
            now=self.clock(),
            kwh=row.kwh,
        ):
            return
        # A PATCH never carries periods (a receiver adds them to its list; ours are recomputed),
        # so the final state goes as a whole PUT (see hub.roaming.sessions.session_patch).
        final = SessionStatus(row.status).final
        kind = JobKind.SESSION_PUT if first or final else JobKind.SESSION_PATCH
        # Set before the fanout's queries flush the row: one UPDATE of it, not two.
        row.pushed_at = self.clock()
        row.pushed_kwh = row.kwh
        row.pushed_status = row.status
        await self.push.fanout(
            [
                Change(
                    kind,
                    session_queue(row.country_code, row.party_id, row.session_id),
                    {
                        "country_code": row.country_code,
                        "party_id": row.party_id,
                        "session": row.id,
                        "session_id": row.session_id,
                    },
                    recipients=frozenset({row.partner_id}),
                )
            ],
            only=row.partner_id,
            # The session's first push: nothing of it is queued yet, nothing to supersede.
            fresh=first,
        )


def _same_start(row: ChargingSession, start: TransactionStart) -> bool:
    return (
        start.transaction_id is None
        and row.ocpp_version == start.ocpp_version
        and row.start_date_time == start.started_at
        and row.meter_start_kwh == start.meter_start_kwh
        and row.token_uid == (start.token.uid[:36] if start.token else None)
    )


def _pk(row: ChargingSession) -> int:
    if row.id is None:
        raise ValueError("the session is not stored yet")
    return row.id


def _cpo_party(token: SessionToken | None) -> tuple[str, str]:
    # A transaction at a connector of no location of ours: no CPO party is known. The session
    # is held for review; the token's country keeps its id unique somewhere sensible.
    return ((token.country_code if token and token.country_code else "US"), "HUB")


def _apply_token(row: ChargingSession, token: SessionToken) -> None:
    row.token_uid = token.uid[:36]
    row.token_type = token.token_type.value if token.token_type else None
    row.presented_type = token.presented_type[:16]
    row.token_country_code = token.country_code
    row.token_party_id = token.party_id
    row.contract_id = token.contract_id
    row.partner_id = token.partner_id
    row.auth_method = token.auth_method
    if token.authorization_reference:
        # The last one given wins (mod_sessions: the Session holds the latest reference).
        row.authorization_reference = token.authorization_reference[:36]
    row.payment_method = payment_method(
        token.token_type, plug_and_charge=token.plug_and_charge
    ).value
    event = SessionEvent.AUTHORIZED if token.accepted else SessionEvent.REFUSED
    row.status = next_status(SessionStatus(row.status), event).value


def _connector_id(evse: Evse, start: TransactionStart) -> str:
    connectors = evse.connectors or []
    if start.ocpp_evse_id and start.ocpp_connector_id:
        index = start.ocpp_connector_id - 1
        if 0 <= index < len(connectors):
            return str(connectors[index]["id"])
    return str(connectors[0]["id"]) if connectors else "1"


def _connector(evse: Evse, connector_id: str) -> dict[str, Any] | None:
    return next((c for c in evse.connectors or [] if str(c.get("id")) == connector_id), None)


def _cdr_location(location: Location, evse: Evse, connector_id: str) -> dict[str, Any]:
    attributes = location.attributes
    connector = _connector(evse, connector_id) or {}
    snapshot = {
        "id": location.location_id,
        "name": location.name,
        "address": attributes.get("address"),
        "city": location.city,
        "postal_code": attributes.get("postal_code"),
        "state": attributes.get("state"),
        "country": attributes.get("country"),
        "coordinates": attributes.get("coordinates"),
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id or evse.uid,
        "connector_id": connector_id,
        "connector_standard": connector.get("standard"),
        "connector_format": (connector.get("attributes") or {}).get("format"),
        "connector_power_type": (connector.get("attributes") or {}).get("power_type"),
    }
    return {key: value for key, value in snapshot.items() if value is not None}


def cdr_token(row: ChargingSession) -> dict[str, Any]:
    """The session's OCPI ``cdr_token`` in wire form (its Session's and its CDR's)."""
    uid = row.token_uid or ""
    return {
        "country_code": row.token_country_code or row.country_code,
        "party_id": row.token_party_id or row.party_id,
        "uid": uid,
        "type": row.token_type or "OTHER",
        # CdrToken.contract_id is required; a token nobody named has only its uid.
        "contract_id": row.contract_id or uid,
    }


def _readings(
    messages: Sequence[SessionMessage], version: str
) -> tuple[list[metering.MeterReading], list[metering.MeterProblem]]:
    parse = metering.reading_from_ocpp16 if version == "1.6" else metering.reading_from_ocpp201
    readings: list[metering.MeterReading] = []
    problems: list[metering.MeterProblem] = []
    for message in messages:
        for value in message.meter_values:
            parsed = parse(value)
            if parsed.reading is not None:
                readings.append(parsed.reading)
            problems.extend(parsed.problems)
    return readings, problems


METER_NOTE = "meter: "
"""Prefix of the problems recomputed from the meter data (the others are notes that stay)."""


def _in_order(messages: Sequence[SessionMessage]) -> list[SessionMessage]:
    """As ``SessionRepository.messages`` orders them."""
    return sorted(messages, key=lambda m: (m.timestamp, m.seq_no if m.seq_no is not None else -1))


def _note(row: ChargingSession, note: str) -> None:
    if note not in (row.problems or []):
        row.problems = [*(row.problems or []), note][:50]


def _charging_changes(messages: Sequence[SessionMessage]) -> tuple[tuple[datetime, bool], ...]:
    """The charger's charging states (2.0.1 ``chargingState``; 1.6 StatusNotification is not
    tied to a transaction and not used): Charging requests power, anything else does not."""
    return tuple(
        (m.timestamp, m.charging_state == "Charging")
        for m in messages
        if m.charging_state is not None
    )


def _signed(readings: Sequence[metering.MeterReading]) -> list[dict[str, Any]]:
    """The signed meter values of the session, in time order, as OCPI ``SignedValue`` objects
    (``nature`` is the reading's context, e.g. Transaction.Begin / Transaction.End), each with
    the encoding and public key it came with (the CDR's ``signed_data`` takes them)."""
    values: list[dict[str, Any]] = []
    for reading in sorted(readings, key=lambda r: r.timestamp):
        for signed in reading.signed_values:
            values.append(
                {
                    "nature": signed.context.value[:32],
                    "plain_data": "",
                    "signed_data": signed.data[:5000],
                    "encoding_method": signed.encoding_method
                    or ("OCMF" if signed.data.startswith("OCMF|") else "UNKNOWN"),
                    "public_key": signed.public_key,
                }
            )
    return values


def _signed_data(values: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """OCPI ``SignedData`` of a CDR from the session's signed values (the first one's encoding
    and public key stand for all: one meter signs a session)."""
    first = values[0]
    data: dict[str, Any] = {
        "encoding_method": str(first["encoding_method"])[:36],
        "signed_values": [
            {key: value[key] for key in ("nature", "plain_data", "signed_data")}
            for value in values[:50]
        ],
    }
    if first.get("public_key"):
        data["public_key"] = str(first["public_key"])[:512]
    return data


def _decimal(value: object) -> Decimal | None:
    return Decimal(str(value)) if value is not None else None


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
