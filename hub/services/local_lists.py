"""Use cases of the local authorization lists: which stations a sync pass works on, what list a
station should hold, and what the station holds per our records. Never commits; never calls a
station (``hub.ocpp.local_lists`` does, between these steps)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import PartyScope
from hub.domain.local_lists import (
    ListCandidate,
    ListEntry,
    SelectedList,
    UpdateType,
    fingerprint,
    max_uid_length,
    select_entries,
)
from hub.domain.stations import OcppVersion
from hub.errors import NotFound
from hub.persistence.repositories.access import AccessRepository
from hub.persistence.repositories.local_lists import LocalListRepository
from hub.persistence.repositories.stations import StationRepository
from hub.persistence.tables import LocalAuthList, LocalAuthListEntry

CANDIDATE_PAGE = 1000


@dataclass(frozen=True, slots=True)
class ListLimits:
    """What a station advertised about its list (None: it did not say)."""

    max_entries: int | None
    max_items_per_message: int | None
    max_bytes_per_message: int | None
    enabled: bool | None
    unsupported: str | None = None
    """Why the station keeps no list we could fill (no such feature, disabled, size 0)."""


@dataclass(frozen=True, slots=True)
class StationListState:
    """A snapshot of a station's list row, taken at the start of its sync."""

    station_id: str
    ocpp_version: OcppVersion | None
    version: int
    needs_check: bool
    needs_full: bool
    limits_known: bool
    max_entries: int | None
    max_items_per_message: int | None
    max_bytes_per_message: int | None


@dataclass
class PassCache:
    """What one sync pass computes once for every station: the registered partners with what
    they own, and each distinct list (stations with the same audience, OCPP version and size
    share one)."""

    partners: list[int] | None = None
    scopes: dict[int, PartyScope] = field(default_factory=dict)
    lists: dict[tuple[tuple[int, ...], OcppVersion, int], tuple[SelectedList, int]] = field(
        default_factory=dict
    )


def due_stations(
    rows: Mapping[str, LocalAuthList],
    station_ids: Iterable[str],
    *,
    fingerprint: str,
    recheck_before: datetime,
    retry_before: datetime,
) -> list[str]:
    """Which of ``station_ids`` a pass should work on, most urgent first.

    Due: stations never seen, booted ones (``needs_check``), half-updated ones (``needs_full``),
    those whose list inputs changed (``fingerprint``) or that were last checked before
    ``recheck_before``. A station whose last attempt failed after ``retry_before`` waits, unless
    it booted since; a station without a usable list waits for its next boot.
    """
    due: list[tuple[int, str, str]] = []
    for station_id in station_ids:
        row = rows.get(station_id)
        if row is None:
            due.append((0, "", station_id))
            continue
        checked = row.checked_at.isoformat() if row.checked_at else ""
        if row.needs_check:
            due.append((0, checked, station_id))
            continue
        if row.unsupported:
            continue
        failed_recently = (
            row.failures > 0 and row.last_error_at is not None and row.last_error_at > retry_before
        )
        if failed_recently:
            continue
        if (
            row.needs_full
            or row.inputs_fingerprint != fingerprint
            or row.checked_at is None
            or row.checked_at < recheck_before
        ):
            due.append((1, checked, station_id))
    return [station_id for _, _, station_id in sorted(due)]


@dataclass(frozen=True, slots=True)
class AuthListView:
    """What ``hub chargers auth-list`` shows."""

    row: LocalAuthList
    entries: Sequence[LocalAuthListEntry]


