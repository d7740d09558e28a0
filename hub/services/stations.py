"""Charging stations: who may connect, what they report, and their EVSEs' OCPI status.

The OCPP bridge (``hub.ocpp``) calls in here for every message that changes state; EVSE status
changes go through ``LocationService`` so they are stored as history and pushed to partners.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.assets import EvseStatus
from hub.domain.credentials import generate_token, hash_token
from hub.domain.stations import (
    AuthBackoff,
    OcppVersion,
    combined_status,
    generate_password,
    hash_password,
    password_matches,
)
from hub.errors import Conflict, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.call_tokens import StationCallTokenRepository
from hub.persistence.repositories.stations import StationRepository
from hub.persistence.tables import ChargingStation, Evse, EvseStatusChange
from hub.services.locations import EvseStatusUpdate, LocationService

STATION_CONNECTOR = 0
"""OCPP 1.6 ``connectorId`` 0 addresses the whole charging station."""
STATION_EVSE = 0
"""OCPP 2.0.1 ``evseId`` 0 addresses the whole charging station (Part 2, "EVSE")."""
CALL_TOKEN_LIFETIME = timedelta(seconds=60)
"""A minted station-call token is used within one HTTP request; the node deletes it on
arrival, so the lifetime only bounds how long an unused one is worth stealing."""


@dataclass(frozen=True, slots=True)
class StatusOutcome:
    """What a StatusNotification changed: EVSE uid -> new OCPI status; unknown connectors."""

    changed: dict[str, EvseStatus]
    unmapped: bool = False


class AuthResult(StrEnum):
    ACCEPTED = "accepted"
    UNKNOWN_STATION = "unknown station"
    REFUSED = "wrong credentials"
    THROTTLED = "throttled"


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """The verdict on one login. ``retry_at``: when the next attempt will be checked (set when
    throttled, or when this failure started a wait); ``failures``: consecutive failures now;
    ``password_hash``: the stored hash the password matched (accepted logins)."""

    result: AuthResult
    retry_at: datetime | None = None
    failures: int = 0
    password_hash: str | None = None

    @property
    def accepted(self) -> bool:
        return self.result is AuthResult.ACCEPTED


@dataclass(frozen=True, slots=True)
class StatusReport:
    """One StatusNotification (see :meth:`StationService.connector_status`)."""

    station_id: str
    evse_id: int | None
    connector_id: int
    ocpp_status: str


@dataclass(frozen=True, slots=True)
class BootReport:
    """One BootNotification (see :meth:`StationService.booted`)."""

    station_id: str
    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True, slots=True)
class Disconnection:
    """A station's socket on ``node`` closed (see :meth:`StationService.disconnected`)."""

    station_id: str
    node: str


class _OfStation(Protocol):
    @property
    def station_id(self) -> str: ...


R = TypeVar("R", bound=_OfStation)


def connector_key(evse_id: int | None, connector_id: int) -> str:
    return f"{evse_id or 0}:{connector_id}"


