"""The HTTP client the hub calls its partners with."""

from __future__ import annotations

import httpx

from hub.config import Settings

KEEPALIVE_SECONDS = 4.0
"""Idle pooled connections to partners are closed after this long: under the 5 s idle timeout
of common servers (uvicorn's default), so the hub never reuses a connection just as the partner
closes it. That race showed as ``ReadError('')`` on a session PUT under load, costing the push a
retry backoff."""


def partner_http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=settings.ocpi.partner_timeout_seconds,
        limits=httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS),
    )
