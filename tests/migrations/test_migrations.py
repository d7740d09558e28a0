"""The real alembic migrations on SQLite and PostgreSQL (pytest-alembic's built-in checks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_alembic import create_alembic_fixture
from pytest_alembic.tests import (
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from hub.persistence import migrations

pytestmark = pytest.mark.db

__all__ = [
    "test_model_definitions_match_ddl",
    "test_single_head_revision",
    "test_up_down_consistency",
    "test_upgrade",
]

alembic_runner = create_alembic_fixture()


@pytest.fixture
def empty_database_url(database_factory, db_engine_name) -> Iterator[str]:
    url = database_factory.create_empty(db_engine_name)
    yield url
    database_factory.drop(url)


@pytest.fixture
def alembic_config(empty_database_url):
    return migrations.alembic_config(empty_database_url)


@pytest.fixture
def alembic_engine(empty_database_url):
    # pytest-alembic runs each step in an event loop of its own; asyncpg connections are bound
    # to the loop that opened them, so nothing may be pooled between steps.
    return create_async_engine(empty_database_url, poolclass=NullPool)


def test_hub_db_api_upgrades_and_reports_head(empty_database_url):
    assert migrations.current_revision(empty_database_url) is None
    migrations.upgrade(empty_database_url)
    assert migrations.current_revision(empty_database_url) == migrations.head_revision()
    migrations.downgrade(empty_database_url, "base")
    assert migrations.current_revision(empty_database_url) is None


def test_existing_partners_keep_their_parties_and_cross_role_claims_are_dropped(
    empty_database_url,
):
    """Revision 7d2f4b9a1c3e: A declared EMSP US*EMA first; B later declared OTHER US*EMA (the
    leak). After the upgrade A owns US*EMA, B owns only US*EMB, B's claim is gone, and the
    tariff references come from the connectors."""
    import asyncio

    from sqlalchemy import text

    migrations.upgrade(empty_database_url, "81c06d98e341")
    stamp = "'2026-11-01 00:00:00+00'"

    async def run(statements: list[str]) -> list[list[tuple]]:
        engine = create_async_engine(empty_database_url, poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                results = []
                for statement in statements:
                    result = await connection.execute(text(statement))
                    results.append([tuple(r) for r in result] if result.returns_rows else [])
                return results
        finally:
            await engine.dispose()

    partner = (
        "INSERT INTO partners (id, created_at, updated_at, name, status, token_encoding, endpoints,"
        f" push_failures, push_degraded, nacs_mode) VALUES (%s, {stamp}, {stamp}, '%s',"
        " 'REGISTERED', 'auto', '[]', 0, false, 'omit')"
    )
    role = (
        "INSERT INTO partner_roles (id, created_at, updated_at, partner_id, role, country_code,"
        f" party_id, business_details) VALUES (%s, {stamp}, {stamp}, %s, '%s', 'US', '%s', '{{}}')"
    )
    asyncio.run(
        run(
            [
                partner % (1, "a"),
                partner % (2, "b"),
                role % (1, 1, "EMSP", "EMA"),
                role % (2, 2, "EMSP", "EMB"),
                role % (3, 2, "OTHER", "EMA"),
                "INSERT INTO parties (id, created_at, updated_at, role, country_code, party_id,"
                f" name) VALUES (1, {stamp}, {stamp}, 'CPO', 'US', 'HPC', 'HPC')",
                "INSERT INTO locations (id, created_at, updated_at, party_ref, country_code,"
                " party_id, location_id, publish, time_zone, city, attributes, last_updated)"
                f" VALUES (1, {stamp}, {stamp}, 1, 'US', 'HPC', 'L1', true, 'UTC', 'X', '{{}}',"
                f" {stamp})",
                "INSERT INTO evses (id, created_at, updated_at, location_ref, position, uid,"
                " status, connectors, attributes, last_updated) VALUES (1, "
                f"{stamp}, {stamp}, 1, 0, 'E1', 'AVAILABLE',"
                ' \'[{"id": "1", "tariff_ids": ["T1", "T2"]}, {"id": "2", "tariff_ids": ["T1"]}]\','
                f" '{{}}', {stamp})",
            ]
        )
    )
    migrations.upgrade(empty_database_url)
    owned, roles, references = asyncio.run(
        run(
            [
                "SELECT partner_id, country_code, party_id FROM partner_parties ORDER BY party_id",
                "SELECT partner_id, role, party_id FROM partner_roles ORDER BY id",
                "SELECT location_ref, tariff_id FROM tariff_references ORDER BY tariff_id",
            ]
        )
    )
    assert owned == [(1, "US", "EMA"), (2, "US", "EMB")]
    assert roles == [(1, "EMSP", "EMA"), (2, "EMSP", "EMB")]
    assert references == [(1, "T1"), (1, "T2")]
