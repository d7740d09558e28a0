"""``hub partners`` and ``hub push`` in-process (typer's runner) against real migrated databases
and, where a partner answers, a real HTTP peer on 127.0.0.1."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Litestar, Request, Response, get

from hub.config import get_settings
from tests.support.cli import cli_in_process
from tests.support.servers import asgi_server

pytestmark = pytest.mark.db

PUBLIC_URL = "https://ocpi.example.net"


@pytest.fixture
def env(database_url, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE__URL", database_url)
    monkeypatch.setenv("HUB_OCPI__PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def hub(env):
    with cli_in_process(env) as invoke:
        yield invoke


def as_json(result):
    return json.loads(result.stdout)


def one_line(text: str) -> str:
    return " ".join(text.split())


# --- register with a wrong token A --------------------------------------------------------------


def peer_that_fails_on_plain_tokens() -> Litestar:
    """A partner that knows no token, and crashes on one it cannot Base64-decode, as some do."""

    @get("/ocpi/versions", sync_to_thread=False)
    def versions(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        value = request.headers.get("Authorization", "").removeprefix("Token ")
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            body = {"status_code": 3000, "status_message": "Generic server error"}
            return Response({**body, "timestamp": "2026-12-01T12:00:00Z"}, status_code=500)
        body = {"status_code": 2000, "status_message": "Unknown token"}
        return Response({**body, "timestamp": "2026-12-01T12:00:00Z"}, status_code=401)

    return Litestar([versions])


@pytest.fixture
def peer() -> Iterator[str]:
    with asgi_server(peer_that_fails_on_plain_tokens()) as url:
        yield url


def test_register_with_a_wrong_token_reports_the_401_and_both_attempts(hub, peer):
    result = hub(
        "partners",
        "register",
        f"{peer}/ocpi/versions",
        "wrong-token",
        "--name",
        "acme",
        "--party",
        "US*ACM",
        expect=1,
    )
    error = one_line(result.stderr)
    assert error.startswith("error: the partner refused token A:")
    assert f"GET {peer}/ocpi/versions answered HTTP 401: Unknown token" in error
    assert (
        "(tried the token base64-encoded, as OCPI 2.2.1 says, then plain; plain got: "
        "HTTP 500, OCPI 3000 Generic server error)"
    ) in error
    assert as_json(hub("partners", "list", "--json")) == []


# --- invite twice -------------------------------------------------------------------------------


async def registration_token_works(database_url: str, name: str, token: str) -> bool:
    from hub.domain.partners import HeaderTokenEncoding
    from hub.persistence.session import create_engine, create_session_factory, dispose_engine
    from hub.services.partners import PartnerService

    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            found = await PartnerService(session).authenticate({HeaderTokenEncoding.PLAIN: token})
            return found is not None and found.partner.name == name
    finally:
        await dispose_engine(engine)


async def test_a_second_invite_needs_reissue_and_then_revokes_the_first_token(hub, database_url):
    import asyncio

    invite = ("partners", "invite", "acme", "--party", "US*ACM")
    first = await asyncio.to_thread(lambda: as_json(hub(*invite, "--json")))
    issued = first["token_a"]

    refused = await asyncio.to_thread(lambda: hub(*invite, expect=1))
    error = one_line(refused.stderr)
    assert error.startswith("error: partner 'acme' was already issued a registration token on ")
    assert " UTC, not used yet; `hub partners invite acme --reissue` revokes it" in error
    assert refused.stdout == ""
    assert await registration_token_works(database_url, "acme", issued)  # untouched

    again = await asyncio.to_thread(lambda: as_json(hub(*invite, "--reissue", "--json")))
    assert again["token_a"] != issued
    assert again["revoked_token_issued_at"][:10] == error.split(" on ")[1][:10]
    assert not await registration_token_works(database_url, "acme", issued)
    assert await registration_token_works(database_url, "acme", again["token_a"])


def test_an_unregistered_partner_is_invited_again_without_reissue(hub):
    hub("partners", "invite", "acme", "--party", "US*ACM")
    hub("partners", "remove", "acme")
    invited = as_json(hub("partners", "invite", "acme", "--party", "US*ACM", "--json"))
    assert invited["status"] == "INVITED"
    assert "revoked_token_issued_at" not in invited


# --- the versions URL we hand out ---------------------------------------------------------------


def test_invite_hands_out_the_public_url_without_a_warning(hub):
    result = hub("partners", "invite", "acme", "--party", "US*ACM", "--json")
    assert as_json(result)["versions_url"] == f"{PUBLIC_URL}/ocpi/versions"
    assert result.stderr == ""


def test_invite_without_a_public_url_warns_which_url_it_assumed(hub, env):
    env.delenv("HUB_OCPI__PUBLIC_URL")
    env.setenv("HUB_SERVER__PORT", "18001")
    result = hub("partners", "invite", "acme", "--party", "US*ACM", "--json")
    assert as_json(result)["versions_url"] == "http://127.0.0.1:18001/ocpi/versions"
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(
        "warning: HUB_OCPI__PUBLIC_URL is not set; assumed http://127.0.0.1:18001 "
    )
    assert "set HUB_OCPI__PUBLIC_URL to the base URL partners reach this hub at" in warning


# --- push status and push work ------------------------------------------------------------------


@pytest.fixture
def emsp() -> Iterator[Any]:
    from tests.support.emsp import EmspPeer

    peer = EmspPeer()
    with asgi_server(peer.app()) as url:
        peer.base_url = url
        peer.issued["token-for-emsp-one"] = "C"
        yield peer


async def queue_two_locations(sessions, emsp) -> int:
    from hub.persistence.session import session_scope
    from hub.roaming.importer import parse_locations_json
    from hub.services.locations import LocationService
    from tests.fixtures import network
    from tests.hub.conftest import add_parties, register_partner

    await add_parties(sessions)
    partner_id, _ = await register_partner(
        sessions, "emsp-one", base_url=f"{emsp.base_url}/ocpi/2.2.1"
    )
    locations = [network.location("LOC1"), network.location("LOC2")]
    async with session_scope(sessions) as session:
        await LocationService(session).import_locations(parse_locations_json(json.dumps(locations)))
    return partner_id


async def cli(hub, *args: str, expect: int = 0):
    """The CLI runs its own event loop: in a thread."""
    import asyncio

    return await asyncio.to_thread(lambda: hub(*args, expect=expect))


async def test_push_status_names_the_last_error_and_the_next_retry(hub, sessions, emsp, caplog):
    import logging
    from datetime import UTC, datetime, timedelta

    import httpx

    from hub.config import PushSettings
    from hub.roaming.push import PushWorker

    await queue_two_locations(sessions, emsp)
    emsp.push_mode = "fail"  # every push answered HTTP 503
    slow_retries = PushSettings(retry_base_seconds=600, retry_cap_seconds=600)
    before = datetime.now(UTC)
    async with httpx.AsyncClient(timeout=5) as http:
        worker = PushWorker(sessions, http, slow_retries, worker_id="test/0")
        with caplog.at_level(logging.WARNING, logger="hub.roaming.push"):
            assert await worker.run_once() == 2
    failures = [r.getMessage() for r in caplog.records if "failed (attempt 1)" in r.getMessage()]
    assert len(failures) == 2
    assert all(" to partner 'emsp-one' failed" in line for line in failures)
    assert not any("partner 1" in r.getMessage() for r in caplog.records)

    (status,) = as_json(await cli(hub, "push", "status", "--json"))
    assert status["partner"] == "emsp-one"
    assert (status["consecutive_failures"], status["retrying"]) == (2, 2)
    assert "answered HTTP 503: down" in status["last_error"]
    last_error_at = datetime.fromisoformat(status["last_error_at"])
    next_retry_at = datetime.fromisoformat(status["next_retry_at"])
    assert before <= last_error_at <= datetime.now(UTC)
    # Backoff after a first failure: between half and all of the 600 s base.
    assert timedelta(seconds=299) <= next_retry_at - last_error_at <= timedelta(seconds=601)

    table = one_line((await cli(hub, "push", "status")).stdout)
    assert "next retry" in table
    assert "2 failures in a row" in table
    assert f"{next_retry_at:%H:%M:%S}Z" in table
    assert "Last delivery error per partner" in table
    assert "HTTP 503: down" in table


def test_push_status_without_failures_has_no_error_or_retry(hub):
    hub("partners", "invite", "acme", "--party", "US*ACM")
    (status,) = as_json(hub("push", "status", "--json"))
    assert (status["last_error"], status["last_error_at"], status["next_retry_at"]) == (
        None,
        None,
        None,
    )
    assert "Last delivery error" not in hub("push", "status").stdout


async def test_push_work_once_prints_a_json_summary(hub, sessions, emsp):
    await queue_two_locations(sessions, emsp)
    result = await cli(hub, "push", "work", "--once", "--json")
    (line,) = result.stdout.splitlines()
    summary = json.loads(line)
    assert summary["worker"].endswith("/0")
    assert {k: v for k, v in summary.items() if k != "worker"} == {
        "rounds": 1,
        "jobs": 2,
        "delivered": 2,
        "failed": 0,
        "rejected": 0,
        "sent_as_put": 0,
        "nothing_to_send": 0,
        "held": 0,
    }
    assert len(emsp.locations) == 2
    table = (await cli(hub, "push", "work", "--once")).stdout
    assert "stopped" in table
    assert "delivered" in table


async def test_push_work_prints_its_json_summary_when_stopped(sessions, emsp, database_url):
    """The worker loop in its own process, stopped by SIGTERM as a service manager would."""
    import asyncio
    import os
    import signal
    import subprocess
    import sys

    from tests.support.servers import hub_environment

    await queue_two_locations(sessions, emsp)
    env = hub_environment(database_url, 9)
    env["HUB_PUSH__NODE_NAME"] = "test-node"
    process = await asyncio.to_thread(
        subprocess.Popen,
        [sys.executable, "-m", "hub", "push", "work", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with asyncio.timeout(60):
            while len(emsp.locations) < 2:  # the worker process delivers
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                await asyncio.sleep(0.05)
        # A round runs to its end once started: the stop comes after the deliveries are recorded.
        os.kill(process.pid, signal.SIGTERM)
        out, err = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    (line,) = out.splitlines()
    summary = json.loads(line)
    assert summary["worker"] == "test-node/0"
    assert (summary["delivered"], summary["failed"], summary["jobs"]) == (2, 0, 2)
    assert "push worker test-node/0 stopped" in err
