"""Test-wide fixtures: real migrated databases (SQLite and PostgreSQL) and settings."""

from __future__ import annotations

pytest_plugins = ["tests.fixtures.databases"]
