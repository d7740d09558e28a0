"""Shared CLI plumbing: settings, a unit of work per command, rich/JSON output, errors.

Operators script ``hub`` by the hundred, so every module of ``hub.cli`` imports only typer,
rich and the pure domain at its top; the database, HTTP, the OCPP bridge and the web framework
are imported inside the commands that use them (``tests/hub/test_cli_imports.py`` keeps it so).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from hub.errors import HubError

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

    from hub.config import Settings

console = Console()
error_console = Console(stderr=True)

T = TypeVar("T")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def settings() -> Settings:
    """The process's settings; a malformed ``HUB_*`` variable is one error line naming it."""
    from pydantic import ValidationError

    from hub.config import get_settings

    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"HUB_{'__'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        exit_with_error(f"bad setting: {problems}")


class CommandContext:
    """What a command body gets: settings, a session factory and (created on first use) an
    HTTP client for calls to partners and hub nodes."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            from hub.roaming.http import partner_http_client

            self._http = partner_http_client(self.settings)
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def open_engine(url: str) -> AsyncEngine:
    """The engine of ``HUB_DATABASE__URL``; an unparsable URL or an unknown driver is an error
    line, and a SQLite file that does not exist is not created (it would be an empty database
    the next command trips over): the operator is told to create it with ``hub db upgrade``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from hub.persistence.session import create_engine

    try:
        parsed = make_url(url)
        on_disk = parsed.get_backend_name() == "sqlite" and parsed.database not in ("", ":memory:")
        if on_disk and parsed.database and not os.path.exists(parsed.database):
            exit_with_error(
                f"no database at {parsed.database} (HUB_DATABASE__URL={url}); "
                "create it with `hub db upgrade`"
            )
        return create_engine(url)
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        exit_with_error(f"HUB_DATABASE__URL={url!r} is not a usable database URL: {exc}")


def database_problem(exc: BaseException, url: str) -> str | None:
    """The words for a database failure an operator can fix, or None for any other error."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError

    where = redacted(url)
    text = str(getattr(exc, "orig", None) or exc)
    if isinstance(exc, OperationalError | ProgrammingError) and (
        "no such table" in text or ("relation" in text and "does not exist" in text)
    ):
        return f"the database at {where} is not migrated; run `hub db upgrade`"
    root: BaseException | None = exc
    while root is not None:
        name = type(root).__name__
        if name == "InvalidCatalogNameError":
            return f"{root} (HUB_DATABASE__URL={where}); create the database, or fix the URL"
        if name == "InvalidAuthorizationSpecificationError" or name == "InvalidPasswordError":
            return f"the database server refused the login: {root} (HUB_DATABASE__URL={where})"
        if isinstance(root, ConnectionError | OSError) and not isinstance(root, FileNotFoundError):
            return f"cannot reach the database at {where}: {root}"
        root = root.__cause__ or root.__context__
    if isinstance(exc, DBAPIError | InterfaceError):
        return f"database error at {where}: {text.splitlines()[0] if text else type(exc).__name__}"
    return None


def redacted(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL has already been refused by open_engine
        return url


def migrating(url: str, step: Callable[[], T]) -> T:
    """Run a migration step; a database the operator can fix (unreachable, refused login, no
    such database) is one error line naming it, password hidden."""
    try:
        return step()
    except Exception as exc:
        problem = database_problem(exc, url)
        if problem is None:
            raise
        exit_with_error(problem)


@asynccontextmanager
async def command_context() -> AsyncIterator[CommandContext]:
    from hub.persistence.session import create_session_factory, dispose_engine

    current = settings()
    engine = open_engine(current.database.url)
    context = CommandContext(current, create_session_factory(engine))
    try:
        yield context
    finally:
        await context.aclose()
        await dispose_engine(engine)


def run(work: Callable[[CommandContext], Awaitable[T]]) -> T:
    """Run an async command body with a fresh context; business errors and database failures
    the operator can fix exit with code 1 and one line saying what happened."""
    import anyio

    async def main() -> T:
        async with command_context() as context:
            return await work(context)

    try:
        return anyio.run(main)
    except HubError as exc:
        exit_with_error(str(exc))
    except typer.Exit:
        raise
    except Exception as exc:
        problem = database_problem(exc, settings().database.url)
        if problem is None:
            raise
        exit_with_error(problem)


def warn(message: str) -> None:
    error_console.print(f"[yellow]warning:[/yellow] {message}", highlight=False, soft_wrap=True)


def warn_if_public_url_assumed(current: Settings) -> None:
    """One ``warning:`` line on stderr when the URL we give partners is a guess."""
    problem = current.public_url_warning()
    if problem is not None:
        warn(problem)


def exit_with_error(message: str, code: int = 1) -> NoReturn:
    error_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, sort_keys=False))


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    total: int | None = None,
    more: str | None = None,
) -> None:
    """A table whose cells never end in an ellipsis: an id the operator must type next is
    folded onto a second line rather than cut. ``total``: how many exist when ``rows`` is a
    page of them (the caption says "N of TOTAL", and ``more`` how to see the rest)."""
    shown = len(rows)
    caption = f"{shown} of {shown if total is None else total}"
    if total is not None and total > shown and more:
        caption += f"; {more}"
    table = Table(title=title, caption=caption)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell_text(value) for value in row))
    console.print(table)


def print_record(title: str, record: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in record.items():
        table.add_row(key, cell_text(value))
    console.print(table)


def cell_text(value: Any) -> str:
    """A value as a table cell: nothing for None, a list as its items (never a Python repr)."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(item) for item in value)
    return str(value)
