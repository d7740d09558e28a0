"""PartnerClient: calls to a peer's OCPI 2.2.1 interfaces over an injected ``httpx.AsyncClient``.

Every request carries ``Authorization: Token ...``, a fresh ``X-Request-ID`` and an
``X-Correlation-ID`` (``transport_and_format.asciidoc``). Failures raise the
:class:`~ocpi.errors.OcpiClientError` branch; whether to retry is the caller's decision.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ocpi.auth import TokenEncoding, authorization_header
from ocpi.envelope import (
    X_TOTAL_COUNT,
    OcpiResponse,
    PulledPage,
    parse_next_link,
    parse_total_count,
)
from ocpi.errors import (
    NotEnoughInformation,
    OcpiServerSideError,
    PartnerHttpError,
    PartnerProtocolError,
    PartnerRejected,
    PartnerUnreachable,
    UnknownToken,
    quote_input,
)
from ocpi.headers import X_CORRELATION_ID, X_REQUEST_ID, RoutingHeaders, new_message_id
from ocpi.v221.models.cdrs import CDR
from ocpi.v221.models.charging_profiles import ActiveChargingProfile
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.sessions import Session, SessionPatch
from ocpi.v221.models.tokens import AuthorizationInfo, LocationReferences
from ocpi.v221.models.versions import Version, VersionDetails
from ocpi.v221.realtime import (
    AuthorizeAnswer,
    NotEnoughInformationAnswer,
    UnknownTokenAnswer,
    UnreachableAnswer,
)
from ocpi.validation import describe_validation_error

__all__ = ["PartnerClient", "object_url"]

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

_ENVELOPE = TypeAdapter(OcpiResponse[Any])

# httpx failures in words, most specific first (these messages end up in OCPI status messages).
_TRANSPORT_FAILURES: tuple[tuple[type[Exception], str], ...] = (
    (httpx.ConnectTimeout, "no connection within the timeout"),
    (httpx.TimeoutException, "no answer within the timeout"),
    (httpx.ConnectError, "connection failed"),
    (httpx.RemoteProtocolError, "the connection broke off or the answer was not valid HTTP"),
    (httpx.UnsupportedProtocol, "the URL is not http or https"),
    (httpx.TooManyRedirects, "too many redirects"),
    (httpx.InvalidURL, "the URL is not valid"),
)


def _transport_failure(exc: Exception) -> str:
    """What went wrong, in words: a kind, then the operating system's reason if it gave one."""
    kind = next(
        (words for cls, words in _TRANSPORT_FAILURES if isinstance(exc, cls)), "transport failure"
    )
    reason = str(exc).strip()
    return f"{kind} ({reason})" if reason else kind


def object_url(endpoint_url: str, *segments: str) -> str:
    """``{endpoint_url}/{segment}/...``: the URL of an object under a module endpoint.

    The endpoint's trailing slash, if any, is dropped; each segment is URL-quoted on its own,
    so an id with ``/``, ``?`` or ``#`` cannot address another resource. For Client Owned
    Objects (``transport_and_format.asciidoc``) the segments are ``country_code``,
    ``party_id`` and the object's id.
    """
    return "/".join([endpoint_url.rstrip("/"), *(quote(segment, safe="") for segment in segments)])


