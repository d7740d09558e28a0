"""An independent eMSP peer for end-to-end tests, written from the spec with plain dicts.

It deliberately does not use the ``ocpi`` package, so a bug shared by our client and server
cannot hide itself. Server side it offers versions, version details and credentials (Receiver);
client side it registers with, updates and unregisters from the hub like a real eMSP would.
"""

from __future__ import annotations

import asyncio
import base64
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from litestar import Litestar, Request, Response, delete, get, post, put, route

PARTY = {"country_code": "US", "party_id": "EMS"}


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    data: Any = None, status_code: int = 1000, message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": now()}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return body


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def decode_token(header: str | None) -> str | None:
    if not header or not header.startswith("Token "):
        return None
    try:
        return base64.b64decode(header[6:], validate=True).decode()
    except ValueError:
        return None


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    body: Any
    headers: dict[str, str]
    at: float


@dataclass
class EmspPeer:
    """State of the fake eMSP: what it issued, what it holds, and what it saw."""

    base_url: str = ""
    # Tokens we accept from the hub -> "A" (registration) or "C" (after registration).
    issued: dict[str, str] = field(default_factory=dict)
    # The token the hub gave us to call it.
    hub_token: str | None = None
    hub_versions_url: str | None = None
    hub_credentials_url: str | None = None
    hub_roles: list[dict[str, Any]] = field(default_factory=list)
    # Our current token B/C that the hub uses to call us after registration.
    our_token: str | None = None
    log: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Receiver side: objects as pushed to us, and every push request in arrival order.
    locations: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    tariffs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    # "ok", "fail" (HTTP 503) or "reject" (OCPI 2001) for every push.
    push_mode: str = "ok"
    # Seconds each push takes to answer (to catch the hub mid-delivery).
    push_delay: float = 0.0
    # The roles our credentials declare (default: EMSP of PARTY).
    roles: list[dict[str, Any]] | None = None
    # While True, every push waits before it is answered (the test releases it by setting False);
    # ``held`` lists the paths of the pushes waiting now.
    hold: bool = False
    held: list[str] = field(default_factory=list)
    # With ``hold``, only pushes whose path starts with this wait (None: every push).
    hold_only: str | None = None
    # Paths refused for good with this HTTP status and a non-OCPI body, as a receiver built on a
    # web framework answers an object that fails its validation (e.g. 422 for an enum value).
    refuse: dict[str, int] = field(default_factory=dict)
    # Tokens Sender (``offers_tokens``): ``token_count`` tokens generated on demand (token i
    # last updated at ``token_epoch`` + i seconds, oldest first), then ``extra_tokens`` as
    # given; pages of at most ``token_page_max``. A page whose offset is in
    # ``fail_token_offsets`` fails once with HTTP 503 (then the offset is removed); every
    # GET is logged in ``token_requests`` as its query parameters plus "status".
    offers_tokens: bool = False
    token_count: int = 0
    token_party: dict[str, str] = field(default_factory=lambda: dict(PARTY))
    token_epoch: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    extra_tokens: list[dict[str, Any]] = field(default_factory=list)
    token_page_max: int = 1000
    fail_token_offsets: set[int] = field(default_factory=set)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    # Sessions and CDRs receiver: sessions as the hub pushed them (a PATCH's charging_periods
    # are added to the list, as mod_sessions says), CDRs by (country, party, id) as POSTed. A
    # second POST of an id is kept in ``duplicate_cdrs``: the same CDR again (a retry after a
    # lost answer) is answered as the first was, a different one with that id gets 2001.
    sessions: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    cdrs: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    duplicate_cdrs: list[dict[str, Any]] = field(default_factory=list)
    # Commands Sender: every CommandResult POSTed to a ``response_url`` of ours
    # (``command_url``), by the reference in that URL, in arrival order.
    command_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # ChargingProfiles Sender: every ActiveChargingProfile PUT to
    # ``{base_url}/ocpi/2.2.1/chargingprofiles/{session_id}``, by session id, in arrival order.
    active_profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": self.roles
            or [{"role": "EMSP", **PARTY, "business_details": {"name": "Test eMSP"}}],
        }

    def issue_registration_token(self) -> str:
        token = "emsp-A-" + secrets.token_hex(8)
        self.issued[token] = "A"
        return token

    def _new_token(self) -> str:
        token = "emsp-" + secrets.token_hex(12)
        self.issued[token] = "C"
        return token

    # --- client side: calls to the hub, as the partner's operator would trigger them ----------

    def _discover_hub(self, http: httpx.Client, versions_url: str, token: str) -> None:
        versions = http.get(versions_url, headers=token_header(token)).json()["data"]
        details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        details = http.get(details_url, headers=token_header(token)).json()["data"]
        self.hub_credentials_url = next(
            e["url"] for e in details["endpoints"] if e["identifier"] == "credentials"
        )
        self.hub_versions_url = versions_url

    def register_with_hub(self, versions_url: str, token_a: str) -> httpx.Response:
        """Direction (a): the hub's operator gave us token A and the versions URL."""
        with httpx.Client(timeout=10) as http:
            self._discover_hub(http, versions_url, token_a)
            token_b = self._new_token()
            response = http.post(
                self.hub_credentials_url,
                json=self.credentials(token_b),
                headers=token_header(token_a),
            )
        body = response.json()
        if body.get("status_code") == 1000:
            self.our_token = token_b
            self.hub_token = body["data"]["token"]
            self.hub_roles = body["data"]["roles"]
        return response

    def update_at_hub(self) -> httpx.Response:
        """Partner-initiated rotation: PUT new credentials with the current hub token."""
        assert self.hub_token
        assert self.hub_credentials_url
        new_token = self._new_token()
        with httpx.Client(timeout=10) as http:
            response = http.put(
                self.hub_credentials_url,
                json=self.credentials(new_token),
                headers=token_header(self.hub_token),
            )
        body = response.json()
        if body.get("status_code") == 1000:
            self.issued.pop(self.our_token or "", None)
            self.our_token = new_token
            self.hub_token = body["data"]["token"]
        return response

    def unregister_at_hub(self) -> httpx.Response:
        assert self.hub_token
        assert self.hub_credentials_url
        with httpx.Client(timeout=10) as http:
            response = http.delete(self.hub_credentials_url, headers=token_header(self.hub_token))
        if response.json().get("status_code") == 1000:
            self.issued.pop(self.our_token or "", None)
            self.our_token = None
        return response

    def call_hub(self, method: str, url: str, token: str | None = None) -> httpx.Response:
        with httpx.Client(timeout=10) as http:
            return http.request(method, url, headers=token_header(token or self.hub_token or ""))

    def report_client_info(
        self,
        hub_url: str,
        party: dict[str, str],
        status: str,
        last_updated: str,
        role: str = "EMSP",
    ) -> httpx.Response:
        """Acting as a hub: PUT the ClientInfo of a party connected to us to the CPO's Hub
        Client Info Receiver (no routing headers: a configuration module)."""
        info = {**party, "role": role, "status": status, "last_updated": last_updated}
        url = f"{hub_url}/ocpi/2.2.1/hubclientinfo/{party['country_code']}/{party['party_id']}"
        with httpx.Client(timeout=10) as http:
            return http.put(url, json=info, headers=token_header(self.hub_token or ""))

    # --- server side -----------------------------------------------------------------------------

    def app(self) -> Litestar:
        peer = self

        def caller(request: Request[Any, Any, Any]) -> str | None:
            token = decode_token(request.headers.get("Authorization"))
            return token if token in peer.issued else None

        def unauthorized() -> Response[dict[str, Any]]:
            return Response(envelope(status_code=2000, message="unknown token"), status_code=401)

        @get("/ocpi/versions", sync_to_thread=False)
        def versions(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if caller(request) is None:
                return unauthorized()
            peer.log.append("GET versions")
            return Response(
                envelope(
                    [
                        {"version": "2.1.1", "url": f"{peer.base_url}/ocpi/2.1.1"},
                        {"version": "2.2.1", "url": f"{peer.base_url}/ocpi/2.2.1"},
                    ]
                )
            )

        @get("/ocpi/2.2.1", sync_to_thread=False)
        def details(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            if caller(request) is None:
                return unauthorized()
            peer.log.append("GET details")
            return Response(
                envelope(
                    {
                        "version": "2.2.1",
                        "endpoints": [
                            {
                                "identifier": "credentials",
                                "role": "RECEIVER",
                                "url": f"{peer.base_url}/ocpi/2.2.1/credentials",
                            },
                            {
                                "identifier": "locations",
                                "role": "RECEIVER",
                                "url": f"{peer.base_url}/ocpi/2.2.1/locations",
                            },
                            {
                                "identifier": "tariffs",
                                "role": "RECEIVER",
                                "url": f"{peer.base_url}/ocpi/2.2.1/tariffs",
                            },
                            {
                                "identifier": "sessions",
                                "role": "RECEIVER",
                                "url": f"{peer.base_url}/ocpi/2.2.1/sessions",
                            },
                            {
                                "identifier": "cdrs",
                                "role": "RECEIVER",
                                "url": f"{peer.base_url}/ocpi/2.2.1/cdrs",
                            },
                            *(
                                [
                                    {
                                        "identifier": "tokens",
                                        "role": "SENDER",
                                        "url": f"{peer.base_url}/ocpi/2.2.1/tokens",
                                    }
                                ]
                                if peer.offers_tokens
                                else []
                            ),
                        ],
                    }
                )
            )

        def check_hub_credentials(body: dict[str, Any]) -> str | None:
            """What a careful receiver does with credentials: use them at once."""
            with httpx.Client(timeout=10) as http:
                self_check = http.get(body["url"], headers=token_header(body["token"]))
            if self_check.status_code != 200 or self_check.json().get("status_code") != 1000:
                return f"hub versions refused our new token: HTTP {self_check.status_code}"
            return None

        @post("/ocpi/2.2.1/credentials", status_code=200)
        async def register(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            token = caller(request)
            if token is None:
                return unauthorized()
            if peer.issued[token] != "A":
                return Response(envelope(status_code=2000, message="registered"), status_code=405)
            body = await request.json()
            peer.log.append("POST credentials")
            problem = await _in_thread(check_hub_credentials, body)
            if problem:
                return Response(envelope(status_code=3001, message=problem))
            del peer.issued[token]
            peer.hub_token, peer.hub_versions_url = body["token"], body["url"]
            peer.hub_roles = body["roles"]
            peer.our_token = peer._new_token()
            return Response(envelope(peer.credentials(peer.our_token)))

        @put("/ocpi/2.2.1/credentials", status_code=200)
        async def update(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            token = caller(request)
            if token is None:
                return unauthorized()
            if peer.issued[token] != "C":
                return Response(
                    envelope(status_code=2000, message="not registered"), status_code=405
                )
            body = await request.json()
            peer.log.append("PUT credentials")
            problem = await _in_thread(check_hub_credentials, body)
            if problem:
                return Response(envelope(status_code=3001, message=problem))
            del peer.issued[token]
            peer.hub_token, peer.hub_roles = body["token"], body["roles"]
            peer.our_token = peer._new_token()
            return Response(envelope(peer.credentials(peer.our_token)))

        @delete("/ocpi/2.2.1/credentials", status_code=200, sync_to_thread=False)
        def unregister(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            token = caller(request)
            if token is None:
                return unauthorized()
            if peer.issued[token] != "C":
                return Response(
                    envelope(status_code=2000, message="not registered"), status_code=405
                )
            peer.log.append("DELETE credentials")
            del peer.issued[token]
            peer.our_token = None
            peer.hub_token = None
            return Response(envelope())

        async def push(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            token = caller(request)
            if token is None or peer.issued[token] != "C":
                return unauthorized()
            if peer.push_mode == "fail":
                return Response(envelope(status_code=3000, message="down"), status_code=503)
            if peer.push_delay:
                await asyncio.sleep(peer.push_delay)
            body = await request.json() if request.method in {"PUT", "PATCH", "POST"} else None
            parts = request.url.path.split("/")[3:]  # module and ids after /ocpi/2.2.1/
            if peer.hold and request.url.path.startswith(peer.hold_only or ""):
                with peer.lock:
                    peer.held.append(request.url.path)
                while peer.hold:  # noqa: ASYNC110 - set from the test's thread, not this loop
                    await asyncio.sleep(0.01)
                with peer.lock:
                    peer.held.remove(request.url.path)
            with peer.lock:
                peer.received.append(
                    Received(
                        request.method,
                        request.url.path,
                        body,
                        dict(request.headers),
                        time.monotonic(),
                    )
                )
                refused = peer.refuse.get(request.url.path)
                if refused is not None:
                    detail = [{"loc": ["body"], "msg": "value is not a valid enumeration member"}]
                    return Response({"detail": detail}, status_code=refused)
                if peer.push_mode == "reject":
                    return Response(envelope(status_code=2001, message="rejected"))
                if parts[0] == "commands":
                    peer.command_results.setdefault(parts[2], []).append(body)
                    return Response(envelope())
                if parts[0] == "chargingprofiles":
                    peer.active_profiles.setdefault(parts[1], []).append(body)
                    return Response(envelope())
                if parts == ["cdrs"]:
                    key = (body["country_code"], body["party_id"], body["id"])
                    location = f"{peer.base_url}/ocpi/2.2.1/cdrs/{'/'.join(key)}"
                    if key in peer.cdrs:
                        peer.duplicate_cdrs.append(body)
                        if body != peer.cdrs[key]:
                            return Response(envelope(status_code=2001, message="CDR exists"))
                        return Response(envelope(), headers={"Location": location}, status_code=201)
                    peer.cdrs[key] = body
                    return Response(envelope(), headers={"Location": location}, status_code=201)
                try:
                    peer.apply(request.method, parts, body)
                except (KeyError, StopIteration):
                    return Response(
                        envelope(status_code=2003, message="unknown object"), status_code=404
                    )
            return Response(envelope())

        @get("/ocpi/2.2.1/tokens", sync_to_thread=False)
        def token_list(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            token = caller(request)
            if token is None or peer.issued[token] != "C":
                return unauthorized()
            query = dict(request.query_params)
            offset = int(query.get("offset", "0"))
            limit = min(int(query.get("limit", str(peer.token_page_max))), peer.token_page_max)
            with peer.lock:
                if offset in peer.fail_token_offsets:
                    peer.fail_token_offsets.discard(offset)
                    peer.token_requests.append({**query, "status": 503})
                    return Response(envelope(status_code=3000, message="down"), status_code=503)
                peer.token_requests.append({**query, "status": 200})
            items, total = peer.token_page(
                _parse_time(query.get("date_from")),
                _parse_time(query.get("date_to")),
                offset,
                limit,
            )
            headers = {"X-Total-Count": str(total), "X-Limit": str(peer.token_page_max)}
            if offset + limit < total:
                filters = {k: v for k, v in query.items() if k not in {"offset", "limit"}}
                next_query = urlencode({**filters, "offset": offset + limit, "limit": limit})
                headers["Link"] = f'<{peer.base_url}/ocpi/2.2.1/tokens?{next_query}>; rel="next"'
            return Response(envelope(items), headers=headers)

        receivers = [
            route(path, http_method=methods, status_code=200)(push)
            for path, methods in (
                ("/ocpi/2.2.1/locations/{cc:str}/{pid:str}/{loc:str}", ["PUT", "PATCH"]),
                ("/ocpi/2.2.1/locations/{cc:str}/{pid:str}/{loc:str}/{evse:str}", ["PUT", "PATCH"]),
                (
                    "/ocpi/2.2.1/locations/{cc:str}/{pid:str}/{loc:str}/{evse:str}/{conn:str}",
                    ["PUT", "PATCH"],
                ),
                ("/ocpi/2.2.1/tariffs/{cc:str}/{pid:str}/{tid:str}", ["PUT", "DELETE"]),
                ("/ocpi/2.2.1/sessions/{cc:str}/{pid:str}/{sid:str}", ["PUT", "PATCH"]),
                ("/ocpi/2.2.1/cdrs", ["POST"]),
                ("/ocpi/2.2.1/commands/{command:str}/{ref:str}", ["POST"]),
                ("/ocpi/2.2.1/chargingprofiles/{sid:str}", ["PUT"]),
            )
        ]
        return Litestar(
            route_handlers=[
                versions,
                details,
                register,
                update,
                unregister,
                token_list,
                *receivers,
            ],
            # Litestar would install its own root log handler and format in the test process.
            logging_config=None,
        )

    def apply(self, method: str, parts: list[str], body: Any) -> None:
        """What a simple receiver does: PUT replaces, PATCH merges, DELETE removes."""
        module, cc, pid, object_id, *rest = parts
        if module == "sessions":
            if method == "PUT":
                self.sessions[(cc, pid, object_id)] = body
                return
            session = self.sessions[(cc, pid, object_id)]
            added = body.pop("charging_periods", None) or []
            session.update(body)
            session.setdefault("charging_periods", []).extend(added)
            return
        if module == "tariffs":
            if method == "DELETE":
                self.tariffs.pop((cc, pid, object_id), None)
            else:
                self.tariffs[(cc, pid, object_id)] = body
            return
        key = (cc, pid, object_id)
        if not rest:
            if method == "PUT":
                self.locations[key] = body
            else:
                self.locations[key].update(body)
            return
        location = self.locations[key]
        evses = location.setdefault("evses", [])
        evse = next((e for e in evses if e["uid"] == rest[0]), None)
        if len(rest) == 1:
            if evse is None or method == "PUT":
                evses[:] = [e for e in evses if e["uid"] != rest[0]] + [body]
            else:
                evse.update(body)
            return
        if evse is None:
            raise KeyError(rest[0])
        connector = next(c for c in evse["connectors"] if c["id"] == rest[1])
        connector.update(body)

    def generated_token(self, index: int) -> dict[str, Any]:
        return {
            **self.token_party,
            "uid": f"{index:08X}",
            "type": "RFID",
            "contract_id": "{country_code}-{party_id}-C{index:08d}".format(
                index=index, **self.token_party
            ),
            "issuer": "Test eMSP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": (self.token_epoch + timedelta(seconds=index)).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }

    def token_page(
        self, date_from: datetime | None, date_to: datetime | None, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The page of the list filtered on last_updated, built without materialising it."""

        def index_at(moment: datetime | None, default: int) -> int:
            if moment is None:
                return default
            seconds = math.ceil((moment - self.token_epoch).total_seconds())
            return min(max(seconds, 0), self.token_count)

        first, end = index_at(date_from, 0), index_at(date_to, self.token_count)
        generated = max(0, end - first)
        extras = [
            t
            for t in self.extra_tokens
            if (date_from is None or _parse_time(t["last_updated"]) >= date_from)  # type: ignore[operator]
            and (date_to is None or _parse_time(t["last_updated"]) < date_to)  # type: ignore[operator]
        ]
        wanted = range(offset, min(offset + limit, generated + len(extras)))
        items = [
            self.generated_token(first + i) if i < generated else extras[i - generated]
            for i in wanted
        ]
        return items, generated + len(extras)

    def token_offsets(self) -> list[int]:
        """The offsets of the token pages asked for, in order (failed ones included)."""
        with self.lock:
            return [int(r.get("offset", "0")) for r in self.token_requests]

    def command_url(self, command: str, ref: str) -> str:
        """A ``response_url`` for ``command`` whose results land in ``command_results[ref]``."""
        return f"{self.base_url}/ocpi/2.2.1/commands/{command}/{ref}"

    def holding(self) -> list[str]:
        with self.lock:
            return list(self.held)

    def pushes(self, method: str | None = None, prefix: str = "") -> list[Received]:
        with self.lock:
            return [
                r
                for r in self.received
                if (method is None or r.method == method) and r.path.startswith(prefix)
            ]


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _in_thread(function: Any, *args: Any) -> Any:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(function, *args)
