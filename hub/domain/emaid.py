"""eMAIDs: the contract ids (eMI3 "eMA-ID", ISO 15118-2 ``EMAID``) a vehicle presents for Plug &
Charge, and the key by which we route one to the eMSP that issued it.

Grammar (ISO 15118-2 / eMI3, see ``shared/pnc/NOTES.md`` §1)::

    <country code 2> [-] <provider id 3> [-] <eMA instance 9> [[-] <check character 1>]

Upper and lower case are equivalent and the separators are optional, so the normalised form is
upper case without separators: 14 characters, or 15 with the check character (ISO 15118-2
carries at most 15 characters between vehicle and charger). The country code is two letters; the
provider id and the instance are letters and digits.

The check character (eMI3 / OCHP "Check Digit Calculation for Contract-IDs") is computed over
the 14 normalised characters. Each of the 36 characters stands for a 2x2 matrix: a pair of
binary values ``q`` and a pair of ternary values ``r``. The ``q`` pair of the character at
position ``i`` (from 1) is multiplied by ``P1**i`` over GF(2), the ``r`` pair by ``P2**i`` over
GF(3); the binary sum is the binary pair of the check character, and the ternary sum multiplied
by ``-P2**-15`` is its ternary pair. It detects single-character errors, adjacent and jump
transpositions, twin and jump-twin errors.

The routing prefix is country code + provider id, written ``US-ABC``: an eMSP's OCPI party
(country_code, party_id) need not equal the provider prefix of its eMAIDs, so the operator keeps
a prefix → partner table in that form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

EMAID_BODY_LENGTH: Final = 14
"""Characters covered by the check character: country 2 + provider 3 + instance 9."""

_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SEPARATORS: Final = "-*"
_SHAPE: Final = re.compile(
    r"(?P<country>[A-Z]{2})(?P<provider>[0-9A-Z]{3})(?P<instance>[0-9A-Z]{9})"
)

_Matrix = tuple[int, int, int, int]
"""A 2x2 matrix (m11, m12, m21, m22)."""

# The eMI3 character table, written as a rule instead of 36 literals: the character at index
# k of 0-9A-Z stands for the binary pair (q1, q2) with 2*q1 + q2 == k // 9 and the ternary pair
# (r1, r2) with 3*r1 + r2 == k % 9. (Checked against every published test vector.)


def _pairs_of(index: int) -> tuple[tuple[int, int], tuple[int, int]]:
    binary, ternary = divmod(index, 9)
    return (binary >> 1, binary & 1), divmod(ternary, 3)


def _multiply(a: _Matrix, b: _Matrix, modulus: int) -> _Matrix:
    a11, a12, a21, a22 = a
    b11, b12, b21, b22 = b
    return (
        (a11 * b11 + a12 * b21) % modulus,
        (a11 * b12 + a12 * b22) % modulus,
        (a21 * b11 + a22 * b21) % modulus,
        (a21 * b12 + a22 * b22) % modulus,
    )


def _powers(base: _Matrix, modulus: int, count: int) -> tuple[_Matrix, ...]:
    """base**1 … base**count."""
    powers = [base]
    while len(powers) < count:
        powers.append(_multiply(powers[-1], base, modulus))
    return tuple(powers)


def _row_times(vector: tuple[int, int], matrix: _Matrix, modulus: int) -> tuple[int, int]:
    v1, v2 = vector
    m11, m12, m21, m22 = matrix
    return (v1 * m11 + v2 * m21) % modulus, (v1 * m12 + v2 * m22) % modulus


_P1: Final[_Matrix] = (0, 1, 1, 1)
_P2: Final[_Matrix] = (0, 1, 1, 2)
_P1_POWERS: Final = _powers(_P1, 2, EMAID_BODY_LENGTH)
_P2_POWERS: Final = _powers(_P2, 3, EMAID_BODY_LENGTH)


def _negated_inverse_power(base: _Matrix, modulus: int, exponent: int) -> _Matrix:
    """-(base**-exponent): base is invertible, so some base**order is the identity and
    base**-exponent == base**(k*order - exponent) for a k large enough."""
    identity: _Matrix = (1, 0, 0, 1)
    order, power = 1, base
    while power != identity:
        order, power = order + 1, _multiply(power, base, modulus)
    positive = -exponent % order or order
    m11, m12, m21, m22 = _powers(base, modulus, positive)[-1]
    return (-m11 % modulus, -m12 % modulus, -m21 % modulus, -m22 % modulus)


_NEG_P2_INVERSE_15: Final = _negated_inverse_power(_P2, 3, EMAID_BODY_LENGTH + 1)
_CHARACTER_OF_PAIRS: Final = {_pairs_of(index): char for index, char in enumerate(_ALPHABET)}


def check_character(body: str) -> str:
    """The eMI3 check character of the 14 characters country + provider + instance.

    ``body`` may be in any case and contain separators; it must otherwise be exactly 14 letters
    and digits (:class:`MalformedEmaid` if not).
    """
    normalised = normalise(body)
    if len(normalised) != EMAID_BODY_LENGTH or not all(c in _ALPHABET for c in normalised):
        raise MalformedEmaid(
            body, f"a check character is computed over 14 letters and digits, got {normalised!r}"
        )
    binary_sum = (0, 0)
    ternary_sum = (0, 0)
    for position, char in enumerate(normalised):
        binary, ternary = _pairs_of(_ALPHABET.index(char))
        b = _row_times(binary, _P1_POWERS[position], 2)
        t = _row_times(ternary, _P2_POWERS[position], 3)
        binary_sum = ((binary_sum[0] + b[0]) % 2, (binary_sum[1] + b[1]) % 2)
        ternary_sum = ((ternary_sum[0] + t[0]) % 3, (ternary_sum[1] + t[1]) % 3)
    ternary_pair = _row_times(ternary_sum, _NEG_P2_INVERSE_15, 3)
    return _CHARACTER_OF_PAIRS[(binary_sum, ternary_pair)]


class MalformedEmaid(ValueError):
    """The text is not an eMAID; ``reason`` says why in words (for the audit trail and logs)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"{text!r} is not a valid eMAID: {reason}")
        self.text = text
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Emaid:
    """A parsed, normalised eMAID. ``check`` is None when the id was presented without one."""

    country_code: str
    provider_id: str
    instance: str
    check: str | None

    @property
    def body(self) -> str:
        """The 14 characters the check character covers."""
        return f"{self.country_code}{self.provider_id}{self.instance}"

    @property
    def normalised(self) -> str:
        """Upper case, no separators, with the check character if one was presented: the form
        we store, compare with ``Token.contract_id`` and put in ``cdr_token``."""
        return self.body + (self.check or "")

    @property
    def with_check(self) -> str:
        """The normalised form with the check character, computed when it was not presented."""
        return self.body + (self.check or check_character(self.body))

    @property
    def routing_prefix(self) -> str:
        """Country code + provider id as the operator writes it in the prefix table: ``US-ABC``."""
        return routing_prefix_of(self.country_code, self.provider_id)

    def __str__(self) -> str:
        return self.normalised


