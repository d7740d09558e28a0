"""Response envelope and pagination (``transport_and_format.asciidoc``).

Every OCPI response body is an envelope ``{data, status_code, status_message, timestamp}``.
Paginated GETs add ``Link`` (next page, with every original filter), ``X-Total-Count`` and
``X-Limit`` headers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocpi.errors import InvalidOrMissingParameters, OcpiError, quote_input
from ocpi.types import DateTime, OcpiModel, format_datetime

__all__ = [
    "LINK",
    "MAX_PAGE_INTEGER",
    "SUCCESS",
    "X_LIMIT",
    "X_TOTAL_COUNT",
    "OcpiResponse",
    "PageRequest",
    "PulledPage",
    "error_envelope",
    "next_link",
    "pagination_headers",
    "parse_next_link",
    "parse_total_count",
    "success_envelope",
]

SUCCESS = 1000
MAX_PAGE_INTEGER = 2**63 - 1
"""Largest ``offset``/``limit`` accepted: the signed 64-bit maximum every SQL engine can bind."""
LINK = "Link"
X_TOTAL_COUNT = "X-Total-Count"
X_LIMIT = "X-Limit"

DataT = TypeVar("DataT")


class OcpiResponse(BaseModel, Generic[DataT]):
    """The OCPI response envelope (``transport_and_format.asciidoc`` "Response format").

    ``data`` is optional: per the 2.2.1-d2 note, receivers accept it absent or present where the
    spec does not define it.
    """

    model_config = ConfigDict(extra="ignore")

    data: DataT | None = None
    status_code: int
    status_message: str | None = None
    timestamp: DateTime

    @property
    def is_success(self) -> bool:
        """Whether ``status_code`` is in the 1xxx success range."""
        return 1000 <= self.status_code <= 1999


def _wire(data: Any) -> Any:
    if isinstance(data, OcpiModel):
        return data.to_wire()
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return [_wire(item) for item in data]
    return data


def success_envelope(
    data: Any = None, *, status_message: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """A 1000 envelope around ``data`` (OCPI models, lists of them, or plain JSON values).

    ``data=None`` leaves the field out, as the spec advises where it defines no data.
    """
    body: dict[str, Any] = {"status_code": SUCCESS}
    if data is not None:
        body["data"] = _wire(data)
    if status_message:
        body["status_message"] = status_message
    body["timestamp"] = format_datetime(now or datetime.now(UTC))
    return body


def error_envelope(error: OcpiError, *, now: datetime | None = None) -> dict[str, Any]:
    """The envelope for an error: its status code and message, no data."""
    return {
        "status_code": error.status_code,
        "status_message": error.message,
        "timestamp": format_datetime(now or datetime.now(UTC)),
    }


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Validated pagination parameters of a Sender GET (``transport_and_format.asciidoc``).

    ``date_from`` is inclusive and ``date_to`` exclusive on ``last_updated``; ``limit`` is already
    capped at the server maximum.
    """

    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None

    @classmethod
    def from_query(
        cls, query: Mapping[str, str], *, max_limit: int, require_date_from: bool = False
    ) -> PageRequest:
        """Parse ``offset``, ``limit``, ``date_from``, ``date_to`` from query parameters.

        Raises:
            InvalidOrMissingParameters: ``offset`` or ``limit`` is not a whole number from 0 to
                :data:`MAX_PAGE_INTEGER`, a date is not an RFC 3339 DateTime, or ``date_from``
                is required (Sessions) and missing.
        """
        offset = _non_negative_int(query, "offset", 0)
        limit = min(_non_negative_int(query, "limit", max_limit), max_limit)
        date_from = _query_datetime(query, "date_from")
        date_to = _query_datetime(query, "date_to")
        if require_date_from and date_from is None:
            raise InvalidOrMissingParameters("Query parameter date_from is required")
        return cls(offset=offset, limit=limit, date_from=date_from, date_to=date_to)


class _QueryDateTime(BaseModel):
    value: DateTime = Field()


def _query_datetime(query: Mapping[str, str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return _QueryDateTime(value=raw).value
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        # ocpi.types says why in words ("is out of range once converted to UTC"); anything
        # else (not a string at all cannot happen here) gets the general rule.
        reason = (
            errors[0]["msg"]
            if errors and errors[0]["type"] == "ocpi_datetime"
            else "must be an RFC 3339 DateTime"
        )
        raise InvalidOrMissingParameters(
            f"Query parameter {name} {reason}; got {quote_input(raw)}"
        ) from None


_PAGE_INTEGER = re.compile(r"[0-9]{1,19}")


def _non_negative_int(query: Mapping[str, str], name: str, default: int) -> int:
    # ASCII digits only (str.isdigit() also accepts "²", which int() then rejects), and at most
    # 19 of them, checked before int(): a thousand-digit value must not reach int()'s digit
    # guard nor a database driver that binds 64-bit integers.
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if _PAGE_INTEGER.fullmatch(raw) is None or int(raw) > MAX_PAGE_INTEGER:
        raise InvalidOrMissingParameters(
            f"Query parameter {name} must be a whole number from 0 to {MAX_PAGE_INTEGER}, "
            f"got {quote_input(raw)}"
        )
    return int(raw)


def next_link(url: str, *, offset: int, limit: int, total: int) -> str | None:
    """The ``Link`` header value for the page after ``offset``, or None on the last page.

    Every query parameter of ``url`` (the filters) is kept; ``offset`` and ``limit`` are replaced,
    with ``limit`` set to the limit actually applied.
    """
    next_offset = offset + limit
    if limit == 0 or next_offset >= total:
        return None
    parts = urlsplit(url)
    params = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in {"offset", "limit"}
    ]
    params += [("offset", str(next_offset)), ("limit", str(limit))]
    return f'<{urlunsplit(parts._replace(query=urlencode(params)))}>; rel="next"'


def pagination_headers(
    url: str, *, offset: int, limit: int, total: int, max_limit: int
) -> dict[str, str]:
    """``X-Total-Count``, ``X-Limit`` and, unless this is the last page, ``Link``."""
    headers = {X_TOTAL_COUNT: str(total), X_LIMIT: str(max_limit)}
    link = next_link(url, offset=offset, limit=limit, total=total)
    if link is not None:
        headers[LINK] = link
    return headers


_LINK_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel\s*=\s*"?next"?', re.IGNORECASE)


def parse_next_link(header_value: str | None) -> str | None:
    """The URL of the ``rel="next"`` entry of a ``Link`` header, if any."""
    if not header_value:
        return None
    match = _LINK_NEXT.search(header_value)
    return match.group(1) if match else None


ItemT = TypeVar("ItemT")


@dataclass(frozen=True, slots=True)
class PulledPage(Generic[ItemT]):
    """One page of a paginated Sender GET, as a client pulled it.

    Attributes:
        url: the URL this page was fetched from.
        items: the objects that are valid.
        invalid: one description per object that is not (its index and the failing fields).
        next_url: the ``Link`` to the next page; None on the last page.
        total: the ``X-Total-Count``, when the server sent one that is a number.
    """

    url: str
    items: list[ItemT]
    invalid: list[str]
    next_url: str | None
    total: int | None


def parse_total_count(header_value: str | None) -> int | None:
    """An ``X-Total-Count`` header as a number; None when absent or not a whole number."""
    if header_value is None:
        return None
    value = header_value.strip()
    if _PAGE_INTEGER.fullmatch(value) is None:
        return None
    return int(value)
