"""Server plumbing shared by every module: authentication guards, message ids, error envelopes."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import ASGIApp, ExceptionHandlersMap, Message, Receive, Scope, Send

from ocpi.auth import token_candidates
from ocpi.envelope import error_envelope, success_envelope
from ocpi.errors import (
    InvalidOrMissingParameters,
    MalformedJson,
    MethodNotAllowed,
    OcpiClientSideError,
    OcpiError,
    OcpiServerSideError,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnknownObject,
    quote_input,
)
from ocpi.headers import X_CORRELATION_ID, X_REQUEST_ID, new_message_id
from ocpi.v221.ports import ClientIdentity, OcpiPorts

__all__ = [
    "CLIENT_STATE_KEY",
    "ClientGuards",
    "ServerConfig",
    "exception_handlers",
    "message_ids_middleware",
    "ocpi_response",
    "provide_client",
    "require_response_url",
]

logger = logging.getLogger("ocpi.server")

CLIENT_STATE_KEY = "ocpi_client"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Deployment facts the server needs.

    Attributes:
        base_url: public URL of the OCPI root as peers reach it (``https://host/ocpi``); our
            versions endpoint is ``{base_url}/versions``.
        max_page_limit: server maximum for paginated GETs, reported in ``X-Limit``.
        max_body_bytes: largest request body accepted; a larger one is refused with HTTP 413
            before it is read whole (``Content-Length``) or as soon as it grows past the limit.
    """

    base_url: str
    max_page_limit: int = 100
    max_body_bytes: int = 1024 * 1024

    @property
    def versions_url(self) -> str:
        """Our version information endpoint."""
        return f"{self.base_url.rstrip('/')}/versions"

    def module_url(self, version: str, module: str = "") -> str:
        """URL of a module of ``version`` (or the version details with ``module=''``)."""
        root = f"{self.base_url.rstrip('/')}/{version}"
        return f"{root}/{module}" if module else root


