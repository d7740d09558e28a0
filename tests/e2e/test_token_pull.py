"""The token pull end to end: an independent eMSP (``EmspPeer``) serves its Tokens Sender list
over real HTTP on 127.0.0.1, paginated with ``Link``; the hub pulls it into its token store
(both engines), resumes after a crash without starting again from offset 0, pulls deltas with
``date_from``, never lets two processes pull one partner at once, pulls at registration
(``hub serve``'s puller) and on ``hub partners sync-tokens``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import func, select

from hub.app import create_app
from hub.config import (
    DatabaseSettings,
    OcpiSettings,
    PushSettings,
    Settings,
    TokenPullSettings,
    get_settings,
)
from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartyRole
from hub.persistence.session import (
    create_engine,
    create_session_factory,
    dispose_engine,
    session_scope,
)
from hub.persistence.tables import Token, TokenPullCursor
from hub.roaming.token_pull import PullProgress, TokenPuller, TokenPullFailed
from hub.services.partners import PartnerService
from hub.services.tokens import TokenPullBusy, TokenPullService
from tests.hub.conftest import add_parties
from tests.support.cli import cli_in_process
from tests.support.emsp import PARTY, EmspPeer
from tests.support.servers import asgi_server, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.db]

PAGE = 1000


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def sessions(database_url) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    try:
        yield create_session_factory(engine)
    finally:
        await dispose_engine(engine)


@pytest.fixture
def peer() -> Iterator[EmspPeer]:
    emsp = EmspPeer(offers_tokens=True, token_page_max=PAGE)
    with asgi_server(emsp.app()) as url:
        emsp.base_url = url
        yield emsp


async def connect(sessions, peer: EmspPeer, name: str = "emsp") -> int:
    """A partner registered with us whose Tokens Sender is the peer's."""
    await add_parties(sessions)
    party = (PARTY["country_code"], PARTY["party_id"])
    base = f"{peer.base_url}/ocpi/2.2.1"
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        partner, _ = await service.invite(name, parties=[party])
        await session.flush()
        await service.register_inbound(
            partner.require_id(),
            PartnerConnection(
                versions_url=f"{peer.base_url}/ocpi/versions",
                version="2.2.1",
                endpoints=(
                    PartnerEndpoint("credentials", "RECEIVER", f"{base}/credentials"),
                    PartnerEndpoint("tokens", "SENDER", f"{base}/tokens"),
                ),
                roles=(PartyRole("EMSP", *party, {"name": name}),),
                token=f"token-for-{name}",
            ),
        )
        partner_id = partner.require_id()
    peer.issued[f"token-for-{name}"] = "C"
    return partner_id


async def count_tokens(sessions) -> int:
    async with session_scope(sessions) as session:
        return int((await session.execute(select(func.count()).select_from(Token))).scalar_one())


async def cursor(sessions, partner_id) -> TokenPullCursor:
    async with session_scope(sessions) as session:
        row = await session.get(TokenPullCursor, partner_id)
        assert row is not None
        return row


def puller(sessions, http, clock=None, worker="test/1", **settings) -> TokenPuller:
    return TokenPuller(
        sessions,
        http,
        TokenPullSettings(page_limit=PAGE, **settings),
        clock=clock or Clock(),
        worker_id=worker,
    )


async def test_pull_of_100000_tokens_follows_every_link(sessions, peer):
    peer.token_count = 100_000
    partner_id = await connect(sessions, peer)
    progress: list[PullProgress] = []
    async with httpx.AsyncClient(timeout=30) as http:
        report = await puller(sessions, http).pull(partner_id, on_page=progress.append)
    assert report.completed
    assert not report.resumed
    assert report.date_from is None
    assert (report.pages, report.tokens, report.refused_count) == (100, 100_000, 0)
    assert peer.token_offsets() == list(range(0, 100_000, PAGE))
    assert [p.tokens for p in progress] == list(range(PAGE, 100_001, PAGE))
    assert {p.total for p in progress} == {100_000}
    assert await count_tokens(sessions) == 100_000
    async with session_scope(sessions) as session:
        last = (
            await session.execute(select(Token).where(Token.uid == f"{99_999:08X}"))
        ).scalar_one()
    assert (last.country_code, last.party_id, last.contract_id) == ("US", "EMS", "US-EMS-C00099999")
    assert (await cursor(sessions, partner_id)).next_url is None


