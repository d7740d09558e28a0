"""OCPI HTTP headers: unique message ids and message routing (``transport_and_format.asciidoc``).

* ``X-Request-ID``: unique per request; the response carries the same value.
* ``X-Correlation-ID``: unique per request chain; every response and forwarded request keeps it.
* ``OCPI-from/to-country-code`` and ``OCPI-from/to-party-id``: routing of Functional Module
  requests between parties on platforms and hubs; never used with Credentials, Versions or Hub
  Client Info.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ocpi.errors import InvalidOrMissingParameters, quote_input

__all__ = [
    "OCPI_FROM_COUNTRY_CODE",
    "OCPI_FROM_PARTY_ID",
    "OCPI_TO_COUNTRY_CODE",
    "OCPI_TO_PARTY_ID",
    "X_CORRELATION_ID",
    "X_REQUEST_ID",
    "PartyRef",
    "RoutingHeaders",
    "new_message_id",
]

X_REQUEST_ID = "X-Request-ID"
X_CORRELATION_ID = "X-Correlation-ID"
OCPI_FROM_COUNTRY_CODE = "OCPI-from-country-code"
OCPI_FROM_PARTY_ID = "OCPI-from-party-id"
OCPI_TO_COUNTRY_CODE = "OCPI-to-country-code"
OCPI_TO_PARTY_ID = "OCPI-to-party-id"

_COUNTRY_CODE = re.compile(r"[A-Za-z]{2}")
_PARTY_ID = re.compile(r"[A-Za-z0-9]{3}")


def new_message_id() -> str:
    """A fresh UUID4 string for ``X-Request-ID`` / ``X-Correlation-ID``.

    The spec only advises a GUID; the official OpenAPI requires ``format: uuid``, so we always
    send UUIDs while accepting any printable value from peers.
    """
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class PartyRef:
    """A party address: ``country_code`` (CiString(2)) and ``party_id`` (CiString(3)).

    Stored upper-case because both are case-insensitive (CiString).
    """

    country_code: str
    party_id: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "country_code", self.country_code.upper())
        object.__setattr__(self, "party_id", self.party_id.upper())

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


@dataclass(frozen=True, slots=True)
class RoutingHeaders:
    """The four message routing headers; either side may be absent (Open Routing Request)."""

    sender: PartyRef | None
    receiver: PartyRef | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RoutingHeaders:
        """Parse and validate routing headers from a case-insensitive header mapping.

        Raises:
            InvalidOrMissingParameters: one half of a pair is missing, or a value is not a valid
                ISO 3166 alpha-2 country code / 3-character party id.
        """
        return cls(
            sender=_parse_pair(headers, OCPI_FROM_COUNTRY_CODE, OCPI_FROM_PARTY_ID),
            receiver=_parse_pair(headers, OCPI_TO_COUNTRY_CODE, OCPI_TO_PARTY_ID),
        )

    def as_headers(self) -> dict[str, str]:
        """The headers to put on a request or response."""
        result: dict[str, str] = {}
        if self.sender is not None:
            result[OCPI_FROM_COUNTRY_CODE] = self.sender.country_code
            result[OCPI_FROM_PARTY_ID] = self.sender.party_id
        if self.receiver is not None:
            result[OCPI_TO_COUNTRY_CODE] = self.receiver.country_code
            result[OCPI_TO_PARTY_ID] = self.receiver.party_id
        return result

    def reversed(self) -> RoutingHeaders:
        """Routing headers for the response: FROM and TO swapped."""
        return RoutingHeaders(sender=self.receiver, receiver=self.sender)


def _parse_pair(
    headers: Mapping[str, str], country_header: str, party_header: str
) -> PartyRef | None:
    country_code = headers.get(country_header)
    party_id = headers.get(party_header)
    if country_code is None and party_id is None:
        return None
    if country_code is None or party_id is None:
        missing = country_header if country_code is None else party_header
        raise InvalidOrMissingParameters(f"Routing header {missing} is missing")
    if _COUNTRY_CODE.fullmatch(country_code) is None:
        raise InvalidOrMissingParameters(
            f"Routing header {country_header} must be ISO 3166-1 alpha-2, "
            f"got {quote_input(country_code)}"
        )
    if _PARTY_ID.fullmatch(party_id) is None:
        raise InvalidOrMissingParameters(
            f"Routing header {party_header} must be 3 letters or digits, "
            f"got {quote_input(party_id)}"
        )
    return PartyRef(country_code=country_code, party_id=party_id)