class PartnerClient:
    """OCPI calls to one peer with one credentials token.

    Args:
        http: shared client (connection pool, timeouts) owned by the application.
        token: the credentials token the peer gave us (or its registration token A).
        encoding: how to put the token in the header. ``AUTO`` sends Base64 first and, if the
            peer answers 401, retries once in plain text and keeps whichever worked
            (see :attr:`encoding`); the spec leaves this to "trial and error". When the plain
            retry fares no better (401 again, a generic server error, no answer), the 401 is
            the answer, and :meth:`call`'s error says what the plain retry got.
        correlation_id: ``X-Correlation-ID`` for every request of this client; a new one per
            request when omitted.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token: str,
        encoding: TokenEncoding = TokenEncoding.AUTO,
        correlation_id: str | None = None,
    ) -> None:
        self._http = http
        self._token = token
        self.encoding = encoding
        self._correlation_id = correlation_id

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        routing: RoutingHeaders | None = None,
    ) -> httpx.Response:
        """Send one request; return the response whatever its HTTP status.

        Raises:
            PartnerUnreachable: transport failure.
        """
        response, _ = await self._request(method, url, body, params, routing)
        return response

    async def _request(
        self,
        method: str,
        url: str,
        body: Any,
        params: Mapping[str, str] | None,
        routing: RoutingHeaders | None,
    ) -> tuple[httpx.Response, str | None]:
        """The response, and what the plain-token retry got if the refused Base64 one is kept.

        Only ``AUTO`` retries; the Base64 answer is kept when it says more (see
        :func:`_refused_plain`).
        """
        if self.encoding is not TokenEncoding.AUTO:
            return await self._send(method, url, body, params, routing, self.encoding), None
        first = await self._send(method, url, body, params, routing, TokenEncoding.BASE64)
        if first.status_code != httpx.codes.UNAUTHORIZED:
            self.encoding = TokenEncoding.BASE64
            return first, None
        try:
            second = await self._send(method, url, body, params, routing, TokenEncoding.PLAIN)
        except PartnerUnreachable as exc:
            return first, _tried_both(f"no answer ({exc.message})")
        plain_refused = _refused_plain(second)
        if plain_refused is not None:
            # The plain token got no further than the Base64 one: the 401 is the telling
            # answer. Some peers fail on a token they cannot Base64-decode with a generic server
            # error, which would hide that the token itself is wrong. Stay on AUTO.
            return first, _tried_both(plain_refused)
        logger.info("partner at %s accepts only plain tokens; switching", url)
        self.encoding = TokenEncoding.PLAIN
        return second, None

    async def _send(
        self,
        method: str,
        url: str,
        body: Any,
        params: Mapping[str, str] | None,
        routing: RoutingHeaders | None,
        encoding: TokenEncoding,
    ) -> httpx.Response:
        request_id = new_message_id()
        headers = {
            "Authorization": authorization_header(self._token, encoding),
            X_REQUEST_ID: request_id,
            X_CORRELATION_ID: self._correlation_id or new_message_id(),
        }
        if routing is not None:
            headers.update(routing.as_headers())
        content: bytes | None = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        try:
            response = await self._http.request(
                method, url, headers=headers, content=content, params=params
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is not an HTTPError: a peer's credentials may carry any string as url.
            logger.warning("%s %s failed (request %s): %r", method, url, request_id, exc)
            raise PartnerUnreachable(f"{method} {url}: {_transport_failure(exc)}", url=url) from exc
        logger.info("%s %s -> %s (request %s)", method, url, response.status_code, request_id)
        return response

    async def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        routing: RoutingHeaders | None = None,
    ) -> tuple[OcpiResponse[Any], httpx.Response]:
        """Send a request and return its successful envelope.

        Raises:
            PartnerUnreachable: transport failure.
            PartnerHttpError: HTTP status outside 2xx.
            PartnerProtocolError: the body is not an OCPI envelope.
            PartnerRejected: the envelope's status code is not 1xxx.
        """
        response, retried = await self._request(method, url, body, params, routing)
        envelope = _parse_envelope(response, url)
        if not 200 <= response.status_code < 300:
            detail = f": {envelope.status_message}" if envelope and envelope.status_message else ""
            detail += f" {retried}" if retried else ""
            raise PartnerHttpError(
                f"{method} {url} answered HTTP {response.status_code}{detail}",
                url=url,
                http_status=response.status_code,
            )
        if envelope is None:
            raise PartnerProtocolError(f"{method} {url}: response is not an OCPI envelope", url=url)
        if not envelope.is_success:
            raise PartnerRejected(
                f"{method} {url} answered OCPI {envelope.status_code}: {envelope.status_message}",
                url=url,
                partner_status_code=envelope.status_code,
            )
        return envelope, response

    async def get_versions(self, url: str) -> list[Version]:
        """GET the peer's version information endpoint (``version_information_endpoint``)."""
        envelope, _ = await self.call("GET", url)
        return _data(envelope, TypeAdapter(list[Version]), url)

    async def get_version_details(self, url: str) -> VersionDetails:
        """GET the peer's version details: its endpoints for one version."""
        envelope, _ = await self.call("GET", url)
        return _data(envelope, TypeAdapter(VersionDetails), url)

    async def get_credentials(self, url: str) -> Credentials:
        """GET the credentials object to access the peer's platform."""
        envelope, _ = await self.call("GET", url)
        return _data(envelope, TypeAdapter(Credentials), url)

    async def post_credentials(self, url: str, credentials: Credentials) -> Credentials:
        """POST our credentials to register with the peer; returns the peer's credentials."""
        envelope, _ = await self.call("POST", url, body=credentials.to_wire())
        return _data(envelope, TypeAdapter(Credentials), url)

    async def put_credentials(self, url: str, credentials: Credentials) -> Credentials:
        """PUT updated credentials (rotation, version or endpoint change)."""
        envelope, _ = await self.call("PUT", url, body=credentials.to_wire())
        return _data(envelope, TypeAdapter(Credentials), url)

    async def delete_credentials(self, url: str) -> None:
        """DELETE our credentials at the peer: unregister."""
        await self.call("DELETE", url)

    async def pull(
        self,
        url: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str] | None = None,
        routing: RoutingHeaders | None = None,
    ) -> AsyncIterator[ModelT]:
        """Yield every object of a paginated Sender GET, following ``Link: rel="next"``.

        The first request carries ``params`` (``date_from``, ``limit``...); later requests use
        the ``Link`` URL as given, which by spec carries every filter.
        """
        adapter = TypeAdapter(list[model])  # type: ignore[valid-type]
        next_url: str | None = url
        next_params = params
        while next_url is not None:
            envelope, response = await self.call(
                "GET", next_url, params=next_params, routing=routing
            )
            for item in _data(envelope, adapter, next_url):
                yield item
            next_url = parse_next_link(response.headers.get("Link"))
            next_params = None

    async def pull_pages(
        self,
        url: str,
        model: type[ModelT],
        *,
        params: Mapping[str, str] | None = None,
        routing: RoutingHeaders | None = None,
    ) -> AsyncGenerator[PulledPage[ModelT], None]:
        """Yield a paginated Sender GET page by page, following ``Link: rel="next"``.

        Unlike :meth:`pull`, each object is validated on its own: one malformed object is
        described in :attr:`PulledPage.invalid` instead of making the whole page (and every
        later one) unusable. Each page says which URL comes next, so a caller that stores it
        can resume a long pull where it stopped by calling this again with that URL.
        """
        adapter = TypeAdapter(model)
        next_url: str | None = url
        next_params = params
        while next_url is not None:
            envelope, response = await self.call(
                "GET", next_url, params=next_params, routing=routing
            )
            raw = envelope.data if envelope.data is not None else []
            if not isinstance(raw, list):
                raise PartnerProtocolError(f"{next_url}: Response data must be a list", url=url)
            items: list[ModelT] = []
            invalid: list[str] = []
            for index, item in enumerate(raw):
                try:
                    items.append(adapter.validate_python(item))
                except ValidationError as exc:
                    invalid.append(describe_validation_error(exc, subject=f"Object [{index}]"))
            requested = str(response.request.url)
            next_url = parse_next_link(response.headers.get("Link"))
            next_params = None
            yield PulledPage(
                url=requested,
                items=items,
                invalid=invalid,
                next_url=next_url,
                total=parse_total_count(response.headers.get(X_TOTAL_COUNT)),
            )

    # --- Sessions Receiver (mod_sessions.asciidoc "Receiver Interface") ------------------------

    async def get_session(
        self,
        sessions_url: str,
        country_code: str,
        party_id: str,
        session_id: str,
        *,
        routing: RoutingHeaders | None = None,
    ) -> Session:
        """GET the Session as the eMSP stored it, to check it (e.g. after a failed PATCH).

        ``sessions_url`` is the eMSP's Sessions Receiver endpoint; ``country_code`` and
        ``party_id`` are ours, the CPO's: ``{sessions_url}/{country_code}/{party_id}/{id}``.
        """
        url = object_url(sessions_url, country_code, party_id, session_id)
        envelope, _ = await self.call("GET", url, routing=routing)
        return _data(envelope, TypeAdapter(Session), url)

    async def put_session(
        self, sessions_url: str, session: Session, *, routing: RoutingHeaders | None = None
    ) -> None:
        """PUT a new or updated Session to the eMSP, at the URL of its own identity.

        ``{sessions_url}/{session.country_code}/{session.party_id}/{session.id}``. The eMSP
        replaces what it had, ``charging_periods`` included: a Session PUT without them clears
        its list (``mod_sessions.asciidoc`` "PUT Method").
        """
        url = object_url(sessions_url, session.country_code, session.party_id, session.id)
        await self.call("PUT", url, body=session.to_wire(), routing=routing)

    async def patch_session(
        self,
        sessions_url: str,
        country_code: str,
        party_id: str,
        session_id: str,
        patch: SessionPatch,
        *,
        routing: RoutingHeaders | None = None,
    ) -> None:
        """PATCH some fields of a Session at the eMSP (``last_updated`` is always among them).

        The URL is built as for :meth:`put_session`. The ``charging_periods`` of a PATCH are
        *added* to the eMSP's list ("SHALL be processed as a request to add all the
        ChargingPeriod objects"), so send only the new ones; replacing or removing periods
        takes a PUT (``mod_sessions.asciidoc`` "PATCH Method").
        """
        url = object_url(sessions_url, country_code, party_id, session_id)
        await self.call("PATCH", url, body=patch.to_wire(), routing=routing)

    # --- CDRs Receiver (mod_cdrs.asciidoc "Receiver Interface") --------------------------------

    async def post_cdr(
        self, cdrs_url: str, cdr: CDR, *, routing: RoutingHeaders | None = None
    ) -> str | None:
        """POST a new CDR to the eMSP's CDRs endpoint; return where the eMSP stored it.

        That is the ``Location`` header of the answer, which the spec requires ("URL to the
        newly created CDR in the eMSP's system"), made absolute against the request URL (RFC
        9110 allows a relative reference); None when the eMSP sent none. Keep it: it is the
        only URL :meth:`get_cdr` can use. A CDR cannot be replaced or updated once sent (there
        is no PUT or PATCH); a correction is a Credit CDR with another id
        (``mod_cdrs.asciidoc`` "Credit CDRs").
        """
        _, response = await self.call("POST", cdrs_url, body=cdr.to_wire(), routing=routing)
        location: str = response.headers.get("Location", "").strip()
        if not location:
            logger.warning("POST %s: the CDR was accepted without a Location header", cdrs_url)
            return None
        return urljoin(str(response.request.url), location)

    async def get_cdr(self, location_url: str, *, routing: RoutingHeaders | None = None) -> CDR:
        """GET a CDR back from the eMSP at the URL its POST answer gave (``Location``)."""
        envelope, _ = await self.call("GET", location_url, routing=routing)
        return _data(envelope, TypeAdapter(CDR), location_url)

    # --- ChargingProfiles Sender (mod_charging_profiles.asciidoc "Sender Interface") ---------

    async def put_active_charging_profile(
        self,
        chargingprofiles_url: str,
        session_id: str,
        profile: ActiveChargingProfile,
        *,
        routing: RoutingHeaders | None = None,
    ) -> None:
        """PUT a session's changed ActiveChargingProfile to the party that set its profile.

        ``{chargingprofiles_url}/{session_id}`` (the spec writes ``{url}{session_id}``; the
        endpoint's trailing slash is normalised and the id URL-quoted as one segment), where
        ``chargingprofiles_url`` is the peer's ChargingProfiles *Sender* endpoint. The spec
        ("PUT Method" of the Sender interface): the CPO SHALL send every change it knows of,
        but only for sessions on which this peer has at least once successfully set a profile
        (Receiver PUT), covering a useful duration (a guide: 5 to 60 minutes); with no profile
        active any more, ``profile`` shows the EVSE's maximum capacity. The answer has no data.

        The asynchronous results (``ChargingProfileResult``, ``ActiveChargingProfileResult``,
        ``ClearProfileResult``, and Commands' ``CommandResult``) go to the ``response_url`` the
        peer gave, with :meth:`call` (``POST``, ``body=result.to_wire()``): the spec leaves
        those URLs to the peer, so there is nothing to build.
        """
        url = object_url(chargingprofiles_url, session_id)
        await self.call("PUT", url, body=profile.to_wire(), routing=routing)

    # --- Tokens Sender: real-time authorization (mod_tokens.asciidoc "POST Method") -----------

    async def authorize(
        self,
        tokens_url: str,
        uid: str,
        token_type: str,
        location_references: LocationReferences | None = None,
        *,
        routing: RoutingHeaders | None = None,
    ) -> AuthorizeAnswer:
        """Ask the eMSP whether a token may charge: ``POST {tokens_url}{uid}/authorize?type=``.

        The question may name a location and its EVSEs (``location_references``).

        ``tokens_url`` is the eMSP's Tokens *Sender* endpoint, with or without its trailing
        slash; ``uid`` is sent as one URL-quoted path segment, so a uid with ``/``, ``?`` or
        ``#`` cannot address another resource. The body is ``location_references``, or empty.

        Never raises for the peer's behaviour: every outcome is an
        :data:`~ocpi.v221.realtime.AuthorizeAnswer` (HTTP 404 and OCPI 2004 are
        :class:`UnknownTokenAnswer`, 2002 is :class:`NotEnoughInformationAnswer`, anything that
        is not a valid ``AuthorizationInfo`` is :class:`UnreachableAnswer` with the reason in
        words, also logged). Cancelling the call (the caller's time budget) cancels the request.
        """
        url = object_url(tokens_url, uid, "authorize")
        body = None if location_references is None else location_references.to_wire()
        try:
            response, retried = await self._request(
                "POST", url, body, {"type": str(token_type)}, routing
            )
        except PartnerUnreachable as exc:
            return UnreachableAnswer(exc.message)
        answer = _authorize_answer(response, retried)
        if isinstance(answer, UnreachableAnswer):
            # INFO: the caller knows the partner and logs the warning that names it.
            logger.info("real-time authorization at %s unusable: %s", url, answer.reason)
        return answer


