"""The HTTP client the hub calls its partners with.

An ``httpx.AsyncClient`` (the API every caller and ``ocpi.v221.client`` use) over a transport
of our own, :class:`PartnerTransport`: HTTP/1.1 goes through aiohttp's keep-alive pools, HTTP/2
through httpx's own transport for a TLS partner that offers it (ALPN). Measured on this 2-core
machine with the push benchmark's receivers (7 partners, 8 requests in flight each): httpx's
own HTTP/1.1 transport sent 443-461 PATCH/s, httpx over aiohttp 3,959, aiohttp alone 5,732;
httpx's HTTP/1.1 pool costs the CPU a push burst needs.
"""

from __future__ import annotations

import contextlib
import ssl
import time
from collections.abc import Iterator

import aiohttp
import certifi
import httpx

from hub.config import Settings

KEEPALIVE_SECONDS = 4.0
"""Idle pooled connections to partners are closed after this long: under the 5 s idle timeout
of common servers (uvicorn's default), so the hub never reuses a connection just as the partner
closes it. That race showed as ``ReadError('')`` on a session PUT under load, costing the push a
retry backoff."""

HTTP1_REMEMBERED_SECONDS = 600.0
"""How long a TLS origin that answered over HTTP/1.1 is sent HTTP/1.1 directly; after that
one request goes through the HTTP/2-capable transport again (the partner may have enabled it)."""


class PartnerTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to partners through aiohttp, HTTP/2 where a TLS partner offers it.

    A plain ``http://`` partner is HTTP/1.1 (cleartext HTTP/2 needs prior knowledge no partner
    declares). A request to an ``https://`` origin goes through httpx's HTTP/2-capable transport
    until the origin answers over HTTP/1.1; from then on (for ``HTTP1_REMEMBERED_SECONDS``) its
    requests take aiohttp's pool. Neither pool is capped: the push worker bounds what it sends
    to each partner at once (``push.max_in_flight_per_partner``), and every connection it opens
    is kept alive for the next round.
    """

    def __init__(self, ca_file: str = "") -> None:
        self._http2 = httpx.AsyncHTTPTransport(
            http2=True,
            verify=_ssl_context(ca_file),  # httpcore sets ALPN on it: a context of its own
            limits=httpx.Limits(
                max_connections=None,
                max_keepalive_connections=None,
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
        )
        self._ssl = _ssl_context(ca_file)
        self._session: aiohttp.ClientSession | None = None
        self._http1_until: dict[tuple[str, str, int | None], float] = {}

    def _http1_session(self) -> aiohttp.ClientSession:
        # Created on first use: aiohttp binds a session to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, keepalive_timeout=KEEPALIVE_SECONDS, ssl=self._ssl
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
            )
        return self._session

    def speaks_http1_only(self, url: httpx.URL | str) -> bool:
        """Whether requests to the origin of ``url`` go straight to the HTTP/1.1 pool."""
        url = httpx.URL(url)
        if url.scheme == "http":
            return True
        until = self._http1_until.get(_origin(url))
        return until is not None and time.monotonic() < until

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in {"http", "https"}:
            raise httpx.UnsupportedProtocol(
                f"the URL is not http or https: {request.url}", request=request
            )
        if self.speaks_http1_only(request.url):
            return await self._send_http1(request)
        response = await self._http2.handle_async_request(request)
        if response.extensions.get("http_version") != b"HTTP/2":
            self._http1_until[_origin(request.url)] = time.monotonic() + HTTP1_REMEMBERED_SECONDS
        return response

    async def _send_http1(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        with _as_httpx_errors(request):
            async with self._http1_session().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
        return httpx.Response(
            answer.status,
            headers=list(answer.raw_headers),
            stream=httpx.ByteStream(content),  # httpx decodes any content-encoding from it
            request=request,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (answer.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        await self._http2.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _ssl_context(ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """aiohttp's errors as the httpx errors that say the same (``ocpi.v221.client`` words
    them for the log and the partner's health); the most specific first."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:
        raise httpx.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
    except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "read timeout", request=request) from exc
    except aiohttp.ClientConnectorError as exc:  # refused, DNS, TLS handshake, certificate
        raise httpx.ConnectError(str(exc), request=request) from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or "server disconnected", request=request) from exc
    except aiohttp.ClientResponseError as exc:  # an answer that is not valid HTTP
        raise httpx.RemoteProtocolError(str(exc), request=request) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.InvalidURL(str(exc)) from exc
    except aiohttp.ClientOSError as exc:  # reset while sending or reading
        raise httpx.ReadError(str(exc), request=request) from exc
    except aiohttp.ClientError as exc:
        raise httpx.TransportError(str(exc), request=request) from exc


def partner_http_client(settings: Settings) -> httpx.AsyncClient:
    """The client for every partner (see :class:`PartnerTransport`)."""
    return httpx.AsyncClient(
        timeout=settings.ocpi.partner_timeout_seconds,
        transport=PartnerTransport(settings.ocpi.partner_ca_file),
    )
