"""The operator CLI in the test's process (typer's runner), with settings read afresh."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from hub.cli.main import app
from hub.config import get_settings
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)

Invoke = Callable[..., Result]


@contextmanager
def cli_in_process(monkeypatch: pytest.MonkeyPatch, **env: str) -> Iterator[Invoke]:
    """``invoke(*args, expect=0)`` runs ``hub ARGS`` and checks its exit code. ``env``: ``HUB_*``
    variables set for the test; settings are read again at every command, so a test may change
    the environment between two commands."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0) -> Result:
        get_settings.cache_clear()
        result = runner.invoke(app, list(args))
        assert result.exit_code == expect, result.output or repr(result.exception)
        return result

    try:
        yield invoke
    finally:
        get_settings.cache_clear()


def arrange(database_url: str, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in one committed unit of work, as the hub would have: the set-up
    of a CLI test, which runs outside any event loop (the CLI starts its own)."""

    async def main() -> Any:
        engine = create_engine(database_url)
        try:
            async with session_scope(create_session_factory(engine)) as session:
                return await work(session)
        finally:
            await dispose_engine(engine)

    return asyncio.run(main())
