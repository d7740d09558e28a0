"""The websocket protocol ``hub serve`` gives uvicorn for every connection.

uvicorn's own ``websockets-sansio`` implementation, with one repair: after a denial response
(the ASGI ``websocket.http.response`` extension, which the OCPP handshake uses for 404, 401
and 429) uvicorn 0.54 never marks the handshake complete, so every refused station logs
"ASGI callable returned without completing handshake" at ERROR (uvicorn pull request #3138).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class OcppWebSocketProtocol(WebSocketsSansIOProtocol):
    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body"):
            self.handshake_complete = True
