"""Credentials tokens we issue: generation and at-rest hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def generate_token() -> str:
    """A new random credentials token: 256 bits, URL-safe, 43 printable ASCII characters.

    Fits OCPI's ``string(64)`` of printable non-whitespace ASCII.
    """
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex digest under which an issued token is stored.

    Tokens are 256-bit random values, so a fast hash suffices (nothing to brute-force) and the
    database can find the partner through an indexed lookup.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str | None) -> bool:
    """Constant-time check of a presented token against a stored hash."""
    if stored_hash is None:
        return False
    return hmac.compare_digest(hash_token(token).encode("ascii"), stored_hash.encode("ascii"))
