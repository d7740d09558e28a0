"""``hub db``: schema migrations (alembic)."""

from __future__ import annotations

import typer

from hub.cli.common import JSON_OPTION, console, migrating, print_json, redacted, settings

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def report(url: str, *, as_json: bool) -> None:
    """Where the database of ``url`` stands: its revision and the code's head."""
    from hub.persistence import migrations

    record = {
        "database": redacted(url),
        "revision": migrating(url, lambda: migrations.current_revision(url)),
        "head": migrations.head_revision(),
    }
    if as_json:
        print_json(record)
        return
    console.print(
        f"database {record['database']} at revision {record['revision']} (head: {record['head']})",
        highlight=False,
        soft_wrap=True,
    )


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head"), as_json: bool = JSON_OPTION) -> None:
    """Apply migrations up to REVISION (default: head) to the database of HUB_DATABASE__URL."""
    from hub.persistence import migrations

    url = settings().database.url
    migrating(url, lambda: migrations.upgrade(url, revision))
    report(url, as_json=as_json)


@app.command("downgrade")
def downgrade(
    revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Revert migrations down to REVISION."""
    from hub.persistence import migrations

    url = settings().database.url
    migrating(url, lambda: migrations.downgrade(url, revision))
    report(url, as_json=as_json)


@app.command("current")
def current(as_json: bool = JSON_OPTION) -> None:
    """Print the database's revision and the code's head."""
    report(settings().database.url, as_json=as_json)


@app.command("revision")
def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
    """Autogenerate a migration from the table definitions (review it before committing)."""
    from hub.persistence import migrations

    migrations.revision(settings().database.url, message)
