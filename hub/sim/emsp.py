"""A small eMSP peer for ``hub demo``: registers with the hub through the real credentials
handshake over HTTP, pushes its drivers' tokens to the hub's Tokens Receiver, and receives
Locations, Tariffs, Sessions and CDRs pushes, remembering what arrived.

As a Sessions Receiver it keeps each session as PUT, and a PATCH's fields replace the stored
ones except ``charging_periods``, which are ADDED to the list (``mod_sessions.asciidoc``, PATCH
Method); a PATCH of a session it does not know is answered 2003 (HTTP 404), so the hub sends the
whole session. As a CDRs Receiver it answers a POST with the CDR's URL in the ``Location``
header (and serves it at that URL), and refuses a second POST of the same CDR id with OCPI 2001,
counting it in ``duplicate_cdrs``.

As an app's backend it sends commands (``mod_commands``): START_SESSION with an APP_USER token
of its own and an ``authorization_reference``, STOP_SESSION, RESERVE_NOW and
CANCEL_RESERVATION, each with a ``response_url`` of its own
(``{base_url}/ocpi/2.2.1/commands/{command}/{ref}``) where it takes the hub's CommandResults,
kept per ``ref`` in arrival order.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import Litestar, Request, Response, get, post, route
from litestar.params import FromPath

from ocpi.auth import TokenEncoding, token_candidates
from ocpi.v221.client import PartnerClient, object_url
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.tokens import Token


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

RECEIVER_MODULES = ("credentials", "locations", "tariffs", "sessions", "cdrs")

CdrKey = tuple[str, str, str]
"""A CDR's (country_code, party_id, id): the CPO's party and the CDR's id."""


