"""The sync pass of the stations' local authorization lists (see ``hub.domain.local_lists``).

A pass computes one digest of every list input (tokens, locations and who may see them,
partners); it works on the stations that booted, failed half-way, or whose digest differs from
the one recorded at their last check, at most ``max_stations_per_pass`` of them and
``concurrent_stations`` at a time. A token change thus costs one list computation per distinct
audience, and calls only to the stations whose list actually changed, spread over passes.

Per station, from this task and never from inside the station's own handlers (the ``ocpp``
package would deadlock): after a boot, its limits (1.6 ``GetConfiguration`` LocalAuthListEnabled,
LocalAuthListMaxLength, SendLocalListMaxLength; 2.0.1 ``GetVariables`` of LocalAuthListCtrlr:
Enabled, Entries, ItemsPerMessage, BytesPerMessage) and ``GetLocalListVersion``; a Full update
when its version differs from ours, when we never set its list, or when an earlier update
failed; else a Differential of what changed. The database is written between the calls, in
short transactions.

2.0.1 keeps the list's maximum size in the ``maxLimit`` characteristic of ``Entries``, which
``GetVariables`` cannot read; we ask for the ``MaxSet`` attribute of ``Entries`` and, when the
station has none, use ``local_list.default_max_entries``.

Each hub process syncs the stations whose sockets it holds; tests drive :meth:`sync_pass`
directly with the stations they name.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import LocalListSettings
from hub.domain.local_lists import UpdateType, diff, messages, next_version
from hub.domain.stations import OcppVersion
from hub.errors import NotFound
from hub.ocpp.commands import CallFailure, StationCallFailed, StationCommands
from hub.persistence.base import utc_now
from hub.persistence.session import session_scope
from hub.services.local_lists import ListLimits, LocalListService, PassCache, StationListState
from hub.waiting import until_any

logger = logging.getLogger(__name__)

_16_KEYS = ("LocalAuthListEnabled", "LocalAuthListMaxLength", "SendLocalListMaxLength")
_201_COMPONENT = "LocalAuthListCtrlr"
_201_VARIABLES = (
    ("Enabled", "Actual"),
    ("Entries", "MaxSet"),
    ("ItemsPerMessage", "Actual"),
    ("BytesPerMessage", "Actual"),
)


class ListRefused(Exception):
    """The station answered, but not Accepted."""


@dataclass
class PassReport:
    """What one pass did, by station."""

    considered: int = 0
    sent: dict[str, str] = field(default_factory=dict)
    """Station → update type sent (Full, Differential)."""
    in_step: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _bool(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return True if text == "true" else False if text == "false" else None


def limits_16(answer: dict[str, Any]) -> ListLimits:
    """The list limits in a 1.6 ``GetConfiguration`` answer."""
    values = {
        str(item.get("key")): item.get("value") for item in answer.get("configurationKey") or []
    }
    enabled = _bool(values.get("LocalAuthListEnabled"))
    max_entries = _int(values.get("LocalAuthListMaxLength"))
    unsupported = None
    if "LocalAuthListMaxLength" in (answer.get("unknownKey") or []) and max_entries is None:
        unsupported = "no LocalAuthListManagement (LocalAuthListMaxLength is an unknown key)"
    elif "LocalAuthListMaxLength" not in values:
        # The key is required with the LocalAuthListManagement profile.
        unsupported = "no LocalAuthListManagement (LocalAuthListMaxLength not reported)"
    elif enabled is False:
        unsupported = "disabled on the station (LocalAuthListEnabled is false)"
    elif max_entries == 0:
        unsupported = "the station holds no entries (LocalAuthListMaxLength is 0)"
    return ListLimits(
        max_entries=max_entries,
        max_items_per_message=_int(values.get("SendLocalListMaxLength")),
        max_bytes_per_message=None,
        enabled=enabled,
        unsupported=unsupported,
    )


def limits_201(answer: dict[str, Any]) -> ListLimits:
    """The list limits in a 2.0.1 ``GetVariables`` answer."""
    values: dict[str, Any] = {}
    unknown_component = False
    for result in answer.get("getVariableResult") or []:
        if (result.get("component") or {}).get("name", "").lower() != _201_COMPONENT.lower():
            continue
        name = str((result.get("variable") or {}).get("name", ""))
        if result.get("attributeStatus") == "Accepted":
            values[name] = result.get("attributeValue")
        elif result.get("attributeStatus") == "UnknownComponent":
            unknown_component = True
    enabled = _bool(values.get("Enabled"))
    max_entries = _int(values.get("Entries"))
    unsupported = None
    if unknown_component and not values:
        unsupported = "no local authorization list (LocalAuthListCtrlr is an unknown component)"
    elif "Enabled" not in values:
        # Enabled is required of a station with a LocalAuthListCtrlr.
        unsupported = "no local authorization list (LocalAuthListCtrlr.Enabled not reported)"
    elif enabled is False:
        unsupported = "disabled on the station (LocalAuthListCtrlr.Enabled is false)"
    elif max_entries == 0:
        unsupported = "the station holds no entries (LocalAuthListCtrlr.Entries is 0)"
    return ListLimits(
        max_entries=max_entries,
        max_items_per_message=_int(values.get("ItemsPerMessage")),
        max_bytes_per_message=_int(values.get("BytesPerMessage")),
        enabled=enabled,
        unsupported=unsupported,
    )


class LocalListSync:
    """Runs sync passes (``run``) or one on demand (``sync_pass``)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        commands: StationCommands,
        settings: LocalListSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.commands = commands
        self.settings = settings
        self.clock = clock
        self._wakeup = asyncio.Event()

    def wake(self, _station_id: str | None = None) -> None:
        """Run the next pass now (a station booted)."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Pass after pass until ``stop``, over the stations this process holds."""
        while not stop.is_set():
            self._wakeup.clear()
            try:
                await self.sync_pass()
            except Exception:
                logger.exception("local authorization list pass failed")
            await until_any(stop, self._wakeup, at_most=self.settings.interval_seconds)

    async def sync_pass(self, station_ids: Sequence[str] | None = None) -> PassReport:
        """One pass over ``station_ids`` (default: the stations connected to this process)."""
        ids = list(self.commands.registry.ids() if station_ids is None else station_ids)
        report = PassReport()
        if not ids:
            return report
        now = self.clock()
        async with session_scope(self.sessions) as session:
            service = LocalListService(session)
            digest = await service.fingerprint()
            due = await service.due(
                ids,
                fingerprint=digest,
                now=now,
                recheck=timedelta(seconds=self.settings.recheck_interval_seconds),
                retry_after=timedelta(seconds=self.settings.retry_after_seconds),
            )
        due = due[: self.settings.max_stations_per_pass]
        report.considered = len(due)
        cache = PassCache()
        gate = asyncio.Semaphore(self.settings.concurrent_stations)
        # The computations of a pass share the cache, so they run one at a time; only the
        # calls to stations overlap.
        compute = asyncio.Lock()

        async def one(station_id: str) -> None:
            async with gate:
                await self._sync_station(station_id, digest, cache, compute, report)

        await asyncio.gather(*(one(station_id) for station_id in due))
        return report

    async def _sync_station(
        self,
        station_id: str,
        digest: str,
        cache: PassCache,
        compute: asyncio.Lock,
        report: PassReport,
    ) -> None:
        try:
            async with session_scope(self.sessions) as session:
                state = await LocalListService(session).state(station_id)
        except NotFound:
            report.skipped[station_id] = "unknown station"
            return
        if state.ocpp_version is None:
            report.skipped[station_id] = "never connected"
            return
        try:
            outcome = await self._sync(state, state.ocpp_version, digest, cache, compute)
        except (StationCallFailed, ListRefused) as exc:
            if _not_supported(exc):
                async with session_scope(self.sessions) as session:
                    await LocalListService(session).record_limits(
                        station_id,
                        ListLimits(None, None, None, None, f"the station answered: {exc}"),
                        now=self.clock(),
                    )
                report.skipped[station_id] = f"unsupported: {exc}"
                return
            message = str(exc)
            logger.warning(
                "station %s: local authorization list not updated: %s", station_id, message
            )
            async with session_scope(self.sessions) as session:
                await LocalListService(session).record_failure(
                    station_id, message, now=self.clock()
                )
            report.failed[station_id] = message
            return
        if outcome is None:
            report.in_step.append(station_id)
        elif outcome.startswith("unsupported: "):
            report.skipped[station_id] = outcome
        else:
            report.sent[station_id] = outcome

    async def _read_limits(self, station_id: str, version: OcppVersion) -> ListLimits:
        if version is OcppVersion.V16:
            answer = await self.commands.call(
                station_id, "GetConfiguration", {"key": list(_16_KEYS)}
            )
            return limits_16(answer)
        answer = await self.commands.call(
            station_id,
            "GetVariables",
            {
                "getVariableData": [
                    {
                        "component": {"name": _201_COMPONENT},
                        "variable": {"name": name},
                        "attributeType": attribute,
                    }
                    for name, attribute in _201_VARIABLES
                ]
            },
        )
        return limits_201(answer)

    async def _sync(
        self,
        state: StationListState,
        version: OcppVersion,
        digest: str,
        cache: PassCache,
        compute: asyncio.Lock,
    ) -> str | None:
        """Bring one station in step; returns the update type sent, None when it already was,
        or ``"unsupported: ..."``."""
        station_id = state.station_id
        max_entries = state.max_entries
        max_items = state.max_items_per_message
        max_bytes = state.max_bytes_per_message
        station_version: int | None = None
        if state.needs_check or not state.limits_known:
            limits = await self._read_limits(station_id, version)
            async with session_scope(self.sessions) as session:
                await LocalListService(session).record_limits(station_id, limits, now=self.clock())
            if limits.unsupported:
                logger.info("station %s keeps no local list: %s", station_id, limits.unsupported)
                return f"unsupported: {limits.unsupported}"
            max_entries = limits.max_entries
            max_items = limits.max_items_per_message
            max_bytes = limits.max_bytes_per_message
            answer = await self.commands.call(station_id, "GetLocalListVersion", {})
            station_version = _int(
                answer.get("listVersion" if version is OcppVersion.V16 else "versionNumber")
            )
            async with session_scope(self.sessions) as session:
                await LocalListService(session).record_station_version(
                    station_id, station_version if station_version is not None else -1
                )
        limit = self.settings.default_max_entries if max_entries is None else max_entries
        items_per_message = max_items or self.settings.default_items_per_message
        async with compute, session_scope(self.sessions) as session:
            service = LocalListService(session)
            selected, eligible = await service.wanted(station_id, version, limit, cache)
            held = await service.held(station_id)
        wanted = list(selected.entries)
        # Never set by us (version 0), or not the version we set: the station's list is not
        # ours to patch.
        full = state.needs_full or (
            state.needs_check and (state.version == 0 or station_version != state.version)
        )
        if full:
            update = UpdateType.FULL
            items = [entry.payload for entry in wanted]
        else:
            changes = diff(held, wanted)
            if changes.empty:
                async with session_scope(self.sessions) as session:
                    await LocalListService(session).record_in_step(
                        station_id, fingerprint=digest, eligible=eligible, now=self.clock()
                    )
                return None
            update = UpdateType.DIFFERENTIAL
            items = changes.items(held, version)
        payloads = messages(
            version,
            update,
            items,
            first_version=next_version(state.version, station_version),
            max_items=items_per_message,
            max_bytes=max_bytes,
        )
        for payload in payloads:
            answer = await self.commands.call(station_id, "SendLocalList", payload)
            if answer.get("status") != "Accepted":
                raise ListRefused(
                    f"the station answered {answer.get('status')} to SendLocalList "
                    f"({payload['updateType']}, version {_version_of(payload)})"
                )
        final_version = _version_of(payloads[-1])
        async with session_scope(self.sessions) as session:
            await LocalListService(session).record_sent(
                station_id,
                held=held,
                wanted=wanted,
                version=final_version,
                station_version=final_version,
                update=update,
                messages=len(payloads),
                fingerprint=digest,
                eligible=eligible,
                now=self.clock(),
            )
        logger.info(
            "station %s: local authorization list %s update sent (%d entries, %d messages, "
            "version %d)",
            station_id,
            update.value,
            len(wanted),
            len(payloads),
            final_version,
        )
        return update.value


def _not_supported(exc: Exception) -> bool:
    """A station saying it has no local list at all (a CallError NotImplemented or
    NotSupported, or SendLocalList NotSupported in 1.6) rather than failing once."""
    if isinstance(exc, StationCallFailed) and exc.kind is not CallFailure.CALL_ERROR:
        return False
    text = str(exc)
    return "NotImplemented" in text or "NotSupported" in text


def _version_of(payload: dict[str, Any]) -> int:
    return int(payload.get("listVersion", payload.get("versionNumber", 0)))
