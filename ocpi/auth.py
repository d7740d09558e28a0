"""The ``Authorization: Token <encoded token>`` header (``transport_and_format.asciidoc``).

Since 2.2-d2 the credentials token is sent Base64-encoded (RFC 4648 section 4). Many 2.1.1 and
2.2 peers still send it plain, and the spec leaves interoperability to "trial and error or
configuration flags"; :class:`TokenEncoding` is that flag, one per partner.
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum

__all__ = [
    "MAX_TOKEN_LENGTH",
    "TokenEncoding",
    "authorization_header",
    "is_valid_token",
    "token_candidates",
]

MAX_TOKEN_LENGTH = 64
"""Credentials ``token`` is ``string(64)`` (``credentials.asciidoc``)."""

_TOKEN_CHARACTERS = re.compile(r"[\x21-\x7e]+")


class TokenEncoding(StrEnum):
    """How a partner puts its credentials token in the Authorization header.

    ``AUTO`` accepts both forms from the partner and sends Base64 (the spec's form) first,
    falling back to plain when the partner refuses it.
    """

    AUTO = "auto"
    BASE64 = "base64"
    PLAIN = "plain"


def is_valid_token(token: str) -> bool:
    """Whether ``token`` is a valid credentials token: 1-64 printable non-whitespace ASCII."""
    return len(token) <= MAX_TOKEN_LENGTH and _TOKEN_CHARACTERS.fullmatch(token) is not None


def authorization_header(token: str, encoding: TokenEncoding = TokenEncoding.BASE64) -> str:
    """Value of the Authorization header for ``token``; ``AUTO`` sends the spec's Base64 form."""
    if encoding is TokenEncoding.PLAIN:
        return f"Token {token}"
    encoded = base64.b64encode(token.encode("utf-8")).decode("ascii")
    return f"Token {encoded}"


def token_candidates(header_value: str | None) -> dict[TokenEncoding, str]:
    """Possible credentials tokens carried by an Authorization header value.

    Returns a mapping from the encoding that would have produced the header to the token it
    carries: ``{BASE64: decoded}`` when the value is valid Base64 of a valid token, and
    ``{PLAIN: raw}`` when the raw value is itself a valid token. Both may be present (a plain
    token that happens to be valid Base64); the caller decides with the partner's setting.
    An empty mapping means the header is missing or malformed.
    """
    if not header_value:
        return {}
    scheme, _, value = header_value.partition(" ")
    if scheme.lower() != "token" or not value:
        return {}
    value = value.strip()
    candidates: dict[TokenEncoding, str] = {}
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if decoded and is_valid_token(decoded):
        candidates[TokenEncoding.BASE64] = decoded
    if is_valid_token(value):
        candidates[TokenEncoding.PLAIN] = value
    return candidates
