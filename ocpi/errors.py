"""OCPI errors, each carrying its OCPI status code (``status_codes.asciidoc``) and HTTP status.

Server side, raise one of these from a handler or a port implementation; the router turns it into
a response envelope. Client side, :class:`PartnerClient <ocpi.v221.client.PartnerClient>` raises
the :class:`OcpiClientError` branch.

Hierarchy::

    OcpiError
    ├── OcpiClientSideError                    2xxx  the request cannot be processed
    │   ├── InvalidOrMissingParameters         2001
    │   │   ├── MalformedJson                  2001  (HTTP 400: not JSON at all)
    │   │   └── ChargingPreferencesNotSupported 2001 (HTTP 404: EVSE not capable)
    │   ├── NotEnoughInformation               2002
    │   ├── UnknownLocation                    2003
    │   │   └── LocationNotFound               2003  (HTTP 404: GET of an unknown location)
    │   ├── UnknownToken                       2004
    │   │   └── TokenNotFound                  2004  (HTTP 404: GET/PATCH of an unknown token)
    │   ├── Unauthorized                       2000  (HTTP 401)
    │   ├── UnknownObject                      2000  (HTTP 404)
    │   ├── MethodNotAllowed                   2000  (HTTP 405)
    │   ├── PayloadTooLarge                    2000  (HTTP 413)
    │   └── TooManyRequests                    2000  (HTTP 429: public feed rate limit)
    ├── OcpiServerSideError                    3xxx  the server failed
    │   ├── UnableToUseClientApi               3001
    │   ├── UnsupportedVersion                 3002
    │   └── NoMatchingEndpoints                3003
    ├── OcpiHubError                           4xxx  a hub could not route the request
    │   ├── UnknownReceiver                    4001
    │   ├── ForwardedRequestTimeout            4002
    │   └── ConnectionProblem                  4003
    └── OcpiClientError                        raised by our client when calling a peer
        ├── PartnerUnreachable                 transport failure (DNS, connect, timeout)
        ├── PartnerHttpError                   HTTP status outside 2xx
        ├── PartnerProtocolError               body is not a valid OCPI envelope / object
        └── PartnerRejected                    envelope status_code outside 1xxx

HTTP status: the spec (``status_codes.asciidoc``) says a request that is valid JSON and reaches
an existing resource MUST NOT get an HTTP error, so OCPI-layer errors default to HTTP 200 with the
code in the envelope. Transport-level failures use the HTTP codes the spec names: 400 for invalid
JSON, 401 for a missing or unknown token, 404 for unknown objects on GET, 405 for credentials
calls in the wrong registration state; 413 (RFC 9110) for a body beyond the server's limit, which
the spec does not cover.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

__all__ = [
    "ChargingPreferencesNotSupported",
    "ConnectionProblem",
    "ForwardedRequestTimeout",
    "InvalidOrMissingParameters",
    "LocationNotFound",
    "MalformedJson",
    "MethodNotAllowed",
    "NoMatchingEndpoints",
    "NotEnoughInformation",
    "OcpiClientError",
    "OcpiClientSideError",
    "OcpiError",
    "OcpiHubError",
    "OcpiServerSideError",
    "PartnerHttpError",
    "PartnerProtocolError",
    "PartnerRejected",
    "PartnerUnreachable",
    "PayloadTooLarge",
    "TokenNotFound",
    "TooManyRequests",
    "UnableToUseClientApi",
    "Unauthorized",
    "UnknownLocation",
    "UnknownObject",
    "UnknownReceiver",
    "UnknownToken",
    "UnsupportedVersion",
    "quote_input",
]


def quote_input(value: str, limit: int = 40) -> str:
    """``value`` quoted for an error message: shortened to ``limit`` characters, escaped.

    A peer's junk (thousands of digits, NUL bytes, line breaks) then cannot flood or forge
    status messages and log lines.
    """
    shown = value if len(value) <= limit else value[:limit] + "..."
    return repr(shown)


class OcpiError(Exception):
    """Base of all OCPI errors.

    Attributes:
        status_code: OCPI status code put in the response envelope.
        http_status: HTTP status of the response carrying the envelope.
        message: human-readable ``status_message``.
    """

    status_code: ClassVar[int] = 3000
    http_status: ClassVar[int] = 200
    default_message: ClassVar[str] = "Generic server error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class OcpiClientSideError(OcpiError):
    """2000 Generic client error: the data sent by the client cannot be processed."""

    status_code = 2000
    default_message = "Generic client error"


class InvalidOrMissingParameters(OcpiClientSideError):
    """2001 Invalid or missing parameters (e.g. a field violating the spec)."""

    status_code = 2001
    default_message = "Invalid or missing parameters"


class MalformedJson(InvalidOrMissingParameters):
    """The body is not JSON at all; the spec demands HTTP 400 for this."""

    http_status = 400
    default_message = "Request body is not valid JSON"


class ChargingPreferencesNotSupported(InvalidOrMissingParameters):
    """2001 with HTTP 404: Charging Preferences PUT for an EVSE that cannot take them.

    ``mod_sessions.asciidoc`` "ChargingPreferencesResponse": for an EVSE without the capability
    ``CHARGING_PREFERENCES_CAPABLE`` "the receiver should respond with an HTTP status of 404 and
    an OCPI status code of 2001".
    """

    http_status = 404
    default_message = "Charging Preferences are not supported at this session's EVSE"


class NotEnoughInformation(OcpiClientSideError):
    """2002 Not enough information, e.g. real-time authorization without LocationReferences."""

    status_code = 2002
    default_message = "Not enough information"


class UnknownLocation(OcpiClientSideError):
    """2003 Unknown Location."""

    status_code = 2003
    default_message = "Unknown Location"


class LocationNotFound(UnknownLocation):
    """2003 with HTTP 404: a Locations GET of an object that is unknown or not the client's.

    ``status_codes.asciidoc``: a GET of a resource that does not exist SHOULD be 404;
    ``transport_and_format.asciidoc`` allows 404 to hide objects that do not belong to the client.
    """

    http_status = 404


class UnknownToken(OcpiClientSideError):
    """2004 Unknown Token."""

    status_code = 2004
    default_message = "Unknown Token"


class TokenNotFound(UnknownToken):
    """2004 with HTTP 404: a Tokens Receiver GET or PATCH of an unknown token.

    Also for a token that is not the client's: ``transport_and_format.asciidoc`` allows 404 to
    hide objects of others.
    """

    http_status = 404


class Unauthorized(OcpiClientSideError):
    """Missing or unknown credentials token, or token A used beyond versions/credentials.

    Spec: ``transport_and_format.asciidoc`` "Authorization header": HTTP 401.
    """

    http_status = 401
    default_message = "Unauthorized"


class UnknownObject(OcpiClientSideError):
    """GET of an object that does not exist or is not visible to the client: HTTP 404."""

    http_status = 404
    default_message = "Object not found"


class MethodNotAllowed(OcpiClientSideError):
    """A method the resource does not offer (to this client, now): HTTP 405.

    Credentials calls in the wrong registration state (``credentials.asciidoc``) and methods a
    module does not implement. ``allow`` lists the methods that are offered; RFC 9110 §15.5.6
    requires them in the ``Allow`` header of the response.
    """

    http_status = 405
    default_message = "Method not allowed"

    def __init__(self, message: str | None = None, *, allow: Iterable[str] = ()) -> None:
        self.allow = tuple(sorted({method.upper() for method in allow}))
        super().__init__(message)


class PayloadTooLarge(OcpiClientSideError):
    """The request body is larger than the server accepts: HTTP 413 (RFC 9110 §15.5.14)."""

    http_status = 413
    default_message = "Request body too large"


class TooManyRequests(OcpiClientSideError):
    """The client sent more requests than its rate allows: HTTP 429 (RFC 6585 §4).

    OCPI names no code for it; the public data feed limits anonymous clients per address.
    ``retry_after`` is the whole number of seconds until the next request is accepted, sent in
    the ``Retry-After`` header.
    """

    http_status = 429
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(message)


class OcpiServerSideError(OcpiError):
    """3000 Generic server error."""

    status_code = 3000
    default_message = "Generic server error"


class UnableToUseClientApi(OcpiServerSideError):
    """3001 Unable to use the client's API, e.g. its versions cannot be fetched."""

    status_code = 3001
    default_message = "Unable to use the client's API"


