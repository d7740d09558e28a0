"""A command that cannot reach a usable database, or is given a malformed setting, says so in
one `error:` line with what to do, instead of a traceback (and creates nothing)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.config import get_settings
from tests.fixtures.databases import DatabaseFactory, postgres_admin_url


@pytest.fixture
def cli(monkeypatch):
    for name in list(os.environ):
        if name.startswith("HUB_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, **env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        result = runner.invoke(app, list(args))
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: ")
        return line

    yield invoke
    get_settings.cache_clear()


def test_a_sqlite_file_that_does_not_exist_is_not_created(cli, tmp_path: Path):
    path = tmp_path / "hub.db"
    line = cli("parties", "list", HUB_DATABASE__URL=f"sqlite+aiosqlite:///{path}")
    assert "run `hub db upgrade`" in line or "create it with `hub db upgrade`" in line
    assert not path.exists()


@pytest.mark.db
def test_a_database_that_was_never_migrated(cli, database_factory: DatabaseFactory, db_engine_name):
    url = database_factory.create_empty(db_engine_name)
    if db_engine_name == "sqlite":  # an empty file, as a failed first start would leave
        sqlite3.connect(url.split(":///", 1)[1]).close()
    for command in (("parties", "list"), ("partners", "list"), ("chargers", "list")):
        line = cli(*command, HUB_DATABASE__URL=url)
        assert "is not migrated; run `hub db upgrade`" in line


@pytest.mark.db
@pytest.mark.parametrize("db_engine_name", ["postgresql"])
def test_a_postgresql_database_that_does_not_exist(cli, database_factory, db_engine_name):
    database_factory.require(db_engine_name)
    url = postgres_admin_url().rsplit("/", 1)[0] + "/no_such_database_for_hub_tests"
    line = cli("partners", "list", HUB_DATABASE__URL=url)
    assert 'database "no_such_database_for_hub_tests" does not exist' in line
    assert "create the database, or fix the URL" in line


def test_a_database_server_that_does_not_answer(cli):
    # Port 9 (discard) is not served on the test machine: the connection is refused.
    line = cli("partners", "list", HUB_DATABASE__URL="postgresql+asyncpg://hub@127.0.0.1:9/hub")
    assert "cannot reach the database at postgresql+asyncpg://hub@127.0.0.1:9/hub" in line


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("nonsense", "is not a usable database URL"),
        ("oracle+nodriver://x@y/z", "is not a usable database URL"),
    ],
)
def test_a_database_url_that_is_not_one(cli, url, words):
    assert words in cli("partners", "list", HUB_DATABASE__URL=url)


def test_a_malformed_setting_is_named(cli, tmp_path: Path):
    line = cli(
        "partners", "list", HUB_SERVER__PORT="abc", HUB_DATABASE__URL=f"sqlite:///{tmp_path}/x"
    )
    assert line.startswith("error: bad setting: HUB_SERVER__PORT: ")
    assert "integer" in line


def test_a_password_in_the_url_is_not_printed(cli):
    line = cli(
        "partners", "list", HUB_DATABASE__URL="postgresql+asyncpg://hub:s3cret@127.0.0.1:9/hub"
    )
    assert "s3cret" not in line


def test_hub_serve_on_an_unreachable_database_says_so_and_warns_of_a_guessed_public_url():
    """The process boundary matters here: ``hub serve`` configures the process's logging."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_DATABASE__URL="postgresql+asyncpg://hub@127.0.0.1:9/hub", HUB_SERVER__PORT="1")
    done = subprocess.run(
        [sys.executable, "-m", "hub", "serve", "--port", "18001"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    (warning,) = [line for line in lines if line.startswith("warning: ")]
    assert "HUB_OCPI__PUBLIC_URL is not set" in warning
    assert "http://127.0.0.1:18001" in warning  # the URL served, not the port setting's
    assert lines[-1].startswith("error: cannot reach the database at ")
    assert not [line for line in lines if "alembic.runtime.plugins" in line]


def test_the_hub_process_ends_with_its_exit_code_and_every_line_written(tmp_path: Path):
    """``hub`` skips the interpreter's teardown when a command is over: what it printed must
    still all arrive (a pipe is block-buffered) and its exit code stay the command's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    env["HUB_DATABASE__URL"] = url

    def hub(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    missing = hub("partners", "list")
    assert (missing.returncode, missing.stderr.startswith("error: no database at")) == (1, True)
    assert hub("db", "upgrade").returncode == 0
    for index in range(3):
        added = hub("parties", "add", "US", f"P{index:02d}", "--name", "x" * 200)
        assert added.returncode == 0, added.stderr
    listed = hub("parties", "list", "--json")
    assert listed.returncode == 0
    assert len(json.loads(listed.stdout)) == 3  # the answer arrived whole (it is flushed last)
    usage = hub("parties", "add", "US")
    assert usage.returncode == 2
    assert "Missing" in usage.stderr
