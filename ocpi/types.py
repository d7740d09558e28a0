"""OCPI 2.2.1 primitive types (spec chapter "Types", ``types.asciidoc``).

Field constraints are expressed as ``Annotated`` metadata so models read like the spec tables::

    country_code: Annotated[str, CiString(2)]
    name: Annotated[str, String(255)] | None = None

Money and other OCPI ``number`` values are :class:`~decimal.Decimal` in Python and JSON numbers on
the wire; datetimes are aware UTC and are written with a ``Z`` designator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
)
from pydantic_core import PydanticCustomError, core_schema

__all__ = [
    "URL",
    "CiString",
    "CountryCode",
    "CredentialsToken",
    "DateTime",
    "DisplayText",
    "Number",
    "OcpiModel",
    "PartyId",
    "Price",
    "String",
    "format_datetime",
    "is_cistring",
    "parse_datetime",
]

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
# C0 and C1 control characters, and lone surrogates (text that cannot be encoded as UTF-8).
_NOT_PRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# RFC 3339 date-time (``types.asciidoc`` "DateTime": other formats are not allowed); the
# designator may be absent (UTC). Checked before datetime.fromisoformat(), which also takes ISO
# week dates, basic format, hour-only times and even a trailing NUL.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def is_cistring(value: str, max_length: int) -> bool:
    """Whether ``value`` can be a ``CiString(max_length)``: printable ASCII, not too long.

    For identifiers taken from URLs: one that fails this cannot name any stored object.
    """
    return len(value) <= max_length and _PRINTABLE_ASCII.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class CiString:
    """``CiString(n)``: case-insensitive string of printable ASCII, at most ``n`` characters.

    Spec: ``types.asciidoc`` "CiString". Values keep their case; comparisons are up to the caller
    (use :func:`str.upper` on both sides).
    """

    max_length: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            self._check, core_schema.str_schema(max_length=self.max_length)
        )

    @staticmethod
    def _check(value: str) -> str:
        if _PRINTABLE_ASCII.fullmatch(value) is None:
            raise PydanticCustomError(
                "ocpi_cistring", "must be printable ASCII (no line breaks, tabs or accents)"
            )
        return value


@dataclass(frozen=True, slots=True)
class String:
    """``string(n)``: case-sensitive printable UTF-8, at most ``n`` characters.

    Spec: ``types.asciidoc`` "string". Control characters (line breaks, tabs) are not allowed.
    """

    max_length: int

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            self._check, core_schema.str_schema(max_length=self.max_length)
        )

    @staticmethod
    def _check(value: str) -> str:
        if _NOT_PRINTABLE.search(value):
            raise PydanticCustomError(
                "ocpi_string",
                "must be printable text, without control characters (line breaks, tabs)",
            )
        return value


@dataclass(frozen=True, slots=True)
class _Shaped:
    """A string that must match ``pattern`` whole; ``rule`` says how, in words."""

    pattern: str
    error_type: str
    rule: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        compiled = re.compile(self.pattern)
        error_type, rule = self.error_type, self.rule

        def check(value: str) -> str:
            if compiled.fullmatch(value) is None:
                raise PydanticCustomError(error_type, rule)
            return value

        return core_schema.no_info_after_validator_function(check, core_schema.str_schema())

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        # The OpenAPI document (ocpi.v221.server.openapi) shows the shape as a JSON Schema pattern.
        return {**handler(schema), "pattern": f"^{self.pattern}$"}


def parse_datetime(value: Any) -> Any:
    """Parse an OCPI DateTime (RFC 3339, ``string(25)``) into an aware UTC datetime.

    Spec: ``types.asciidoc`` "DateTime": all timestamps are UTC and a missing designator means
    UTC; fractional seconds may be used. Peers that send an explicit offset are converted to UTC
    rather than rejected. Non-string input is passed on for pydantic to judge.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        if len(value) > 35 or _RFC3339.fullmatch(value) is None:
            raise PydanticCustomError(
                "ocpi_datetime", "must be an RFC 3339 DateTime, e.g. 2015-06-29T20:39:09Z"
            )
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise PydanticCustomError(
                "ocpi_datetime", "is not a valid date and time, e.g. 2015-06-29T20:39:09Z"
            ) from exc
    else:
        return value
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        # 0001-01-01T00:00:00+01:00 is before year 1 in UTC; 9999-12-31T23:59:59-01:00 after 9999.
        raise PydanticCustomError("ocpi_datetime", "is out of range once converted to UTC") from exc