class UnsupportedVersion(OcpiServerSideError):
    """3002 Unsupported version: no OCPI version in common."""

    status_code = 3002
    default_message = "Unsupported version"


class NoMatchingEndpoints(OcpiServerSideError):
    """3003 No matching endpoints or expected endpoints missing between parties."""

    status_code = 3003
    default_message = "No matching endpoints or expected endpoints missing between parties"


class OcpiHubError(OcpiError):
    """4000 Generic hub error."""

    status_code = 4000
    default_message = "Generic hub error"


class UnknownReceiver(OcpiHubError):
    """4001 Unknown receiver: the TO address in the routing headers is not known."""

    status_code = 4001
    default_message = "Unknown receiver"


class ForwardedRequestTimeout(OcpiHubError):
    """4002 Timeout on forwarded request."""

    status_code = 4002
    default_message = "Timeout on forwarded request"


class ConnectionProblem(OcpiHubError):
    """4003 Connection problem: the receiving party is not connected."""

    status_code = 4003
    default_message = "Connection problem"


class OcpiClientError(OcpiError):
    """A call from us to a peer failed. ``status_code`` is the peer's code where one exists."""

    default_message = "Call to partner failed"

    def __init__(self, message: str | None = None, *, url: str | None = None) -> None:
        self.url = url
        super().__init__(message)


class PartnerUnreachable(OcpiClientError):
    """The peer could not be reached (connect error, DNS, timeout)."""

    default_message = "Partner unreachable"


class PartnerHttpError(OcpiClientError):
    """The peer answered with an HTTP status outside 2xx."""

    default_message = "Partner answered with an HTTP error"

    def __init__(
        self, message: str | None = None, *, url: str | None = None, http_status: int
    ) -> None:
        self.response_status = http_status
        super().__init__(message, url=url)


class PartnerProtocolError(OcpiClientError):
    """The peer's response is not a valid OCPI envelope or object."""

    default_message = "Partner response is not valid OCPI"


class PartnerRejected(OcpiClientError):
    """The peer's envelope carries a status code outside the 1xxx success range."""

    default_message = "Partner rejected the request"

    def __init__(
        self, message: str | None = None, *, url: str | None = None, partner_status_code: int
    ) -> None:
        self.partner_status_code = partner_status_code
        super().__init__(message, url=url)
