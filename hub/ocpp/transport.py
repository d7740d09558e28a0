"""The websocket protocol ``hub serve`` gives uvicorn for every connection.

uvicorn's own ``websockets-sansio`` implementation, with two additions:

- **Pongs reach the application.** uvicorn pings every connection (``ws_ping_interval``) and
  drops it when the pong is late (``ws_ping_timeout``), but ASGI has no event for pongs, so an
  application cannot tell a station that answers pings from a dead one. OCPP-J (1.6 §5.3, 2.0.1
  Part 4 §5.2) lets ping/pong stand in for Heartbeat, so the OCPP endpoint needs to know: every
  pong to our ping, and every ping the peer sends, calls the listeners the application
  registered on the connection's scope extension ``hub.liveness`` (:class:`Liveness`).
- **Denial responses end the handshake.** After a ``websocket.http.response`` (the OCPP
  handshake's 404, 401 and 429) uvicorn 0.54 never marks the handshake complete, so every
  refused station logged "ASGI callable returned without completing handshake" at ERROR
  (uvicorn pull request #3138).

Under another ASGI server the extension is absent: stations are then alive only by their
messages, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame

from hub.config import OcppSettings

LIVENESS_EXTENSION = "hub.liveness"


@dataclass
class Liveness:
    """Callbacks run (on the event loop) each time the peer proves itself alive."""

    listeners: list[Callable[[], None]] = field(default_factory=list)

    def notify(self) -> None:
        for listener in list(self.listeners):
            listener()


class OcppWebSocketProtocol(WebSocketsSansIOProtocol):
    liveness: Liveness | None = None

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # the ASGI task built from it has not started yet
            self.liveness = Liveness()
            scope["extensions"][LIVENESS_EXTENSION] = self.liveness

    def handle_pong(self, event: Frame) -> None:
        pending = getattr(self, "pending_ping_payload", None)  # uvicorn 0.54's keepalive state
        answers_our_ping = pending is not None and bytes(event.data) == pending
        super().handle_pong(event)
        if answers_our_ping and self.liveness is not None:
            self.liveness.notify()

    def handle_ping(self) -> None:
        super().handle_ping()
        if self.liveness is not None:
            self.liveness.notify()

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True


def uvicorn_options(settings: OcppSettings) -> dict[str, Any]:
    """The uvicorn arguments ``hub serve`` runs with: this protocol, the ping settings, and no
    permessage-deflate: OCPP frames are small, and the compressor and decompressor a socket
    negotiating it keeps cost some 46 KB of memory per connection (measured with tracemalloc:
    more than half of what a connected station costs) and CPU on every frame."""
    interval = settings.ping_interval_seconds or None
    return {
        "ws": OcppWebSocketProtocol,
        "ws_per_message_deflate": False,
        "ws_ping_interval": interval,
        "ws_ping_timeout": settings.ping_timeout_seconds if interval else None,
    }
