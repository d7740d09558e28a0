"""The HTTP client for partners keeps every connection alive (its limits set only the idle
expiry, so httpx caps neither the pool nor the connections kept): the requests a push worker
sends to a partner at once (30 here, above the 20 of httpx's default limits) reuse their
connections round after round instead of opening new ones."""

from __future__ import annotations

import asyncio
import threading

from hub.config import Settings
from hub.roaming.http import partner_http_client
from tests.support.servers import asgi_server

AT_ONCE = 30


class Partner:
    """Answers once ``AT_ONCE`` requests are in (so they are truly concurrent); records the
    client port of each, i.e. the connection it came on."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        self.lock = threading.Lock()
        self.arrived: asyncio.Event | None = None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self.arrived is None:
            self.arrived = asyncio.Event()
        with self.lock:
            self.ports.append(scope["client"][1])
            if len(self.ports) % AT_ONCE == 0:
                self.arrived.set()
        await self.arrived.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def test_concurrent_requests_to_a_partner_reuse_their_connections() -> None:
    partner = Partner()
    with asgi_server(partner) as url:
        async with partner_http_client(Settings()) as client:
            for _ in range(3):
                partner.arrived = None
                answers = await asyncio.gather(*(client.get(f"{url}/x") for _ in range(AT_ONCE)))
                assert {a.status_code for a in answers} == {200}
    assert len(partner.ports) == 3 * AT_ONCE
    assert len(set(partner.ports)) == AT_ONCE  # every connection served every round
