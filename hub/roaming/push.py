"""The push delivery worker: claims due outbox jobs, sends them to partners, records outcomes.

One worker runs inside ``hub serve``; ``hub push work`` runs more in their own processes (on
PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED`` so workers never take the same job). Payloads
are built at delivery time from the current state (see ``hub.persistence.tables.outbox``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.config import PushSettings
from hub.domain.access import PartyScope
from hub.domain.assets import NacsMode
from hub.domain.partners import PartnerStatus
from hub.domain.push import JobKind, RetryPolicy
from hub.persistence.session import session_scope
from hub.persistence.tables import Partner, Tariff
from hub.roaming import mappers
from hub.services.locations import LocationService, LocationView
from hub.services.partners import PartnerService
from hub.services.push import ClaimedJob, PushService
from hub.services.sync import SyncService
from hub.services.tariffs import TariffService
from ocpi.auth import TokenEncoding
from ocpi.errors import OcpiClientError, PartnerHttpError, PartnerRejected, UnknownLocation
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v221.client import PartnerClient

logger = logging.getLogger(__name__)

UNKNOWN_LOCATION = UnknownLocation.status_code


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP request to make for a job."""

    job: ClaimedJob
    method: str
    url: str
    body: Any
    routing: RoutingHeaders


@dataclass(frozen=True, slots=True)
class PartnerTarget:
    partner: Partner
    endpoints: dict[str, str]
    party: PartyRef | None
    scope: PartyScope

    @property
    def nacs_mode(self) -> NacsMode:
        return NacsMode(self.partner.nacs_mode)


@dataclass(frozen=True, slots=True)
class Outcome:
    job: ClaimedJob
    error: str | None = None
    rejected: bool = False
    missing: bool = False
    """A PATCH the partner refused because it does not know the object: send a PUT instead."""


def policy_from(settings: PushSettings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(seconds=settings.retry_base_seconds),
        cap=timedelta(seconds=settings.retry_cap_seconds),
        degraded_after=settings.degraded_after,
    )


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(quote(p, safe="") for p in parts)])


