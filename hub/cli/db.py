"""``hub db``: schema migrations (alembic)."""

from __future__ import annotations

import typer

from hub.cli.common import console

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from hub.config import get_settings
    from hub.persistence import migrations

    url = get_settings().database.url
    migrations.upgrade(url, revision)
    console.print(f"database at revision {migrations.current_revision(url)}")


@app.command("downgrade")
def downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. -1 or base")) -> None:
    """Revert migrations down to REVISION."""
    from hub.config import get_settings
    from hub.persistence import migrations

    url = get_settings().database.url
    migrations.downgrade(url, revision)
    console.print(f"database at revision {migrations.current_revision(url)}")


@app.command("current")
def current() -> None:
    """Print the database's revision and the code's head."""
    from hub.config import get_settings
    from hub.persistence import migrations

    url = get_settings().database.url
    console.print(
        f"database: {migrations.current_revision(url)}  head: {migrations.head_revision()}"
    )


@app.command("revision")
def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
    """Autogenerate a migration from the table definitions (review it before committing)."""
    from hub.config import get_settings
    from hub.persistence import migrations

    migrations.revision(get_settings().database.url, message)