def normalise(text: str) -> str:
    """Upper case, separators ('-', '*') and surrounding blanks removed. No validation."""
    return "".join(c for c in text.strip().upper() if c not in _SEPARATORS)


def parse_emaid(text: str) -> Emaid:
    """Parse and validate an eMAID in any case, with or without separators and check character.

    Raises :class:`MalformedEmaid` (reason in words) when the shape is wrong or the check
    character does not match. A malformed eMAID must never reach an eMSP.
    """
    normalised = normalise(text)
    if not normalised:
        raise MalformedEmaid(text, "it is empty")
    if not all(c in _ALPHABET for c in normalised):
        bad = sorted({c for c in normalised if c not in _ALPHABET})
        raise MalformedEmaid(
            text, f"it may hold only letters, digits and the separators '-' '*', not {bad}"
        )
    if len(normalised) not in (EMAID_BODY_LENGTH, EMAID_BODY_LENGTH + 1):
        raise MalformedEmaid(
            text,
            f"it has {len(normalised)} letters and digits; an eMAID has 14 (country 2, "
            "provider 3, instance 9) or 15 with the check character",
        )
    match = _SHAPE.fullmatch(normalised[:EMAID_BODY_LENGTH])
    if match is None:
        raise MalformedEmaid(text, "the country code (the first two characters) must be letters")
    presented = normalised[EMAID_BODY_LENGTH:] or None
    if presented is not None:
        expected = check_character(normalised[:EMAID_BODY_LENGTH])
        if presented != expected:
            raise MalformedEmaid(
                text, f"the check character is {presented!r} but the id computes to {expected!r}"
            )
    return Emaid(
        country_code=match["country"],
        provider_id=match["provider"],
        instance=match["instance"],
        check=presented,
    )


def is_valid_emaid(text: str) -> bool:
    """Whether :func:`parse_emaid` accepts ``text``."""
    try:
        parse_emaid(text)
    except MalformedEmaid:
        return False
    return True


_PREFIX_SHAPE: Final = re.compile(r"([A-Z]{2})[-*]?([0-9A-Z]{3})")


def routing_prefix_of(country_code: str, provider_id: str) -> str:
    """``US-ABC`` from ``us`` and ``abc``."""
    return f"{country_code.upper()}-{provider_id.upper()}"


def parse_routing_prefix(text: str) -> str:
    """An operator-written prefix (``US-ABC``, ``usabc``, ``US*ABC``) in its canonical form
    ``US-ABC``; :class:`MalformedEmaid` (with a reason) when it is not country 2 + provider 3."""
    match = _PREFIX_SHAPE.fullmatch(text.strip().upper())
    if match is None:
        raise MalformedEmaid(
            text,
            "a routing prefix is a 2-letter country code and a 3-character provider id, "
            "like US-ABC",
        )
    return routing_prefix_of(match[1], match[2])
