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
