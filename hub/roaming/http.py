"""The HTTP client the hub calls its partners with."""

from __future__ import annotations

import ssl

import certifi
import httpx

from hub.config import Settings

KEEPALIVE_SECONDS = 4.0
"""Idle pooled connections to partners are closed after this long: under the 5 s idle timeout
of common servers (uvicorn's default), so the hub never reuses a connection just as the partner
closes it. That race showed as ``ReadError('')`` on a session PUT under load, costing the push a
retry backoff."""


def partner_http_client(settings: Settings) -> httpx.AsyncClient:
    """The client for every partner. httpx pools connections per origin and, with these limits
    (only the idle expiry set), caps neither the pool nor the connections kept alive, so the
    requests a push worker sends to a partner at once keep their connections. HTTP/2 is used
    with a partner whose TLS endpoint offers it (ALPN): all requests to it then share one
    connection; plain ``http://`` partners get HTTP/1.1."""
    verify: ssl.SSLContext | bool = True
    if settings.ocpi.partner_ca_file:
        verify = ssl.create_default_context(cafile=certifi.where())
        verify.load_verify_locations(cafile=settings.ocpi.partner_ca_file)
    return httpx.AsyncClient(
        timeout=settings.ocpi.partner_timeout_seconds,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
        http2=True,
        verify=verify,
    )
