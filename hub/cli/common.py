"""Shared CLI plumbing: settings, a unit of work per command, rich/JSON output, errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import anyio
import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import Settings, get_settings
from hub.errors import HubError
from hub.persistence.session import create_engine, create_session_factory

console = Console()
error_console = Console(stderr=True)

T = TypeVar("T")

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@dataclass(frozen=True, slots=True)
class CommandContext:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    http: httpx.AsyncClient


@asynccontextmanager
async def command_context() -> AsyncIterator[CommandContext]:
    settings = get_settings()
    engine = create_engine(settings.database.url)
    try:
        async with httpx.AsyncClient(timeout=settings.ocpi.partner_timeout_seconds) as http:
            yield CommandContext(settings, create_session_factory(engine), http)
    finally:
        await engine.dispose()


def run(work: Callable[[CommandContext], Awaitable[T]]) -> T:
    """Run an async command body with a fresh context; business errors exit with code 1."""

    async def main() -> T:
        async with command_context() as context:
            return await work(context)

    try:
        return anyio.run(main)
    except HubError as exc:
        exit_with_error(str(exc))


def exit_with_error(message: str, code: int = 1) -> NoReturn:
    error_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str, sort_keys=False))


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    console.print(table)


def print_record(title: str, record: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in record.items():
        table.add_row(key, "" if value is None else str(value))
    console.print(table)
