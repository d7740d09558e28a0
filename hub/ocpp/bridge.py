"""What OCPP handlers need from the platform, one short transaction per message."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import OcppSettings
from hub.domain.assets import EvseStatus
from hub.domain.stations import AuthBackoff, OcppVersion, SourceThrottle, password_matches
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.ocpp.transactions import Transactions
from hub.persistence.base import utc_now
from hub.persistence.group_commit import GroupCommit, committed, committed_batched
from hub.persistence.session import session_scope
from hub.services.local_lists import LocalListService
from hub.services.stations import (
    AuthOutcome,
    AuthResult,
    BootReport,
    Disconnection,
    StationService,
    StatusOutcome,
    StatusReport,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

SEEN_WRITE_INTERVAL = timedelta(seconds=30)
"""Time between two ``last_seen_at`` writes for heartbeats of one station."""
SOURCE_MEMORY = timedelta(hours=1)
"""A source address quiet for this long (or for the backoff cap, if longer) is forgotten."""


class KnownPasswords:
    """The password hashes that let each station in at its last login to this process, so that
    the next login (every station at once, after a network outage) is checked without the
    database.

    Trusted only while ``live()`` says every change of a station's password or its removal
    reaches :meth:`forget` (PostgreSQL notifications, ``hub.persistence.notifications``:
    a trigger notifies the station id on commit, whichever process or command made the change,
    and a lost listening connection forgets everything when it is back). Without that (SQLite,
    or the listening connection down) every login reads the database, as before.

    A hash read from the database is kept only if nothing was forgotten since the read began
    (``generation``): a change committed while a login was being checked is never undone by it.
    A station let in from here leaves its failed-login count as it is (the next login that
    reaches the database resets it), and is let in even while guesses at its password made
    elsewhere make other attempts wait: whoever knows the password is not locked out by them.
    """

    def __init__(self, live: Callable[[], bool] = lambda: False) -> None:
        self.live = live
        self.generation = 0
        self._hashes: dict[str, str] = {}

    def accepts(self, station_id: str, password: str | bytes | None) -> bool:
        stored = self._hashes.get(station_id)
        if password is None or stored is None or not self.live():
            return False
        return password_matches(password, stored)

    def remember(self, station_id: str, password_hash: str, generation: int) -> None:
        if generation == self.generation and self.live():
            self._hashes[station_id] = password_hash

    def forget(self, station_id: str) -> None:
        """Forget the station's hash; ``""``: every station's."""
        self.generation += 1
        if station_id:
            self._hashes.pop(station_id, None)
        else:
            self._hashes.clear()

    def __len__(self) -> int:
        return len(self._hashes)


@dataclass
class Bridge:
    """Per-process entry point of the OCPP layer into the services.

    ``on_change`` is called after a commit that changed EVSE statuses (the push worker wakes up
    instead of waiting for its next poll). ``on_boot`` is called after a boot was recorded (the
    local authorization list pass wakes up; it calls the station from outside its handler).
    ``clock`` is "now" for everything the bridge records.
    """

    sessions: async_sessionmaker[AsyncSession]
    settings: OcppSettings
    node: str
    on_change: Callable[[], None] = lambda: None
    on_boot: Callable[[str], None] = lambda _station_id: None
    clock: Callable[[], datetime] = utc_now
    # Answers Authorize / StartTransaction / TransactionEvent id tokens; None: every id token
    # is Invalid (no energy for an id nobody vouched for).
    authorizer: IdTokenAuthorizer | None = None
    # Turns transactions into charging sessions; None: transactions are answered (ids
    # assigned, id tags decided) but not recorded.
    transactions: Transactions | None = None
    # Commits what stations report (connections, boots, statuses, signs of life) in groups
    # (``hub.persistence.group_commit``); None: each in a transaction of its own.
    group: GroupCommit | None = None
    passwords: KnownPasswords = field(default_factory=KnownPasswords)
    _seen_written: dict[str, datetime] = field(default_factory=dict)
    _sources: SourceThrottle = field(init=False)

    def __post_init__(self) -> None:
        self._sources = SourceThrottle(
            AuthBackoff(
                self.settings.auth_source_free_attempts,
                self.settings.auth_backoff_base_seconds,
                self.settings.auth_backoff_cap_seconds,
            ),
            forget_after=max(
                SOURCE_MEMORY, timedelta(seconds=self.settings.auth_backoff_cap_seconds)
            ),
        )

    @property
    def station_backoff(self) -> AuthBackoff:
        return AuthBackoff(
            self.settings.auth_free_attempts,
            self.settings.auth_backoff_base_seconds,
            self.settings.auth_backoff_cap_seconds,
        )

    def _service(self, session: AsyncSession) -> StationService:
        return StationService(
            session, preparing=EvseStatus(self.settings.preparing_status), clock=self.clock
        )

    async def _stored(self, station_id: str, work: Callable[[StationService], Awaitable[T]]) -> T:
        """``work`` on the station service, committed (in a group when there is one)."""
        return await committed(
            self.group, self.sessions, station_id, lambda session: work(self._service(session))
        )

    async def _record_statuses(
        self, session: AsyncSession, reports: list[StatusReport]
    ) -> list[StatusOutcome]:
        """The group commit's batch of StatusNotifications (one for all the group's stations)."""
        return await self._service(session).connector_statuses(reports)

    async def _record_disconnections(
        self, session: AsyncSession, reports: list[Disconnection]
    ) -> list[None]:
        """The group commit's batch of closed sockets."""
        return await self._service(session).disconnections(reports)

    async def _record_boots(self, session: AsyncSession, reports: list[BootReport]) -> list[None]:
        """The group commit's batch of BootNotifications; a boot also has the station's local
        list checked again."""
        done = await self._service(session).boots(reports)
        await LocalListService(session).stations_booted([r.station_id for r in reports])
        return done

    async def authenticate(
        self, station_id: str, password: str | bytes | None, source: str
    ) -> AuthOutcome:
        """Check a login: first the source address's backoff (in memory, no database access
        while it waits), then the password this process last let the station in with
        (:class:`KnownPasswords`), else the station's backoff and password in the database."""
        now = self.clock()
        source_retry_at = self._sources.retry_at(source, now)
        if source_retry_at is not None:
            return AuthOutcome(
                AuthResult.THROTTLED, source_retry_at, self._sources.failures(source, now)
            )
        if self.passwords.accepts(station_id, password):
            self._sources.succeeded(source)
            return AuthOutcome(AuthResult.ACCEPTED)
        generation = self.passwords.generation
        async with session_scope(self.sessions) as session:
            outcome = await self._service(session).authenticate(
                station_id, password, source=source, backoff=self.station_backoff
            )
        if outcome.accepted:
            self._sources.succeeded(source)
            if outcome.password_hash is not None:
                self.passwords.remember(station_id, outcome.password_hash, generation)
            return outcome
        self.passwords.forget(station_id)
        if outcome.result is not AuthResult.THROTTLED:
            failures = self._sources.failed(source, now)
            source_retry_at = self._sources.retry_at(source, now)
            if source_retry_at is not None:
                logger.warning(
                    "source %s: %d failed OCPP logins in a row; its next attempt waits until %s",
                    source,
                    failures,
                    source_retry_at.isoformat(),
                )
        return outcome

    async def connected(self, station_id: str, version: OcppVersion) -> None:
        await self._stored(
            station_id, lambda service: service.connected(station_id, version, self.node)
        )
        self._seen_written[station_id] = self.clock()
        self.on_change()

    async def disconnected(self, station_id: str) -> None:
        self._seen_written.pop(station_id, None)
        report = Disconnection(station_id, self.node)
        await committed_batched(
            self.group, self.sessions, station_id, self._record_disconnections, report
        )

    async def seen(self, station_id: str) -> None:
        """The station is alive (a message, or a pong): written at most every 30 seconds."""
        last = self._seen_written.get(station_id)
        if last is not None and self.clock() - last < SEEN_WRITE_INTERVAL:
            return
        await self._stored(station_id, lambda service: service.seen(station_id))
        self._seen_written[station_id] = self.clock()
        self.on_change()

    @property
    def silent_for(self) -> timedelta:
        """A connected station heard from neither by message nor pong for this long is offline."""
        return timedelta(
            seconds=self.settings.heartbeat_interval_seconds * self.settings.missed_heartbeats
        )

    async def alive(self, station_id: str) -> None:
        """A websocket pong (or ping) from the station: alive, though it sent no message.

        Written at most every third of the missed-heartbeats delay (pings usually come more
        often than heartbeats, and 30,000 stations each writing every minute would be a load).
        """
        last = self._seen_written.get(station_id)
        every = max(SEEN_WRITE_INTERVAL, self.silent_for / 3)
        if last is not None and self.clock() - last < every:
            return
        await self.seen(station_id)

    async def booted(self, station_id: str, **info: str | None) -> None:

        report = BootReport(
            station_id,
            vendor=info.get("vendor") or "",
            model=info.get("model") or "",
            serial_number=info.get("serial_number"),
            firmware_version=info.get("firmware_version"),
        )
        await committed_batched(self.group, self.sessions, station_id, self._record_boots, report)
        self._seen_written[station_id] = self.clock()
        self.on_boot(station_id)

    async def connector_status(
        self, station_id: str, *, evse_id: int | None, connector_id: int, ocpp_status: str
    ) -> StatusOutcome:
        report = StatusReport(station_id, evse_id, connector_id, ocpp_status)
        outcome = await committed_batched(
            self.group, self.sessions, station_id, self._record_statuses, report
        )
        self._seen_written[station_id] = self.clock()
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
        async with session_scope(self.sessions) as session:
            offline = await self._service(session).mark_silent_offline(
                disconnected_for=timedelta(seconds=self.settings.offline_after_seconds),
                silent_for=self.silent_for,
            )
        for station_id in offline:
            logger.warning("station %s is offline: its EVSEs are now UNKNOWN", station_id)
        if offline:
            self.on_change()
        return offline
