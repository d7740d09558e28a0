"""EV-ChART: the NEVI registration of locations (Module 1 data, network provider) and the
quarterly exports of Modules 2 (charging sessions), 3 (uptime) and 4 (outages), 23 CFR
680.112(a).

Module 2 is read from our sessions, page by page. Modules 3 and 4 take the uptime ledger's
values (``hub.domain.uptime``: :class:`PortUptime`, :class:`Outage`) from an
:class:`UptimeSource`, streamed: the ledger implements it (README "EV-ChART exports" says what
it must yield). Files are written to a temporary file beside the target and renamed only once
whole, so a report that fails writes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from hub.domain import evchart
from hub.domain.evchart import EvchartError, Quarter, Row, SessionFacts, Vocabulary
from hub.domain.ledger import year_window
from hub.domain.uptime import Outage, PortUptime
from hub.errors import InvalidRequest, InvalidState, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories.evchart import EvchartRepository
from hub.persistence.repositories.locations import LocationRepository
from hub.persistence.tables import Location, NeviStation
from hub.services.uptime import UptimeService

FUNDING_PROGRAMS = ("NEVI", "CFI", "EVC_RAA", "CMAQ", "CRP", "OTHER", "AFC")
"""The funding flags of EV-ChART Module 1."""
PAGE_SIZE = 1000


class UptimeSource(Protocol):
    """What the uptime ledger provides to Modules 3 and 4, one station at a time, streamed.

    ``uptimes``: for every port of the station, one :class:`PortUptime` per month of the
    quarter, whose ``window_end`` is that month's end (``Quarter.month_ends``) and whose window
    is the twelve months before it (shorter for a port commissioned later: then ``uptime`` is
    None), in port then window order. ``outages``: every :class:`Outage` of the station's
    ports that overlaps [start, end), with its exclusion, in port then start order; the
    export cuts them to the window.
    """

    def uptimes(self, station_id: str, quarter: Quarter) -> AsyncIterator[PortUptime]:
        """The Module 3 values of the station's ports for the quarter."""
        ...

    def outages(self, station_id: str, start: datetime, end: datetime) -> AsyncIterator[Outage]:
        """The outages of the station's ports overlapping [start, end)."""
        ...


class LedgerUptimeSource:
    """Modules 3 and 4 from the uptime ledger (``hub.services.uptime``): each month of the
    quarter's rule's-year window, and the live outages (rebuilt first)."""

    def __init__(self, ledger: UptimeService) -> None:
        self.ledger = ledger

    async def uptimes(self, station_id: str, quarter: Quarter) -> AsyncIterator[PortUptime]:
        windows = [year_window(end) for end in quarter.month_ends]
        for _, _, per_window in await self.ledger.port_windows(windows, stations=[station_id]):
            for uptime in per_window:
                yield uptime

    async def outages(
        self, station_id: str, start: datetime, end: datetime
    ) -> AsyncIterator[Outage]:
        for outage in await self.ledger.outages(stations=[station_id], since=start, until=end):
            yield _fitting_notes(outage)


_NOTES_LENGTH = evchart.MODULE_4.column("excluded_outage_notes").max_length or 255


def _fitting_notes(outage: Outage) -> Outage:
    """The outage with notes EV-ChART takes (at most 255 characters): an operator's note (up
    to 1,000 characters) and evidence (500) are cut there, ending with an ellipsis; they stay
    whole in the ledger's trail (``hub outages show``)."""
    if outage.notes is None or len(outage.notes) <= _NOTES_LENGTH:
        return outage
    return replace(outage, notes=outage.notes[: _NOTES_LENGTH - 1] + "…")


class LedgerNotAvailable:
    """The source of a platform without an uptime ledger: Modules 3 and 4 cannot be made."""

    def uptimes(self, station_id: str, quarter: Quarter) -> AsyncIterator[PortUptime]:  # noqa: ARG002
        """Refuses: there is no ledger to take uptimes from."""
        raise InvalidState("Module 3 needs the uptime ledger, which this platform does not have")

    def outages(self, station_id: str, start: datetime, end: datetime) -> AsyncIterator[Outage]:  # noqa: ARG002
        """Refuses: there is no ledger to take outages from."""
        raise InvalidState("Module 4 needs the uptime ledger, which this platform does not have")


def load_vocabulary(path: Path | None) -> Vocabulary:
    """The vocabulary of ``HUB_NEVI__VOCABULARY_FILE`` (None: the built-in one)."""
    if path is None:
        return evchart.DEFAULT_VOCABULARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"HUB_NEVI__VOCABULARY_FILE {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"HUB_NEVI__VOCABULARY_FILE {path}: a JSON object")
    try:
        return Vocabulary.from_data(data)
    except EvchartError as exc:
        raise InvalidRequest(f"HUB_NEVI__VOCABULARY_FILE {path}: {exc}") from exc