class PushWorker:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: PushSettings,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.sessions = session_factory
        self.http = http
        self.settings = settings
        self.policy = policy_from(settings)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Look for work now instead of at the next poll (a change was just committed here)."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; errors are logged and the loop goes on."""
        logger.info("push worker %s started", self.worker_id)
        while not stop.is_set():
            self._wakeup.clear()  # a wake-up from now on means work after this round
            try:
                handled = await self.run_once()
            except Exception:
                logger.exception("push worker %s: delivery round failed", self.worker_id)
                handled = 0
            if handled < self.settings.batch_size:
                await self._idle(stop)
        logger.info("push worker %s stopped", self.worker_id)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for the poll interval, a wake-up or the stop signal, whichever comes first."""
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wakeup.wait())]
        try:
            await asyncio.wait(
                waiters,
                timeout=self.settings.poll_interval_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> int:
        """One round: claim, send, record. Returns the number of jobs handled."""
        async with session_scope(self.sessions) as session:
            jobs = await PushService(session, self.policy).claim(
                self.worker_id,
                limit=self.settings.batch_size,
                lease=timedelta(seconds=self.settings.lease_seconds),
            )
        if not jobs:
            return 0
        deliveries, nothing_to_send = await self._plan(jobs)
        outcomes = await self._send_all(deliveries)
        await self._record(nothing_to_send, outcomes)
        return len(jobs)

    async def _plan(self, jobs: Sequence[ClaimedJob]) -> tuple[list[Delivery], list[ClaimedJob]]:
        deliveries: list[Delivery] = []
        nothing: list[ClaimedJob] = []
        async with session_scope(self.sessions) as session:
            targets = await self._targets(session, {job.partner_id for job in jobs})
            location_ids = {
                str(job.target["location_id"]) for job in jobs if job.kind.module == "locations"
            }
            views = await LocationService(session).views_by_ids(sorted(location_ids))
            tariffs = TariffService(session)
            for job in jobs:
                target = targets.get(job.partner_id)
                delivery = None
                if target is not None:
                    delivery = await self._delivery(job, target, views, tariffs)
                if delivery is None:
                    nothing.append(job)
                else:
                    deliveries.append(delivery)
        return deliveries, nothing

    async def _targets(
        self, session: AsyncSession, partner_ids: set[int]
    ) -> dict[int, PartnerTarget]:
        service = PartnerService(session)
        targets = {}
        for partner_id in partner_ids:
            partner = await service.partners.get(partner_id)
            if partner is None or partner.partner_status is not PartnerStatus.REGISTERED:
                continue
            endpoints = {
                str(e["identifier"]): str(e["url"])
                for e in partner.endpoints
                if e.get("role") == "RECEIVER"
            }
            roles = await service.roles(partner)
            chosen = next((r for r in roles if r.role == "EMSP"), roles[0] if roles else None)
            party = PartyRef(chosen.country_code, chosen.party_id) if chosen else None
            scope = await service.scope(partner)
            targets[partner_id] = PartnerTarget(partner, endpoints, party, scope)
        return targets

    async def _delivery(
        self,
        job: ClaimedJob,
        target: PartnerTarget,
        views: dict[str, LocationView],
        tariffs: TariffService,
    ) -> Delivery | None:
        """What to send for ``job``, or None when there is nothing (object gone, not visible to
        this partner, or made only of connectors this partner does not receive)."""
        base = target.endpoints.get(job.kind.module)
        if base is None:
            return None
        t = job.target
        keys = (str(t["country_code"]), str(t["party_id"]))
        routing = RoutingHeaders(sender=PartyRef(*keys), receiver=target.party)
        if job.kind.module == "tariffs":
            tariff_id = str(t["tariff_id"])
            url = _join(base, *keys, tariff_id)
            if job.kind is JobKind.TARIFF_DELETE:
                return Delivery(job, "DELETE", url, None, routing)
            row: Tariff | None = await tariffs.get(*keys, tariff_id)
            # Checked again when sending: visibility may have changed since the job was queued.
            if row is None or not target.scope.may_see(await tariffs.audience(row)):
                return None
            return Delivery(job, "PUT", url, mappers.tariff_model(row).to_wire(), routing)
        view = views.get(str(t["location_id"]))
        if view is None or not _visible(view, target):
            return None
        url = _join(base, *keys, view.location.location_id)
        if job.kind is JobKind.LOCATION_PUT:
            model = mappers.location_for_partner(view.location, view.evses, target.nacs_mode)
            return Delivery(job, "PUT", url, model.to_wire(), routing)
        evse = next((e for e in view.evses if e.uid == t["evse_uid"]), None)
        if evse is None or mappers.evse_for_partner(evse, target.nacs_mode) is None:
            return None
        url = _join(url, evse.uid)
        if job.kind is JobKind.EVSE_PATCH:
            return Delivery(job, "PATCH", url, mappers.evse_status_patch(evse).to_wire(), routing)
        connector = mappers.connector_for_partner(evse, str(t["connector_id"]), target.nacs_mode)
        if connector is None:
            return None
        body = mappers.connector_tariffs_patch(connector).to_wire()
        return Delivery(job, "PATCH", _join(url, connector.id), body, routing)

    async def _send_all(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        by_partner: dict[int, list[Delivery]] = {}
        for delivery in deliveries:
            by_partner.setdefault(delivery.job.partner_id, []).append(delivery)
        results = await asyncio.gather(
            *(self._send_partner(items) for items in by_partner.values())
        )
        return [outcome for batch in results for outcome in batch]

    async def _send_partner(self, deliveries: list[Delivery]) -> list[Outcome]:
        first = deliveries[0]
        partner = await self._partner(first.job.partner_id)
        if partner is None or partner.outbound_token is None:
            return [Outcome(d.job, error="partner has no credentials") for d in deliveries]
        client = PartnerClient(
            self.http, token=partner.outbound_token, encoding=TokenEncoding(partner.token_encoding)
        )
        limit = asyncio.Semaphore(self.settings.max_in_flight_per_partner)

        async def send(delivery: Delivery) -> Outcome:
            async with limit:
                try:
                    await client.call(
                        delivery.method, delivery.url, body=delivery.body, routing=delivery.routing
                    )
                except (PartnerRejected, PartnerHttpError) as exc:
                    code = getattr(exc, "partner_status_code", None)
                    unknown = code == UNKNOWN_LOCATION or getattr(exc, "response_status", 0) == 404
                    if unknown and delivery.method == "PATCH":
                        # OCPI: when a PATCH fails, the client should PUT the whole object.
                        return Outcome(delivery.job, error=exc.message, missing=True)
                    rejected = code is not None and 2000 <= code < 3000
                    return Outcome(delivery.job, error=exc.message, rejected=rejected)
                except OcpiClientError as exc:
                    return Outcome(delivery.job, error=exc.message)
                return Outcome(delivery.job)

        return list(await asyncio.gather(*(send(d) for d in deliveries)))

    async def _partner(self, partner_id: int) -> Partner | None:
        async with session_scope(self.sessions) as session:
            return await PartnerService(session).partners.get(partner_id)

    async def _record(self, nothing: Sequence[ClaimedJob], outcomes: Sequence[Outcome]) -> None:
        done = [job.id for job in nothing] + [o.job.id for o in outcomes if o.error is None]
        recovered: list[int] = []
        async with session_scope(self.sessions) as session:
            service = PushService(session, self.policy)
            if done:
                recovered = await service.delivered(done, self.worker_id)
            for outcome in outcomes:
                if outcome.error is None:
                    continue
                if outcome.missing:
                    await self._put_instead(session, service, outcome.job)
                    continue
                logger.warning(
                    "push %s %s to partner %s failed (attempt %s): %s",
                    outcome.job.kind,
                    outcome.job.target,
                    outcome.job.partner_id,
                    outcome.job.attempts + 1,
                    outcome.error,
                )
                degraded = await service.failed(
                    outcome.job.id, self.worker_id, outcome.error, rejected=outcome.rejected
                )
                if degraded:
                    logger.error(
                        "partner %s degraded after repeated push failures", outcome.job.partner_id
                    )
        for partner_id in recovered:
            async with session_scope(self.sessions) as session:
                queued = await SyncService(session).resync(partner_id)
            logger.warning(
                "partner %s reachable again: resynchronising (%s PUTs)", partner_id, queued
            )

    async def _put_instead(
        self, session: AsyncSession, service: PushService, job: ClaimedJob
    ) -> None:
        logger.info("partner %s lacks %s: sending the whole location", job.partner_id, job.target)
        if not await service.superseded(job.id, self.worker_id):
            return
        change = await LocationService(session, service).put_change(str(job.target["location_id"]))
        if change is not None:
            await service.fanout([change], only=job.partner_id)


def _visible(view: LocationView, target: PartnerTarget) -> bool:
    return target.scope.may_see(view.audience)