def ocpi_response(
    data: Any = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """A 1000 envelope around ``data``."""
    return Response(success_envelope(data), status_code=status_code, headers=headers)


def require_response_url(url: str, *, where: str) -> str:
    """``url`` if the host can POST an asynchronous result to it, else 2001 naming ``where``.

    ``response_url`` (Commands, ChargingProfiles) is an OCPI ``URL``; a relative reference, a
    scheme other than http(s) or a URL without host could never be called, and the caller
    would wait for a result that cannot come. ``where`` names the field in the message, e.g.
    ``Invalid request body: response_url``.
    """
    try:
        parts = urlsplit(url)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unclosed IPv6 bracket, a port that is not a number
        usable = False
    if not usable or any(character.isspace() for character in url):
        raise InvalidOrMissingParameters(
            f"{where} must be an absolute http or https URL, got {quote_input(url, 80)}"
        )
    return url


@dataclass(frozen=True, slots=True)
class ClientGuards:
    """Litestar guards that identify the peer through the ports' authentication."""

    ports: OcpiPorts

    def __deepcopy__(self, memo: dict[int, Any]) -> ClientGuards:
        # Litestar deep-copies routers on registration, guards included. The ports are the host
        # application's live services (engines, pools): share them, never copy them.
        return self

    async def any_client(
        self, connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
    ) -> None:
        """The request carries the token of a known peer, in any registration state.

        Spec ``transport_and_format.asciidoc``: a missing header or unknown token is HTTP 401.
        """
        candidates = token_candidates(connection.headers.get("Authorization"))
        if not candidates:
            raise Unauthorized("Authorization header missing or not of the form 'Token <token>'")
        client = await self.ports.authentication.authenticate(candidates)
        if client is None:
            raise Unauthorized("Unknown credentials token")
        connection.state[CLIENT_STATE_KEY] = client

    async def registered_client(
        self, connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
    ) -> None:
        """Functional modules: a registration token (token A) or a suspended peer gets 401."""
        if CLIENT_STATE_KEY not in connection.state:
            await self.any_client(connection, handler)
        client: ClientIdentity = connection.state[CLIENT_STATE_KEY]
        if not client.registered:
            raise Unauthorized("Registration token is valid only for versions and credentials")
        if not client.active:
            raise Unauthorized("Access suspended by the platform operator")


def provide_client(request: Request[Any, Any, Any]) -> ClientIdentity:
    """Dependency: the peer identified by the guard."""
    client: ClientIdentity = request.state[CLIENT_STATE_KEY]
    return client


def message_ids_middleware(app: ASGIApp) -> ASGIApp:
    """Echo ``X-Request-ID`` and ``X-Correlation-ID`` on every response (new ones if absent)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        request_id = request_headers.get(X_REQUEST_ID.lower()) or new_message_id()
        correlation_id = request_headers.get(X_CORRELATION_ID.lower()) or new_message_id()

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers[X_REQUEST_ID] = request_id
                headers[X_CORRELATION_ID] = correlation_id
                logger.info(
                    "%s %s -> %s (request %s, correlation %s)",
                    scope.get("method"),
                    scope.get("path"),
                    message["status"],
                    request_id,
                    correlation_id,
                )
            await send(message)

        await app(scope, receive, send_with_ids)

    return middleware


def _error_response(
    request: Request[Any, Any, Any], error: OcpiError, *, http_status: int | None = None
) -> Response[dict[str, Any]]:
    status = http_status or error.http_status
    level = logging.ERROR if isinstance(error, OcpiServerSideError) else logging.WARNING
    logger.log(
        level,
        "%s %s rejected with OCPI %s / HTTP %s: %s",
        request.method,
        request.url.path,
        error.status_code,
        status,
        error.message,
    )
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Token"
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, MethodNotAllowed):
        # RFC 9110: a 405 lists the methods offered; a port that raised without knowing them
        # gets the methods of the route.
        allow = error.allow or _route_methods(request)
        if allow:
            headers["Allow"] = ", ".join(allow)
    return Response(error_envelope(error), status_code=status, headers=headers)


_PARAMETER_TYPE = re.compile(r":[^}]*}")


def _route_methods(request: Request[Any, Any, Any]) -> tuple[str, ...]:
    template = request.scope.get("path_template")
    for path, handlers in request.app.route_handler_method_map.items():
        if _PARAMETER_TYPE.sub("}", path) == template:
            return tuple(sorted(str(method) for method in handlers))
    return ()


def _handle_ocpi_error(request: Request[Any, Any, Any], exc: OcpiError) -> Response[dict[str, Any]]:
    return _error_response(request, exc)


def _handle_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    # Framework validation of path, query or header parameters (bodies are validated by
    # OcpiBody). Its messages are the framework's, so only the parameters are named.
    logger.info("framework validation of %s %s: %s", request.method, request.url.path, exc.extra)
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict) and item.get("key"):
            source = item.get("source") or "request"
            problems.append(f"{source} parameter {quote_input(str(item['key']))} is invalid")
    detail = "; ".join(problems) or "the request is invalid"
    return _error_response(request, InvalidOrMissingParameters(f"Invalid request: {detail}"))


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit = request.route_handler.resolve_request_max_body_size()
        words = f" of {limit} bytes" if limit else ""
        return _error_response(
            request, PayloadTooLarge(f"Request body is larger than this server's limit{words}")
        )
    if isinstance(exc.__cause__, SerializationException):
        return _error_response(request, MalformedJson("Request body is not valid JSON"))
    if isinstance(exc, NotFoundException):
        return _error_response(
            request, UnknownObject(f"No such OCPI resource: {quote_input(request.url.path, 100)}")
        )
    if isinstance(exc, MethodNotAllowedException):
        # The router names the methods the path offers in its own "allow" header.
        offered = (exc.headers or {}).get("allow") or (exc.headers or {}).get("Allow") or ""
        allow = [method.strip() for method in offered.split(",") if method.strip()]
        return _error_response(
            request,
            MethodNotAllowed(
                f"Method {request.method} is not offered here; allowed: {', '.join(sorted(allow))}"
                if allow
                else f"Method {request.method} is not offered here",
                allow=allow,
            ),
        )
    if exc.status_code == 401:
        return _error_response(request, Unauthorized())
    # Anything else the framework refused (a malformed Content-Length, a client that hung up):
    # its detail may quote the request back or name internals, so it goes to the log only.
    logger.warning("HTTP %s in %s %s: %s", exc.status_code, request.method, request.url.path, exc)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Request refused"
    error: OcpiError = (
        OcpiServerSideError(f"Server error: {phrase}")
        if exc.status_code >= 500
        else OcpiClientSideError(f"Request refused: {phrase}")
    )
    return _error_response(request, error, http_status=exc.status_code)


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unexpected error in %s %s", request.method, request.url.path, exc_info=exc)
    error = OcpiServerSideError("Internal server error")
    return Response(error_envelope(error), status_code=500)


exception_handlers: ExceptionHandlersMap = {
    OcpiError: _handle_ocpi_error,
    ValidationException: _handle_validation,
    HTTPException: _handle_http,
    Exception: _handle_unexpected,
}
"""Exception handlers turning every failure under the OCPI router into an OCPI envelope."""