async def test_a_page_failing_mid_pull_is_resumed_not_restarted(sessions, peer):
    peer.token_count = 10_000
    peer.fail_token_offsets = {4000}
    partner_id = await connect(sessions, peer)
    async with httpx.AsyncClient(timeout=30) as http:
        with pytest.raises(TokenPullFailed, match="stopped after 4 pages"):
            await puller(sessions, http).pull(partner_id)
        assert await count_tokens(sessions) == 4000
        interrupted = await cursor(sessions, partner_id)
        assert "offset=4000" in (interrupted.next_url or "")
        assert interrupted.claimed_by is None
        assert interrupted.last_error
        # A new process (another worker name) resumes at the page that failed.
        report = await puller(sessions, http, worker="test/2").pull(partner_id)
    assert report.resumed
    assert report.completed
    assert (report.pages, report.run_pages, report.run_tokens) == (6, 10, 10_000)
    assert peer.token_offsets() == [0, 1000, 2000, 3000, 4000, *range(4000, 10_000, PAGE)]
    assert [r["status"] for r in peer.token_requests].count(503) == 1
    assert await count_tokens(sessions) == 10_000


class Crash(Exception):
    """The process dies right after a page was committed."""


async def test_a_puller_stopped_after_page_3_resumes_at_page_4(sessions, peer):
    peer.token_count = 6500
    partner_id = await connect(sessions, peer)

    def crash_after_page_3(progress: PullProgress) -> None:
        if progress.pages == 3:
            raise Crash

    async with httpx.AsyncClient(timeout=30) as http:
        with pytest.raises(Crash):
            await puller(sessions, http).pull(partner_id, on_page=crash_after_page_3)
        assert await count_tokens(sessions) == 3000
        report = await puller(sessions, http).pull(partner_id)
    assert report.resumed
    assert report.completed
    assert report.pages == 4
    assert peer.token_offsets() == [0, 1000, 2000, 3000, 4000, 5000, 6000]
    assert await count_tokens(sessions) == 6500


