"""``hub tokens list|show|block|explain`` in-process against real migrated databases; the
decisions explained are made by the real authorization flow (with a fake real-time port)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from hub.config import AuthorizationSettings
from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType, uid_digest
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.services.tokens import TokenService
from tests.hub.conftest import add_parties
from tests.support.cli import cli_in_process
from tests.support.emsp_authorize import register_emsp
from tests.support.fake_realtime import FakeRealTime, unreachable

pytestmark = pytest.mark.db

A, B = ("US", "EMA"), ("US", "EMB")
CARD = "04A1B2C3D4"
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def seed(database_url: str) -> FakeRealTime:
    """Two partners, three tokens, and two decisions about CARD (one local, one fallback)."""
    port = FakeRealTime()

    async def work() -> None:
        engine = create_engine(database_url)
        sessions = create_session_factory(engine)
        try:
            await add_parties(sessions)
            ids = {
                "emsp-a": await register_emsp(sessions, "emsp-a", A, "http://127.0.0.1:9/a"),
                "emsp-b": await register_emsp(sessions, "emsp-b", B, "http://127.0.0.1:9/b"),
            }
            tokens = [
                ("emsp-a", A, CARD, WhitelistType.ALWAYS),
                ("emsp-a", A, "04FFFF0001", WhitelistType.NEVER),
                ("emsp-b", B, "B-CARD-1", WhitelistType.ALLOWED_OFFLINE),
            ]
            async with session_scope(sessions) as session:
                for partner, party, uid, whitelist in tokens:
                    await TokenService(session).put(
                        ids[partner],
                        TokenRecord(
                            key=TokenKey(*party, uid, TokenType.RFID),
                            contract_id=f"{party[0]}-{party[1]}-C{uid[:6]}",
                            issuer="eMSP",
                            valid=True,
                            whitelist=whitelist,
                            last_updated=NOW,
                            group_id="FLEET",
                        ),
                    )
            port.answers["B-CARD-1"] = unreachable(ids["emsp-b"])
            authorizer = IdTokenAuthorizer(
                sessions, port, AuthorizationSettings(), clock=lambda: NOW
            )
            await authorizer.id_tag_info("CS-1", CARD, action="Authorize")
            await authorizer.id_tag_info("CS-1", "B-CARD-1", action="Authorize")
        finally:
            await dispose_engine(engine)

    asyncio.run(work())
    return port


@pytest.fixture
def hub(database_url, monkeypatch):
    seed(database_url)
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as invoke:
        yield invoke


def test_list_pages_and_filters_by_partner(hub):
    everything = json.loads(hub("tokens", "list", "--json").stdout)
    assert everything["total"] == 3
    assert [t["uid"] for t in everything["tokens"]] == ["04A1B2C3D4", "04FFFF0001", "B-CARD-1"]
    page = json.loads(hub("tokens", "list", "--limit", "1", "--offset", "1", "--json").stdout)
    assert [t["uid"] for t in page["tokens"]] == ["04FFFF0001"]
    only_b = json.loads(hub("tokens", "list", "--partner", "emsp-b", "--json").stdout)
    assert [(t["party"], t["partner"]) for t in only_b["tokens"]] == [("US*EMB", "emsp-b")]
    table = hub("tokens", "list", "--limit", "2").stdout
    assert "2 of 3" in table
    assert "--offset 2 shows the next 2" in " ".join(table.split())
    missing = hub("tokens", "list", "--partner", "nobody", expect=1)
    assert missing.stderr.startswith("error:")


def test_show_block_and_unblock(hub):
    shown = json.loads(hub("tokens", "show", "US*EMA", CARD, "--json").stdout)
    assert (shown["whitelist"], shown["blocked_by_operator"]) == ("ALWAYS", False)
    assert "ALWAYS" in hub("tokens", "show", "us-ema", CARD.lower()).stdout
    blocked = json.loads(
        hub("tokens", "block", "US*EMA", CARD, "--reason", "lost card", "--json").stdout
    )
    assert (blocked["blocked"], blocked["changed"], blocked["reason"]) == (True, True, "lost card")
    again = hub("tokens", "block", "US*EMA", CARD).stdout
    assert "already blocked" in again
    shown = json.loads(hub("tokens", "show", "US*EMA", CARD, "--json").stdout)
    assert (shown["blocked_by_operator"], shown["block_reason"]) == (True, "lost card")
    assert "no longer blocked" in hub("tokens", "block", "US*EMA", CARD, "--remove").stdout
    not_blocked = hub("tokens", "block", "US*EMA", CARD, "--remove", expect=1)
    assert "is not blocked" in not_blocked.stderr
    # A token nobody pushed can be blocked too (a card seen through real-time authorization).
    assert hub("tokens", "block", "US*EMB", "NEVER-PUSHED", "--type", "OTHER").exit_code == 0


def test_show_and_block_errors_are_one_line(hub):
    missing = hub("tokens", "show", "US*EMA", "NOPE", expect=1)
    assert missing.stderr.startswith("error: no token RFID of party US*EMA")
    assert "Traceback" not in missing.output
    bad_party = hub("tokens", "show", "USA*EMA", CARD, expect=2)
    assert "COUNTRY*PARTY" in bad_party.output
    assert hub("tokens", "show", "US*EMA", CARD, "--type", "EMAID", expect=2)


def test_explain_shows_the_last_decisions_without_the_uid(hub):
    decisions = json.loads(hub("tokens", "explain", CARD.lower(), "--json").stdout)
    (decision,) = decisions
    assert decision["uid_digest"] == uid_digest(CARD)
    assert (decision["path"], decision["result"], decision["party"]) == (
        "LOCAL",
        "Accepted",
        "US*EMA",
    )
    assert CARD not in json.dumps(decision)
    fallback = json.loads(hub("tokens", "explain", "B-CARD-1", "--json").stdout)
    assert (fallback[0]["path"], fallback[0]["emsp"], fallback[0]["emsp_answer"]) == (
        "OFFLINE_FALLBACK",
        "emsp-b",
        "UNREACHABLE",
    )
    table = " ".join(hub("tokens", "explain", "B-CARD-1").stdout.split())
    assert "OFFLINE_FALLBACK" in table
    assert "emsp-b" in table
    assert json.loads(hub("tokens", "explain", "NEVER-SEEN", "--json").stdout) == []
    other_type = hub("tokens", "explain", CARD, "--type", "OTHER", "--json").stdout
    assert json.loads(other_type) == []
