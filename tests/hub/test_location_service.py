"""Importing locations, status changes and the push jobs they write, on both databases."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from hub.domain.assets import EvseStatus
from hub.domain.push import JobKind, JobState
from hub.errors import Conflict, NotFound
from hub.persistence.base import utc_now
from hub.persistence.repositories import outbox
from hub.persistence.repositories.locations import LocationRepository
from hub.persistence.session import session_scope
from hub.persistence.tables import PushJob
from hub.roaming.importer import parse_locations_json, parse_tariffs_json
from hub.services.locations import EvseStatusUpdate, LocationService
from hub.services.partners import PartnerService
from hub.services.sync import SyncService
from hub.services.tariffs import TariffService
from tests.fixtures import network
from tests.hub.conftest import add_parties, register_partner

pytestmark = pytest.mark.db


def specs(*locations):
    import json

    return parse_locations_json(json.dumps(list(locations)))


async def import_(sessions, *locations):
    async with session_scope(sessions) as session:
        return await LocationService(session).import_locations(specs(*locations))


async def jobs(sessions, state=None):
    async with sessions() as session:
        statement = select(PushJob).order_by(PushJob.id)
        if state is not None:
            statement = statement.where(PushJob.state == state.value)
        return list((await session.execute(statement)).scalars())


@pytest.fixture
async def world(sessions):
    await add_parties(sessions)
    return sessions


async def test_import_creates_then_is_idempotent(world):
    report = await import_(world, network.location("LOC1"), network.location("LOC2", evses=3))
    assert report.created == ["US*HPC LOC1", "US*HPC LOC2"]
    again = await import_(world, network.location("LOC1"), network.location("LOC2", evses=3))
    assert again.created == again.updated == []
    assert again.unchanged == ["US*HPC LOC1", "US*HPC LOC2"]
    assert not again.changed
    async with session_scope(world) as session:
        view = await LocationService(session).get("LOC2")
    assert [e.uid for e in view.evses] == ["LOC2-E1", "LOC2-E2", "LOC2-E3"]
    assert view.evses[1].connectors[1]["standard"] == "SAE_J3400"


async def test_changed_location_is_updated_and_its_last_updated_moves(world):
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        before = (await LocationService(session).get("LOC1")).location.last_updated
    changed = network.location("LOC1", name="Renamed")
    report = await import_(world, changed)
    assert report.updated == ["US*HPC LOC1"]
    async with session_scope(world) as session:
        view = await LocationService(session).get("LOC1")
    assert view.location.name == "Renamed"
    assert view.location.last_updated > before


async def test_evse_missing_from_the_file_is_removed_not_deleted(world):
    await import_(world, network.location("LOC1", evses=3))
    report = await import_(world, network.location("LOC1", evses=2))
    assert report.evses_removed == ["LOC1-E3"]
    async with session_scope(world) as session:
        view = await LocationService(session).get("LOC1")
    assert {e.uid: e.status for e in view.evses}["LOC1-E3"] == "REMOVED"


async def test_reimport_keeps_the_live_status_of_existing_evses(world):
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        await LocationService(session).set_evse_status("LOC1-E1", EvseStatus.CHARGING)
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        view = await LocationService(session).get("LOC1")
    assert view.evses[0].status == "CHARGING"


async def test_unknown_party_and_duplicates_are_refused_and_nothing_is_stored(world):
    with pytest.raises(NotFound, match="XX\\*ZZZ"):
        await import_(
            world,
            network.location("LOC1"),
            network.location("LOC9", country_code="XX", party_id="ZZZ"),
        )
    with pytest.raises(Conflict, match="appears twice"):
        await import_(world, network.location("LOC1"), network.location("LOC1"))
    await import_(world, network.location("LOC1"))
    stolen = network.location("LOC2")
    stolen["evses"][0]["uid"] = "LOC1-E1"
    with pytest.raises(Conflict, match="another location"):
        await import_(world, stolen)
    async with session_scope(world) as session:
        assert [r.location_id for r in await LocationService(session).list_all()] == ["LOC1"]


async def test_changes_fan_out_to_partners_with_receivers_only(world):
    receiver, _ = await register_partner(world, "emsp-a", ("US", "EMA"))
    await register_partner(world, "pull-only", ("US", "EMB"), modules=())
    suspended, _ = await register_partner(world, "paused", ("US", "EMC"))
    async with session_scope(world) as session:
        await PartnerService(session).suspend(suspended)
    await import_(world, network.location("LOC1"))
    queued = await jobs(world)
    assert [(j.partner_id, j.kind, j.target["location_id"]) for j in queued] == [
        (receiver, JobKind.LOCATION_PUT, "LOC1")
    ]


async def test_unpublished_location_reaches_only_the_parties_it_is_shared_with(world):
    a, _ = await register_partner(world, "emsp-a", ("US", "EMA"))
    await register_partner(world, "emsp-b", ("US", "EMB"))
    await import_(world, network.location("FLEET", publish=False, visible_to=["US*EMA"]))
    assert [j.partner_id for j in await jobs(world)] == [a]


async def test_status_changes_coalesce_and_a_location_put_supersedes_patches(world):
    partner, _ = await register_partner(world, "emsp-a")
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        service = LocationService(session)
        assert await service.set_evse_status("LOC1-E1", EvseStatus.CHARGING)
        assert await service.set_evse_status("LOC1-E1", EvseStatus.AVAILABLE)
        assert not await service.set_evse_status("LOC1-E1", EvseStatus.AVAILABLE)
        assert await service.set_evse_status("LOC1-E2", EvseStatus.OUTOFORDER)
    pending = await jobs(world, JobState.PENDING)
    # The first PUT is still pending; the first status PATCH of E1 was superseded by the second.
    assert [(j.kind, j.target.get("evse_uid")) for j in pending] == [
        (JobKind.LOCATION_PUT, None),
        (JobKind.EVSE_PATCH, "LOC1-E1"),
        (JobKind.EVSE_PATCH, "LOC1-E2"),
    ]
    assert len(await jobs(world, JobState.SUPERSEDED)) == 1
    await import_(world, network.location("LOC1", name="New name"))
    pending = await jobs(world, JobState.PENDING)
    assert [(j.partner_id, j.kind) for j in pending] == [(partner, JobKind.LOCATION_PUT)]


async def test_a_burst_of_changes_supersedes_the_pending_patches_of_every_object(
    world, monkeypatch
):
    """More objects than one statement carries (``KEYS_PER_STATEMENT``, made small here), for
    two partners: every earlier PATCH superseded, every later one pending."""
    monkeypatch.setattr(outbox, "KEYS_PER_STATEMENT", 5)
    partners = [(await register_partner(world, f"emsp-{n}", ("US", f"EM{n}")))[0] for n in range(2)]
    evses = 12
    await import_(world, network.location("BIG", evses=evses))
    uids = [f"BIG-E{n + 1}" for n in range(evses)]
    for status in (EvseStatus.CHARGING, EvseStatus.AVAILABLE):
        async with session_scope(world) as session:
            found = await LocationRepository(session).evses_by_uid(uids)
            now = utc_now()
            await LocationService(session).set_evse_statuses(
                [EvseStatusUpdate(found[uid], status, now, "test") for uid in uids]
            )
    pending = [j for j in await jobs(world, JobState.PENDING) if j.kind == JobKind.EVSE_PATCH]
    superseded = await jobs(world, JobState.SUPERSEDED)
    assert len(pending) == len(superseded) == evses * len(partners)
    assert {(j.partner_id, j.target["evse_uid"]) for j in pending} == {
        (p, uid) for p in partners for uid in uids
    }
    assert min(j.id for j in pending) > max(j.id for j in superseded)  # the later ones stay


async def test_superseding_thousands_of_objects_is_one_call(world):
    """A regional outage changes thousands of EVSEs in one transaction: PostgreSQL once refused
    the superseding statement of 2,000 EVSEs at 7 partners as one row-value list ("stack depth
    limit exceeded")."""
    partners = [(await register_partner(world, f"emsp-{n}", ("US", f"EM{n}")))[0] for n in range(7)]
    await import_(world, network.location("LOC1"))
    puts = await jobs(world, JobState.PENDING)
    assert len(puts) == len(partners)
    keys = [f"EVSE_PATCH/locations/US/HPC/L{n:05d}/L{n:05d}-E1" for n in range(3000)]
    async with session_scope(world) as session:
        superseded = await outbox.PushJobRepository(session).supersede_pairs(
            [(p, key) for p in partners for key in keys]
            + [(j.partner_id, j.coalesce_key) for j in puts]
        )
    assert superseded == len(partners)  # the pending PUT of LOC1 at each partner
    assert [j.id for j in await jobs(world, JobState.SUPERSEDED)] == [j.id for j in puts]


async def test_status_change_moves_the_parent_last_updated(world):
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        service = LocationService(session)
        await service.set_evse_status("LOC1-E2", EvseStatus.CHARGING)
        view = await service.get("LOC1")
    evse = next(e for e in view.evses if e.uid == "LOC1-E2")
    assert view.location.last_updated == evse.last_updated


async def test_connector_tariff_change_is_a_connector_patch(world):
    await register_partner(world, "emsp-a")
    await import_(world, network.location("LOC1"))
    async with session_scope(world) as session:
        # A connector may reference only a tariff we have (set_connector_tariffs checks).
        await TariffService(session).import_tariffs(
            parse_tariffs_json(__import__("json").dumps([network.tariff("T-NEW")]))
        )
        assert await LocationService(session).set_connector_tariffs("LOC1-E1", "1", ["T-NEW"])
    last = (await jobs(world))[-1]
    assert (last.kind, last.target["evse_uid"], last.target["connector_id"]) == (
        JobKind.CONNECTOR_PATCH,
        "LOC1-E1",
        "1",
    )
    with pytest.raises(NotFound):
        async with session_scope(world) as session:
            await LocationService(session).set_connector_tariffs("LOC1-E1", "9", [])


async def test_tariffs_import_delete_and_resync(world):
    partner, _ = await register_partner(world, "emsp-a")
    tariffs = parse_tariffs_json(
        __import__("json").dumps([network.tariff("T-DC"), network.tariff("T-IDLE", price="0.40")])
    )
    async with session_scope(world) as session:
        report = await TariffService(session).import_tariffs(tariffs)
    assert report.created == ["US*HPC T-DC", "US*HPC T-IDLE"]
    async with session_scope(world) as session:
        assert (await TariffService(session).import_tariffs(tariffs)).unchanged
        await TariffService(session).delete("US", "HPC", "T-IDLE")
    await import_(world, network.location("LOC1"), network.location("LOC2"))
    async with session_scope(world) as session:
        queued = await SyncService(session).resync(partner)
    assert queued == 3  # one tariff left and two locations
    pending = await jobs(world, JobState.PENDING)
    assert [j.kind for j in pending] == [
        JobKind.TARIFF_PUT,
        JobKind.LOCATION_PUT,
        JobKind.LOCATION_PUT,
    ]


async def test_copying_a_spec_does_not_alias_stored_attributes(world):
    original = network.location("LOC1")
    await import_(world, copy.deepcopy(original))
    original["address"] = "2 Other Road"
    assert (await import_(world, original)).updated == ["US*HPC LOC1"]