def _envelope_or_none(response: httpx.Response) -> OcpiResponse[Any] | None:
    """The response's OCPI envelope, or None when the body is not one."""
    try:
        return _ENVELOPE.validate_json(response.content)
    except ValidationError:
        return None


def _authorize_answer(response: httpx.Response, retried: str | None) -> AuthorizeAnswer:
    status = response.status_code
    envelope = _envelope_or_none(response)
    said = ""
    if envelope is not None:
        said = f"OCPI {envelope.status_code}"
        if envelope.status_message:
            said += f" {quote_input(envelope.status_message, 120)}"
    if status == httpx.codes.NOT_FOUND:
        return UnknownTokenAnswer(", ".join(part for part in ("HTTP 404", said) if part))
    if envelope is not None and status < httpx.codes.INTERNAL_SERVER_ERROR:
        if envelope.status_code == UnknownToken.status_code:
            return UnknownTokenAnswer(f"HTTP {status}, {said}")
        if envelope.status_code == NotEnoughInformation.status_code:
            return NotEnoughInformationAnswer(f"HTTP {status}, {said}")
    if not 200 <= status < 300:
        detail = f" ({said})" if said else ""
        detail += f" {retried}" if retried else ""
        if status == httpx.codes.UNAUTHORIZED:
            return UnreachableAnswer(f"HTTP 401: the eMSP refused our credentials{detail}")
        return UnreachableAnswer(f"HTTP {status}{detail}")
    if envelope is None:
        return UnreachableAnswer(
            f"HTTP {status} but the answer is not an OCPI envelope: {response.content[:80]!r}"
        )
    if not envelope.is_success:
        return UnreachableAnswer(f"the eMSP answered {said}")
    try:
        return AuthorizationInfo.model_validate(envelope.data)
    except ValidationError as exc:
        return UnreachableAnswer(
            describe_validation_error(exc, subject="AuthorizationInfo in the answer")
        )


