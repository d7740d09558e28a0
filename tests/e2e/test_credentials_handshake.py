"""Both directions of the credentials handshake over real HTTP, on SQLite and PostgreSQL.

The hub runs as ``hub serve`` in its own process on a real port; the eMSP is an independent
server (``tests.support.emsp``) on another port; the operator's steps are real ``hub`` commands.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.domain.credentials import hash_token
from hub.persistence.session import create_engine, dispose_engine
from tests.support.emsp import EmspPeer
from tests.support.servers import (
    asgi_server,
    free_port,
    hub_environment,
    hub_process,
    run_hub_cli,
)

pytestmark = [pytest.mark.e2e, pytest.mark.db]


@dataclass
class Platform:
    hub_url: str
    env: dict[str, str]
    emsp: EmspPeer
    database_url: str

    @property
    def versions_url(self) -> str:
        return f"{self.hub_url}/ocpi/versions"

    @property
    def credentials_url(self) -> str:
        return f"{self.hub_url}/ocpi/2.2.1/credentials"

    def cli(self, *args: str) -> dict | list:
        result = run_hub_cli(self.env, *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def cli_fails(self, *args: str) -> str:
        result = run_hub_cli(self.env, *args)
        assert result.returncode != 0, result.stdout
        return result.stderr

    def partner_row(self, name: str) -> dict:
        async def read() -> dict:
            engine = create_engine(self.database_url)
            try:
                async with engine.connect() as connection:
                    row = (
                        (
                            await connection.execute(
                                text("SELECT * FROM partners WHERE name = :name"), {"name": name}
                            )
                        )
                        .mappings()
                        .one()
                    )
                    return dict(row)
            finally:
                await dispose_engine(engine)

        return asyncio.run(read())


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    emsp = EmspPeer()
    with asgi_server(emsp.app()) as emsp_url:
        emsp.base_url = emsp_url
        env = hub_environment(database_url, free_port())
        for country, name in (("US", "HPC Network US"), ("CA", "HPC Network Canada")):
            assert (
                run_hub_cli(env, "parties", "add", country, "HPC", "--name", name).returncode == 0
            )
        with hub_process(env, tmp_path / "hub.log") as hub_url:
            yield Platform(hub_url, env, emsp, database_url)


def test_partner_registers_with_us_rotates_and_unregisters(platform: Platform):
    emsp = platform.emsp
    invited = platform.cli("partners", "invite", "emsp-one", "--party", "US*EMS")
    assert invited["versions_url"] == platform.versions_url
    token_a = invited["token_a"]

    # (a) The partner registers with token A; we fetch its endpoints with its token B.
    response = emsp.register_with_hub(platform.versions_url, token_a)
    assert response.status_code == 200, response.text
    assert response.json()["status_code"] == 1000
    assert emsp.log[:2] == ["GET versions", "GET details"]
    assert {(r["country_code"], r["party_id"]) for r in emsp.hub_roles} == {
        ("US", "HPC"),
        ("CA", "HPC"),
    }
    token_c = emsp.hub_token
    assert token_c != token_a
    assert emsp.call_hub("GET", platform.versions_url, token_a).status_code == 401
    got = emsp.call_hub("GET", platform.credentials_url)
    assert got.json()["data"]["token"] == token_c

    shown = platform.cli("partners", "show", "emsp-one")
    assert shown["status"] == "REGISTERED"
    assert shown["version"] == "2.2.1"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in shown["roles"]] == [
        ("EMSP", "US", "EMS")
    ]
    assert {e["identifier"] for e in shown["endpoints"]} == {
        "credentials",
        "locations",
        "tariffs",
        "sessions",
        "cdrs",
    }
    row = platform.partner_row("emsp-one")
    assert row["inbound_token_hash"] == hash_token(token_c)
    assert row["outbound_token"] == emsp.our_token

    # A second POST with the new token is refused: already registered.
    again = emsp.call_hub("POST", platform.credentials_url)
    assert again.status_code == 405

    # Partner-initiated rotation (PUT): new tokens both ways, the old one stops working.
    response = emsp.update_at_hub()
    assert response.json()["status_code"] == 1000, response.text
    assert emsp.hub_token != token_c
    assert emsp.call_hub("GET", platform.credentials_url, token_c).status_code == 401
    assert platform.partner_row("emsp-one")["outbound_token"] == emsp.our_token

    # Hub-initiated rotation: the operator rotates; the eMSP checks our new token on the spot.
    before = emsp.hub_token
    emsp_token_before = emsp.our_token
    platform.cli("partners", "rotate", "emsp-one")
    assert "PUT credentials" in emsp.log
    assert emsp.hub_token != before
    assert emsp.our_token != emsp_token_before
    assert emsp.call_hub("GET", platform.credentials_url, before).status_code == 401
    assert emsp.call_hub("GET", platform.credentials_url).status_code == 200
    row = platform.partner_row("emsp-one")
    assert row["outbound_token"] == emsp.our_token
    assert row["inbound_token_hash"] == hash_token(emsp.hub_token)
    assert row["pending_inbound_token_hash"] is None

    # Suspension: functional access is paused but the credentials module still answers.
    platform.cli("partners", "suspend", "emsp-one")
    assert platform.cli("partners", "show", "emsp-one")["status"] == "SUSPENDED"
    platform.cli("partners", "resume", "emsp-one")

    # The partner unregisters (DELETE): its token is revoked, the record kept.
    last = emsp.hub_token
    assert emsp.unregister_at_hub().json()["status_code"] == 1000
    assert emsp.call_hub("GET", platform.versions_url, last).status_code == 401
    row = platform.partner_row("emsp-one")
    assert row["status"] == "UNREGISTERED"
    assert row["inbound_token_hash"] is None
    assert row["outbound_token"] is None


def test_we_register_with_a_partner_and_unregister(platform: Platform):
    emsp = platform.emsp
    token_a = emsp.issue_registration_token()

    # (b) The operator registers us with the partner's versions URL and token A.
    shown = platform.cli(
        "partners",
        "register",
        emsp.versions_url,
        "--party",
        "US*EMS",
        token_a,
        "--name",
        "emsp-two",
    )
    assert shown["status"] == "REGISTERED"
    assert [(r["country_code"], r["party_id"]) for r in shown["roles"]] == [("US", "EMS")]
    assert emsp.log == ["GET versions", "GET details", "POST credentials"]
    # The eMSP received our credentials with every party we host and can call us with them.
    assert {(r["country_code"], r["party_id"]) for r in emsp.hub_roles} == {
        ("US", "HPC"),
        ("CA", "HPC"),
    }
    assert emsp.hub_versions_url == platform.versions_url
    assert emsp.call_hub("GET", platform.versions_url).status_code == 200
    assert token_a not in emsp.issued
    row = platform.partner_row("emsp-two")
    assert row["outbound_token"] == emsp.our_token
    assert row["inbound_token_hash"] == hash_token(emsp.hub_token)

    # Registering again while registered is refused by us before any call.
    assert "REGISTERED" in platform.cli_fails(
        "partners",
        "register",
        emsp.versions_url,
        "--party",
        "US*EMS",
        "whatever",
        "--name",
        "emsp-two",
    )

    # The operator removes the partner: DELETE at the partner, then revoke locally.
    our_token = emsp.hub_token
    platform.cli("partners", "remove", "emsp-two")
    assert emsp.log[-1] == "DELETE credentials"
    assert emsp.our_token is None
    assert emsp.call_hub("GET", platform.versions_url, our_token).status_code == 401
    assert platform.partner_row("emsp-two")["status"] == "UNREGISTERED"
    listed = platform.cli("partners", "list")
    assert [(p["name"], p["status"]) for p in listed] == [("emsp-two", "UNREGISTERED")]


def test_failed_exchanges_store_nothing(platform: Platform):
    emsp = platform.emsp

    # Our registration with a partner whose token A is wrong: nothing is kept.
    error = platform.cli_fails(
        "partners",
        "register",
        emsp.versions_url,
        "--party",
        "US*EMS",
        "not-a-valid-token",
        "--name",
        "bad",
    )
    assert "401" in error
    assert platform.cli("partners", "list") == []

    # A partner POSTs credentials whose versions URL is dead: 3001, still invited, token A valid.
    token_a = platform.cli("partners", "invite", "emsp-dead", "--party", "US*EMS")["token_a"]
    emsp.base_url = f"http://127.0.0.1:{free_port()}"
    response = emsp.register_with_hub(platform.versions_url, token_a)
    assert response.json()["status_code"] == 3001
    row = platform.partner_row("emsp-dead")
    assert row["status"] == "INVITED"
    assert row["outbound_token"] is None
    assert row["inbound_token_hash"] == hash_token(token_a)
    assert emsp.call_hub("GET", platform.versions_url, token_a).status_code == 200
