"""``hub``: the operator's command line."""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from hub.cli.common import (
    console,
    exit_with_error,
    migrating,
    settings,
    warn_if_public_url_assumed,
)

COMMAND_GROUPS = (
    "db", "parties", "partners", "locations", "tariffs", "tokens", "sessions", "cdrs", "commands",
    "reservations", "push", "chargers", "sim", "outages", "reports",
)  # fmt: skip
"""``hub NAME ...`` is the ``app`` of module ``hub.cli.NAME``, imported only when NAME is run
(or listed by ``hub --help``): ``hub partners list`` does not import the other groups."""


class CommandGroups(TyperGroup):
    """The root command: its own commands plus the groups of COMMAND_GROUPS, loaded lazily."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMAND_GROUPS, *super().list_commands(ctx)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMAND_GROUPS:
            return super().get_command(ctx, cmd_name)
        module = importlib.import_module(f"hub.cli.{cmd_name}")
        group = typer.main.get_group(module.app)
        group.name = cmd_name
        return group


app = typer.Typer(
    cls=CommandGroups,
    help="OCPI 2.2.1 roaming hub for a charging network.",
    no_args_is_help=True,
)


@app.command("demo")
def demo_command(
    duration: float = typer.Option(30.0, help="Seconds of simulated traffic"),
    sites: int = typer.Option(3, help="Sites in the sample network"),
    port: int = typer.Option(8000, help="Hub port"),
    emsp_port: int = typer.Option(8001, help="Demo eMSP port"),
    data_dir: Path = typer.Option(Path("demo-data"), help="Where the demo's SQLite file goes"),
    seed: int = typer.Option(7, help="Random seed"),
    charges: int = typer.Option(
        8, min=0, help="Charges run after the traffic; each must reach the eMSP as one CDR"
    ),
    speed: float = typer.Option(
        1200.0,
        min=1.0,
        help="How much faster than real time the charges are replayed (their timestamps "
        "start in the past and never pass now)",
    ),
) -> None:
    """Run the hub, a demo eMSP and simulated chargers together, live (start here)."""
    from hub.cli.demo import demo

    demo(
        duration=duration,
        sites=sites,
        port=port,
        emsp_port=emsp_port,
        data_dir=data_dir,
        seed_value=seed,
        charges=charges,
        speed=speed,
    )


@app.command("status")
def status_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """The hub at a glance, from the database: stations connected per node and in total, push
    queue depth and oldest job per partner, the CDR backlog, and the degraded partners."""
    from hub.cli.status import status

    status(as_json=as_json)


OPENAPI_PATH = Path("openapi/hub-ocpi-2.2.1.json")


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="Bind address (default: HUB_SERVER__HOST)"),
    port: int | None = typer.Option(None, help="Port (default: HUB_SERVER__PORT)"),
    workers: int | None = typer.Option(
        None,
        min=1,
        help="Processes sharing the port (default: HUB_SERVER__WORKERS, else one per core on "
        "PostgreSQL; SQLite runs one)",
    ),
    migrate: bool = typer.Option(True, help="Apply database migrations before starting"),
) -> None:
    """Run the OCPI server (migrations applied first)."""
    from hub import logs

    current = settings()
    # Before migrations and before uvicorn: alembic's and uvicorn's lines come out in our format.
    logs.configure_logging(current.log_level, current.log_format)

    from hub.cli import serving
    from hub.persistence import migrations

    server = current.server.model_copy(
        update={
            "host": host or current.server.host,
            "port": port or current.server.port,
            "workers": workers or current.server.workers,
        }
    )
    current = current.model_copy(update={"server": server})
    try:
        processes = serving.worker_count(current)
    except ValueError as problem:
        exit_with_error(str(problem))
    warn_if_public_url_assumed(current)
    if migrate:
        migrating(current.database.url, lambda: migrations.upgrade(current.database.url))
    console.print(f"OCPI versions endpoint: {current.versions_url}")
    if processes == 1:
        if serving.is_sqlite(current.database.url) and workers is None:
            console.print("SQLite: one process (its single writer); PostgreSQL runs several")
        serving.serve_in_this_process(current)
        return
    try:
        serving.supervise(current, processes)
    except (OSError, serving.WorkerCannotStart) as problem:
        exit_with_error(f"cannot serve on {server.host}:{server.port}: {problem}")


@app.command("openapi")
def openapi(
    output: Path = typer.Option(OPENAPI_PATH, help="Where to write the document"),
    check: bool = typer.Option(False, help="Fail if the file differs instead of writing it"),
) -> None:
    """Write (or check) the OpenAPI document of our OCPI endpoints."""
    from hub.app import openapi_document
    from hub.config import Settings

    text = render_openapi(openapi_document(Settings()))
    if check:
        if not output.exists() or output.read_text() != text:
            exit_with_error(f"{output} is stale; run `hub openapi`")
        console.print(f"{output} is up to date")
        return
    output.write_text(text)
    console.print(f"wrote {output}")


def render_openapi(document: dict[str, object]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main() -> None:
    """The ``hub`` command (the console script and ``python -m hub``).

    When the command is over, the process ends without the interpreter's teardown: tearing
    down the modules a command imported (SQLAlchemy, pydantic, ...) costs about a tenth of a
    second, a fifth of a listing, and operators run these commands by the hundred. Everything
    a command opened is closed by then (engines disposed, event loops ended); the log handlers
    and standard streams are flushed here.
    """
    code: int | str | None = 0
    try:
        app(prog_name="hub")
    except SystemExit as exit:
        code = exit.code
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
