"""``hub serve`` logs in one format: every logger (ours, uvicorn's, alembic's) writes one
key=value (or JSON) line per record, with the request id, station id and partner where known."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from hub import logs
from hub.config import Settings
from hub.persistence import migrations
from hub.persistence.session import session_scope
from hub.services.stations import StationService
from ocpi.auth import authorization_header
from tests.fixtures.databases import DatabaseFactory
from tests.hub.conftest import register_partner
from tests.support.inprocess_hub import InProcessHub, running_hub
from tests.support.ocpp_raw import basic

PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"]+)(?: |$)')
FIELDS = ("ts", "level", "logger", "msg")


def parse_text_line(line: str) -> dict[str, str]:
    """The pairs of one key=value line; fails unless the whole line is pairs."""
    pairs = PAIR.findall(line)
    assert "".join(f"{k}={v} " for k, v in pairs).rstrip() == line, line
    return {k: json.loads(v) if v.startswith('"') else v for k, v in pairs}


def parse(output: str, log_format: str) -> list[dict[str, str]]:
    lines = output.splitlines()
    if log_format == "json":
        return [json.loads(line) for line in lines]
    return [parse_text_line(line) for line in lines]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the root handlers and the third-party loggers as the test found them."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    saved = {
        name: (list(lg.handlers), lg.propagate, lg.level, lg.disabled)
        for name in logs.THIRD_PARTY_LOGGERS
        for lg in [logging.getLogger(name)]
    }
    yield
    for handler in root.handlers:
        if handler not in saved_root[0]:
            handler.close()
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    for name, (handlers, propagate, level, disabled) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.propagate, lg.disabled = propagate, disabled
        lg.setLevel(level)


def configured(log_format: str = "text", level: str = "INFO") -> io.StringIO:
    stream = io.StringIO()
    logs.configure_logging(level, log_format, stream=stream)  # type: ignore[arg-type]
    return stream


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_ours_uvicorns_and_alembics_lines_come_out_in_one_format(
    log_format: str, database_factory: DatabaseFactory
):
    # uvicorn's own logging config is in place first, as in a process that ran uvicorn before.
    uvicorn.Config(app=None, log_level="info")
    assert logging.getLogger("uvicorn").handlers
    assert not logging.getLogger("uvicorn.access").propagate
    stream = configured(log_format)
    # What `hub serve` hands uvicorn: it installs no formatter of its own.
    uvicorn.Config(app=None, **logs.uvicorn_log_options("INFO"))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        assert not logging.getLogger(name).handlers
        assert logging.getLogger(name).propagate

    migrations.upgrade(database_factory.create_empty("sqlite"))
    with logs.bound(logs.request_id, "req-7"), logs.bound(logs.partner, "Acme eMSP"):
        logging.getLogger("hub.roaming.test").info("pushed %d objects", 3)
        logging.getLogger("uvicorn.access").info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/ocpi/versions", "1.1", 200
        )
    with logs.bound(logs.station_id, "CS-1"):
        logging.getLogger("uvicorn.error").warning("connection closed")
        try:
            raise ValueError("bad\nframe")
        except ValueError:
            logging.getLogger("hub.ocpp.test").exception("handler failed")

    records = parse(stream.getvalue(), log_format)
    assert records, "nothing was logged"
    assert all(set(FIELDS) <= record.keys() for record in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in records)
    by_logger = {r["logger"]: r for r in records}
    assert any(name.startswith("alembic.") for name in by_logger), sorted(by_logger)
    alembic_line = next(r for r in records if r["logger"].startswith("alembic."))
    assert alembic_line["level"] == "INFO"
    assert not {"request_id", "station_id", "partner"} & alembic_line.keys()
    assert by_logger["hub.roaming.test"] == {
        **by_logger["hub.roaming.test"],
        "level": "INFO",
        "msg": "pushed 3 objects",
        "request_id": "req-7",
        "partner": "Acme eMSP",
    }
    access = by_logger["uvicorn.access"]
    assert access["msg"] == '127.0.0.1:5000 - "GET /ocpi/versions HTTP/1.1" 200'
    assert (access["request_id"], access["partner"]) == ("req-7", "Acme eMSP")
    assert by_logger["uvicorn.error"]["station_id"] == "CS-1"
    assert "station_id" not in by_logger["hub.roaming.test"]
    failed = by_logger["hub.ocpp.test"]
    assert (failed["level"], failed["station_id"]) == ("ERROR", "CS-1")
    assert "ValueError: bad\nframe" in failed["exc"]
    # One record, one line: the traceback's newlines are escaped.
    assert len(stream.getvalue().splitlines()) == len(records)


@pytest.mark.usefixtures("restore_logging")
def test_the_level_setting_filters_and_a_second_configuration_replaces_the_first():
    first = configured("text", "INFO")
    second = configured("json", "WARNING")
    logging.getLogger("hub.test").info("not shown")
    logging.getLogger("hub.test").warning("shown")
    assert first.getvalue() == ""
    assert [r["msg"] for r in parse(second.getvalue(), "json")] == ["shown"]


def test_the_settings_accept_the_documented_values_only():
    assert Settings(log_level="debug", log_format="json").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml")
    with pytest.raises(ValueError, match="log_level"):
        Settings(log_level="LOUD")


# --- The context fields, from a running hub ----------------------------------------------------


@pytest.fixture
def sqlite_url(database_factory: DatabaseFactory) -> str:
    """SQLite only: the log context does not depend on the engine."""
    return database_factory.create("sqlite")


@pytest.fixture
def log_stream(restore_logging: None) -> io.StringIO:
    """Logging configured as `hub serve` does it: before the app and uvicorn start."""
    return configured("text")


@pytest.fixture
async def hub(sqlite_url: str, log_stream: io.StringIO) -> AsyncIterator[InProcessHub]:
    """The in-process hub, with uvicorn's logging as `hub serve` configures it."""
    async with running_hub(sqlite_url, uvicorn={"log_config": None}) as running:
        # The test server runs uvicorn at WARNING; `hub serve` at HUB_LOG_LEVEL (INFO).
        for name in ("uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).setLevel(logging.INFO)
        yield running


def lines_with(records: list[dict[str, str]], **fields: str) -> list[dict[str, str]]:
    return [r for r in records if all(r.get(k) == v for k, v in fields.items())]


async def test_an_ocpi_requests_lines_carry_its_request_id_and_partner(
    hub: InProcessHub, log_stream: io.StringIO
):
    _, token = await register_partner(hub.sessions, "Acme eMSP")
    authorization = {"Authorization": authorization_header(token)}
    async with httpx.AsyncClient(base_url=hub.url) as http:
        given = await http.get(
            "/ocpi/2.2.1/locations", headers={**authorization, "X-Request-ID": "req-given-1"}
        )
        generated = await http.get("/ocpi/2.2.1/locations", headers=authorization)
        refused = await http.get("/ocpi/2.2.1/locations", headers={"Authorization": "Token nope"})
    assert [r.status_code for r in (given, generated, refused)] == [200, 200, 401]
    records = parse(log_stream.getvalue(), "text")

    ours = lines_with(records, logger="ocpi.server", request_id="req-given-1")
    assert ours
    assert all(r["partner"] == "Acme eMSP" for r in ours)
    [access] = lines_with(records, logger="uvicorn.access", request_id="req-given-1")
    assert access["partner"] == "Acme eMSP"
    assert "GET /ocpi/2.2.1/locations" in access["msg"]
    # Without X-Request-ID, the id in the log is the one the response carries.
    generated_id = generated.headers["X-Request-ID"]
    assert lines_with(records, logger="ocpi.server", request_id=generated_id)
    assert lines_with(records, logger="uvicorn.access", request_id=generated_id)
    # An unknown token: the request id, and no partner (nor the previous request's).
    refused_lines = lines_with(records, request_id=refused.headers["X-Request-ID"])
    assert refused_lines
    assert all("partner" not in r for r in refused_lines)


async def test_an_ocpp_connections_lines_carry_its_station_id(
    hub: InProcessHub, log_stream: io.StringIO
):
    async with session_scope(hub.sessions) as session:
        _, password = await StationService(session).add("CS-LOG-1")
    socket = await connect(
        f"{hub.ws_url}/ocpp/CS-LOG-1",
        subprotocols=[Subprotocol("ocpp1.6")],
        additional_headers=basic("CS-LOG-1", password),
        open_timeout=10,
    )
    boot: list[Any] = [
        2,
        "b-1",
        "BootNotification",
        {"chargePointVendor": "A", "chargePointModel": "M"},
    ]
    await socket.send(json.dumps(boot))
    answer = json.loads(await socket.recv())
    assert answer[:2] == [3, "b-1"]
    await socket.close()
    with pytest.raises(InvalidStatus):
        await connect(f"{hub.ws_url}/ocpp/CS-NOBODY", open_timeout=10)
    # The hub logs the disconnect after the socket closed: wait for the line, not for time.
    await hub_logged(log_stream, "station CS-LOG-1 disconnected")

    records = parse(log_stream.getvalue(), "text")
    station_lines = [r for r in records if "CS-LOG-1" in r["msg"]]
    assert any("connected (OCPP 1.6)" in r["msg"] for r in station_lines)
    assert any("BootNotification" in r["msg"] for r in station_lines)
    assert all(r.get("station_id") == "CS-LOG-1" for r in station_lines), station_lines
    # uvicorn's handshake lines too: it logs them from inside the handler's send.
    assert any(r["logger"] == "uvicorn.error" for r in station_lines)
    refused = [r for r in records if "CS-NOBODY" in r["msg"]]
    assert any(r["msg"].startswith("unknown station CS-NOBODY refused") for r in refused)
    assert all(r.get("station_id") == "CS-NOBODY" for r in refused), refused
    assert not [r for r in records if "request_id" in r and "station_id" in r]


async def hub_logged(stream: io.StringIO, text: str) -> None:
    for _ in range(500):
        if text in stream.getvalue():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the hub never logged {text!r}: {stream.getvalue()}")
