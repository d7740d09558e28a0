"""The push delivery worker: claims due outbox jobs, sends them to partners, records outcomes.

One worker runs inside ``hub serve``; ``hub push work`` runs more in their own processes (on
PostgreSQL, claims use ``FOR UPDATE SKIP LOCKED`` so workers never take the same job). Payloads
are built at delivery time from the current state (see ``hub.persistence.tables.outbox``).

A worker claims only the jobs it sends at once (per partner, ``max_in_flight_per_partner``) and
renews their short leases while it sends. Its claims carry its name, ``{node}/{slot}``: the slot
is the lowest one free on this machine for this database, held by an OS file lock that the
kernel drops when the process dies, even by ``kill -9``. A worker that takes a slot therefore
knows that claims recorded under its name belong to a dead process, and gives them back at once
instead of letting their queues wait for the leases to expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.config import PushSettings
from hub.domain.access import Party, PartyScope
from hub.domain.assets import NacsMode
from hub.domain.partners import PartnerStatus
from hub.domain.push import Failure, JobKind, RetryPolicy, classify_failure
from hub.errors import InvalidState
from hub.persistence.base import utc_now
from hub.persistence.session import session_scope
from hub.persistence.tables import Partner, Tariff
from hub.roaming import mappers
from hub.roaming.charging_profiles import active_profile_put
from hub.roaming.commands import cancellation_model, command_result_model
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.sessions import cdr_model, session_model, session_patch
from hub.services import metrics
from hub.services.commands import CommandService
from hub.services.hub_client_info import HubClientInfoService
from hub.services.locations import LocationService, LocationView
from hub.services.partners import PartnerService
from hub.services.push import Change, ClaimedJob, PushService
from hub.services.sessions import SessionService
from hub.services.sync import SyncService
from hub.services.tariffs import TariffService
from hub.waiting import until_any
from ocpi.auth import TokenEncoding
from ocpi.errors import OcpiClientError, PartnerHttpError, PartnerRejected
from ocpi.headers import PartyRef, RoutingHeaders
from ocpi.v221.client import PartnerClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Round:
    """Jobs a worker claimed together: what it sends, what needs no request, whose they are."""

    jobs: list[ClaimedJob]
    deliveries: list[Delivery]
    nothing_to_send: list[ClaimedJob]
    partners: frozenset[int]

    def per_partner(self) -> list[_Round]:
        """The round split by partner: each part is sent and recorded on its own."""
        return [
            _Round(
                [j for j in self.jobs if j.partner_id == partner],
                [d for d in self.deliveries if d.job.partner_id == partner],
                [j for j in self.nothing_to_send if j.partner_id == partner],
                frozenset({partner}),
            )
            for partner in sorted(self.partners)
        ]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One HTTP request to make for a job."""

    job: ClaimedJob
    method: str
    url: str
    body: Any
    routing: RoutingHeaders
    partner: Partner
    unreachable: frozenset[Party] = frozenset()
    """The receiver parties the partner reports unreachable (see ``PartnerTarget``)."""


@dataclass(frozen=True, slots=True)
class PartnerTarget:
    partner: Partner
    endpoints: dict[str, str]
    party: PartyRef | None
    scope: PartyScope
    unreachable: frozenset[Party] = frozenset()
    """Receiver parties the partner (a hub) reports unreachable: their deliveries are held."""

    @property
    def nacs_mode(self) -> NacsMode:
        return NacsMode(self.partner.nacs_mode)


@dataclass(frozen=True, slots=True)
class Outcome:
    job: ClaimedJob
    error: str | None = None
    """None: delivered."""
    failure: Failure = Failure.TRANSIENT
    location: str | None = None
    """The ``Location`` header of the answer (an eMSP's CDRs receiver says where it keeps the
    CDR)."""


