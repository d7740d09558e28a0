"""``hub db``: schema migrations (alembic)."""

from __future__ import annotations

import typer

from hub.cli.common import console, migrating, redacted, settings

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head) to the database of HUB_DATABASE__URL."""
    from hub.persistence import migrations

    url = settings().database.url
    migrating(url, lambda: migrations.upgrade(url, revision))
    console.print(
        f"database {redacted(url)} at revision {migrations.current_revision(url)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base")) -> None:
    """Revert migrations down to REVISION."""
    from hub.persistence import migrations

    url = settings().database.url
    migrating(url, lambda: migrations.downgrade(url, revision))
    console.print(
        f"database {redacted(url)} at revision {migrations.current_revision(url)}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("current")
def current() -> None:
    """Print the database's revision and the code's head."""
    from hub.persistence import migrations

    url = settings().database.url
    at = migrating(url, lambda: migrations.current_revision(url))
    console.print(
        f"database {redacted(url)}: {at}  head: {migrations.head_revision()}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("revision")
def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
    """Autogenerate a migration from the table definitions (review it before committing)."""
    from hub.persistence import migrations

    migrations.revision(settings().database.url, message)
