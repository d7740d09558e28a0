"""A small eMSP peer for ``hub demo``: registers with the hub through the real credentials
handshake over HTTP and receives Locations and Tariffs pushes, remembering what arrived."""

from __future__ import annotations

import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import Litestar, Request, Response, get, route

from ocpi.auth import TokenEncoding, token_candidates
from ocpi.v221.client import PartnerClient
from ocpi.v221.models.credentials import Credentials


def _envelope(data: Any = None, status_code: int = 1000) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status_code": status_code,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if data is not None:
        body["data"] = data
    return body


DEMO_EMSP_PARTY = ("US", "DMO")
"""The party the demo eMSP declares; the hub pins it at invite time."""


@dataclass
class Arrival:
    at: float
    method: str
    what: str
    detail: str


@dataclass
class DemoEmsp:
    """State of the peer: its token, the hub's token, and what the hub pushed."""

    base_url: str = ""
    token: str = field(default_factory=lambda: "demo-emsp-" + secrets.token_hex(12))
    hub_token: str | None = None
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    recent: deque[Arrival] = field(default_factory=lambda: deque(maxlen=8))

    def evse_statuses(self) -> dict[str, str]:
        return {
            evse["uid"]: evse["status"]
            for location in self.locations.values()
            for evse in location.get("evses", [])
        }

    def credentials(self) -> Credentials:
        return Credentials.model_validate(
            {
                "token": self.token,
                "url": f"{self.base_url}/ocpi/versions",
                "roles": [
                    {
                        "role": "EMSP",
                        "country_code": DEMO_EMSP_PARTY[0],
                        "party_id": DEMO_EMSP_PARTY[1],
                        "business_details": {"name": "Demo eMSP"},
                    }
                ],
            }
        )

    async def register(self, http: httpx.AsyncClient, versions_url: str, token_a: str) -> None:
        """What an eMSP operator does with the token A and versions URL the hub gave it."""
        client = PartnerClient(http, token=token_a, encoding=TokenEncoding.BASE64)
        versions = await client.get_versions(versions_url)
        details = await client.get_version_details(
            next(v.url for v in versions if v.version == "2.2.1")
        )
        credentials_url = next(
            e.url for e in details.endpoints if str(e.identifier) == "credentials"
        )
        theirs = await client.post_credentials(credentials_url, self.credentials())
        self.hub_token = theirs.token

    def app(self) -> Litestar:
        peer = self

        def allowed(request: Request[Any, Any, Any]) -> bool:
            candidates = token_candidates(request.headers.get("Authorization"))
            return peer.token in candidates.values()

        def unauthorized() -> Response[dict[str, Any]]:
            return Response(_envelope(status_code=2000), status_code=401)

        @get("/ocpi/versions", sync_to_thread=False)
        def versions(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            return Response(_envelope([{"version": "2.2.1", "url": f"{peer.base_url}/ocpi/2.2.1"}]))

        @get("/ocpi/2.2.1", sync_to_thread=False)
        def details(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            endpoints = [
                {
                    "identifier": module,
                    "role": "RECEIVER",
                    "url": f"{peer.base_url}/ocpi/2.2.1/{module}",
                }
                for module in ("credentials", "locations", "tariffs")
            ]
            return Response(_envelope({"version": "2.2.1", "endpoints": endpoints}))

        @route(
            "/ocpi/2.2.1/{module:str}/{rest:path}",
            http_method=["PUT", "PATCH", "DELETE"],
            status_code=200,
        )
        async def receive(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            body = await request.json() if request.method != "DELETE" else None
            parts = request.url.path.split("/")[3:]
            peer.store(request.method, parts, body)
            return Response(_envelope())

        # logging_config=None: Litestar would otherwise install its own root handler and format.
        return Litestar(route_handlers=[versions, details, receive], logging_config=None)

    def store(self, method: str, parts: list[str], body: Any) -> None:
        module, *ids = parts
        self.counts[f"{method} {module}"] += 1
        if module == "tariffs":
            if method == "DELETE":
                self.tariffs.pop(ids[-1], None)
            else:
                self.tariffs[ids[-1]] = body
            self.recent.append(Arrival(time.monotonic(), method, f"tariff {ids[-1]}", ""))
            return
        location_id = ids[2]
        if len(ids) == 3:
            self.locations[location_id] = body
            detail = f"{len(body.get('evses', []))} EVSEs"
            self.recent.append(Arrival(time.monotonic(), method, f"location {location_id}", detail))
            return
        location = self.locations.setdefault(location_id, {"evses": []})
        evse = next((e for e in location.get("evses", []) if e["uid"] == ids[3]), None)
        if evse is not None and len(ids) == 4:
            evse.update(body)
        self.recent.append(
            Arrival(time.monotonic(), method, f"EVSE {ids[3]}", str(body.get("status", "")))
        )
