"""Locations, EVSEs and connectors: import, status changes, partner-scoped reads.

Every change that partners can see writes push jobs in the same transaction (``PushService``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain.access import Audience, LocationAccess, Party
from hub.domain.assets import (
    ConnectorSpec,
    EvseSpec,
    EvseStatus,
    ImportKind,
    ImportReport,
    LocationSpec,
    object_label,
    party_key,
)
from hub.domain.push import JobKind, location_queue
from hub.errors import Conflict, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.access import AccessRepository, TariffKey
from hub.persistence.repositories.locations import LocationFilter, LocationRepository
from hub.persistence.repositories.parties import PartyRepository
from hub.persistence.tables import Evse, EvseStatusChange, Location
from hub.services.push import Change, PushService
from hub.services.tariffs import TariffService, tariff_change


@dataclass(frozen=True, slots=True)
class LocationView:
    """A location with its EVSEs (in their configured order) and its visibility list."""

    location: Location
    evses: list[Evse]
    visible_to: list[str]

    @property
    def audience(self) -> Audience:
        return location_audience(self.location, self.visible_to)


def connector_record(spec: ConnectorSpec, last_updated: datetime) -> dict[str, Any]:
    """How a connector is stored in ``Evse.connectors``."""
    return {
        "id": spec.connector_id,
        "standard": spec.standard,
        "tariff_ids": list(spec.tariff_ids),
        "attributes": spec.attributes,
        "last_updated": last_updated.isoformat(),
    }


def _same_connectors(stored: list[dict[str, Any]], specs: Sequence[ConnectorSpec]) -> bool:
    def strip(record: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in record.items() if k != "last_updated"}

    return [strip(r) for r in stored] == [strip(connector_record(s, utc_now())) for s in specs]


@dataclass(frozen=True, slots=True)
class EvseStatusUpdate:
    """One EVSE's new status for :meth:`LocationService.set_evse_statuses`."""

    evse: Evse
    status: EvseStatus
    at: datetime
    reason: str
    ocpp_status: str | None = None


def location_audience(location: Location, visible_to: Sequence[str]) -> Audience:
    return Audience.of_location(LocationAccess(location.publish, frozenset(_parties(visible_to))))


def tariff_ids_of(evses: Sequence[Evse]) -> set[str]:
    """Every tariff id the connectors of these EVSEs reference."""
    return {tariff_id for evse in evses for c in evse.connectors for tariff_id in c["tariff_ids"]}


def location_change(
    location: Location, visible_to: Sequence[str], kind: JobKind, **target: str
) -> Change:
    return Change(
        kind=kind,
        queue_key=location_queue(location.country_code, location.party_id, location.location_id),
        target={
            "country_code": location.country_code,
            "party_id": location.party_id,
            "location_id": location.location_id,
            **target,
        },
        coalesce_parts=tuple(target.values()),
        audience=location_audience(location, visible_to),
    )