async def test_delta_pull_asks_for_changes_since_the_last_run(sessions, peer):
    peer.token_count = 50
    partner_id = await connect(sessions, peer)
    clock = Clock()
    first_run = clock.now
    async with httpx.AsyncClient(timeout=30) as http:
        pulling = puller(sessions, http, clock=clock, overlap_seconds=60)
        assert (await pulling.pull(partner_id)).tokens == 50
        assert "date_from" not in peer.token_requests[0]
        # Later the eMSP blocks card 5 and issues a new one.
        changed = (first_run + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        blocked = {**peer.generated_token(5), "valid": False, "last_updated": changed}
        new = {**peer.generated_token(50), "uid": "NEW-CARD", "last_updated": changed}
        peer.extra_tokens = [blocked, new]
        clock.now = first_run + timedelta(hours=6)
        report = await pulling.pull(partner_id)
    assert report.date_from == first_run - timedelta(seconds=60)
    assert peer.token_requests[-1]["date_from"] == "2026-11-24T09:59:00Z"
    assert (report.pages, report.tokens) == (1, 2)
    assert await count_tokens(sessions) == 51
    async with session_scope(sessions) as session:
        card = (await session.execute(select(Token).where(Token.uid == f"{5:08X}"))).scalar_one()
    assert card.valid is False
    assert (await cursor(sessions, partner_id)).completed_date_from == first_run + timedelta(
        hours=6
    )


async def test_two_processes_never_pull_one_partner_at_once(sessions, peer):
    peer.token_count = 10
    partner_id = await connect(sessions, peer)
    clock = Clock()
    async with session_scope(sessions) as session:
        await TokenPullService(session).claim(
            partner_id, "other-node/7", now=clock.now, lease=timedelta(seconds=120)
        )
    async with httpx.AsyncClient(timeout=30) as http:
        pulling = puller(sessions, http, clock=clock)
        with pytest.raises(TokenPullBusy, match="other-node/7"):
            await pulling.pull(partner_id)
        assert peer.token_requests == []
        assert await pulling.run_once() == 0  # the schedule skips a claimed partner
        clock.now += timedelta(seconds=121)  # the other process died: its lease ran out
        assert await pulling.run_once() == 1
    assert await count_tokens(sessions) == 10


async def test_registration_schedules_the_first_pull_in_hub_serve(database_url, sessions, peer):
    await add_parties(sessions)
    peer.token_count = 2500
    port = free_port()
    settings = Settings(
        database=DatabaseSettings(url=database_url),
        ocpi=OcpiSettings(public_url=f"http://127.0.0.1:{port}"),
        push=PushSettings(enabled=False),
        # Only the registration's wake-up can start the pull within this test.
        token_pull=TokenPullSettings(poll_interval_seconds=3600),
    )
    async with session_scope(sessions) as session:
        _, token_a = await PartnerService(session).invite("emsp", parties=[("US", "EMS")])
    with asgi_server(create_app(settings), port) as hub:
        await asyncio.to_thread(peer.register_with_hub, f"{hub}/ocpi/versions", token_a)
        for _ in range(600):  # until the background pull is through (at most 60 s)
            if await count_tokens(sessions) == 2500:
                break
            await asyncio.sleep(0.1)
    assert await count_tokens(sessions) == 2500
    assert peer.token_offsets() == [0, 1000, 2000]


async def test_cli_sync_tokens_shows_progress_and_a_json_summary(
    database_url, sessions, peer, monkeypatch
):
    peer.token_count = 2500
    await connect(sessions, peer, "acme")
    with cli_in_process(monkeypatch, HUB_DATABASE__URL=database_url) as hub:
        result = await asyncio.to_thread(hub, "partners", "sync-tokens", "acme", "--json")
        summary = json.loads(result.stdout)
        assert (summary["pages"], summary["tokens"], summary["completed"]) == (3, 2500, True)
        assert "acme: page 3, 2500 tokens so far of 2500" in result.stderr
        table = await asyncio.to_thread(hub, "partners", "sync-tokens", "acme")
        assert "page 1, 0 tokens so far of 0" in table.stdout  # a delta: nothing changed
        shown = json.loads(
            (await asyncio.to_thread(hub, "partners", "show", "acme", "--json")).stdout
        )
        assert shown["token_pull_in_progress"] is None
        assert shown["token_pull_last_completed_at"]
        missing = await asyncio.to_thread(hub, "partners", "sync-tokens", "nobody", expect=1)
        assert "error:" in missing.stderr
    get_settings.cache_clear()


async def test_bad_and_foreign_tokens_of_a_page_are_refused_and_the_rest_stored(sessions, peer):
    peer.token_count = 10
    good = peer.generated_token(10)
    peer.extra_tokens = [
        {**good, "uid": "FOREIGN", "party_id": "XXX"},  # a party the partner does not own
        {**good, "uid": "NEW-TYPE", "type": "EMAID"},  # 2.3.0's type, not 2.2.1's
        {k: v for k, v in good.items() if k != "contract_id"},  # malformed
        {**good, "uid": "U" * 37},  # malformed: uid > 36
    ]
    partner_id = await connect(sessions, peer)
    async with httpx.AsyncClient(timeout=30) as http:
        report = await puller(sessions, http).pull(partner_id)
    assert report.completed
    assert (report.tokens, report.refused_count) == (10, 4)
    sample = " | ".join(report.refused)
    assert "US*XXX token 'FOREIGN': not one of the partner's parties" in sample
    assert "type 'EMAID' is not an OCPI 2.2.1 type" in sample
    assert "contract_id is required" in sample
    assert "uid must be at most 36 characters" in sample
    assert await count_tokens(sessions) == 10


async def test_a_stop_pauses_the_pull_after_the_page_in_hand(sessions, peer):
    peer.token_count = 5000
    partner_id = await connect(sessions, peer)
    stop = asyncio.Event()

    def stop_after_page_2(progress: PullProgress) -> None:
        if progress.pages == 2:
            stop.set()  # hub serve shutting down

    async with httpx.AsyncClient(timeout=30) as http:
        paused = await puller(sessions, http).pull(partner_id, on_page=stop_after_page_2, stop=stop)
        assert (paused.pages, paused.completed) == (2, False)
        assert (await cursor(sessions, partner_id)).claimed_by is None
        resumed = await puller(sessions, http).pull(partner_id)
    assert (resumed.resumed, resumed.pages, resumed.completed) == (True, 3, True)
    assert peer.token_offsets() == [0, 1000, 2000, 3000, 4000]
    assert await count_tokens(sessions) == 5000


async def test_a_link_to_another_host_is_not_followed(sessions, peer):
    peer.token_count = 3000
    partner_id = await connect(sessions, peer)
    registered_at = peer.base_url
    peer.base_url = registered_at.replace("127.0.0.1", "localhost")  # its Links now leave
    async with httpx.AsyncClient(timeout=30) as http:
        with pytest.raises(TokenPullFailed, match="Link to the next page leaves"):
            await puller(sessions, http).pull(partner_id)
    assert peer.token_offsets() == [0]
    assert await count_tokens(sessions) == 0


async def test_a_full_pull_invalidates_the_tokens_the_list_no_longer_has(sessions, peer):
    peer.token_count = 30
    partner_id = await connect(sessions, peer)
    clock = Clock()
    async with httpx.AsyncClient(timeout=30) as http:
        pulling = puller(sessions, http, clock=clock)
        assert (await pulling.pull(partner_id)).invalidated == 0
        peer.token_count = 20  # the eMSP dropped cards 20 to 29 from its list
        # An older copy of card 3 (we hold a newer one): received, so still listed.
        peer.extra_tokens = [{**peer.generated_token(3), "last_updated": "2025-01-01T00:00:00Z"}]
        clock.now += timedelta(hours=7)
        report = await pulling.pull(partner_id, full=True)
    assert (report.completed, report.invalidated) == (True, 10)
    async with session_scope(sessions) as session:
        rows = (await session.execute(select(Token).order_by(Token.uid))).scalars().all()
    assert [row.uid for row in rows if not row.valid] == [f"{i:08X}" for i in range(20, 30)]
    card_3 = next(row for row in rows if row.uid == f"{3:08X}")
    assert card_3.last_updated == peer.token_epoch + timedelta(seconds=3)  # ours, the newer