def driver_tokens(count: int) -> list[str]:
    """The RFID uids of the demo eMSP's drivers."""
    return [f"DMO{number:07d}" for number in range(1, count + 1)]


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
    sessions: dict[CdrKey, dict[str, Any]] = field(default_factory=dict)
    cdrs: dict[CdrKey, dict[str, Any]] = field(default_factory=dict)
    duplicate_cdrs: list[dict[str, Any]] = field(default_factory=list)
    """CDRs POSTed again with an id already received (refused with 2001)."""
    drivers: list[str] = field(default_factory=lambda: driver_tokens(4))
    hub_endpoints: dict[str, str] = field(default_factory=dict)
    """The hub's 2.2.1 endpoints, by module (from its version details)."""
    counts: Counter[str] = field(default_factory=Counter)
    recent: deque[Arrival] = field(default_factory=lambda: deque(maxlen=8))
    command_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """The CommandResults the hub POSTed to each ``command_url(command, ref)``, by ``ref``."""

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
        self.hub_endpoints = {str(e.identifier): e.url for e in details.endpoints}
        theirs = await client.post_credentials(
            self.hub_endpoints["credentials"], self.credentials()
        )
        self.hub_token = theirs.token

    def driver_token(self, uid: str) -> Token:
        """A driver's RFID card; whitelist ALWAYS: the hub's chargers accept it without asking
        us in real time (this eMSP offers no real-time authorization)."""
        return Token.model_validate(
            {
                "country_code": DEMO_EMSP_PARTY[0],
                "party_id": DEMO_EMSP_PARTY[1],
                "uid": uid,
                "type": "RFID",
                "contract_id": f"{DEMO_EMSP_PARTY[0]}-{DEMO_EMSP_PARTY[1]}-C{uid[3:]}",
                "issuer": "Demo eMSP",
                "valid": True,
                "whitelist": "ALWAYS",
                "last_updated": datetime.now(UTC),
            }
        )

    async def push_tokens(self, http: httpx.AsyncClient) -> None:
        """PUT every driver's token to the hub's Tokens Receiver, as an eMSP does when it
        issues cards (``PUT {tokens}/{country_code}/{party_id}/{uid}?type=RFID``)."""
        if self.hub_token is None or "tokens" not in self.hub_endpoints:
            raise RuntimeError("register with the hub first (it must offer a tokens endpoint)")
        client = PartnerClient(http, token=self.hub_token, encoding=TokenEncoding.BASE64)
        for uid in self.drivers:
            url = object_url(self.hub_endpoints["tokens"], *DEMO_EMSP_PARTY, uid)
            await client.call(
                "PUT", url, body=self.driver_token(uid).to_wire(), params={"type": "RFID"}
            )

    def app_token(self, uid: str) -> Token:
        """The token of a driver using the eMSP's app (APP_USER): the app authorizes the
        driver, so the hub is never asked about it (whitelist NEVER)."""
        return Token.model_validate(
            {
                "country_code": DEMO_EMSP_PARTY[0],
                "party_id": DEMO_EMSP_PARTY[1],
                "uid": uid,
                "type": "APP_USER",
                "contract_id": f"{DEMO_EMSP_PARTY[0]}-{DEMO_EMSP_PARTY[1]}-CAPP{uid[-6:]}",
                "issuer": "Demo eMSP app",
                "valid": True,
                "whitelist": "NEVER",
                "last_updated": datetime.now(UTC),
            }
        )

    def command_url(self, command: str, ref: str) -> str:
        """The ``response_url`` of a command: its results land in ``command_results[ref]``."""
        return f"{self.base_url}/ocpi/2.2.1/commands/{command}/{ref}"

    async def command(
        self, http: httpx.AsyncClient, command: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """POST ``body`` to the hub's Commands Receiver (``POST {commands}/{command}``) and
        return the CommandResponse (``result``, ``timeout``, ``message``)."""
        if self.hub_token is None or "commands" not in self.hub_endpoints:
            raise RuntimeError("register with the hub first (it must offer a commands endpoint)")
        client = PartnerClient(http, token=self.hub_token, encoding=TokenEncoding.BASE64)
        envelope, _ = await client.call(
            "POST", f"{self.hub_endpoints['commands'].rstrip('/')}/{command}", body=body
        )
        return dict(envelope.data or {})

    async def start_session(
        self,
        http: httpx.AsyncClient,
        ref: str,
        token: Token,
        location_id: str,
        evse_uid: str,
    ) -> dict[str, Any]:
        """An app start at ``evse_uid``: its results come to ``command_results[ref]``, and
        ``ref`` is the ``authorization_reference`` the session and CDR carry back."""
        return await self.command(
            http,
            "START_SESSION",
            {
                "response_url": self.command_url("START_SESSION", ref),
                "token": token.to_wire(),
                "location_id": location_id,
                "evse_uid": evse_uid,
                "authorization_reference": ref,
            },
        )

    async def stop_session(
        self, http: httpx.AsyncClient, ref: str, session_id: str
    ) -> dict[str, Any]:
        return await self.command(
            http,
            "STOP_SESSION",
            {"response_url": self.command_url("STOP_SESSION", ref), "session_id": session_id},
        )

    async def reserve_now(
        self,
        http: httpx.AsyncClient,
        ref: str,
        token: Token,
        location_id: str,
        evse_uid: str,
        reservation_id: str,
        expiry_date: datetime,
    ) -> dict[str, Any]:
        """Reserve ``evse_uid`` for the app's driver until ``expiry_date``."""
        return await self.command(
            http,
            "RESERVE_NOW",
            {
                "response_url": self.command_url("RESERVE_NOW", ref),
                "token": token.to_wire(),
                "expiry_date": expiry_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reservation_id": reservation_id,
                "location_id": location_id,
                "evse_uid": evse_uid,
                "authorization_reference": ref,
            },
        )

    async def cancel_reservation(
        self, http: httpx.AsyncClient, ref: str, reservation_id: str
    ) -> dict[str, Any]:
        return await self.command(
            http,
            "CANCEL_RESERVATION",
            {
                "response_url": self.command_url("CANCEL_RESERVATION", ref),
                "reservation_id": reservation_id,
            },
        )

    def session_of_reference(self, ref: str) -> dict[str, Any] | None:
        """The session the hub sent for the command whose ``authorization_reference`` is
        ``ref`` (an app start)."""
        return next(
            (s for s in self.sessions.values() if s.get("authorization_reference") == ref), None
        )

    def cdrs_of_reference(self, ref: str) -> list[dict[str, Any]]:
        return [c for c in self.cdrs.values() if c.get("authorization_reference") == ref]

    def cdr_of_charge(self, evse_uid: str, started_at: datetime) -> list[dict[str, Any]]:
        """The CDRs received for the charge that started at ``started_at`` at ``evse_uid``."""
        return [
            cdr
            for cdr in self.cdrs.values()
            if (cdr.get("cdr_location") or {}).get("evse_uid") == evse_uid
            and _parse_time(cdr.get("start_date_time")) == started_at
        ]

    def session_of_charge(self, evse_uid: str, started_at: datetime) -> dict[str, Any] | None:
        """The session received for that charge, if any."""
        return next(
            (
                session
                for session in self.sessions.values()
                if session.get("evse_uid") == evse_uid
                and _parse_time(session.get("start_date_time")) == started_at
            ),
            None,
        )

    def location_time_zone(self, location_id: str) -> str | None:
        """The time zone of a location as the hub pushed it (a CDR's location has none)."""
        return next(
            (
                location.get("time_zone")
                for location in self.locations.values()
                if location.get("id") == location_id
            ),
            None,
        )

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
                for module in RECEIVER_MODULES
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
            if parts[0] == "sessions":
                return peer.store_session(request.method, parts[1:], body)
            peer.store(request.method, parts, body)
            return Response(_envelope())

        @post("/ocpi/2.2.1/cdrs", status_code=201)
        async def receive_cdr(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            return peer.store_cdr(await request.json())

        @get(
            "/ocpi/2.2.1/cdrs/{country_code:str}/{party_id:str}/{cdr_id:str}", sync_to_thread=False
        )
        def cdr(
            request: Request[Any, Any, Any],
            country_code: FromPath[str],
            party_id: FromPath[str],
            cdr_id: FromPath[str],
        ) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            found = peer.cdrs.get((country_code, party_id, cdr_id))
            if found is None:
                return Response(_envelope(status_code=2003), status_code=404)
            return Response(_envelope(found))

        @post("/ocpi/2.2.1/commands/{command:str}/{ref:str}", status_code=200)
        async def command_result(
            request: Request[Any, Any, Any], command: FromPath[str], ref: FromPath[str]
        ) -> Response[dict[str, Any]]:
            if not allowed(request):
                return unauthorized()
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("result"), str):
                return Response(_envelope(status_code=2001), status_code=400)
            peer.command_results.setdefault(ref, []).append(body)
            peer.counts[f"POST {command} result"] += 1
            peer.recent.append(
                Arrival(time.monotonic(), "POST", f"{command} result", body["result"])
            )
            return Response(_envelope())

        # logging_config=None: Litestar would otherwise install its own root handler and format.
        return Litestar(
            route_handlers=[versions, details, receive, receive_cdr, cdr, command_result],
            logging_config=None,
        )

    def store_session(self, method: str, ids: list[str], body: Any) -> Response[dict[str, Any]]:
        """A Session PUT or PATCH at ``{sessions}/{country_code}/{party_id}/{session_id}``."""
        if len(ids) != 3 or method == "DELETE" or not isinstance(body, dict):
            return Response(_envelope(status_code=2001), status_code=400)
        key = (ids[0], ids[1], ids[2])
        self.counts[f"{method} sessions"] += 1
        if method == "PUT":
            self.sessions[key] = body
        else:
            stored = self.sessions.get(key)
            if stored is None:
                return Response(_envelope(status_code=2003), status_code=404)
            added = body.pop("charging_periods", None) or []
            stored.update(body)
            stored.setdefault("charging_periods", []).extend(added)
        session = self.sessions[key]
        detail = f"{session.get('status', '')} {session.get('kwh', '')} kWh"
        self.recent.append(Arrival(time.monotonic(), method, f"session {ids[2][:8]}", detail))
        return Response(_envelope())

    def store_cdr(self, body: Any) -> Response[dict[str, Any]]:
        """A CDR POST: kept once, its URL in ``Location``; the same id again is refused."""
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k), str) for k in ("country_code", "party_id", "id")
        ):
            return Response(_envelope(status_code=2001), status_code=400)
        key = (body["country_code"], body["party_id"], body["id"])
        self.counts["POST cdrs"] += 1
        if key in self.cdrs:
            self.duplicate_cdrs.append(body)
            return Response(_envelope(status_code=2001), status_code=200)
        self.cdrs[key] = body
        total = body.get("total_cost") or {}
        detail = f"{total.get('excl_vat', '?')} {body.get('currency', '')}"
        self.recent.append(Arrival(time.monotonic(), "POST", f"CDR {key[2][:8]}", detail))
        location = f"{self.base_url}/ocpi/2.2.1/cdrs/{'/'.join(key)}"
        return Response(_envelope(), status_code=201, headers={"Location": location})

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


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