class StationService:
    """Use cases on charging stations. Never commits; the caller owns the transaction."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        preparing: EvseStatus = EvseStatus.CHARGING,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.session = session
        self.stations = StationRepository(session)
        self.call_tokens = StationCallTokenRepository(session)
        self.locations = LocationService(session)
        self.preparing = preparing
        self.clock = clock

    async def add(
        self, station_id: str, password: str | bytes | None = None
    ) -> tuple[ChargingStation, str]:
        """Allow a station to connect. Returns it and its password (only the hash is stored).

        ``password`` as bytes: a binary key (an OCPP 1.6 AuthorizationKey), which the station
        sends as those raw bytes in its Basic credentials; it is returned in hex.

        Raises:
            Conflict: the station exists already.
        """
        if await self.stations.get(station_id) is not None:
            raise Conflict(f"charging station {station_id!r} exists already")
        password = password or generate_password()
        station = await self.stations.add(
            ChargingStation(station_id=station_id, password_hash=hash_password(password))
        )
        return station, password if isinstance(password, str) else password.hex()

    async def reset_password(
        self, station_id: str, password: str | bytes | None = None
    ) -> tuple[ChargingStation, str]:
        """Give a station a new password (generated unless given, bytes as in :meth:`add`);
        returns it, in hex for bytes. The old one stops working at the next login; a socket
        open now stays up. The failed-login count in a row is cleared, so the station is not
        kept waiting once it has the new password (the total stays for the operator).

        Raises:
            NotFound: no such station.
        """
        station = await self.get_for_update(station_id)
        password = password or generate_password()
        station.password_hash = hash_password(password)
        station.auth_failures = 0
        station.touch()
        return station, password if isinstance(password, str) else password.hex()

    async def mint_call_token(self, lifetime: timedelta = CALL_TOKEN_LIFETIME) -> str:
        """A one-time token for the internal station-call endpoint of any hub process on this
        database; only its hash is stored. Expired tokens nobody used are purged here."""
        now = self.clock()
        await self.call_tokens.purge_expired(now)
        token = generate_token()
        await self.call_tokens.add(hash_token(token), now + lifetime)
        return token

    async def redeem_call_token(self, token: str) -> bool:
        """True once for a token minted by :meth:`mint_call_token` that has not expired."""
        if not token:
            return False
        return await self.call_tokens.consume(hash_token(token), self.clock())

    async def get(self, station_id: str) -> ChargingStation:
        """Raises NotFound for an unknown station."""
        station = await self.stations.get(station_id)
        if station is None:
            raise NotFound(f"no charging station {station_id!r}")
        return station

    async def list_all(self) -> Sequence[ChargingStation]:
        return await self.stations.list()

    async def evses(self, station_id: str) -> Sequence[Evse]:
        """The EVSEs linked to the station (by the import's OCPP link)."""
        return await self.stations.evses_of(station_id)

    async def remove(self, station_id: str) -> None:
        """Forget a station: it can no longer connect; its EVSEs become UNKNOWN."""
        station = await self.get(station_id)
        await self._set_all(station_id, EvseStatus.UNKNOWN, reason="station removed")
        await self.stations.delete(station)

    async def authenticate(
        self,
        station_id: str,
        password: str | bytes | None,
        *,
        source: str,
        backoff: AuthBackoff,
    ) -> AuthOutcome:
        """Check a station's login (``password`` None: missing or not for this station).

        Failures are counted on the station row, which is locked for the check, so concurrent
        guesses are counted one after the other and every hub process sees the same count.
        While the station must wait (``backoff``) the password is not even checked. A success
        resets the consecutive count; the total and the last failure stay for the operator.
        """
        station = await self.stations.get(station_id, for_update=True)
        if station is None:
            return AuthOutcome(AuthResult.UNKNOWN_STATION)
        now = self.clock()
        retry_at = backoff.retry_at(station.auth_failures, station.last_auth_failure_at)
        if retry_at is not None and retry_at > now:
            return AuthOutcome(AuthResult.THROTTLED, retry_at, station.auth_failures)
        if password is not None and password_matches(password, station.password_hash):
            if station.auth_failures:
                station.auth_failures = 0
            return AuthOutcome(AuthResult.ACCEPTED, password_hash=station.password_hash)
        station.auth_failures += 1
        station.auth_failures_total += 1
        station.last_auth_failure_at = now
        station.last_auth_failure_source = source[:64]
        return AuthOutcome(
            AuthResult.REFUSED, backoff.retry_at(station.auth_failures, now), station.auth_failures
        )

    async def connected(self, station_id: str, version: OcppVersion, node: str) -> None:
        """The station opened a socket on ``node``: online again, EVSE statuses restored."""
        station = await self.get_for_update(station_id)
        was_online = station.online
        station.ocpp_version = version.value
        station.connected_node = node
        station.online = True
        station.last_seen_at = self.clock()
        if not was_online:
            await self._recompute(station, reason="online")

    async def disconnected(self, station_id: str, node: str) -> None:
        """The socket closed. The EVSEs stay as they are until the station has been silent for
        the offline delay (:meth:`mark_silent_offline`): short network blips do not flap."""
        await self.disconnections([Disconnection(station_id, node)])

    async def disconnections(self, reports: Sequence[Disconnection]) -> list[None]:
        """:meth:`disconnected` for many sockets (all of a worker's stations leave at once when
        it stops or a network link fails), with one query per run of distinct stations. A
        station that reconnected to another node meanwhile, or no longer exists, is left as it
        is. One None per report."""
        now = self.clock()
        for distinct in _runs_of_distinct_stations(reports):
            wanted = [report.station_id for report in distinct]
            stations = await self.stations.get_many(wanted, for_update=True)
            for report in distinct:
                station = stations.get(report.station_id)
                if station is not None and station.connected_node == report.node:
                    station.connected_node = None
                    station.last_seen_at = now  # the offline delay counts from the disconnect
        return [None for _ in reports]

    async def seen(self, station_id: str) -> None:
        """Any message proves the station alive (heartbeats included)."""
        station = await self.get_for_update(station_id)
        station.last_seen_at = self.clock()
        if not station.online:
            station.online = True
            await self._recompute(station, reason="online")

    async def booted(
        self,
        station_id: str,
        *,
        vendor: str,
        model: str,
        serial_number: str | None = None,
        firmware_version: str | None = None,
    ) -> None:
        """A BootNotification: what the station says it is; it booted now."""
        await self.boots([BootReport(station_id, vendor, model, serial_number, firmware_version)])

    async def boots(self, reports: Sequence[BootReport]) -> list[None]:
        """:meth:`booted` for many stations, with one query (locking them in id order) per
        run of distinct stations. One None per report.

        Raises:
            NotFound: a report's station does not exist (none of them is then stored).
        """
        now = self.clock()
        for distinct in _runs_of_distinct_stations(reports):
            stations = await self._locked(distinct)
            for report in distinct:
                station = stations[report.station_id]
                station.vendor, station.model = report.vendor[:50], report.model[:50]
                station.serial_number = report.serial_number[:50] if report.serial_number else None
                station.firmware_version = (
                    report.firmware_version[:50] if report.firmware_version else None
                )
                station.booted_at = station.last_seen_at = now
                station.touch()
        return [None for _ in reports]

    async def _locked(self, reports: Sequence[_OfStation]) -> dict[str, ChargingStation]:
        """The reports' stations, locked.

        Raises:
            NotFound: one of them does not exist.
        """
        wanted = [report.station_id for report in reports]
        stations = await self.stations.get_many(wanted, for_update=True)
        missing = next((s for s in wanted if s not in stations), None)
        if missing is not None:
            raise NotFound(f"no charging station {missing!r}")
        return stations

    async def connector_status(
        self, station_id: str, *, evse_id: int | None, connector_id: int, ocpp_status: str
    ) -> StatusOutcome:
        """A StatusNotification: store it and update the OCPI status of the EVSEs it feeds.

        ``evse_id`` is None for OCPP 1.6, where ``connector_id`` 0 is the station itself; in
        OCPP 2.0.1 ``evse_id`` 0 is. A station-level Unavailable or Faulted overrides every EVSE
        of the station until the station reports another station-level status.

        Raises:
            NotFound: no such station.
        """
        report = StatusReport(station_id, evse_id, connector_id, ocpp_status)
        (outcome,) = await self.connector_statuses([report])
        return outcome

    async def connector_statuses(self, reports: Sequence[StatusReport]) -> list[StatusOutcome]:
        """:meth:`connector_status` for many reports, in order, with a few queries for all: the
        stations (locked, in id order), their EVSEs, and what :meth:`LocationService.
        set_evse_statuses` needs. One outcome per report.

        Raises:
            NotFound: a report's station does not exist (none of them is then stored).
        """
        outcomes: list[StatusOutcome] = []
        for distinct in _runs_of_distinct_stations(reports):
            outcomes.extend(await self._distinct_statuses(distinct))
        return outcomes

    async def _distinct_statuses(self, reports: Sequence[StatusReport]) -> list[StatusOutcome]:
        """:meth:`connector_statuses` for reports of different stations each."""
        stations = await self._locked(reports)
        evses_of = await self.stations.evses_of_many(stations)
        now = self.clock()
        planned: list[tuple[StatusReport, list[EvseStatusUpdate]]] = []
        for report in reports:
            station = stations[report.station_id]
            station.last_seen_at = now
            station.online = True
            evses = evses_of.get(report.station_id, [])
            if _is_station_level(report):
                station.station_status = report.ocpp_status
                updates = self._recomputed(
                    station, evses, reason="station status", ocpp=report.ocpp_status
                )
                planned.append((report, updates))
                continue
            statuses = dict(station.connector_statuses)
            statuses[connector_key(report.evse_id, report.connector_id)] = report.ocpp_status
            station.connector_statuses = statuses
            fed = [e for e in evses if _feeds(e, report.evse_id, report.connector_id)]
            updates = [
                EvseStatusUpdate(e, self._status_of(e, station), now, "ocpp", report.ocpp_status)
                for e in fed
            ]
            planned.append((report, updates))
        flags = iter(
            await self.locations.set_evse_statuses([u for _, updates in planned for u in updates])
        )
        outcomes = []
        for report, updates in planned:
            changed = {u.evse.uid: u.status for u in updates if next(flags)}
            unmapped = not updates and not _is_station_level(report)
            outcomes.append(StatusOutcome(changed, unmapped=unmapped))
        return outcomes

    async def mark_silent_offline(
        self, *, disconnected_for: timedelta, silent_for: timedelta
    ) -> list[str]:
        """Stations go offline, their EVSEs UNKNOWN, when their socket has been closed for
        ``disconnected_for``, or when they sent nothing for ``silent_for`` (missed heartbeats)."""
        now = self.clock()
        offline = []
        for station in await self.stations.silent_since(now - min(disconnected_for, silent_for)):
            last_seen = station.last_seen_at or now
            limit = disconnected_for if station.connected_node is None else silent_for
            if now - last_seen < limit:
                continue
            station.online = False
            await self._set_all(station.station_id, EvseStatus.UNKNOWN, reason="offline")
            offline.append(station.station_id)
        return offline

    async def get_for_update(self, station_id: str) -> ChargingStation:
        station = await self.stations.get(station_id, for_update=True)
        if station is None:
            raise NotFound(f"no charging station {station_id!r}")
        return station

    def _status_of(self, evse: Evse, station: ChargingStation) -> EvseStatus:
        if evse.ocpp_evse_id is not None:
            prefix = f"{evse.ocpp_evse_id}:"
            reported = [s for k, s in station.connector_statuses.items() if k.startswith(prefix)]
        else:
            key = connector_key(None, evse.ocpp_connector_id or 0)
            reported = (
                [station.connector_statuses[key]] if key in station.connector_statuses else []
            )
        if not reported and station.station_status not in {"Unavailable", "Faulted"}:
            return EvseStatus.UNKNOWN
        return combined_status(reported, station.station_status, preparing=self.preparing)

    async def _recompute(
        self, station: ChargingStation, *, reason: str, ocpp: str | None = None
    ) -> dict[str, EvseStatus]:
        evses = await self.stations.evses_of(station.station_id)
        updates = self._recomputed(station, evses, reason=reason, ocpp=ocpp)
        flags = await self.locations.set_evse_statuses(updates)
        return {u.evse.uid: u.status for u, changed in zip(updates, flags, strict=True) if changed}

    def _recomputed(
        self, station: ChargingStation, evses: Sequence[Evse], *, reason: str, ocpp: str | None
    ) -> list[EvseStatusUpdate]:
        """The status each of the station's EVSEs should have now (before a station's first
        report of an EVSE, the EVSE keeps what it had rather than become UNKNOWN)."""
        now = self.clock()
        updates = []
        for evse in evses:
            status = self._status_of(evse, station)
            if status is EvseStatus.UNKNOWN and evse.status != EvseStatus.UNKNOWN.value:
                continue
            updates.append(EvseStatusUpdate(evse, status, now, reason, ocpp))
        return updates

    async def _set_all(self, station_id: str, status: EvseStatus, *, reason: str) -> None:
        for evse in await self.stations.evses_of(station_id):
            if evse.status != EvseStatus.REMOVED.value:
                await self.locations.set_evse_status(
                    evse.uid, status, at=self.clock(), reason=reason, evse=evse
                )

    async def history(self, evse: Evse, limit: int = 20) -> list[tuple[datetime, str, str]]:
        rows = await self.stations.history(evse.id or 0, limit)
        return [(r.changed_at, r.status, r.reason) for r in rows]

    async def station_history(
        self, station_id: str, limit: int = 20
    ) -> Sequence[tuple[str, EvseStatusChange]]:
        """The latest ``limit`` status changes of the station's EVSEs, newest first, each with
        its EVSE uid."""
        return await self.stations.station_history(station_id, limit)


def _is_station_level(report: StatusReport) -> bool:
    if report.evse_id is not None:
        return report.evse_id == STATION_EVSE
    return report.connector_id == STATION_CONNECTOR


def _runs_of_distinct_stations(reports: Sequence[R]) -> list[list[R]]:
    """``reports`` cut, in order, into runs in which no station comes twice."""
    runs: list[list[R]] = []
    current: set[str] = set()
    for report in reports:
        if not runs or report.station_id in current:
            runs.append([])
            current = set()
        runs[-1].append(report)
        current.add(report.station_id)
    return runs


def _feeds(evse: Evse, evse_id: int | None, connector_id: int) -> bool:
    if evse_id is not None:
        return evse.ocpp_evse_id == evse_id
    return evse.ocpp_evse_id is None and evse.ocpp_connector_id == connector_id
