"""What an eMSP's real-time authorization endpoint can answer (``mod_tokens`` "POST Method").

:meth:`PartnerClient.authorize <ocpi.v221.client.PartnerClient.authorize>` returns these.

A real-time authorization has to end in a decision within the charger's timeout, so the client
returns every outcome as a value instead of raising: the eMSP's
:class:`~ocpi.v221.models.tokens.AuthorizationInfo`, :class:`UnknownTokenAnswer`,
:class:`NotEnoughInformationAnswer`, or :class:`UnreachableAnswer` for anything else (no
answer, an HTTP error, an answer that is not OCPI, data that breaks the spec). The caller's
whitelist rule decides what an unreachable eMSP means for the driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ocpi.v221.models.tokens import AuthorizationInfo

__all__ = [
    "AuthorizeAnswer",
    "NotEnoughInformationAnswer",
    "UnknownTokenAnswer",
    "UnreachableAnswer",
]


@dataclass(frozen=True, slots=True)
class UnknownTokenAnswer:
    """The eMSP does not know the token: HTTP 404, or OCPI 2004 "Unknown Token".

    The spec says both: "the eMSP SHALL respond with an HTTP status code: 404" and, under
    "Response Data", "the response SHALL contain the status code: 2004".
    """

    detail: str
    """What the eMSP said, in words (for logs and the audit trail)."""


@dataclass(frozen=True, slots=True)
class NotEnoughInformationAnswer:
    """OCPI 2002: the eMSP needs ``LocationReferences`` (or more of them) to decide."""

    detail: str


@dataclass(frozen=True, slots=True)
class UnreachableAnswer:
    """No usable answer from the eMSP.

    That is a transport failure or timeout, an HTTP error, refused credentials, a body that is
    not an OCPI envelope, another OCPI error code, or data that is not a valid
    ``AuthorizationInfo``.
    """

    reason: str
    """Why, in words, naming the failing field when the data was invalid."""


AuthorizeAnswer: TypeAlias = (
    AuthorizationInfo | UnknownTokenAnswer | NotEnoughInformationAnswer | UnreachableAnswer
)
"""Every outcome of one real-time authorization request."""