def _tried_both(plain_answer: str) -> str:
    return (
        "(tried the token base64-encoded, as OCPI 2.2.1 says, then plain; "
        f"plain got: {plain_answer})"
    )


def _refused_plain(response: httpx.Response) -> str | None:
    """What the plain-token retry got, in words, if it fared no better than the Base64 token.

    That is a 401 too, or a generic server error (HTTP 5xx or OCPI 3000). None: the peer took
    the plain token (any other answer, an error about the request included).
    """
    envelope = _envelope_or_none(response)
    ocpi = ""
    if envelope is not None:
        ocpi = f"OCPI {envelope.status_code}"
        if envelope.status_message:
            ocpi += f" {envelope.status_message}"
    status = response.status_code
    if status == httpx.codes.UNAUTHORIZED:
        return "HTTP 401 too"
    if status >= httpx.codes.INTERNAL_SERVER_ERROR or (
        envelope is not None and envelope.status_code == OcpiServerSideError.status_code
    ):
        return ", ".join(part for part in (f"HTTP {status}", ocpi) if part)
    return None


def _parse_envelope(response: httpx.Response, url: str) -> OcpiResponse[Any] | None:
    envelope = _envelope_or_none(response)
    if envelope is None and 200 <= response.status_code < 300:
        logger.warning("invalid OCPI envelope from %s: %.200r", url, response.content)
    return envelope


DataT = TypeVar("DataT")


def _data(envelope: OcpiResponse[Any], adapter: TypeAdapter[DataT], url: str) -> DataT:
    try:
        return adapter.validate_python(envelope.data)
    except ValidationError as exc:
        logger.warning("invalid OCPI data from %s: %s", url, exc)
        described = describe_validation_error(exc, subject="Response data")
        raise PartnerProtocolError(f"{url}: {described}", url=url) from exc
