"""The uptime ledger on both engines: outages derived from the real status history (the station
service going offline and back, faults) and sessions, stable ids across rebuilds, exclusions and
their trail, maintenance declared ahead, and T_outage/T_excluded/mu by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import col, select

from hub.domain.assets import EvseStatus
from hub.domain.ledger import NoEnergyRule
from hub.domain.uptime import ExclusionReason, OutageCause
from hub.errors import Conflict, InvalidRequest, InvalidState, NotFound
from hub.persistence.session import session_scope
from hub.persistence.tables import ChargingSession, OutageExclusionEvent, PortOutage
from hub.roaming.importer import parse_locations_json
from hub.services.locations import LocationService
from hub.services.stations import StationService
from hub.services.uptime import UptimeService
from tests.fixtures import network
from tests.hub.conftest import add_parties

pytestmark = pytest.mark.db

T0 = datetime(2025, 1, 1, tzinfo=UTC)
E1, E2 = "SITE-E1", "SITE-E2"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def site() -> dict:
    """SITE: E1 and E2 on the 1.6 station CS-16 (connectors 1, 2), UNKNOWN until it reports."""
    location = network.location("SITE", evses=2)
    for evse, connector in zip(location["evses"], (1, 2), strict=True):
        evse["status"] = "UNKNOWN"
        evse["hub_ocpp"] = {"charging_station_id": "CS-16", "connector_id": connector}
    return location


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps([site()])))
        await StationService(session).add("CS-16", "p" * 20)
    return sessions


async def set_status(sessions, uid: str, status: str, at: datetime, reason: str = "ocpp"):
    async with session_scope(sessions) as session:
        await LocationService(session).set_evse_status(
            uid, EvseStatus(status), at=at, reason=reason
        )


async def add_session(sessions, uid: str, start: datetime, kwh: str, **extra) -> None:
    async with session_scope(sessions) as session:
        session.add(
            ChargingSession(
                country_code="US",
                party_id="HPC",
                session_id=f"S-{uid}-{start:%m%d%H%M}",
                station_id="CS-16",
                ocpp_version="1.6",
                location_id="SITE",
                evse_uid=uid,
                connector_id="1",
                status=extra.pop("status", "COMPLETED"),
                start_date_time=start,
                end_date_time=start + timedelta(minutes=10),
                kwh=Decimal(kwh),
                currency="USD",
                time_zone="America/Los_Angeles",
                **extra,
            )
        )


def ledger(session, clock: Clock, **kwargs) -> UptimeService:
    return UptimeService(session, clock=clock, **kwargs)


async def test_station_offline_periods_come_from_the_status_history(world):
    """The station service itself: connected, reports, goes silent (offline: UNKNOWN), returns."""
    clock = Clock(T0)
    async with session_scope(world) as session:
        stations = StationService(session, clock=clock)
        await stations.seen("CS-16")
        for connector in (1, 2):
            await stations.connector_status(
                "CS-16", evse_id=None, connector_id=connector, ocpp_status="Available"
            )
    clock.now = T0 + timedelta(hours=5)
    async with session_scope(world) as session:
        offline = await StationService(session, clock=clock).mark_silent_offline(
            disconnected_for=timedelta(minutes=2), silent_for=timedelta(minutes=15)
        )
        assert offline == ["CS-16"]
    clock.now = T0 + timedelta(hours=7, minutes=30)
    async with session_scope(world) as session:
        await StationService(session, clock=clock).seen("CS-16")  # back: statuses restored
    clock.now = T0 + timedelta(days=1)
    async with session_scope(world) as session:
        outages = await ledger(session, clock).outages()
    assert [(o.port_id, o.start, o.end, o.cause) for o in outages] == [
        (uid, T0 + timedelta(hours=5), T0 + timedelta(hours=7, minutes=30), "STATION_OFFLINE")
        for uid in (E1, E2)
    ]
    assert all(o.station_id == "SITE" and not o.excluded for o in outages)


async def test_rebuilding_keeps_the_id_of_every_unchanged_outage(world):
    clock = Clock(T0 + timedelta(hours=12))
    await set_status(world, E1, "AVAILABLE", T0, reason="online")
    await set_status(world, E1, "OUTOFORDER", T0 + timedelta(hours=10))
    async with session_scope(world) as session:
        summary = await ledger(session, clock).rebuild()
        (ongoing,) = await ledger(session, clock).outages(rebuild=False)
    assert (summary.ports, summary.added) == (2, 1)
    assert ongoing.end is None
    assert ongoing.cause is OutageCause.OUT_OF_ORDER

    await set_status(world, E1, "AVAILABLE", T0 + timedelta(hours=13, minutes=30))
    for kwh, hour in (("0", 15), ("0.2", 16), ("0", 17)):  # three failed charges: no energy
        await add_session(world, E1, T0 + timedelta(hours=hour), kwh)
    clock.now = T0 + timedelta(hours=20)
    async with session_scope(world) as session:
        summary = await ledger(session, clock).rebuild()
        assert (summary.added, summary.updated) == (1, 1)
        ended, no_energy = await ledger(session, clock).outages()
        again = await ledger(session, clock).rebuild()
    assert ended.outage_id == ongoing.outage_id
    assert ended.end == T0 + timedelta(hours=13, minutes=30)
    assert (no_energy.start, no_energy.end, no_energy.cause) == (
        T0 + timedelta(hours=15),
        None,
        OutageCause.NO_ENERGY,
    )
    assert (again.added, again.updated, again.withdrawn) == (0, 0, 0)

    # A stricter detector no longer derives the no-energy outage: withdrawn, then revived.
    async with session_scope(world) as session:
        stricter = await ledger(session, clock, rule=NoEnergyRule(sessions=4)).rebuild()
        assert stricter.withdrawn == 1
        assert [o.outage_id for o in await ledger(session, clock).outages(rebuild=False)] == [
            ongoing.outage_id
        ]
        back = await ledger(session, clock).rebuild()
        assert back.revived == 1
        ids = [o.outage_id for o in await ledger(session, clock).outages(rebuild=False)]
    assert ids == [ongoing.outage_id, no_energy.outage_id]

    # A successful charge ends it; reservations and refused drivers are not judged.
    await add_session(world, E1, T0 + timedelta(hours=18), "0", close_reason="RESERVATION_EXPIRED")
    await add_session(world, E1, T0 + timedelta(hours=18, minutes=30), "0", status="INVALID")
    await add_session(world, E1, T0 + timedelta(hours=19), "42.5")
    async with session_scope(world) as session:
        *_, ended_too = await ledger(session, clock).outages()
    assert ended_too.outage_id == no_energy.outage_id
    assert ended_too.end == T0 + timedelta(hours=19)


async def test_a_year_of_outages_by_hand(world):
    """E1 in 2025: 6 h out of order, a 2 h 30 min utility outage (excluded), an inoperative
    day; the window [2025-01-01, 2026-01-01). E2 never reported: missing history."""
    await set_status(world, E1, "AVAILABLE", datetime(2024, 12, 1, tzinfo=UTC), reason="online")
    await set_status(world, E1, "OUTOFORDER", datetime(2024, 12, 31, 21, tzinfo=UTC))
    await set_status(world, E1, "AVAILABLE", datetime(2025, 1, 1, 3, tzinfo=UTC))  # 180 in 2025
    await set_status(world, E1, "UNKNOWN", datetime(2025, 3, 10, 8, tzinfo=UTC), "offline")
    await set_status(world, E1, "AVAILABLE", datetime(2025, 3, 10, 10, 30, tzinfo=UTC), "online")
    await set_status(world, E1, "INOPERATIVE", datetime(2025, 7, 4, tzinfo=UTC), "operator")
    await set_status(world, E1, "AVAILABLE", datetime(2025, 7, 5, tzinfo=UTC), "operator")
    clock = Clock(datetime(2026, 1, 15, tzinfo=UTC))
    async with session_scope(world) as session:
        service = ledger(session, clock)
        outages = await service.outages(port=E1)
        offline = next(o for o in outages if o.cause is OutageCause.STATION_OFFLINE)
        await service.exclude(
            offline.outage_id,
            reason=1,
            note="PG&E feeder outage",
            evidence="PGE-2025-0310-118",
            by="ops",
        )
        start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
        e1, e2 = await service.uptimes(start, end)
    # 180 (the part of the fault inside 2025) + 150 + 1,440 = 1,770; 150 excluded.
    assert (e1.outage_minutes, e1.excluded_minutes) == (Decimal("1770.00"), Decimal("150.00"))
    # (525,600 - 1,620) / 525,600 x 100 = 99.69178... -> 99.69
    assert e1.uptime == Decimal("99.69")
    assert not e1.missing_history
    assert e2.port_id == E2
    assert e2.missing_history
    assert e2.uptime is None


async def test_exclusions_and_their_trail(world):
    await set_status(world, E1, "AVAILABLE", T0, reason="online")
    await set_status(world, E1, "OUTOFORDER", T0 + timedelta(hours=1))
    await set_status(world, E1, "AVAILABLE", T0 + timedelta(hours=3))
    clock = Clock(T0 + timedelta(days=2))
    async with session_scope(world) as session:
        service = ledger(session, clock)
        (outage,) = await service.outages()
        oid = outage.outage_id
        with pytest.raises(InvalidRequest, match="1-6"):
            await service.exclude(oid, reason=7, note="n", evidence="e", by="ops")
        with pytest.raises(InvalidRequest, match=r"120\.00 minutes"):
            await service.exclude(
                oid, reason=4, note="n", evidence="e", by="ops", excluded_minutes=Decimal(121)
            )
        with pytest.raises(NotFound):
            await service.exclude(oid + 99, reason=4, note="n", evidence="e", by="ops")
        with pytest.raises(InvalidState, match="not excluded"):
            await service.unexclude(oid, note="n", by="ops")
        detail = await service.exclude(
            oid,
            reason=4,
            note="cable cut",
            evidence="police report 2025-0001",
            by="alice",
            excluded_minutes=Decimal("90.5"),
        )
        assert detail.outage.excluded
        assert detail.outage.reason is ExclusionReason.VANDALISM
        assert detail.outage.excluded_minutes == Decimal("90.50")
        assert detail.outage.notes == "cable cut (evidence: police report 2025-0001)"
        with pytest.raises(Conflict, match="excluded already"):
            await service.exclude(oid, reason=5, note="n", evidence="e", by="bob")
        clock.now += timedelta(hours=1)
        undone = await service.unexclude(oid, note="no police report after all", by="bob")
        assert not undone.outage.excluded
        assert undone.outage.excluded_minutes == 0
        assert [(e.action, e.source, e.reason, e.made_by) for e in undone.trail] == [
            ("EXCLUDE", "OPERATOR", 4, "alice"),
            ("UNEXCLUDE", "OPERATOR", 4, "bob"),
        ]
        event = undone.trail[0]
        event.note = "rewritten"
        with pytest.raises(TypeError, match="append-only"):
            await session.flush()
        await session.rollback()


async def test_scheduled_maintenance_excludes_the_overlapping_minutes(world):
    clock = Clock(T0)
    await set_status(world, E1, "AVAILABLE", T0 - timedelta(days=30), reason="online")
    await set_status(world, E2, "AVAILABLE", T0 - timedelta(days=30), reason="online")
    window_from, window_until = T0 + timedelta(days=1, hours=2), T0 + timedelta(days=1, hours=6)
    async with session_scope(world) as session:
        service = ledger(session, clock)
        with pytest.raises(InvalidRequest, match="ahead of time"):
            await service.add_maintenance(
                station="SITE", port=None, starts_at=T0 - timedelta(hours=1),
                ends_at=T0 + timedelta(hours=1), note="late", by="ops",
            )  # fmt: skip
        with pytest.raises(NotFound, match="no station"):
            await service.add_maintenance(
                station="NOPE", port=None, starts_at=window_from, ends_at=window_until,
                note="n", by="ops",
            )  # fmt: skip
        maintenance = await service.add_maintenance(
            station="SITE", port=None, starts_at=window_from, ends_at=window_until,
            note="transformer swap", by="carol",
        )  # fmt: skip
        with pytest.raises(Conflict, match="overlaps maintenance"):
            await service.add_maintenance(
                station=None, port=E2, starts_at=window_until - timedelta(minutes=1),
                ends_at=window_until + timedelta(hours=1), note="n", by="ops",
            )  # fmt: skip
        # The charger station id names the same ports: the same overlap.
        with pytest.raises(Conflict):
            await service.add_maintenance(
                station="CS-16", port=None, starts_at=window_from, ends_at=window_until,
                note="n", by="ops",
            )  # fmt: skip
    # E1 goes down 30 minutes before the window and comes back 1 hour after it (5 h 30 out,
    # 4 h of it in the window); E2 is down only inside it.
    await set_status(world, E1, "INOPERATIVE", window_from - timedelta(minutes=30), "operator")
    await set_status(world, E1, "AVAILABLE", window_until + timedelta(hours=1), "operator")
    await set_status(world, E2, "OUTOFORDER", window_from + timedelta(hours=1))
    await set_status(world, E2, "AVAILABLE", window_from + timedelta(hours=2))
    clock.now = T0 + timedelta(days=3)
    async with session_scope(world) as session:
        service = ledger(session, clock)
        e1, e2 = await service.details()
        assert e1.outage.excluded
        assert e1.outage.reason is ExclusionReason.SCHEDULED_MAINTENANCE
        assert e1.outage.excluded_minutes == Decimal("240.00")
        assert e1.exclusion_source == "MAINTENANCE"
        assert e1.evidence is not None
        assert f"maintenance window {maintenance.id}" in e1.evidence
        assert e2.outage.excluded_minutes == Decimal("60.00")
        assert (await service.rebuild()).maintenance_events == 0  # idempotent
        # The operator overrides it for E2; maintenance does not put it back.
        await service.unexclude(e2.outage.outage_id, note="unrelated fault", by="dave")
        await service.rebuild()
        _, e2_again = await service.outages()
        assert not e2_again.excluded
        (uptime_e1, uptime_e2) = await service.uptimes(T0, T0 + timedelta(days=3))
    assert (uptime_e1.outage_minutes, uptime_e1.excluded_minutes) == (Decimal(330), Decimal(240))
    assert (uptime_e2.outage_minutes, uptime_e2.excluded_minutes) == (Decimal(60), Decimal(0))
    async with session_scope(world) as session:
        kinds = (
            await session.execute(
                select(OutageExclusionEvent.source, OutageExclusionEvent.action).order_by(
                    col(OutageExclusionEvent.id)
                )
            )
        ).all()
        assert [tuple(k) for k in kinds] == [
            ("MAINTENANCE", "EXCLUDE"),
            ("MAINTENANCE", "EXCLUDE"),
            ("OPERATOR", "UNEXCLUDE"),
        ]
        assert len((await session.execute(select(PortOutage))).all()) == 2
