"""One log format for every logger of a hub process: ours, uvicorn's and alembic's.

Each record is one line, either ``key=value`` pairs (``HUB_LOG_FORMAT=text``, the default) or
a JSON object (``HUB_LOG_FORMAT=json``), with the fields ``ts`` (UTC, ISO 8601), ``level``,
``logger`` and ``msg``, then whichever of ``request_id`` (the OCPI ``X-Request-ID``),
``station_id`` (the OCPP connection) and ``partner`` (the authenticated OCPI partner) are known
where the line was logged, and ``exc`` (the traceback) for an exception.

The context fields come from context variables: the OCPI request handling (``hub.app``) sets
the request id and the partner for the request's task, the OCPP endpoint (``hub.ocpp.server``)
sets the station id for the connection's task. Tasks started from there inherit them, so a line
logged anywhere below (services, the bridge, uvicorn's access log) carries them without being
passed anything.

Only the standard library is imported here: the CLI imports this module before anything heavy.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogFormat = Literal["text", "json"]

request_id: ContextVar[str | None] = ContextVar("hub_request_id", default=None)
"""The X-Request-ID of the OCPI request being handled."""

station_id: ContextVar[str | None] = ContextVar("hub_station_id", default=None)
"""The charging station whose OCPP connection is being handled."""

partner: ContextVar[str | None] = ContextVar("hub_partner", default=None)
"""The name of the OCPI partner that authenticated the request being handled."""

CONTEXT_FIELDS: tuple[tuple[str, ContextVar[str | None]], ...] = (
    ("request_id", request_id),
    ("station_id", station_id),
    ("partner", partner),
)

THIRD_PARTY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "alembic")
"""Loggers that come with handlers or settings of their own (uvicorn's dictConfig, alembic's
``fileConfig`` in a stock env.py); they are reset to hand their records to ours."""

_HANDLER_NAME = "hub"


@contextlib.contextmanager
def bound(variable: ContextVar[str | None], value: str | None) -> Iterator[None]:
    """Set ``variable`` for the block, then restore what it was."""
    token = variable.set(value)
    try:
        yield
    finally:
        variable.reset(token)


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The fields of one line, in their order; context fields only where known."""
    ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    fields = {
        "ts": ts.replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for name, variable in CONTEXT_FIELDS:
        # A value the code passed explicitly (``extra={"station_id": ...}``) wins over context.
        value = getattr(record, name, None) or variable.get()
        if value:
            fields[name] = str(value)
    return fields


class _HubFormatter(logging.Formatter):
    def fields(self, record: logging.LogRecord) -> dict[str, str]:
        fields = record_fields(record)
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            fields["exc"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        return fields


class KeyValueFormatter(_HubFormatter):
    """``ts=… level=INFO logger=hub.ocpp.server msg="station CS-1 connected" station_id=CS-1``.

    A value with spaces, quotes, ``=`` or control characters is quoted with JSON escapes, so a
    traceback stays on its line and every line splits back into its pairs.
    """

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={quote(value)}" for key, value in self.fields(record).items())


class JsonFormatter(_HubFormatter):
    """One JSON object per line, with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False)


def quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\\') and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


class StderrHandler(logging.StreamHandler[Any]):
    """Writes to whatever ``sys.stderr`` is when a record comes (a rich live view redirects it
    to print lines above the view), not to the one there was at configuration time."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else KeyValueFormatter()


def configure_logging(
    level: str | int = "INFO", log_format: LogFormat = "text", stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records to one handler on ``stream`` (default: stderr) in
    ``log_format``.

    Call it before migrations and before uvicorn starts (with ``log_config=None``, see
    ``uvicorn_log_options``). Calling it again replaces the handler it installed before.
    Returns the handler.
    """
    handler: logging.StreamHandler[Any] = (
        logging.StreamHandler(stream) if stream is not None else StderrHandler()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for name in THIRD_PARTY_LOGGERS:
        third_party = logging.getLogger(name)
        third_party.handlers.clear()
        third_party.propagate = True
        third_party.setLevel(logging.NOTSET)
        third_party.disabled = False
    # alembic announces every plugin it loads at INFO on each start: noise for an operator.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return handler


def uvicorn_log_options(level: str) -> dict[str, Any]:
    """``uvicorn.Config`` arguments that keep uvicorn from installing its own formatters."""
    return {"log_config": None, "log_level": level.lower()}
