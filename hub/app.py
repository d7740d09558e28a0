"""Composition root: ``create_app(settings)`` wires persistence, the roaming adapter and the OCPI
router into one Litestar application. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from litestar import Litestar, Response, Router, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub import logs
from hub.config import PublicFeedSettings, Settings
from hub.domain.assets import NacsMode
from hub.domain.contract_certificates import NoContractCertificateValidation
from hub.ocpp.authorization import IdTokenAuthorizer
from hub.ocpp.bridge import Bridge
from hub.ocpp.command_runner import CommandRunner
from hub.ocpp.commands import StationCommands, internal_calls_endpoint
from hub.ocpp.local_lists import LocalListSync
from hub.ocpp.server import StationRegistry, ocpp_endpoint, sweep_forever
from hub.ocpp.transactions import Transactions
from hub.persistence.base import utc_now
from hub.persistence.group_commit import GroupCommit
from hub.persistence.notifications import (
    COMMANDS_CHANNEL,
    PUSH_CHANNEL,
    STATION_CREDENTIALS_CHANNEL,
    DatabaseNotifications,
)
from hub.persistence.session import create_engine, create_session_factory, dispose_engine
from hub.roaming.authorization import RealTimeAuthorizer
from hub.roaming.charging_profiles import PartnerChargingProfiles
from hub.roaming.commands import PartnerCommands
from hub.roaming.handshake import CredentialsHandshake
from hub.roaming.http import partner_http_client
from hub.roaming.ports import build_ports
from hub.roaming.pricing import OcpiTariffCodec
from hub.roaming.public_feed import build_public_feed
from hub.roaming.push import PushWorker
from hub.roaming.token_pull import TokenPuller
from hub.services import metrics
from hub.services.overview import Overview, OverviewService
from ocpi.auth import TokenEncoding
from ocpi.headers import X_REQUEST_ID, new_message_id
from ocpi.v221.ports import AuthenticationPort, ClientIdentity, OcpiPorts
from ocpi.v221.server.common import ServerConfig, exception_handlers
from ocpi.v221.server.openapi import DescribedOpenAPIJson, describe_interfaces
from ocpi.v221.server.public import PublicFeedConfig, RateLimit, RateLimiter, build_public_router
from ocpi.v221.server.router import build_router

logger = logging.getLogger(__name__)

OPENAPI_TITLE = "OCPI hub: OCPI 2.2.1 CPO interfaces"
OPENAPI_VERSION = "2.2.1"


@get("/health", include_in_schema=False, sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


def metrics_endpoint(
    sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime]
) -> HTTPRouteHandler:
    """``GET /metrics``: Prometheus text of this process's metrics (all processes' in
    multiprocess mode) and the database gauges read now (``hub.services.metrics``). Without
    authentication: operators keep it off the public listener (``HUB_METRICS__ENABLED``)."""

    @get("/metrics", include_in_schema=False, name="metrics")
    async def prometheus_metrics() -> Response[bytes]:
        overview: Overview | None
        try:
            async with sessions() as session:
                overview = await OverviewService(session, clock=clock).overview()
        except Exception:
            # The process metrics are what an operator needs most when the database is down.
            logger.exception("/metrics: the database gauges could not be read")
            overview = None
        return Response(
            metrics.exposition(metrics.database_collector(overview)),
            media_type=metrics.CONTENT_TYPE,
        )

    return prometheus_metrics


_REQUEST_ID_HEADER = X_REQUEST_ID.lower().encode("latin-1")


def log_context_middleware(app: ASGIApp) -> ASGIApp:
    """Every log line of an HTTP request carries its request id (``hub.logs``), uvicorn's
    access line included (uvicorn logs it from inside our ``send``).

    A request without ``X-Request-ID`` gets one here, added to its headers, so the id in the
    log is the one the OCPI layer echoes in the response.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k.lower() == _REQUEST_ID_HEADER),
            None,
        )
        if not request_id:
            request_id = new_message_id()
            scope["headers"] = [*scope["headers"], (_REQUEST_ID_HEADER, request_id.encode())]
        # The partner is bound by the authentication below, for this request only.
        with logs.bound(logs.request_id, request_id), logs.bound(logs.partner, None):
            await app(scope, receive, send)

    return middleware


