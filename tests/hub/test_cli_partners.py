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
from typer.testing import CliRunner

from hub.cli.main import app
from hub.config import get_settings
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
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0):
        get_settings.cache_clear()  # a test may change the environment between commands
        result = runner.invoke(app, list(args))
        assert result.exit_code == expect, result.output
        return result

    return invoke


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
    from hub.persistence.session import create_engine, create_session_factory
    from hub.services.partners import PartnerService

    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            found = await PartnerService(session).authenticate({HeaderTokenEncoding.PLAIN: token})
            return found is not None and found.partner.name == name
    finally:
        await engine.dispose()


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