def format_datetime(value: datetime) -> str:
    """Format a datetime as OCPI expects: UTC, ``Z`` designator, at most milliseconds.

    Millisecond precision keeps every value within the spec's ``string(25)``.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime cannot be sent over OCPI; use an aware UTC datetime")
    utc = value.astimezone(UTC)
    timespec = "milliseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _decimal_to_json(value: Decimal) -> int | float:
    # OCPI numbers are JSON numbers, not strings. Values we send have at most a handful of
    # significant digits (4 decimals per spec), well inside the 15 digits a float round-trips
    # exactly, so the JSON text equals the Decimal's text.
    if value == value.to_integral_value():
        return int(value)
    return float(value)


DateTime = Annotated[
    datetime,
    BeforeValidator(parse_datetime),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]
"""Aware UTC datetime; parsed leniently per spec, written as ``2015-06-29T20:39:09Z``."""

Number = Annotated[
    Decimal,
    PlainSerializer(_decimal_to_json, return_type=int | float, when_used="json"),
]
"""OCPI ``number``: exact Decimal in Python, JSON number on the wire."""

URL = Annotated[str, String(255)]
"""OCPI ``URL``: ``string(255)``."""

CountryCode = Annotated[
    str,
    _Shaped(
        "[A-Za-z]{2}",
        "ocpi_country_code",
        "must be an ISO 3166-1 alpha-2 country code: two letters",
    ),
]
"""ISO 3166-1 alpha-2 country code of a party, ``CiString(2)``: two ASCII letters, any case.

The shape is checked, not the list of assigned codes: eMI3/OCPI registries also use
user-assigned codes (``XK``), and a stale list would lock out a legitimate party.
"""

PartyId = Annotated[
    str,
    _Shaped(
        "[A-Za-z0-9]{3}",
        "ocpi_party_id",
        "must be an ISO 15118 party id: three letters or digits",
    ),
]
"""ISO 15118 party id, ``CiString(3)``: three ASCII letters or digits, any case."""

CredentialsToken = Annotated[
    str,
    _Shaped(
        r"[\x21-\x7e]{1,64}",
        "ocpi_credentials_token",
        "must be 1 to 64 printable ASCII characters, without spaces",
    ),
]
"""Credentials token, ``string(64)`` of printable non-whitespace ASCII, U+0021 to U+007E
(``credentials.asciidoc`` "Credentials object")."""


class OcpiModel(BaseModel):
    """Base of every OCPI wire object.

    Unknown fields are ignored (OCPI 2.3.0 "Non-specified JSON fields" makes this explicit, and
    2.2.1 peers already send vendor extensions). Optional fields that are ``None`` are omitted
    when sending: OCPI has no ``null`` for absent values.
    """

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        use_enum_values=False,
        validate_default=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """JSON-ready dict as sent to peers: ``None`` omitted, numbers and dates in OCPI form."""
        return self.model_dump(mode="json", exclude_none=True)


class DisplayText(OcpiModel):
    """Text in one language (spec ``types.asciidoc`` "DisplayText")."""

    language: Annotated[str, String(2)]
    text: Annotated[str, String(512)]


class Price(OcpiModel):
    """An amount with and without VAT (spec ``types.asciidoc`` "Price")."""

    excl_vat: Number
    incl_vat: Number | None = None
