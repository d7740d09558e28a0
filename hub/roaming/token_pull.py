"""The token pull: the eMSP's Tokens Sender list into our token store (``mod_tokens.asciidoc``
"Pull model"), paginated along ``Link``, resumable, and on a schedule inside ``hub serve``.

A run fetches pages one by one. Each page's tokens are committed in one transaction together
with the cursor (``token_pull_cursors``) that points at the next page, so a crash, a stop or
a partner outage loses at most the page in flight: the next run resumes at that URL instead
of at offset 0 of a list of a million tokens. HTTP happens outside every transaction.

The first run of a partner pulls the whole list; later runs are delta pulls with
``date_from`` = the start of the last completed run (minus ``overlap_seconds``). A claim with
a lease on the cursor row keeps two processes from pulling one partner at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import TokenPullSettings
from hub.domain.tokens import TokenRecord, TokenType
from hub.errors import HubError
from hub.persistence.base import utc_now
from hub.persistence.session import session_scope
from hub.roaming import mappers
from hub.services.tokens import PullPlan, TokenPullBusy, TokenPullService
from hub.waiting import until_any
from ocpi.auth import TokenEncoding
from ocpi.errors import OcpiClientError, PartnerProtocolError
from ocpi.types import format_datetime
from ocpi.v221 import models as v221
from ocpi.v221.client import PartnerClient

logger = logging.getLogger(__name__)


class TokenPullFailed(HubError):
    """A pull stopped before the end of the list; the pages before are kept and the next
    run resumes after them."""


@dataclass(frozen=True, slots=True)
class PullProgress:
    """After each committed page: the run so far (pages and tokens before a crash included)."""

    partner: str
    pages: int
    tokens: int
    refused: int
    total: int | None
    """The partner's ``X-Total-Count`` (tokens in the list or delta)."""


@dataclass(frozen=True, slots=True)
class PullReport:
    """What one call of :meth:`TokenPuller.pull` did."""

    partner: str
    resumed: bool
    date_from: datetime | None
    pages: int
    """Pages fetched by this call."""
    tokens: int
    """Tokens received by this call (stored or already up to date)."""
    refused: list[str]
    """Tokens not stored: malformed, of a type 2.2.1 lacks, or of another party (a sample)."""
    refused_count: int
    run_pages: int
    run_tokens: int
    completed: bool
    invalidated: int = 0
    """Tokens we held that the completed full list no longer has: now invalid."""

    def as_dict(self) -> dict[str, object]:
        return {
            "partner": self.partner,
            "resumed": self.resumed,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "pages": self.pages,
            "tokens": self.tokens,
            "refused": self.refused_count,
            "refused_sample": self.refused,
            "run_pages": self.run_pages,
            "run_tokens": self.run_tokens,
            "completed": self.completed,
            "invalidated": self.invalidated,
        }


_REFUSED_SAMPLE = 20


def first_page_url(tokens_url: str, *, date_from: datetime | None, limit: int) -> str:
    """The Sender GET of a new run, its filters in the URL (so the cursor can store it)."""
    parts = urlsplit(tokens_url)
    params: list[tuple[str, str]] = []
    if date_from is not None:
        params.append(("date_from", format_datetime(date_from)))
    params.append(("limit", str(limit)))
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}/{os.getpid()}"


