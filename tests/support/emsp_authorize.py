"""The eMSP peer's Tokens Sender ``POST {tokens}/{uid}/authorize``, with scripted verdicts.

:class:`AuthorizingEmsp` is an :class:`~tests.support.emsp.EmspPeer` (same plain-dict spirit: no
``ocpi`` package) that also answers real-time authorizations. A test scripts the reply per
(uid, type): a verdict, an unknown token (HTTP 404 or OCPI 2004), 2002, an HTTP error, garbage;
any of them held until the test releases it (no sleeps: a held request stays held until
:meth:`Gate.release`, or until the peer shuts down). Every request is recorded as it arrives.
Unscripted uids are unknown (HTTP 404), as the spec says.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request, Response, post

from tests.support.emsp import EmspPeer, decode_token, envelope, now


class Gate:
    """Holds a reply until the test opens it (thread-safe: the peer runs in its own thread)."""

    def __init__(self) -> None:
        self._open = threading.Event()

    def release(self) -> None:
        self._open.set()

    @property
    def is_open(self) -> bool:
        return self._open.is_set()


@dataclass(frozen=True)
class Reply:
    """What the peer answers: HTTP status and a JSON body (dict) or raw bytes."""

    status: int = 200
    body: Any = None
    gate: Gate | None = None


@dataclass(frozen=True)
class AuthorizeSeen:
    """One authorization request as the peer received it."""

    uid: str
    type: str | None
    body: Any
    raw_body: bytes
    headers: dict[str, str]


def token_object(uid: str, token_type: str, country_code: str, party_id: str) -> dict[str, Any]:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "uid": uid,
        "type": token_type,
        "contract_id": f"{country_code}-{party_id}-C{uid[:8]}",
        "issuer": f"{country_code}*{party_id} Mobility",
        "group_id": f"G-{uid[:8]}",
        "valid": True,
        "whitelist": "NEVER",
        "language": "en",
        "last_updated": now(),
    }


@dataclass
class AuthorizingEmsp(EmspPeer):
    # The party whose tokens this eMSP issues (its verdicts carry it in AuthorizationInfo.token).
    party: tuple[str, str] = ("US", "EMA")
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)
    asked: list[AuthorizeSeen] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    # How many requests are waiting at a gate now.
    waiting: int = 0

    # --- scripting -------------------------------------------------------------------------

    def gate(self) -> Gate:
        gate = Gate()
        self.gates.append(gate)
        return gate

    def verdict(
        self,
        uid: str,
        allowed: str = "ALLOWED",
        *,
        token_type: str = "RFID",
        party: tuple[str, str] | None = None,
        evse_uids: list[str] | None = None,
        location_id: str | None = None,
        reference: str | None = None,
        info: str | None = None,
        gate: Gate | None = None,
    ) -> None:
        """Answer ``uid`` with an AuthorizationInfo (``party`` overrides the token's party)."""
        data: dict[str, Any] = {
            "allowed": allowed,
            "token": token_object(uid, token_type, *(party or self.party)),
        }
        if location_id is not None:
            data["location"] = {"location_id": location_id}
            if evse_uids is not None:
                data["location"]["evse_uids"] = evse_uids
        if reference is not None:
            data["authorization_reference"] = reference
        if info is not None:
            data["info"] = {"language": "en", "text": info}
        self.replies[(uid, token_type)] = Reply(200, envelope(data), gate)

    def reply(
        self,
        uid: str,
        status: int = 200,
        body: Any = None,
        *,
        token_type: str = "RFID",
        gate: Gate | None = None,
    ) -> None:
        """Answer ``uid`` with any status and body (an OCPI error, an HTTP error, garbage)."""
        self.replies[(uid, token_type)] = Reply(status, body, gate)

    def release_all(self) -> None:
        for gate in self.gates:
            gate.release()

    def requests_for(self, uid: str | None = None) -> list[AuthorizeSeen]:
        with self.lock:
            return [seen for seen in self.asked if uid is None or seen.uid == uid]

    async def until_waiting(self, count: int) -> None:
        """Until ``count`` requests wait at gates (30 s at most: a failing test must end)."""
        async with asyncio.timeout(30):
            while self.waiting < count:  # noqa: ASYNC110 - the peer's thread changes it
                await asyncio.sleep(0.01)

    # --- server side -----------------------------------------------------------------------

    def app(self) -> Litestar:
        app = super().app()
        app.register(self._authorize_handler())
        return app

    def _authorize_handler(self) -> Any:
        peer = self

        @post("/ocpi/2.2.1/tokens/{uid:str}/authorize", status_code=200)
        async def authorize(request: Request[Any, Any, Any]) -> Response[Any]:
            token = decode_token(request.headers.get("Authorization"))
            if token is None or peer.issued.get(token) != "C":
                return Response(
                    envelope(status_code=2000, message="unknown token"), status_code=401
                )
            uid = str(request.path_params["uid"])
            raw = await request.body()
            token_type = request.query_params.get("type")
            try:
                body = await request.json() if raw else None
            except ValueError:
                body = None
            with peer.lock:
                peer.asked.append(AuthorizeSeen(uid, token_type, body, raw, dict(request.headers)))
            reply = peer.replies.get((uid, token_type or "RFID"))
            if reply is None:
                return Response(
                    envelope(status_code=2004, message="Unknown Token"), status_code=404
                )
            if reply.gate is not None:
                with peer.lock:
                    peer.waiting += 1
                try:
                    while not reply.gate.is_open:  # noqa: ASYNC110 - opened from the test thread
                        await asyncio.sleep(0.01)
                finally:
                    with peer.lock:
                        peer.waiting -= 1
            if isinstance(reply.body, bytes):
                return Response(reply.body, status_code=reply.status, media_type="text/plain")
            return Response(reply.body, status_code=reply.status)

        return authorize


async def register_emsp(
    sessions: Any,
    name: str,
    party: tuple[str, str],
    tokens_url: str | None,
    *,
    roles: tuple[str, ...] = ("EMSP",),
    receivers: dict[str, str] | None = None,
) -> int:
    """A registered partner owning ``party``, with a Tokens Sender endpoint at ``tokens_url``
    (None: it offers no real-time authorization) and the RECEIVER endpoints of ``receivers``
    (module -> URL); we call it with ``token-for-{name}``."""
    from hub.domain.partners import PartnerConnection, PartnerEndpoint, PartyRole
    from hub.persistence.session import session_scope
    from hub.services.partners import PartnerService

    base = f"http://127.0.0.1:9/{name}/ocpi/2.2.1"
    endpoints = [PartnerEndpoint("credentials", "RECEIVER", f"{base}/credentials")]
    if tokens_url is not None:
        endpoints.append(PartnerEndpoint("tokens", "SENDER", tokens_url))
    for module, url in (receivers or {}).items():
        endpoints.append(PartnerEndpoint(module, "RECEIVER", url))
    async with session_scope(sessions) as session:
        service = PartnerService(session)
        partner, _ = await service.invite(name, parties=[party])
        await session.flush()
        partner_id = partner.require_id()
        await service.register_inbound(
            partner_id,
            PartnerConnection(
                versions_url=f"{base}/versions",
                version="2.2.1",
                endpoints=tuple(endpoints),
                roles=tuple(PartyRole(role, *party, {"name": name}) for role in roles),
                token=f"token-for-{name}",
            ),
        )
    return partner_id


async def add_known_card(database_url: str, uid: str) -> None:
    """A card the hub knows: pushed by a registered eMSP (``emsp``, US*EMS), whitelist ALWAYS,
    so it is accepted without asking anyone."""
    from datetime import UTC, datetime

    from hub.domain.tokens import TokenKey, TokenRecord, TokenType, WhitelistType
    from hub.persistence.session import (
        create_engine,
        create_session_factory,
        dispose_engine,
        session_scope,
    )
    from hub.services.tokens import TokenService

    engine = create_engine(database_url)
    try:
        sessions = create_session_factory(engine)
        partner_id = await register_emsp(sessions, "emsp", ("US", "EMS"), None)
        async with session_scope(sessions) as session:
            await TokenService(session).put(
                partner_id,
                TokenRecord(
                    key=TokenKey("US", "EMS", uid, TokenType.RFID),
                    contract_id="US-EMS-C0001",
                    issuer="eMSP",
                    valid=True,
                    whitelist=WhitelistType.ALWAYS,
                    last_updated=datetime(2026, 11, 1, tzinfo=UTC),
                ),
            )
    finally:
        await dispose_engine(engine)