class LoggedAuthentication:
    """The OCPI authentication port, naming the authenticated partner in the request's log
    lines (``hub.logs.partner``; ``log_context_middleware`` scopes it to the request)."""

    def __init__(self, inner: AuthenticationPort) -> None:
        self._inner = inner

    async def authenticate(self, candidates: Mapping[TokenEncoding, str]) -> ClientIdentity | None:
        client = await self._inner.authenticate(candidates)
        if client is not None:
            logs.partner.set(client.name)
        return client


def _logged(ports: OcpiPorts) -> OcpiPorts:
    return dataclasses.replace(ports, authentication=LoggedAuthentication(ports.authentication))


def public_feed_router(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
) -> Router:
    """The free public data feed (``ocpi.v221.server.public``) at ``/public``: the OCPI package
    serves it through the same Sender ports and mappers as the partners' GETs, answered for the
    public (``hub.roaming.public_feed``); rate-limited on ``clock``."""
    feed: PublicFeedSettings = settings.public_feed
    limiter = RateLimiter(
        RateLimit(per_hour=feed.rate_limit_per_hour, burst=feed.rate_limit_burst),
        clock=lambda: clock().timestamp(),
    )
    return build_public_router(
        build_public_feed(sessions, NacsMode(feed.nacs_mode)),
        PublicFeedConfig(
            base_url=f"{settings.public_url}/public",
            max_page_limit=settings.ocpi.max_page_limit,
            max_age_seconds=feed.max_age_seconds,
        ),
        limiter=limiter,
    )


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Litestar:
    """Build the application. ``engine`` and ``http`` may be injected (tests); they are disposed
    on shutdown only when created here. ``clock`` is "now" for the OCPP bridge (login backoff,
    station liveness) and the token puller (leases, delta dates), injected by tests that must
    not sleep."""
    own_engine = engine is None
    own_http = http is None
    engine = engine or create_engine(
        settings.database.url,
        echo=settings.database.echo,
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
    )
    http = http or partner_http_client(settings)
    sessions: async_sessionmaker[AsyncSession] = create_session_factory(engine)
    puller = (
        TokenPuller(sessions, http, settings.token_pull, clock=clock)
        if settings.token_pull.enabled
        else None
    )
    handshake = CredentialsHandshake(
        sessions, http, settings, on_registered=puller.wake if puller is not None else None
    )
    server_config = ServerConfig(
        base_url=f"{settings.public_url}/ocpi",
        max_page_limit=settings.ocpi.max_page_limit,
        max_body_bytes=settings.ocpi.max_body_bytes,
    )
    worker = PushWorker(sessions, http, settings.push) if settings.push.enabled else None
    registry = StationRegistry()
    # The OCPP bridge asks eMSPs through the port only; the roaming adapter answers it.
    authorizer = IdTokenAuthorizer(
        sessions,
        RealTimeAuthorizer(sessions, http, settings.authorization),
        settings.authorization,
        clock=clock,
        # Until the certificate issue: no contract certificate validates (see the port).
        certificates=NoContractCertificateValidation(),
    )
    wake_worker = worker.wake if worker is not None else (lambda: None)
    # One group commit for everything stations report, transactions included.
    group = GroupCommit(
        sessions,
        max_units=settings.ocpp.group_commit_units,
        lanes=settings.ocpp.group_commit_lanes,
        lock_timeout_ms=settings.ocpp.group_commit_lock_timeout_ms,
    )
    transactions = Transactions(
        sessions,
        settings.sessions,
        codec=OcpiTariffCodec(),
        authorizer=authorizer,
        clock=clock,
        on_change=wake_worker,
        group=group,
    )
    bridge = Bridge(
        sessions,
        settings.ocpp,
        node=settings.node_url,
        on_change=wake_worker,
        clock=clock,
        authorizer=authorizer,
        transactions=transactions,
        group=group,
    )
    commands = StationCommands(
        registry,
        sessions,
        http,
        node=settings.node_url,
        internal_token=settings.ocpp.internal_token,
        timeout=settings.ocpp.call_timeout_seconds,
    )
    runner = CommandRunner(
        sessions,
        commands,
        settings.commands,
        clock=clock,
        on_result=wake_worker,
        codec=OcpiTariffCodec(),
    )
    local_lists = LocalListSync(sessions, commands, settings.local_list)
    partner_commands = (
        PartnerCommands(
            sessions, timeouts=settings.commands.timeouts(), on_accepted=runner.wake, clock=clock
        )
        if settings.commands.enabled
        else None
    )
    # Charging profiles are carried out as commands: offered with them, by the same runner.
    partner_profiles = (
        PartnerChargingProfiles(
            sessions, timeouts=settings.commands.timeouts(), on_accepted=runner.wake, clock=clock
        )
        if settings.commands.enabled
        else None
    )
    ports = build_ports(
        sessions, handshake, commands=partner_commands, charging_profiles=partner_profiles
    )
    ocpi_router = build_router(_logged(ports), server_config)
    public = [public_feed_router(settings, sessions, clock)] if settings.public_feed.enabled else []
    if settings.local_list.enabled:
        bridge.on_boot = local_lists.wake
    observability = [metrics_endpoint(sessions, clock)] if settings.metrics.enabled else []

    # Work queued by other processes wakes this one's worker and runner, and a station's
    # password changed anywhere is forgotten here (PostgreSQL).
    woken: dict[str, Callable[[str], None]] = {STATION_CREDENTIALS_CHANNEL: bridge.passwords.forget}
    if worker is not None:
        woken[PUSH_CHANNEL] = _ignoring_payload(worker.wake)
    if settings.commands.enabled and settings.commands.runner:
        woken[COMMANDS_CHANNEL] = _ignoring_payload(runner.wake)
    notifications = (
        DatabaseNotifications(engine, woken) if DatabaseNotifications.applies_to(engine) else None
    )
    if notifications is not None:
        bridge.passwords.live = notifications.listening.is_set

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sweep_forever(bridge, stop), name="ocpp-offline-sweep")]
        if notifications is not None:
            tasks.append(asyncio.create_task(notifications.run(stop), name="db-notifications"))
        if worker is not None:
            tasks.append(asyncio.create_task(worker.run(stop), name="push-worker"))
        if puller is not None:
            tasks.append(asyncio.create_task(puller.run(stop), name="token-puller"))
        if settings.local_list.enabled:
            tasks.append(asyncio.create_task(local_lists.run(stop), name="local-list-sync"))
        if settings.commands.enabled and settings.commands.runner:
            tasks.append(asyncio.create_task(runner.run(stop), name="command-runner"))
        # What is alive once started (modules, compiled statements, settings) lives as long as
        # the process: frozen, it is no longer scanned by every full collection, whose pause
        # otherwise grows with it and lands in the latency of whatever charger is answered then.
        gc.freeze()
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            if bridge.group is not None:
                await bridge.group.close()
            if own_http:
                await http.aclose()
            if own_engine:
                await dispose_engine(engine)

    app = Litestar(
        route_handlers=[
            ocpi_router,
            *public,
            health,
            *observability,
            ocpp_endpoint(bridge, registry),
            internal_calls_endpoint(commands),
        ],
        lifespan=[lifespan],
        middleware=[log_context_middleware],
        # Logging is configured by the process (hub.logs, before migrations and uvicorn);
        # Litestar's default configuration would replace the root handlers and their format.
        logging_config=None,
        # Unknown paths and methods outside any handler still answer with an OCPI envelope.
        exception_handlers=exception_handlers,
        # /schema/openapi.json serves the same described document as `hub openapi` writes.
        openapi_config=OpenAPIConfig(
            title=OPENAPI_TITLE,
            version=OPENAPI_VERSION,
            path="/schema",
            render_plugins=[DescribedOpenAPIJson()],
        ),
    )
    app.state.update(
        settings=settings,
        sessions=sessions,
        handshake=handshake,
        stations=registry,
        commands=commands,
        push_worker=worker,
        token_puller=puller,
        local_lists=local_lists,
        command_runner=runner,
        notifications=notifications,
    )
    return app


def _ignoring_payload(wake: Callable[[], None]) -> Callable[[str], None]:
    def woken(_payload: str) -> None:
        wake()

    return woken


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of our OCPI endpoints, as committed under ``openapi/``."""
    return describe_interfaces(create_app(settings).openapi_schema.to_schema())
