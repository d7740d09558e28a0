"""The free public data feed: OCPI 2.2.1 Locations and Tariffs for anyone, without a token.

23 CFR 680.116(c) asks that station and port data, real-time status and real-time price be
available free of charge to third-party software developers, in OCPI 2.2.1 terms. This router
serves, read-only and unauthenticated:

* ``GET {path}/2.2.1/locations`` and ``GET {path}/2.2.1/locations/{location_id}``: Location
  objects with their EVSEs (status) and Connectors (``tariff_ids``), as the Locations Sender
  interface answers them (``mod_locations.asciidoc``);
* ``GET {path}/2.2.1/tariffs``: Tariff objects, as the Tariffs Sender interface does
  (``mod_tariffs.asciidoc``).

The answers are the Sender interface's: the response envelope, pagination with ``offset``,
``limit``, ``date_from``, ``date_to`` and ``X-Total-Count``, ``X-Limit``, ``Link``
(``transport_and_format.asciidoc``), unknown locations 2003 with HTTP 404. What is visible is
the host's decision: the ports are the same :class:`~ocpi.v221.ports.LocationsSenderPort` and
:class:`~ocpi.v221.ports.TariffsSenderPort`, called with :data:`ANONYMOUS`, a client that owns
no party. There are no routing headers (nobody is addressed) and no writes: any other method is
HTTP 405 with ``Allow``.

HTTP caching (RFC 9110, RFC 9111): every answer carries ``Cache-Control: public, max-age=N`` and
an ``ETag``, a hash of the body without its ``timestamp`` (which changes with every response),
hence a weak validator (``W/"..."``); a request whose ``If-None-Match`` names it is answered 304
without a body. Errors carry ``Cache-Control: no-store``. Answers allow any origin (CORS), so
browser applications may read them.

A per-client rate limit (:class:`RateLimiter`, a token bucket per address) answers HTTP 429
with ``Retry-After`` and an OCPI envelope.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ocpi.envelope import PageRequest, pagination_headers, success_envelope
from ocpi.errors import LocationNotFound, TooManyRequests, quote_input
from ocpi.types import is_cistring
from ocpi.v221.ports import (
    ClientIdentity,
    LocationsSenderPort,
    Page,
    SenderQuery,
    TariffsSenderPort,
)
from ocpi.v221.server.common import exception_handlers, message_ids_middleware

__all__ = [
    "ANONYMOUS",
    "CACHE_CONTROL",
    "ETAG",
    "PublicFeed",
    "PublicFeedConfig",
    "RateLimit",
    "RateLimiter",
    "build_public_router",
    "etag_of",
    "if_none_match",
]

ETAG = "ETag"
CACHE_CONTROL = "Cache-Control"

ANONYMOUS = ClientIdentity(
    client_id="", name="public", token="", registered=False, active=True, parties=()
)
"""The client of the public feed: anyone, owning no party, so it sees only public data."""

_EXPOSED = "ETag, Link, X-Total-Count, X-Limit, Retry-After, X-Request-ID, X-Correlation-ID"
_ID_LENGTH = 36


@dataclass(frozen=True, slots=True)
class RateLimit:
    """Requests one client may make: ``per_hour`` on average, ``burst`` in a row."""

    per_hour: int
    burst: int


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per client key (its address), kept in this process's memory.

    Each client starts with ``burst`` requests; they come back at ``per_hour / 3600`` per
    second, up to ``burst``. Several processes each keep their own buckets, so a client
    balanced over N processes gets up to N times the rate. At most ``max_clients`` buckets are
    kept: beyond that, the buckets that have filled up again are forgotten (a forgotten client
    starts full, which it would be anyway), then the longest idle ones.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        """``clock``: seconds, only differences matter (tests drive it)."""
        self.limit = limit
        self._rate = limit.per_hour / 3600.0
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, _Bucket] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> RateLimiter:
        # Litestar deep-copies routers, guards included: the buckets must stay one set.
        return self

    def take(self, key: str) -> float | None:
        """Spend one request of ``key``: None if allowed, else the seconds until one is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_clients:
                self._forget(now)
            bucket = self._buckets[key] = _Bucket(float(self.limit.burst), now)
        else:
            # A clock that went back (the wall clock corrected) refills nothing.
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(float(self.limit.burst), bucket.tokens + elapsed * self._rate)
            bucket.stamp = max(bucket.stamp, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / self._rate

    def _forget(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + max(0.0, now - bucket.stamp) * self._rate >= self.limit.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self._max_clients:
            idle = sorted(self._buckets, key=lambda key: self._buckets[key].stamp)
            for key in idle[: len(self._buckets) - self._max_clients + 1]:
                del self._buckets[key]

    async def guard(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        """Litestar guard: HTTP 429 with ``Retry-After`` when the client's bucket is empty.

        The client is the connection's address: behind a reverse proxy, the server must take it
        from the proxy's headers (uvicorn ``--proxy-headers``, ``--forwarded-allow-ips``).
        """
        key = connection.client.host if connection.client else "unknown"
        wait = self.take(key)
        if wait is not None:
            raise TooManyRequests(
                f"Rate limit of {self.limit.per_hour} requests per hour exceeded;"
                f" retry in {math.ceil(wait)} s",
                retry_after=math.ceil(wait),
            )


@dataclass(frozen=True, slots=True)
class PublicFeedConfig:
    """Deployment facts of the public feed.

    Attributes:
        base_url: public URL of the feed's root as clients reach it (``https://host/public``);
            ``Link`` headers are built on it.
        max_page_limit: server maximum for the paginated GETs, reported in ``X-Limit``.
        max_age_seconds: ``Cache-Control`` max-age of every answer: a client that honours it
            sees a change of status or price at most this many seconds late.
    """

    base_url: str
    max_page_limit: int = 100
    max_age_seconds: int = 10

    def module_url(self, module: str) -> str:
        """URL of a module of the feed, e.g. ``{base_url}/2.2.1/locations``."""
        return f"{self.base_url.rstrip('/')}/2.2.1/{module}"


@dataclass(frozen=True, slots=True)
class PublicFeed:
    """What the feed serves: the host's Locations and Tariffs Sender ports.

    Both are called with :data:`ANONYMOUS`.
    """

    locations: LocationsSenderPort
    tariffs: TariffsSenderPort


def etag_of(envelope: dict[str, Any], headers: dict[str, str]) -> str:
    """A weak ETag: SHA-256 of the envelope without its ``timestamp``, and of ``headers``.

    The pagination headers count: a page whose total or next link changed is another answer.
    """
    content = {k: v for k, v in envelope.items() if k != "timestamp"}
    encoded = json.dumps(
        [content, sorted(headers.items())],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode()
    return f'W/"{hashlib.sha256(encoded).hexdigest()[:32]}"'


def if_none_match(header: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag``, by weak comparison (RFC 9110 §13.1.2)."""
    if not header:
        return False
    opaque = etag.removeprefix("W/")
    for listed in header.split(","):
        candidate = listed.strip()
        if candidate == "*" or candidate.removeprefix("W/") == opaque:
            return True
    return False


def _cacheable(
    request: Request[Any, Any, Any],
    config: PublicFeedConfig,
    data: Any,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    extra = headers or {}
    envelope = success_envelope(data)
    tag = etag_of(envelope, extra)
    answer_headers = {
        **extra,
        ETAG: tag,
        CACHE_CONTROL: f"public, max-age={config.max_age_seconds}",
    }
    if if_none_match(request.headers.get("If-None-Match"), tag):
        return Response(content=b"", status_code=304, headers=answer_headers)
    return Response(envelope, headers=answer_headers)


def _page_headers(
    request: Request[Any, Any, Any],
    config: PublicFeedConfig,
    module: str,
    query: PageRequest,
    page: Page[Any],
) -> dict[str, str]:
    url = config.module_url(module)
    if request.url.query:
        url = f"{url}?{request.url.query}"
    return pagination_headers(
        url,
        offset=query.offset,
        limit=query.limit,
        total=page.total,
        max_limit=config.max_page_limit,
    )


def _page_request(request: Request[Any, Any, Any], config: PublicFeedConfig) -> PageRequest:
    return PageRequest.from_query(dict(request.query_params), max_limit=config.max_page_limit)


def _items(page: Page[Any]) -> Sequence[Any]:
    return list(page.items)


class PublicLocationsController(Controller):
    """Public Locations: the Locations Sender GETs of the list and of one Location."""

    path = "/2.2.1/locations"
    tags = ["public feed"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getPublicLocations", summary="Public Locations, paginated")
    async def list_locations(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[PublicFeed],
        feed_config: NamedDependency[PublicFeedConfig],
    ) -> Response[Any]:
        """Every published Location, oldest ``last_updated`` first, paginated."""
        query = _page_request(request, feed_config)
        page = await feed.locations.list_locations(ANONYMOUS, SenderQuery(page=query))
        headers = _page_headers(request, feed_config, "locations", query, page)
        return _cacheable(request, feed_config, _items(page), headers)

    @get("/{location_id:str}", operation_id="getPublicLocation", summary="One public Location")
    async def get_location(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[PublicFeed],
        feed_config: NamedDependency[PublicFeedConfig],
        location_id: FromPath[str],
    ) -> Response[Any]:
        """One published Location; anything else (unknown, unpublished) is 2003 with 404."""
        unknown = LocationNotFound(f"Unknown location {quote_input(location_id)}")
        if not is_cistring(location_id, _ID_LENGTH):
            raise unknown
        try:
            location = await feed.locations.get_location(ANONYMOUS, location_id, None)
        except LocationNotFound:
            raise unknown from None
        return _cacheable(request, feed_config, location)


class PublicTariffsController(Controller):
    """Public Tariffs: the Tariffs Sender GET."""

    path = "/2.2.1/tariffs"
    tags = ["public feed"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(operation_id="getPublicTariffs", summary="Public Tariffs, paginated")
    async def list_tariffs(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[PublicFeed],
        feed_config: NamedDependency[PublicFeedConfig],
    ) -> Response[Any]:
        """The Tariffs the published Locations reference (and those nobody references)."""
        query = _page_request(request, feed_config)
        page = await feed.tariffs.list_tariffs(ANONYMOUS, SenderQuery(page=query))
        headers = _page_headers(request, feed_config, "tariffs", query, page)
        return _cacheable(request, feed_config, _items(page), headers)


def _public_headers_middleware(app: ASGIApp) -> ASGIApp:
    """Any origin may read the feed (CORS); an answer without caching headers is not stored.

    Those are errors: a problem fixed since must not be served from a cache.
    """

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["Access-Control-Allow-Origin"] = "*"
                headers["Access-Control-Expose-Headers"] = _EXPOSED
                if CACHE_CONTROL.lower() not in {k.lower() for k in headers.keys()}:  # noqa: SIM118
                    headers[CACHE_CONTROL] = "no-store"
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


def build_public_router(
    feed: PublicFeed,
    config: PublicFeedConfig,
    *,
    limiter: RateLimiter | None = None,
    path: str = "/public",
) -> Router:
    """The public feed's router: no authentication, GET only, rate-limited by ``limiter``."""
    return Router(
        path=path,
        route_handlers=[PublicLocationsController, PublicTariffsController],
        guards=[limiter.guard] if limiter is not None else [],
        dependencies={
            "feed": Provide(lambda: feed, sync_to_thread=False, use_cache=True),
            "feed_config": Provide(lambda: config, sync_to_thread=False, use_cache=True),
        },
        exception_handlers=exception_handlers,
        middleware=[message_ids_middleware, _public_headers_middleware],
    )
