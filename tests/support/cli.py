"""The operator CLI in the test's process (typer's runner), with settings read afresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner, Result

from hub.cli.main import app
from hub.config import get_settings

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