# --- registration -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PortSetting:
    """Module 1 data of one port (an EVSE uid); None: leave as it is."""

    uid: str
    port_type: str | None = None
    federally_funded: bool | None = None


@dataclass(frozen=True, slots=True)
class Registration:
    """Changes to a location's NEVI registration (None: leave as it is)."""

    network_provider: str | None = None
    nickname: str | None = None
    project_type: str | None = None
    operational_date: date | None = None
    funding: Sequence[str] | None = None
    num_fed_funded_ports: int | None = None
    num_non_fed_funded_ports: int | None = None
    ports: Sequence[PortSetting] = ()


class NeviRegistrationService:
    """The NEVI registration of locations (Module 1 data and network provider). Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.locations = LocationRepository(session)
        self.repository = EvchartRepository(session)

    async def _location(self, location_id: str) -> tuple[Location, int]:
        location = await self.locations.get(location_id)
        if location is None or location.id is None:
            raise NotFound(f"no location {location_id!r}")
        return location, location.id

    async def get(self, location_id: str) -> tuple[Location, NeviStation | None]:
        """The location and its registration (None: not registered)."""
        location, ref = await self._location(location_id)
        return location, await self.repository.registration(ref)

    async def register(self, location_id: str, changes: Registration) -> NeviStation:
        """Register the location for EV-ChART, or change its registration."""
        location, ref = await self._location(location_id)
        try:
            evchart.identifier("station_id", location.location_id)
        except EvchartError as exc:
            raise InvalidRequest(str(exc)) from exc
        row = await self.repository.registration(ref)
        if row is None:
            row = NeviStation(location_ref=ref)
            self.session.add(row)
        if changes.network_provider is not None:
            row.network_provider = _text("--network-provider", changes.network_provider, 30)
        if changes.nickname is not None:
            row.nickname = _text("--nickname", changes.nickname, 50)
        if changes.project_type is not None:
            row.project_type = _text("--project-type", changes.project_type, 50)
        if changes.operational_date is not None:
            row.operational_date = changes.operational_date
        if changes.funding is not None:
            unknown = sorted(set(changes.funding) - set(FUNDING_PROGRAMS))
            if unknown:
                raise InvalidRequest(
                    f"--funding {', '.join(unknown)}: one of {', '.join(FUNDING_PROGRAMS)}"
                )
            row.funding = [p for p in FUNDING_PROGRAMS if p in changes.funding]
        for name in ("num_fed_funded_ports", "num_non_fed_funded_ports"):
            value = getattr(changes, name)
            if value is not None:
                if value < 0:
                    raise InvalidRequest(f"--{name.replace('_', '-')}: not negative")
                setattr(row, name, value)
        if changes.ports:
            uids = (await self.repository.port_uids([ref]))[ref]
            ports = dict(row.ports)
            for port in changes.ports:
                if port.uid not in uids:
                    raise InvalidRequest(f"location {location_id} has no EVSE {port.uid!r}")
                setting = dict(ports.get(port.uid, {}))
                if port.port_type is not None:
                    setting["port_type"] = _text("port type", port.port_type, 20)
                if port.federally_funded is not None:
                    setting["federally_funded"] = port.federally_funded
                ports[port.uid] = setting
            row.ports = ports  # a new dict: the JSON column sees the change
        row.touch()
        await self.session.flush()
        return row

    async def unregister(self, location_id: str) -> None:
        """Take the location out of EV-ChART reporting (its registration data is deleted)."""
        _, row = await self.get(location_id)
        if row is None:
            raise NotFound(f"location {location_id} is not registered for NEVI")
        await self.session.delete(row)
        await self.session.flush()


def _text(option: str, value: str, length: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidRequest(f"{option}: not empty")
    if len(text) > length:
        raise InvalidRequest(f"{option}: at most {length} characters (EV-ChART)")
    return text


def registration_record(
    location: Location, row: NeviStation | None, default: str | None
) -> dict[str, Any]:
    """A registration as the operator sees it; the Module 1 address fields are the location's."""
    attributes = location.attributes
    coordinates = attributes.get("coordinates") or {}
    record: dict[str, Any] = {
        "station_id": location.location_id,
        "registered": row is not None,
        "network_provider": (row.network_provider if row else None) or default,
        "network_provider_from": "location"
        if row is not None and row.network_provider
        else ("HUB_NEVI__NETWORK_PROVIDER" if default else None),
        "nickname": row.nickname if row else None,
        "address": attributes.get("address"),
        "city": location.city,
        "state": attributes.get("state"),
        "zip": attributes.get("postal_code"),
        "latitude": coordinates.get("latitude"),
        "longitude": coordinates.get("longitude"),
        "project_type": row.project_type if row else None,
        "operational_date": row.operational_date.isoformat()
        if row and row.operational_date
        else None,
        "funding": row.funding if row else [],
        "num_fed_funded_ports": row.num_fed_funded_ports if row else None,
        "num_non_fed_funded_ports": row.num_non_fed_funded_ports if row else None,
        "ports": row.ports if row else {},
    }
    return record