class TokenPuller:
    """Pulls partners' token lists; owns its transactions (one per page)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: TokenPullSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        worker_id: str | None = None,
    ) -> None:
        self.sessions = sessions
        self._http = http
        self.settings = settings
        self._clock = clock
        self.worker_id = worker_id or default_worker_id()
        self.lease = timedelta(seconds=settings.lease_seconds)
        self._wakeup = asyncio.Event()

    def wake(self, _partner_id: int | None = None) -> None:
        """Look for due pulls now (a partner just registered) instead of at the next poll."""
        self._wakeup.set()

    async def pull(
        self,
        partner_id: int,
        *,
        full: bool = False,
        on_page: Callable[[PullProgress], None] | None = None,
        stop: asyncio.Event | None = None,
    ) -> PullReport:
        """Pull the partner's tokens: resume its interrupted run, else start a delta run (a
        full one if it never completed one, or with ``full``).

        ``stop`` (``hub serve`` shutting down) ends the pull after the page in hand is
        committed; the next pull resumes after it.

        Raises:
            TokenPullBusy: another process is pulling this partner now.
            TokenPullFailed: a page could not be fetched; the pages before are kept.
            NotFound, InvalidState: no such partner, not registered, no Tokens Sender.
        """
        plan, resumed, date_from = await self._begin(partner_id, full)
        client = PartnerClient(
            self._http, token=plan.token, encoding=TokenEncoding(plan.token_encoding)
        )
        start = plan.resume_url or plan.tokens_url
        pages = tokens = refused_count = 0
        refused: list[str] = []
        run_pages, run_tokens = (plan.run_pages, plan.run_tokens) if resumed else (0, 0)
        completed = False
        invalidated = 0
        try:
            async with contextlib.aclosing(client.pull_pages(start, v221.Token)) as page_stream:
                async for page in page_stream:
                    if page.next_url is not None and _origin(page.next_url) != _origin(start):
                        # The next request carries the partner's credentials token: only to
                        # the host it registered, never where a Link sends it (SSRF).
                        raise PartnerProtocolError(
                            f"the Link to the next page leaves {_origin(start)}: "
                            f"{page.next_url[:200]}",
                            url=page.url,
                        )
                    records, rejected = _records(page.items)
                    problems = page.invalid + rejected
                    now = self._clock()
                    async with session_scope(self.sessions) as session:
                        outcome = await TokenPullService(session).record_page(
                            partner_id,
                            self.worker_id,
                            records,
                            invalid=len(problems),
                            next_url=page.next_url,
                            now=now,
                            lease=self.lease,
                        )
                    problems += outcome.batch.refused
                    pages += 1
                    tokens += outcome.batch.stored
                    refused_count += len(problems)
                    refused.extend(problems[: max(0, _REFUSED_SAMPLE - len(refused))])
                    run_pages, run_tokens = outcome.run_pages, outcome.run_tokens
                    completed = outcome.completed
                    invalidated += outcome.invalidated
                    if problems:
                        logger.warning(
                            "token pull of %s: %s tokens of page %s not stored, e.g. %s",
                            plan.partner_name,
                            len(problems),
                            run_pages,
                            problems[0],
                        )
                    if on_page is not None:
                        on_page(
                            PullProgress(
                                plan.partner_name,
                                run_pages,
                                run_tokens,
                                outcome.run_refused,
                                page.total,
                            )
                        )
                    if stop is not None and stop.is_set() and not completed:
                        logger.info(
                            "token pull of %s paused after page %s", plan.partner_name, run_pages
                        )
                        break
        except OcpiClientError as exc:
            message = (
                f"token pull of partner {plan.partner_name!r} stopped after {run_pages} pages "
                f"({run_tokens} tokens kept): {exc.message}"
            )
            await self._fail(partner_id, message)
            raise TokenPullFailed(
                f"{message}; the next pull resumes there (`hub partners sync-tokens "
                f"{plan.partner_name}`)"
            ) from exc
        except BaseException:
            # Stopped (shutdown) or a bug: the committed pages stay, the claim is given back
            # so the next run resumes at once rather than after the lease.
            await self._release_quietly(partner_id)
            raise
        else:
            await self._release(partner_id)
        logger.info(
            "token pull of %s: %s pages, %s tokens%s",
            plan.partner_name,
            pages,
            tokens,
            " (run complete)" if completed else "",
        )
        return PullReport(
            partner=plan.partner_name,
            resumed=resumed,
            date_from=date_from,
            pages=pages,
            tokens=tokens,
            refused=refused,
            refused_count=refused_count,
            run_pages=run_pages,
            run_tokens=run_tokens,
            completed=completed,
            invalidated=invalidated,
        )

    async def _begin(self, partner_id: int, full: bool) -> tuple[PullPlan, bool, datetime | None]:
        now = self._clock()
        async with session_scope(self.sessions) as session:
            service = TokenPullService(session)
            plan = await service.claim(partner_id, self.worker_id, now=now, lease=self.lease)
            if plan.resume_url is not None and not full:
                return plan, True, plan.run_date_from
            date_from = (
                plan.next_date_from - timedelta(seconds=self.settings.overlap_seconds)
                if plan.next_date_from is not None and not full
                else None
            )
            first = first_page_url(
                plan.tokens_url, date_from=date_from, limit=self.settings.page_limit
            )
            await service.start_run(partner_id, first, date_from=date_from, now=now)
        return _with_resume_url(plan, first), False, date_from

    async def _fail(self, partner_id: int, message: str) -> None:
        try:
            async with session_scope(self.sessions) as session:
                service = TokenPullService(session)
                await service.record_failure(partner_id, message, now=self._clock())
                await service.release(partner_id, self.worker_id)
        except Exception:
            logger.exception("token pull: could not record the failure of partner %s", partner_id)

    async def _release_quietly(self, partner_id: int) -> None:
        try:
            await self._release(partner_id)
        except Exception:
            logger.exception("token pull: could not release the claim on partner %s", partner_id)

    async def _release(self, partner_id: int) -> None:
        async with session_scope(self.sessions) as session:
            await TokenPullService(session).release(partner_id, self.worker_id)

    # --- the schedule ----------------------------------------------------------------------

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Pull every due partner once; returns how many were pulled to completion."""
        async with session_scope(self.sessions) as session:
            due = await TokenPullService(session).due(
                self._clock(),
                interval=timedelta(seconds=self.settings.interval_seconds),
                retry_after=timedelta(seconds=self.settings.retry_seconds),
            )
        done = 0
        for partner_id in due:
            if stop is not None and stop.is_set():
                break
            try:
                report = await self.pull(partner_id, stop=stop)
            except TokenPullBusy:
                continue  # another process has it
            except HubError as exc:
                logger.warning("%s", exc)
                continue
            done += report.completed
        return done

    async def run(self, stop: asyncio.Event) -> None:
        """Pull due partners until ``stop`` is set; errors are logged and the loop goes on."""
        logger.info("token puller %s started", self.worker_id)
        while not stop.is_set():
            self._wakeup.clear()
            try:
                await self.run_once(stop)
            except Exception:
                logger.exception("token puller %s: round failed", self.worker_id)
            await until_any(stop, self._wakeup, at_most=self.settings.poll_interval_seconds)
        logger.info("token puller %s stopped", self.worker_id)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _with_resume_url(plan: PullPlan, url: str) -> PullPlan:
    return replace(plan, resume_url=url)


def _records(items: list[v221.Token]) -> tuple[list[TokenRecord], list[str]]:
    known = set(TokenType)
    records: list[TokenRecord] = []
    rejected: list[str] = []
    for item in items:
        if item.type not in known:
            rejected.append(
                f"token {item.uid!r}: type {str(item.type)!r} is not an OCPI 2.2.1 type"
            )
            continue
        records.append(mappers.token_record(item))
    return records, rejected