@dataclass(slots=True)
class WorkerTotals:
    """What a worker did since it was created (``hub push work`` prints it when it stops)."""

    worker: str | None = None
    rounds: int = 0
    """Rounds that found work."""
    jobs: int = 0
    """Jobs claimed (each ends in one of the counts below, unless its round failed)."""
    delivered: int = 0
    """Accepted by the partner."""
    failed: int = 0
    """Not taken now (unreachable, 5xx...): retried later."""
    rejected: int = 0
    """Refused for good (this version of the object)."""
    sent_as_put: int = 0
    """PATCHes of an object the partner lacks: the whole object is queued instead."""
    nothing_to_send: int = 0
    """Object gone or no longer visible to the partner when the job came up."""
    held: int = 0
    """Held until a hub reports their receiver party CONNECTED again."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_from(settings: PushSettings) -> RetryPolicy:
    return RetryPolicy(
        base=timedelta(seconds=settings.retry_base_seconds),
        cap=timedelta(seconds=settings.retry_cap_seconds),
        degraded_after=settings.degraded_after,
    )


def _join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(quote(p, safe="") for p in parts)])


def default_slot_directory() -> Path:
    return Path(tempfile.gettempdir()) / "hub-push-slots"


class WorkerSlot:
    """A worker name unique among the live processes of this machine for one database.

    Slot ``n`` is held by an exclusive ``flock`` on ``{directory}/{digest}-{n}.lock``, where the
    digest covers the node name and the database; the lowest free slot is taken. The kernel
    releases the lock when its process ends, however it ends, so a slot is free exactly when no
    live process holds it, and whatever is recorded under its name is a dead process's.
    """

    def __init__(self, node: str, database: str, directory: Path | None = None) -> None:
        self.node = node
        self.directory = directory or default_slot_directory()
        self.digest = hashlib.sha256(f"{node}\n{database}".encode()).hexdigest()[:16]
        self._fd: int | None = None
        self.name: str | None = None

    def acquire(self) -> str:
        if self.name is not None:
            return self.name
        self.directory.mkdir(parents=True, exist_ok=True)
        for slot in count():
            path = self.directory / f"{self.digest}-{slot}.lock"
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except PermissionError:
                continue  # another user's file: not ours to take
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self._fd = fd
            self.name = f"{self.node}/{slot}"
            return self.name
        raise AssertionError("unreachable")  # pragma: no cover

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
        self._fd = None
        self.name = None


def _database_identity(sessions: async_sessionmaker[AsyncSession]) -> str:
    engine = sessions.kw.get("bind")
    if not isinstance(engine, AsyncEngine):
        return ""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return f"sqlite:{os.path.abspath(url.database)}"
    return url.render_as_string(hide_password=True)


class PushWorker:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        http: httpx.AsyncClient,
        settings: PushSettings,
        *,
        worker_id: str | None = None,
        clock: Callable[[], datetime] = utc_now,
        slot_directory: Path | None = None,
    ) -> None:
        """``worker_id`` pins the name recorded on claims (tests); by default the worker takes
        a :class:`WorkerSlot` when it starts."""
        self.sessions = session_factory
        self.http = http
        self.settings = settings
        self.policy = policy_from(settings)
        self.clock = clock
        self.lease = timedelta(seconds=settings.lease_seconds)
        self._slot = (
            None
            if worker_id is not None
            else WorkerSlot(
                settings.node_name or socket.gethostname()[:48],
                _database_identity(session_factory),
                slot_directory,
            )
        )
        self._name = worker_id
        self._started = False
        self._wakeup = asyncio.Event()
        self.totals = WorkerTotals()

    @property
    def worker_id(self) -> str:
        """The name recorded on this worker's claims (known once it started)."""
        if self._name is None:
            if self._slot is None:  # pragma: no cover - a worker has a pinned name or a slot
                raise RuntimeError("push worker without a name")
            self._name = self._slot.acquire()
        return self._name

    def _service(self, session: AsyncSession) -> PushService:
        return PushService(session, self.policy, clock=self.clock)

    async def start(self) -> None:
        """Take the worker's name and give back the claims a dead process left under it."""
        if self._started:
            return
        name = self.worker_id
        async with session_scope(self.sessions) as session:
            released = await self._service(session).release_claims(name)
        self._started = True
        self.totals.worker = name
        if released:
            logger.warning(
                "push worker %s: gave back %s jobs claimed by its dead predecessor", name, released
            )

    def close(self) -> None:
        """Free the worker's slot (it holds no claims between rounds)."""
        if self._slot is not None:
            self._slot.release()
            self._name = None
        self._started = False

    def wake(self) -> None:
        """Look for work now instead of at the next poll (a change was just committed here)."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; errors are logged and the loop goes on.

        Each partner's part of a round is sent and recorded on its own, and rounds overlap:
        while one partner's part waits for its answers, the next round is claimed for the others
        (a partner with a part in flight is left out of new claims), so one partner's latency
        never holds back the deliveries to the rest. Order within a queue is kept by
        the claims themselves (a queue's next job is not due while its head is claimed).
        """
        rounds: dict[asyncio.Task[None], frozenset[int]] = {}
        finished = asyncio.Event()

        def ended(task: asyncio.Task[None]) -> None:
            rounds.pop(task, None)
            finished.set()

        try:
            await self.start()
            logger.info("push worker %s started", self.worker_id)
            while not stop.is_set():
                self._wakeup.clear()  # a wake-up from now on means work after this claim
                finished.clear()
                busy = frozenset().union(*rounds.values())
                try:
                    claimed = await self._claim(exclude=busy)
                except Exception:
                    logger.exception("push worker %s: claiming a round failed", self.worker_id)
                    claimed = None
                if claimed is not None:
                    for part in claimed.per_partner():
                        task = asyncio.create_task(self._complete_logged(part))
                        rounds[task] = part.partners
                        task.add_done_callback(ended)
                    continue  # more may be due for partners without a round in flight
                await self._idle(stop, finished)
            logger.info("push worker %s stopped", self.worker_id)
        finally:
            if rounds:
                await asyncio.gather(*rounds, return_exceptions=True)
            self.close()

    async def _idle(self, stop: asyncio.Event, finished: asyncio.Event) -> None:
        """Wait for the poll interval, a wake-up, the end of a round in flight (its partners
        may have more due) or the stop signal, whichever comes first; after a wake-up,
        ``wake_delay_seconds`` more (see there): the changes committed meanwhile share the
        round. The end of a round claims at once: its partner's next jobs are usually due
        already (a burst), and a claim costs a few milliseconds."""
        await until_any(stop, self._wakeup, finished, at_most=self.settings.poll_interval_seconds)
        woken = self._wakeup.is_set() and not finished.is_set()
        if woken and not stop.is_set() and self.settings.wake_delay_seconds > 0:
            await until_any(stop, at_most=self.settings.wake_delay_seconds)

    async def run_once(self) -> int:
        """One round: claim what is sent at once, send it while renewing the claims, record.

        Returns the number of jobs handled.
        """
        claimed = await self._claim()
        if claimed is None:
            return 0
        await self._complete(claimed)
        return len(claimed.jobs)

    async def _claim(self, exclude: frozenset[int] = frozenset()) -> _Round | None:
        """Claim and plan a round (in one short transaction: a failed plan claims nothing),
        leaving out the partners in ``exclude``; None when nothing is due for the others."""
        await self.start()
        async with session_scope(self.sessions) as session:
            jobs = await self._service(session).claim(
                self.worker_id,
                limit=self.settings.batch_size,
                per_partner=self.settings.max_in_flight_per_partner,
                lease=self.lease,
                exclude_partners=exclude,
            )
            if not jobs:
                return None
            deliveries, nothing_to_send = await self._plan(session, jobs)
            deliveries = await self._hold(session, deliveries)
        self.totals.rounds += 1
        self.totals.jobs += len(jobs)
        ours = self._sent(deliveries, nothing_to_send)
        return _Round(
            [job for job in jobs if job.id in ours],
            deliveries,
            nothing_to_send,
            frozenset(job.partner_id for job in jobs),
        )

    async def _complete_logged(self, claimed: _Round) -> None:
        try:
            await self._complete(claimed)
        except Exception:
            logger.exception("push worker %s: delivery round failed", self.worker_id)

    async def _complete(self, claimed: _Round) -> None:
        """Send a claimed round while renewing its claims, and record the outcomes."""
        jobs, deliveries = claimed.jobs, claimed.deliveries
        done = asyncio.Event()
        renewer = asyncio.create_task(self._renew_until(done, [job.id for job in jobs]))
        try:
            outcomes = await self._send_all(deliveries)
            names = {d.job.partner_id: d.partner.name for d in deliveries}
            await self._record(claimed.nothing_to_send, outcomes, names)
        except BaseException:
            done.set()
            await asyncio.shield(renewer)
            with contextlib.suppress(Exception):
                await self._release([job.id for job in jobs])
            raise
        done.set()
        await renewer

    @staticmethod
    def _sent(deliveries: Sequence[Delivery], nothing: Sequence[ClaimedJob]) -> set[int]:
        """The jobs of a round that are still ours once some were held."""
        return {d.job.id for d in deliveries} | {job.id for job in nothing}

    async def _hold(self, session: AsyncSession, deliveries: list[Delivery]) -> list[Delivery]:
        """Hold the deliveries whose receiver party their partner (a hub) reports unreachable
        (``hub.services.hub_client_info``); returns the deliveries to send now. One the hub
        reported CONNECTED since the round was planned is sent."""
        by_party: dict[tuple[int, Party], list[Delivery]] = {}
        for delivery in deliveries:
            party = _receiver_party(delivery)
            if party is not None and party in delivery.unreachable:
                by_party.setdefault((delivery.job.partner_id, party), []).append(delivery)
        if not by_party:
            return deliveries
        service = HubClientInfoService(session, clock=self.clock)
        held: set[int] = set()
        for (partner_id, party), items in by_party.items():
            ids = await service.hold([d.job.id for d in items], self.worker_id, partner_id, party)
            held.update(ids)
            if ids:
                logger.info(
                    "push to partner %r held: it reports %s unreachable (%s jobs)",
                    items[0].partner.name,
                    f"{party[0]}*{party[1]}",
                    len(ids),
                )
        self.totals.held += len(held)
        return [d for d in deliveries if d.job.id not in held]

    async def _renew_until(self, done: asyncio.Event, job_ids: list[int]) -> None:
        """Renew the round's claims every third of the lease until ``done`` is set."""
        interval = self.settings.lease_seconds / 3
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), interval)
            if done.is_set():
                return
            try:
                async with session_scope(self.sessions) as session:
                    await self._service(session).renew(job_ids, self.worker_id, lease=self.lease)
            except Exception:
                logger.exception("push worker %s: renewing claims failed", self.worker_id)

    async def _release(self, job_ids: list[int]) -> None:
        async with session_scope(self.sessions) as session:
            await self._service(session).release(job_ids, self.worker_id)

    async def _plan(
        self, session: AsyncSession, jobs: Sequence[ClaimedJob]
    ) -> tuple[list[Delivery], list[ClaimedJob]]:
        deliveries: list[Delivery] = []
        nothing: list[ClaimedJob] = []
        targets = await self._targets(session, {job.partner_id for job in jobs})
        location_ids = {
            str(job.target["location_id"]) for job in jobs if job.kind.module == "locations"
        }
        views = await LocationService(session).views_by_ids(sorted(location_ids))
        tariffs = TariffService(session)
        sessions = SessionService(session, codec=OcpiTariffCodec())
        await sessions.preload(
            [int(job.target["session"]) for job in jobs if job.kind.module == "sessions"],
            [int(job.target["cdr"]) for job in jobs if job.kind is JobKind.CDR_POST],
        )
        for job in jobs:
            target = targets.get(job.partner_id)
            delivery = None
            if target is not None:
                delivery = await self._delivery(job, target, views, tariffs, sessions)
            if delivery is None:
                nothing.append(job)
            else:
                deliveries.append(delivery)
        return deliveries, nothing

    async def _targets(
        self, session: AsyncSession, partner_ids: set[int]
    ) -> dict[int, PartnerTarget]:
        service = PartnerService(session)
        unreachable = await HubClientInfoService(session).unreachable_parties(partner_ids)
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
            targets[partner_id] = PartnerTarget(
                partner, endpoints, party, scope, unreachable.get(partner_id, frozenset())
            )
        return targets

    async def _delivery(
        self,
        job: ClaimedJob,
        target: PartnerTarget,
        views: dict[str, LocationView],
        tariffs: TariffService,
        sessions: SessionService,
    ) -> Delivery | None:
        """What to send for ``job``, or None when there is nothing (object gone, not visible to
        this partner, or made only of connectors this partner does not receive)."""
        t = job.target
        keys = (str(t["country_code"]), str(t["party_id"]))
        routing = RoutingHeaders(sender=PartyRef(*keys), receiver=target.party)
        if job.kind is JobKind.COMMAND_RESULT:
            return await self._command_result(job, target, routing, sessions.session)
        if job.kind is JobKind.ACTIVE_PROFILE_PUT:
            put = await active_profile_put(
                sessions.session, target.partner, target.scope, int(t["session"])
            )
            return Delivery(job, "PUT", *put, routing, target.partner) if put else None
        base = target.endpoints.get(job.kind.module)
        if base is None:
            return None
        if job.kind.module in {"sessions", "cdrs"}:
            return await self._session_delivery(job, target, base, routing, sessions)
        if job.kind.module == "tariffs":
            tariff_id = str(t["tariff_id"])
            url = _join(base, *keys, tariff_id)
            if job.kind is JobKind.TARIFF_DELETE:
                return Delivery(
                    job, "DELETE", url, None, routing, target.partner, target.unreachable
                )
            row: Tariff | None = await tariffs.get(*keys, tariff_id)
            # Checked again when sending: visibility may have changed since the job was queued.
            if row is None or not target.scope.may_see(await tariffs.audience(row)):
                return None
            body = mappers.tariff_model(row).to_wire()
            return Delivery(job, "PUT", url, body, routing, target.partner, target.unreachable)
        view = views.get(str(t["location_id"]))
        if view is None or not _visible(view, target):
            return None
        url = _join(base, *keys, view.location.location_id)
        if job.kind is JobKind.LOCATION_PUT:
            model = mappers.location_for_partner(view.location, view.evses, target.nacs_mode)
            return Delivery(
                job, "PUT", url, model.to_wire(), routing, target.partner, target.unreachable
            )
        evse = next((e for e in view.evses if e.uid == t["evse_uid"]), None)
        if evse is None or mappers.evse_for_partner(evse, target.nacs_mode) is None:
            return None
        url = _join(url, evse.uid)
        if job.kind is JobKind.EVSE_PATCH:
            body = mappers.evse_status_patch(evse).to_wire()
            return Delivery(job, "PATCH", url, body, routing, target.partner, target.unreachable)
        connector = mappers.connector_for_partner(evse, str(t["connector_id"]), target.nacs_mode)
        if connector is None:
            return None
        body = mappers.connector_tariffs_patch(connector).to_wire()
        return Delivery(
            job,
            "PATCH",
            _join(url, connector.id),
            body,
            routing,
            target.partner,
            target.unreachable,
        )

    async def _session_delivery(
        self,
        job: ClaimedJob,
        target: PartnerTarget,
        base: str,
        routing: RoutingHeaders,
        sessions: SessionService,
    ) -> Delivery | None:
        """A session or CDR for the eMSP of its token, checked again against the partner's
        scope when sent (``PartyScope.owns``): nobody else ever gets one. Its receiver (the
        ``OCPI-to-*`` party) is the token's party: on a platform or hub carrying several
        parties, the one the session belongs to."""
        unreachable = target.unreachable
        if job.kind is JobKind.CDR_POST:
            cdr = await sessions.cdr(int(job.target["cdr"]))
            if cdr is None or cdr.partner_id != job.partner_id:
                return None
            if not target.scope.owns(cdr.token_country_code, cdr.token_party_id):
                return None
            routing = _to(routing, cdr.token_country_code, cdr.token_party_id)
            body = cdr_model(cdr).to_wire()
            return Delivery(job, "POST", base, body, routing, target.partner, unreachable)
        row = await sessions.get(int(job.target["session"]))
        if row is None or row.partner_id != job.partner_id:
            return None
        if not target.scope.owns(row.token_country_code or "", row.token_party_id or ""):
            return None
        routing = _to(routing, row.token_country_code or "", row.token_party_id or "")
        url = _join(base, row.country_code, row.party_id, row.session_id)
        if job.kind is JobKind.SESSION_PUT:
            body = session_model(row).to_wire()
            return Delivery(job, "PUT", url, body, routing, target.partner, unreachable)
        body = session_patch(row).to_wire()
        return Delivery(job, "PATCH", url, body, routing, target.partner, unreachable)

    async def _command_result(
        self,
        job: ClaimedJob,
        target: PartnerTarget,
        routing: RoutingHeaders,
        session: AsyncSession,
    ) -> Delivery | None:
        """A command's result, to the ``response_url`` of the eMSP that sent the command."""
        row = await CommandService(session).get(int(job.target["command"]))
        if row is None or row.partner_id != job.partner_id or row.result is None:
            return None
        if "result" in job.target:  # a later word on it: a reservation we cancelled
            body = cancellation_model(str(job.target["result"]), job.target.get("message"))
        else:
            body = command_result_model(row).to_wire()
        return Delivery(job, "POST", row.response_url, body, routing, target.partner)

    async def _send_all(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        by_partner: dict[int, list[Delivery]] = {}
        for delivery in deliveries:
            by_partner.setdefault(delivery.job.partner_id, []).append(delivery)
        results = await asyncio.gather(
            *(self._send_partner(items) for items in by_partner.values())
        )
        return [outcome for batch in results for outcome in batch]

    async def _send_partner(self, deliveries: list[Delivery]) -> list[Outcome]:
        partner = deliveries[0].partner  # as read when the round was planned
        if partner.outbound_token is None:
            return [Outcome(d.job, error="partner has no credentials") for d in deliveries]
        client = PartnerClient(
            self.http, token=partner.outbound_token, encoding=TokenEncoding(partner.token_encoding)
        )
        limit = asyncio.Semaphore(self.settings.max_in_flight_per_partner)

        async def send(delivery: Delivery) -> Outcome:
            method = delivery.method
            async with limit:
                try:
                    _, response = await client.call(
                        method, delivery.url, body=delivery.body, routing=delivery.routing
                    )
                except PartnerHttpError as exc:
                    failure = classify_failure(method, http_status=exc.response_status)
                    return Outcome(delivery.job, exc.message, failure)
                except PartnerRejected as exc:
                    failure = classify_failure(method, ocpi_status=exc.partner_status_code)
                    return Outcome(delivery.job, exc.message, failure)
                except OcpiClientError as exc:  # unreachable, or an answer that is not OCPI
                    return Outcome(delivery.job, exc.message, Failure.TRANSIENT)
                return Outcome(delivery.job, location=response.headers.get("Location"))

        return list(await asyncio.gather(*(send(d) for d in deliveries)))

    async def _record(
        self,
        nothing: Sequence[ClaimedJob],
        outcomes: Sequence[Outcome],
        names: dict[int, str],
    ) -> None:
        """``names``: the name of each partner sent to, for the log."""

        def partner(partner_id: int) -> str:
            return repr(names.get(partner_id, f"#{partner_id}"))

        done = [o.job.id for o in outcomes if o.error is None]
        async with session_scope(self.sessions) as session:
            service = self._service(session)
            if nothing:  # not sent at all: no news of the partner's health
                await service.delivered([job.id for job in nothing], self.worker_id, answered=False)
            recovered = await service.delivered(done, self.worker_id) if done else []
            cdrs = SessionService(session, codec=OcpiTariffCodec())
            commands = CommandService(session)
            for outcome in outcomes:
                if outcome.error is None and outcome.job.kind is JobKind.CDR_POST:
                    await cdrs.cdr_delivered(
                        int(outcome.job.target["cdr"]), location_url=outcome.location
                    )
                elif outcome.error is None and outcome.job.kind is JobKind.COMMAND_RESULT:
                    await commands.result_sent(int(outcome.job.target["command"]))
            for outcome in outcomes:
                if outcome.error is None:
                    continue
                job = outcome.job
                if outcome.failure is Failure.UNKNOWN_OBJECT:
                    await self._put_instead(session, service, job, partner(job.partner_id))
                    continue
                rejected = outcome.failure is Failure.REJECTED
                logger.warning(
                    "push %s %s to partner %s %s (attempt %s): %s",
                    job.kind,
                    job.target,
                    partner(job.partner_id),
                    "refused for good" if rejected else "failed",
                    job.attempts + 1,
                    outcome.error,
                )
                if await service.failed(job.id, self.worker_id, outcome.error, rejected=rejected):
                    logger.error(
                        "partner %s degraded after repeated push failures: %s",
                        partner(job.partner_id),
                        outcome.error,
                    )
            # In the transaction that records the recovery: one resync per recovery, and none
            # lost if the process dies right after.
            for partner_id in recovered:
                try:
                    queued = await SyncService(session).resync(partner_id)
                except InvalidState as exc:
                    logger.warning(
                        "partner %s reachable again, not resynchronised: %s",
                        partner(partner_id),
                        exc,
                    )
                    continue
                logger.warning(
                    "partner %s reachable again: resynchronising (%s PUTs)",
                    partner(partner_id),
                    queued,
                )
        # Counted once the outcomes are committed.
        failures = Counter(o.failure for o in outcomes if o.error is not None)
        self.totals.nothing_to_send += len(nothing)
        self.totals.delivered += len(done)
        self.totals.failed += failures[Failure.TRANSIENT]
        self.totals.rejected += failures[Failure.REJECTED]
        self.totals.sent_as_put += failures[Failure.UNKNOWN_OBJECT]
        self._measure(outcomes, names)

    def _measure(self, outcomes: Sequence[Outcome], names: dict[int, str]) -> None:
        now = self.clock()
        for outcome in outcomes:
            job = outcome.job
            partner = names.get(job.partner_id, f"#{job.partner_id}")
            if outcome.error is None:
                result = "delivered"
                seconds = (now - job.enqueued_at).total_seconds()
                metrics.PUSH_DELIVERY_SECONDS.labels(partner).observe(max(0.0, seconds))
            else:
                result = "failed" if outcome.failure is Failure.TRANSIENT else "rejected"
            metrics.PUSH_DELIVERIES.labels(partner, job.kind.module, result).inc()

    async def _put_instead(
        self, session: AsyncSession, service: PushService, job: ClaimedJob, partner: str
    ) -> None:
        logger.info("partner %s lacks %s: sending the whole object", partner, job.target)
        if not await service.superseded(job.id, self.worker_id):
            return
        change: Change | None
        if job.kind.module == "sessions":
            sessions = SessionService(session, codec=OcpiTariffCodec(), push=service)
            row = await sessions.get(int(job.target["session"]))
            change = await sessions.put_change(row) if row is not None else None
        else:
            change = await LocationService(session, service).put_change(
                str(job.target["location_id"])
            )
        if change is not None:
            await service.fanout([change], only=job.partner_id)


def _visible(view: LocationView, target: PartnerTarget) -> bool:
    return target.scope.may_see(view.audience)


def _to(routing: RoutingHeaders, country_code: str, party_id: str) -> RoutingHeaders:
    return RoutingHeaders(sender=routing.sender, receiver=PartyRef(country_code, party_id))


def _receiver_party(delivery: Delivery) -> Party | None:
    receiver = delivery.routing.receiver
    return (receiver.country_code, receiver.party_id) if receiver is not None else None