class LocalListService:
    """Use cases on stations' local authorization lists. Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.lists = LocalListRepository(session)
        self.access = AccessRepository(session)
        self.stations = StationRepository(session)

    async def stations_booted(self, station_ids: Sequence[str]) -> None:
        """Record that the stations booted: the next pass asks their list version and limits."""
        await self.lists.mark_booted(station_ids)

    async def fingerprint(self) -> str:
        """A digest of every list input, compared with each station's at the next pass."""
        return fingerprint(await self.lists.inputs())

    async def due(
        self,
        station_ids: Sequence[str],
        *,
        fingerprint: str,
        now: datetime,
        recheck: timedelta,
        retry_after: timedelta,
    ) -> list[str]:
        """The stations among ``station_ids`` a pass should work on (see :func:`due_stations`)."""
        rows = await self.lists.of_stations(station_ids)
        return due_stations(
            rows,
            station_ids,
            fingerprint=fingerprint,
            recheck_before=now - recheck,
            retry_before=now - retry_after,
        )

    async def state(self, station_id: str) -> StationListState:
        """The station's list row (created if missing) as a snapshot.

        Raises:
            NotFound: no such station.
        """
        station = await self.stations.get(station_id)
        if station is None:
            raise NotFound(f"no charging station {station_id!r}")
        row = await self.lists.ensure(station_id)
        return StationListState(
            station_id=station_id,
            ocpp_version=OcppVersion(station.ocpp_version) if station.ocpp_version else None,
            version=row.version,
            needs_check=row.needs_check,
            needs_full=row.needs_full,
            limits_known=row.limits_read_at is not None,
            max_entries=row.max_entries,
            max_items_per_message=row.max_items_per_message,
            max_bytes_per_message=row.max_bytes_per_message,
        )

    async def record_limits(self, station_id: str, limits: ListLimits, *, now: datetime) -> None:
        """Cache what the station advertised; a station without a usable list is left alone
        until its next boot."""
        values: dict[str, Any] = {
            "max_entries": limits.max_entries,
            "max_items_per_message": limits.max_items_per_message,
            "max_bytes_per_message": limits.max_bytes_per_message,
            "enabled": limits.enabled,
            "unsupported": limits.unsupported,
            "limits_read_at": now,
            "last_attempt_at": now,
        }
        if limits.unsupported:
            values.update(needs_check=False, checked_at=now)
        await self.lists.record(station_id, **values)

    async def audience(self, station_id: str, cache: PassCache) -> tuple[int, ...]:
        """The registered partners whose tokens the station may list: those that may see every
        location the station serves (``hub.domain.access``). A station serving no location
        lists nobody's tokens."""
        refs = await self.lists.location_refs_of(station_id)
        if not refs:
            return ()
        if cache.partners is None:
            cache.partners = await self.lists.registered_partners()
            cache.scopes = await self.access.scopes_of(cache.partners)
        access = await self.access.location_access(refs)
        return tuple(
            partner_id
            for partner_id in cache.partners
            if all(
                ref in access and cache.scopes[partner_id].may_see_location(access[ref])
                for ref in refs
            )
        )

    async def wanted(
        self, station_id: str, version: OcppVersion, limit: int, cache: PassCache
    ) -> tuple[SelectedList, int]:
        """The entries the station should hold (the selection rule of
        ``hub.domain.local_lists``), and how many of its audience's tokens are listable."""
        audience = await self.audience(station_id, cache)
        cache_key = (audience, version, limit)
        if cache_key in cache.lists:
            return cache.lists[cache_key]
        uid_max = max_uid_length(version)
        candidates: list[ListCandidate] = []
        selected = select_entries((), version, limit)
        offset = 0
        while limit > 0:
            page = await self.lists.candidates(
                audience, max_uid_length=uid_max, offset=offset, limit=CANDIDATE_PAGE
            )
            candidates.extend(page)
            offset += len(page)
            selected = select_entries(candidates, version, limit)
            if len(page) < CANDIDATE_PAGE or len(selected.entries) >= limit:
                break
        listable = await self.lists.count_listable(audience, max_uid_length=uid_max)
        cache.lists[cache_key] = (selected, listable)
        return selected, listable

    async def held(self, station_id: str) -> dict[str, str]:
        """Entry key → item of what the station holds, per our records."""
        return await self.lists.held(station_id)

    async def record_in_step(
        self, station_id: str, *, fingerprint: str, eligible: int, now: datetime
    ) -> None:
        """The station already holds the wanted list."""
        await self.lists.record(
            station_id,
            inputs_fingerprint=fingerprint,
            eligible=eligible,
            checked_at=now,
            needs_check=False,
            failures=0,
            last_attempt_at=now,
        )

    async def record_sent(
        self,
        station_id: str,
        *,
        held: Mapping[str, str],
        wanted: Sequence[ListEntry],
        version: int,
        station_version: int | None,
        update: UpdateType,
        messages: int,
        fingerprint: str,
        eligible: int,
        now: datetime,
    ) -> None:
        """Every message of an update was accepted: the station holds ``wanted`` at
        ``version``."""
        await self.lists.store_entries(station_id, held, wanted)
        await self.lists.record(
            station_id,
            version=version,
            station_version=station_version if station_version is not None else version,
            entries=len(wanted),
            eligible=eligible,
            inputs_fingerprint=fingerprint,
            checked_at=now,
            needs_check=False,
            needs_full=False,
            last_sync_at=now,
            last_update_type=update.value,
            last_messages=messages,
            failures=0,
            last_attempt_at=now,
        )

    async def record_station_version(self, station_id: str, station_version: int) -> None:
        """What GetLocalListVersion answered."""
        await self.lists.record(station_id, station_version=station_version)

    async def record_failure(self, station_id: str, message: str, *, now: datetime) -> None:
        """An update failed: what the station holds is no longer known, so the next attempt
        asks its version again and sends the whole list."""
        await self.lists.record(
            station_id,
            failures=LocalAuthList.failures + 1,
            last_error=message[:500],
            last_error_at=now,
            last_attempt_at=now,
            needs_full=True,
        )

    async def view(self, station_id: str) -> AuthListView:
        """What the station holds per our records.

        Raises:
            NotFound: no such station, or no list was ever kept for it.
        """
        if await self.stations.get(station_id) is None:
            raise NotFound(f"no charging station {station_id!r}")
        row = await self.lists.get(station_id)
        if row is None:
            raise NotFound(
                f"station {station_id!r} has not booted since offline lists were kept; its "
                "list is sent after its next boot"
            )
        return AuthListView(row, await self.lists.entries(station_id))