# --- exports ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Station:
    """A station in a report: its id, the network provider written for it, its ports."""

    station_id: str
    network_provider: str
    ports: tuple[str, ...]


@dataclass
class Report:
    """A module's rows for a quarter (streamed) and the notes gathered while they are made:
    what the file cannot say (open sessions, missing history), printed and kept beside it."""

    module: int
    quarter: Quarter
    stations: list[Station]
    rows: AsyncIterator[Row]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Written:
    """A report on disk: the CSV, its checksum file, its digest, its rows and its notes."""

    path: Path
    checksum_path: Path
    sha256: str
    rows: int
    notes_path: Path | None


class EvchartService:
    """EV-ChART exports of a quarter. Never commits (it only reads)."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        network_provider: str | None = None,
        vocabulary: Vocabulary = evchart.DEFAULT_VOCABULARY,
        source: UptimeSource | None = None,
        clock: Callable[[], datetime] = utc_now,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.session = session
        self.repository = EvchartRepository(session)
        self.network_provider = network_provider
        self.vocabulary = vocabulary
        self.source: UptimeSource = source or LedgerNotAvailable()
        self.clock = clock
        self.page_size = page_size

    async def stations(self, station_ids: Sequence[str] | None = None) -> list[Station]:
        """The stations reported: every registered location, or those named (each must be a
        registered location). Each needs a network provider, its own or the platform's."""
        wanted = list(dict.fromkeys(station_ids)) if station_ids else None
        registered = await self.repository.registered(wanted)
        if wanted is not None:
            found = {location.location_id for location, _ in registered}
            for station_id in wanted:
                if station_id in found:
                    continue
                if await LocationRepository(self.session).get(station_id) is None:
                    raise NotFound(f"no station (location) {station_id!r}")
                raise InvalidState(
                    f"station {station_id} is not registered for NEVI; register it with "
                    f"`hub locations nevi {station_id} --network-provider NAME`"
                )
        if not registered:
            raise InvalidState(
                "no location is registered for NEVI (`hub locations nevi LOCATION ...`)"
            )
        missing = [
            location.location_id
            for location, row in registered
            if not (row.network_provider or self.network_provider)
        ]
        if missing:
            raise InvalidState(
                f"no network provider for {', '.join(missing)}: set HUB_NEVI__NETWORK_PROVIDER "
                "or `hub locations nevi LOCATION --network-provider NAME`"
            )
        ports = await self.repository.port_uids([row.location_ref for _, row in registered])
        stations = []
        for location, row in registered:
            provider = row.network_provider or self.network_provider or ""
            uids = tuple(ports[row.location_ref])
            with _reporting(f"station {location.location_id}"):
                evchart.identifier("station_id", location.location_id)
                for uid in uids:
                    evchart.identifier("port_id", uid)
            stations.append(Station(location.location_id, provider, uids))
        return stations

    async def report(
        self, module: int, quarter: Quarter, station_ids: Sequence[str] | None = None
    ) -> Report:
        """The rows of Module ``module`` for ``quarter`` (lazily made: iterate ``rows``)."""
        if module not in evchart.MODULES:
            raise InvalidRequest(f"--module {module}: 2, 3 or 4")
        now = self.clock()
        if quarter.start > now:
            raise InvalidRequest(f"quarter {quarter} has not begun")
        stations = await self.stations(station_ids)
        report = Report(module, quarter, stations, _empty())
        if quarter.end > now:
            report.notes.append(
                f"{quarter} is not over: this file covers it up to {evchart.format_datetime(now)}"
            )
        match module:
            case 2:
                report.rows = self._sessions(report)
            case 3:
                report.rows = self._uptimes(report)
            case _:
                report.rows = self._outages(report, min(quarter.end, now))
        return report

    async def _sessions(self, report: Report) -> AsyncIterator[Row]:
        start, end = report.quarter.start, report.quarter.end
        averaged = 0
        for station in report.stations:
            used: set[str] = set()
            after: tuple[datetime, int] | None = None
            while True:
                page = await self.repository.ended_sessions(
                    station.station_id, start, end, after=after, limit=self.page_size
                )
                for record in page:
                    facts = SessionFacts(
                        session_id=record.session_id,
                        station_id=record.location_id,
                        port_id=record.evse_uid,
                        charger_id=record.charger_id,
                        connector_id=record.connector_id,
                        start=record.start,
                        end=record.end,
                        kwh=record.kwh,
                        max_power_kw=record.max_power_kw,
                        session_error=record.session_error,
                        payment_method=record.payment_method,
                    )
                    if record.max_power_kw is None:
                        averaged += 1
                    used.add(record.evse_uid)
                    with _reporting(f"session {record.session_id}"):
                        row = evchart.session_row(facts, station.network_provider, self.vocabulary)
                    yield row
                if len(page) < self.page_size:
                    break
                after = (page[-1].start, page[-1].pk)
            for port in station.ports:
                if port not in used:
                    yield evchart.empty_row(2, station.station_id, station.network_provider, port)
            still_open = await self.repository.still_open(station.station_id, start, end)
            if still_open:
                report.notes.append(
                    f"station {station.station_id}: {still_open} session(s) started in "
                    f"{report.quarter} have not ended and are not in this file"
                )
        if averaged:
            report.notes.append(
                f"{averaged} session(s) had no power readings: their power_kw is the session's "
                "average power (energy / duration), a floor of the peak"
            )

    async def _uptimes(self, report: Report) -> AsyncIterator[Row]:
        for station in report.stations:
            seen: set[str] = set()
            async for uptime in self.source.uptimes(station.station_id, report.quarter):
                _belongs(station, uptime.station_id, uptime.port_id)
                seen.add(uptime.port_id)
                if uptime.missing_history:
                    report.notes.append(
                        f"port {uptime.port_id}: the history does not cover the whole window "
                        f"{evchart.format_datetime(uptime.window_start)} - "
                        f"{evchart.format_datetime(uptime.window_end)}"
                    )
                with _reporting(f"uptime of port {uptime.port_id}"):
                    row = evchart.uptime_row(uptime, station.network_provider)
                yield row
            missing = [port for port in station.ports if port not in seen]
            if missing:
                report.notes.append(
                    f"station {station.station_id}: no uptime for port(s) {', '.join(missing)}"
                )

    async def _outages(self, report: Report, until: datetime) -> AsyncIterator[Row]:
        start = report.quarter.start
        for station in report.stations:
            seen: set[str] = set()
            async for outage in self.source.outages(station.station_id, start, until):
                _belongs(station, outage.station_id, outage.port_id)
                with _reporting(f"outage {outage.outage_id}"):
                    cut = evchart.outage_row(outage, station.network_provider, start, until)
                if cut is not None:
                    seen.add(outage.port_id)
                    yield cut
            for port in station.ports:
                if port not in seen:
                    yield evchart.empty_row(4, station.station_id, station.network_provider, port)

    async def write(self, report: Report, out: Path) -> Written:
        """Write the report's CSV to ``out`` with ``out.sha256`` (``sha256sum`` format: the
        hex digest, which system-to-system upload sends as ``checksum``, then the file name)
        and, when there are notes, ``out.notes.txt``. Nothing is left behind if it fails."""
        spec = evchart.module(report.module)
        # Blocking file writes in this loop on purpose: a CLI command's loop serves only it.
        out = out.resolve()  # noqa: ASYNC240
        digest = hashlib.sha256()
        rows = 0
        handle, temporary = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
                writer = csv.DictWriter(
                    _Hashing(stream, digest), fieldnames=spec.names, lineterminator="\r\n"
                )
                writer.writeheader()
                async for row in report.rows:
                    writer.writerow(row)
                    rows += 1
            checksum = out.with_name(out.name + ".sha256")
            notes = out.with_name(out.name + ".notes.txt")
            os.replace(temporary, out)
        except BaseException:
            os.unlink(temporary)
            raise
        checksum.write_text(f"{digest.hexdigest()}  {out.name}\n", encoding="utf-8")
        if report.notes:
            notes.write_text("".join(f"{note}\n" for note in report.notes), encoding="utf-8")
        elif notes.exists():
            notes.unlink()  # an earlier run's notes would describe another file
        return Written(out, checksum, digest.hexdigest(), rows, notes if report.notes else None)


class _Hashing:
    """A text stream that hashes the UTF-8 bytes written through it."""

    def __init__(self, stream: Any, digest: Any) -> None:
        self.stream = stream
        self.digest = digest

    def write(self, text: str) -> int:
        self.digest.update(text.encode("utf-8"))
        return int(self.stream.write(text))


async def _empty() -> AsyncIterator[Row]:
    return
    yield


@contextmanager
def _reporting(what: str) -> Iterator[None]:
    """A value EV-ChART cannot take is the operator's to fix: the error names the object."""
    try:
        yield
    except EvchartError as exc:
        raise InvalidRequest(f"{what}: {exc}") from exc


def _belongs(station: Station, station_id: str, port_id: str) -> None:
    if station_id != station.station_id:
        raise InvalidState(
            f"the ledger gave port {port_id} of station {station_id} for {station.station_id}"
        )