class LocationService:
    """Use cases on locations. Never commits; the caller owns the transaction."""

    def __init__(self, session: AsyncSession, push: PushService | None = None) -> None:
        self.locations = LocationRepository(session)
        self.parties = PartyRepository(session)
        self.access = AccessRepository(session)
        self.push = push or PushService(session)
        self.tariffs = TariffService(session, self.push)

    async def import_locations(self, specs: Sequence[LocationSpec]) -> ImportReport:
        """Create or update locations to match ``specs``; identical ones are left untouched.

        EVSE statuses in ``specs`` apply to new EVSEs only: the status of an existing EVSE belongs
        to its charger. An EVSE missing from its location's spec is set to REMOVED (OCPI has no
        delete). Changed objects get ``last_updated`` = now, so delta pulls see them.

        Raises:
            NotFound: a location belongs to a party we do not operate.
            Conflict: duplicate location ids or EVSE uids, or an EVSE uid used by another location.
        """
        self._check_unique(specs)
        report = ImportReport(ImportKind.LOCATIONS)
        existing = await self.locations.get_many(s.location_id for s in specs)
        evses_by_location = await self.locations.evses_of(
            row.id for row in existing.values() if row.id is not None
        )
        visible = await self.locations.visible_to_of(
            row.id for row in existing.values() if row.id is not None
        )
        uid_owners = await self.locations.evses_by_uid(e.uid for s in specs for e in s.evses)
        affected = {
            (spec.country_code.upper(), spec.party_id.upper(), tariff_id)
            for spec in specs
            for evse in spec.evses
            for connector in evse.connectors
            for tariff_id in connector.tariff_ids
        }
        affected |= await self.access.tariffs_referenced_by(
            row.id for row in existing.values() if row.id is not None
        )
        tariff_audience = await self._tariff_audience(affected)
        party_refs: dict[tuple[str, str], int] = {}
        changes: list[Change] = []
        created: list[Change] = []
        now = utc_now()
        for spec in specs:
            key = (spec.country_code.upper(), spec.party_id.upper())
            if key not in party_refs:
                party = await self.parties.get_by_key("CPO", *key)
                if party is None or party.id is None:
                    raise NotFound(
                        f"location {spec.location_id}: we operate no party {party_key(*key)}"
                    )
                party_refs[key] = party.id
            row = existing.get(spec.location_id)
            if row is not None and (row.country_code, row.party_id) != key:
                holder = party_key(row.country_code, row.party_id)
                raise Conflict(f"location {spec.location_id} belongs to {holder}")
            for evse in spec.evses:
                owner = uid_owners.get(evse.uid)
                if owner is not None and (row is None or owner.location_ref != row.id):
                    raise Conflict(f"EVSE uid {evse.uid} already belongs to another location")
            if row is None:
                row = await self._create(spec, party_refs[key], now)
                report.created.append(object_label(*key, spec.location_id))
                created.append(location_change(row, spec.visible_to, JobKind.LOCATION_PUT))
                continue
            else:
                location_id = row.id or 0
                changed, removed = await self._update(
                    row,
                    spec,
                    evses_by_location.get(location_id, []),
                    visible.get(location_id, []),
                    now,
                )
                report.evses_removed.extend(removed)
                if not changed:
                    report.unchanged.append(object_label(*key, spec.location_id))
                    continue
                report.updated.append(object_label(*key, spec.location_id))
            changes.append(location_change(row, spec.visible_to, JobKind.LOCATION_PUT))
        await self.locations.session.flush()
        await self._refresh_tariff_references(
            await self.locations.get_many(str(c.target["location_id"]) for c in created + changes)
        )
        await self.push.fanout(await self._tariff_moves(tariff_audience))
        await self.push.fanout(created, fresh=True)
        await self.push.fanout(changes)
        return report

    async def _refresh_tariff_references(self, rows: Mapping[str, Location]) -> None:
        """Derive ``tariff_references`` again from the connectors of these locations."""
        by_ref = {row.id or 0: row for row in rows.values()}
        evses = await self.locations.evses_of(by_ref)
        await self.access.replace_tariff_references(
            {
                ref: ((row.country_code, row.party_id), tariff_ids_of(evses.get(ref, [])))
                for ref, row in by_ref.items()
            }
        )

    async def _tariff_audience(self, keys: set[TariffKey]) -> dict[TariffKey, frozenset[int]]:
        """For each existing tariff among ``keys``, the partners that receive it now."""
        existing = await self.tariffs.tariffs.get_many(sorted(keys))
        receivers = [s for s in await self.push.subscribers() if "tariffs" in s.modules]
        audiences = await self.tariffs.audiences(sorted(existing))
        return {
            key: frozenset(s.partner_id for s in receivers if s.scope.may_see(audience))
            for key, audience in audiences.items()
        }

    async def _tariff_moves(self, before: dict[TariffKey, frozenset[int]]) -> list[Change]:
        """Tariffs whose audience changed since ``before``: PUT to the partners that may see them
        now, DELETE at the partners that may no longer."""
        after = await self._tariff_audience(set(before))
        moves: list[Change] = []
        for key, now_seen_by in after.items():
            audience = Audience()  # recipients are explicit below
            gained = now_seen_by - before.get(key, frozenset())
            lost = before.get(key, frozenset()) - now_seen_by
            if gained:
                moves.append(tariff_change(key, audience, recipients=gained))
            if lost:
                moves.append(tariff_change(key, audience, JobKind.TARIFF_DELETE, recipients=lost))
        return moves

    @staticmethod
    def _check_unique(specs: Sequence[LocationSpec]) -> None:
        seen: set[str] = set()
        uids: set[str] = set()
        for spec in specs:
            if spec.location_id in seen:
                raise Conflict(f"location id {spec.location_id} appears twice")
            seen.add(spec.location_id)
            for evse in spec.evses:
                if evse.uid in uids:
                    raise Conflict(f"EVSE uid {evse.uid} appears twice")
                uids.add(evse.uid)

    async def _create(self, spec: LocationSpec, party_ref: int, now: datetime) -> Location:
        row = await self.locations.add(
            Location(
                party_ref=party_ref,
                country_code=spec.country_code.upper(),
                party_id=spec.party_id.upper(),
                location_id=spec.location_id,
                publish=spec.publish,
                time_zone=spec.time_zone,
                name=spec.name,
                city=spec.city,
                attributes=spec.attributes,
                last_updated=now,
            )
        )
        location_ref = row.id or 0
        for position, evse in enumerate(spec.evses):
            self.locations.session.add(self._new_evse(location_ref, position, evse, now))
        await self.locations.replace_visibility(location_ref, _parties(spec.visible_to))
        return row

    @staticmethod
    def _new_evse(location_ref: int, position: int, spec: EvseSpec, now: datetime) -> Evse:
        evse = Evse(location_ref=location_ref, uid=spec.uid, status=spec.status, last_updated=now)
        LocationService._apply_evse(evse, position, spec, now)
        return evse

    @staticmethod
    def _apply_evse(evse: Evse, position: int, spec: EvseSpec, now: datetime) -> None:
        evse.position = position
        evse.evse_id = spec.evse_id
        evse.attributes = spec.attributes
        evse.connectors = [connector_record(c, now) for c in spec.connectors]
        evse.charging_station_id = spec.station.charging_station_id if spec.station else None
        evse.ocpp_evse_id = spec.station.evse_id if spec.station else None
        evse.ocpp_connector_id = spec.station.connector_id if spec.station else None
        evse.last_updated = now

    @staticmethod
    def _evse_differs(evse: Evse, position: int, spec: EvseSpec) -> bool:
        station = spec.station
        return (
            evse.position != position
            or evse.evse_id != spec.evse_id
            or evse.attributes != spec.attributes
            or not _same_connectors(evse.connectors, spec.connectors)
            or evse.charging_station_id != (station.charging_station_id if station else None)
            or evse.ocpp_evse_id != (station.evse_id if station else None)
            or evse.ocpp_connector_id != (station.connector_id if station else None)
            or evse.status == EvseStatus.REMOVED.value
        )

    async def _update(
        self,
        row: Location,
        spec: LocationSpec,
        evses: list[Evse],
        visible_to: list[str],
        now: datetime,
    ) -> tuple[bool, list[str]]:
        changed = (
            row.publish != spec.publish
            or row.time_zone != spec.time_zone
            or row.name != spec.name
            or row.city != spec.city
            or row.attributes != spec.attributes
            or sorted(visible_to) != sorted(spec.visible_to)
        )
        row.publish, row.time_zone, row.name = spec.publish, spec.time_zone, spec.name
        row.city, row.attributes = spec.city, spec.attributes
        if sorted(visible_to) != sorted(spec.visible_to):
            await self.locations.replace_visibility(row.id or 0, _parties(spec.visible_to))
        by_uid = {evse.uid: evse for evse in evses}
        for position, evse_spec in enumerate(spec.evses):
            evse = by_uid.pop(evse_spec.uid, None)
            if evse is None:
                self.locations.session.add(self._new_evse(row.id or 0, position, evse_spec, now))
                changed = True
            elif self._evse_differs(evse, position, evse_spec):
                if evse.status == EvseStatus.REMOVED.value:
                    evse.status = evse_spec.status
                self._apply_evse(evse, position, evse_spec, now)
                changed = True
        removed = []
        for evse in by_uid.values():
            if evse.status != EvseStatus.REMOVED.value:
                evse.status = EvseStatus.REMOVED.value
                evse.last_updated = now
                removed.append(evse.uid)
                changed = True
        if changed:
            row.last_updated = now
            row.touch()
        await self.locations.session.flush()
        return changed, removed

    async def set_evse_status(
        self,
        uid: str,
        status: EvseStatus,
        *,
        at: datetime | None = None,
        reason: str = "operator",
        ocpp_status: str | None = None,
        evse: Evse | None = None,
    ) -> bool:
        """Change an EVSE's status; the location's ``last_updated`` follows (OCPI parent rule).
        Every change is kept in the status history with its ``reason``. ``evse`` saves the
        lookup when the caller loaded the row in this session already.

        Returns False when the status was already ``status`` (nothing stored or pushed).

        Raises:
            NotFound: no EVSE with this uid.
        """
        if evse is None or evse.uid != uid:
            evse = await self.locations.evse_by_uid(uid, for_update=True)
        if evse is None:
            raise NotFound(f"no EVSE with uid {uid!r}")
        update = EvseStatusUpdate(evse, status, at or utc_now(), reason, ocpp_status)
        (changed,) = await self.set_evse_statuses([update])
        return changed

    async def set_evse_statuses(self, updates: Sequence[EvseStatusUpdate]) -> list[bool]:
        """:meth:`set_evse_status` for many EVSEs the caller has loaded (and locked): the same
        history, parent rule and pushes, in order, with one query for their locations, one for
        who may see the unpublished ones, one flush and one fan-out for all. One flag per update:
        whether it changed the status.

        Raises:
            NotFound: an EVSE without its location.
        """
        flags: list[bool] = []
        changed: list[EvseStatusUpdate] = []
        for update in updates:
            evse = update.evse
            if evse.status == update.status.value:
                flags.append(False)
                continue
            self.locations.session.add(
                EvseStatusChange(
                    evse_ref=evse.id or 0,
                    status=update.status.value,
                    previous_status=evse.status,
                    ocpp_status=update.ocpp_status,
                    reason=update.reason,
                    changed_at=update.at,
                )
            )
            evse.status = update.status.value
            evse.last_updated = update.at
            changed.append(update)
            flags.append(True)
        if not changed:
            return flags
        locations = await self.locations.by_ids({u.evse.location_ref for u in changed})
        unpublished = [ref for ref, location in locations.items() if not location.publish]
        visible = await self.locations.visible_to_of(unpublished)
        pushed = []
        for update in changed:
            location = locations.get(update.evse.location_ref)
            if location is None:
                raise NotFound(f"EVSE {update.evse.uid!r} has no location")
            location.last_updated = max(location.last_updated, update.at)
            audience = [] if location.publish else visible.get(location.id or 0, [])
            pushed.append(
                location_change(location, audience, JobKind.EVSE_PATCH, evse_uid=update.evse.uid)
            )
        await self.locations.session.flush()
        await self.push.fanout(pushed)
        return flags

    async def set_connector_tariffs(
        self, uid: str, connector_id: str, tariff_ids: Sequence[str]
    ) -> bool:
        """Replace a connector's ``tariff_ids``; pushed as a connector PATCH.

        Raises:
            NotFound: no such EVSE or connector, or a tariff id that the location's party has
                no tariff for (partners would be sent a reference to nothing).
        """
        evse = await self.locations.evse_by_uid(uid, for_update=True)
        if evse is None:
            raise NotFound(f"no EVSE with uid {uid!r}")
        owner = await self.locations.by_id(evse.location_ref)
        if owner is None:
            raise NotFound(f"EVSE {uid!r} has no location")
        party = (owner.country_code, owner.party_id)
        known = await self.tariffs.tariffs.get_many([(*party, t) for t in tariff_ids])
        unknown = [t for t in tariff_ids if (*party, t) not in known]
        if unknown:
            which = ("tariff " if len(unknown) == 1 else "tariffs ") + ", ".join(unknown)
            raise NotFound(
                f"no {which} of party {party_key(*party)}; "
                "import it first with `hub tariffs import`"
            )
        before = await self.access.tariffs_referenced_by([evse.location_ref])
        connectors = [dict(c) for c in evse.connectors]
        for connector in connectors:
            if connector["id"] == connector_id:
                if connector["tariff_ids"] == list(tariff_ids):
                    return False
                now = utc_now()
                connector["tariff_ids"] = list(tariff_ids)
                connector["last_updated"] = now.isoformat()
                break
        else:
            raise NotFound(f"EVSE {uid!r} has no connector {connector_id!r}")
        evse.connectors = connectors
        evse.last_updated = now
        location = owner
        location.last_updated = max(location.last_updated, now)
        visible = await self.locations.visible_to_of([location.id or 0])
        await self.locations.session.flush()
        tariff_audience = await self._tariff_audience(
            before | {(*party, tariff_id) for tariff_id in tariff_ids}
        )
        await self._refresh_tariff_references({location.location_id: location})
        await self.push.fanout(await self._tariff_moves(tariff_audience))
        await self.push.fanout(
            [
                location_change(
                    location,
                    visible.get(location.id or 0, []),
                    JobKind.CONNECTOR_PATCH,
                    evse_uid=uid,
                    connector_id=connector_id,
                )
            ]
        )
        return True

    async def _views(self, rows: Sequence[Location]) -> list[LocationView]:
        refs = [row.id or 0 for row in rows]
        evses = await self.locations.evses_of(refs)
        visible = await self.locations.visible_to_of(refs)
        return [
            LocationView(row, evses.get(row.id or 0, []), visible.get(row.id or 0, []))
            for row in rows
        ]

    async def visible_page(
        self, location_filter: LocationFilter, *, offset: int, limit: int
    ) -> tuple[list[LocationView], int]:
        """A page of the locations a partner may see (see :class:`LocationFilter`)."""
        rows, total = await self.locations.visible_page(location_filter, offset=offset, limit=limit)
        return await self._views(rows), total

    async def get_visible(
        self, location_id: str, location_filter: LocationFilter
    ) -> LocationView | None:
        """One location if the partner may see it; None otherwise (unknown or not visible)."""
        row = await self.locations.get_visible(location_id, location_filter)
        if row is None:
            return None
        return (await self._views([row]))[0]

    async def get(self, location_id: str) -> LocationView:
        """A location for the operator, whatever its visibility.

        Raises:
            NotFound: no such location.
        """
        row = await self.locations.get(location_id)
        if row is None:
            raise NotFound(f"no location {location_id!r}")
        return (await self._views([row]))[0]

    async def views_by_ids(self, location_ids: Sequence[str]) -> dict[str, LocationView]:
        rows = await self.locations.get_many(location_ids)
        return {view.location.location_id: view for view in await self._views(list(rows.values()))}

    async def list_all(self, *, offset: int = 0, limit: int | None = None) -> Sequence[Location]:
        return await self.locations.list(offset=offset, limit=limit)

    async def put_change(self, location_id: str) -> Change | None:
        """A LOCATION_PUT change for one location (None if it no longer exists)."""
        row = await self.locations.get(location_id)
        if row is None:
            return None
        visible = await self.locations.visible_to_of([row.id or 0])
        return location_change(row, visible.get(row.id or 0, []), JobKind.LOCATION_PUT)

    async def all_changes(self) -> list[Change]:
        """A LOCATION_PUT change for every location (full resynchronisation)."""
        rows = await self.locations.list()
        visible = await self.locations.visible_to_of(row.id or 0 for row in rows)
        return [location_change(r, visible.get(r.id or 0, []), JobKind.LOCATION_PUT) for r in rows]

    async def counts(self) -> tuple[int, int]:
        return await self.locations.count()


def _parties(refs: Sequence[str]) -> list[Party]:
    parties = []
    for ref in refs:
        country_code, _, party_id = ref.partition("*")
        parties.append((country_code.upper(), party_id.upper()))
    return parties
