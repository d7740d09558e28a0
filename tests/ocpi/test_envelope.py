from datetime import UTC, datetime

import pytest

from ocpi.envelope import (
    OcpiResponse,
    PageRequest,
    error_envelope,
    next_link,
    pagination_headers,
    parse_next_link,
    success_envelope,
)
from ocpi.errors import InvalidOrMissingParameters, UnknownLocation
from ocpi.types import OcpiModel

NOW = datetime(2026, 11, 24, 12, 0, 0, 123000, tzinfo=UTC)


class Thing(OcpiModel):
    id: str
    note: str | None = None


def test_success_envelope_wraps_models_and_lists():
    body = success_envelope([Thing(id="a"), Thing(id="b", note="x")], now=NOW)
    assert body == {
        "status_code": 1000,
        "data": [{"id": "a"}, {"id": "b", "note": "x"}],
        "timestamp": "2026-11-24T12:00:00.123Z",
    }


def test_success_without_data_leaves_the_field_out():
    assert "data" not in success_envelope(now=NOW)


def test_error_envelope_carries_code_and_message():
    assert error_envelope(UnknownLocation("no LOC1"), now=NOW) == {
        "status_code": 2003,
        "status_message": "no LOC1",
        "timestamp": "2026-11-24T12:00:00.123Z",
    }


def test_response_parses_envelope_with_or_without_data():
    parsed = OcpiResponse[list[Thing]].model_validate_json(
        '{"data":[{"id":"a","extra":1}],"status_code":1000,"timestamp":"2026-11-24T12:00:00Z"}'
    )
    assert parsed.is_success
    assert parsed.data == [Thing(id="a")]
    failed = OcpiResponse[None].model_validate(
        {"status_code": 2001, "status_message": "bad", "timestamp": "2026-11-24T12:00:00Z"}
    )
    assert not failed.is_success
    assert failed.data is None


def test_page_request_defaults_and_caps_the_limit():
    page = PageRequest.from_query({}, max_limit=50)
    assert (page.offset, page.limit, page.date_from, page.date_to) == (0, 50, None, None)
    assert PageRequest.from_query({"limit": "500"}, max_limit=50).limit == 50
    assert PageRequest.from_query({"limit": "10", "offset": "20"}, max_limit=50).offset == 20


def test_page_request_parses_dates_as_aware_utc():
    page = PageRequest.from_query(
        {"date_from": "2026-11-01T00:00:00Z", "date_to": "2026-11-02T01:00:00+01:00"},
        max_limit=10,
    )
    assert page.date_from == datetime(2026, 11, 1, tzinfo=UTC)
    assert page.date_to == datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"offset": "-1"}, "offset"),
        ({"limit": "ten"}, "limit"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2026-13-01T00:00:00Z"}, "date_to"),
    ],
)
def test_bad_page_parameters_are_2001_naming_the_parameter(query, named):
    with pytest.raises(InvalidOrMissingParameters) as caught:
        PageRequest.from_query(query, max_limit=10)
    assert named in caught.value.message


@pytest.mark.parametrize("name", ["offset", "limit"])
@pytest.mark.parametrize(
    "raw",
    [
        "9223372036854775808",  # 2**63: beyond the signed 64-bit integers SQL engines bind
        "99999999999999999999",
        "9" * 5000,  # beyond int()'s 4,300-digit guard
        "0" * 5000,
        "\u00b2",  # superscript two: str.isdigit() is true, int() refuses it
        "\u0661",  # Arabic-Indic one: int() would take it as 1
        "1.0",
        "+1",
        " 1",
        "1\x00",
    ],
)
def test_page_integers_beyond_64_bits_or_not_ascii_digits_are_2001(name, raw):
    with pytest.raises(InvalidOrMissingParameters) as caught:
        PageRequest.from_query({name: raw}, max_limit=10)
    assert name in caught.value.message
    assert "from 0 to 9223372036854775807" in caught.value.message
    assert len(caught.value.message) < 200  # the value is quoted, shortened


def test_page_integers_up_to_the_64_bit_maximum_are_accepted():
    page = PageRequest.from_query(
        {"offset": "9223372036854775807", "limit": "9223372036854775807"}, max_limit=10
    )
    assert (page.offset, page.limit) == (2**63 - 1, 10)
    assert PageRequest.from_query({"offset": "007"}, max_limit=10).offset == 7


def test_date_from_can_be_required():
    with pytest.raises(InvalidOrMissingParameters, match="date_from"):
        PageRequest.from_query({}, max_limit=10, require_date_from=True)


def test_next_link_keeps_filters_and_applied_limit():
    url = (
        "https://hub.example/ocpi/cpo/2.2.1/locations?date_from=2026-11-01T00%3A00%3A00Z&limit=500"
    )
    link = next_link(url, offset=0, limit=100, total=250)
    assert link == (
        "<https://hub.example/ocpi/cpo/2.2.1/locations?date_from=2026-11-01T00%3A00%3A00Z"
        '&offset=100&limit=100>; rel="next"'
    )
    assert parse_next_link(link) == link[1 : link.index(">")]


def test_no_next_link_on_the_last_page():
    assert next_link("https://h/x", offset=200, limit=100, total=250) is None
    assert next_link("https://h/x", offset=0, limit=100, total=100) is None


def test_pagination_headers():
    headers = pagination_headers("https://h/x", offset=0, limit=2, total=3, max_limit=2)
    assert headers["X-Total-Count"] == "3"
    assert headers["X-Limit"] == "2"
    assert parse_next_link(headers["Link"]) == "https://h/x?offset=2&limit=2"
    assert "Link" not in pagination_headers("https://h/x", offset=2, limit=2, total=3, max_limit=2)


@pytest.mark.parametrize(
    ("header", "url"),
    [
        ('<https://a/b?offset=2>; rel="next"', "https://a/b?offset=2"),
        ("<https://a/b>; rel=next", "https://a/b"),
        ('<https://a/p>; rel="prev", <https://a/n>; rel="next"', "https://a/n"),
        ('<https://a/p>; rel="prev"', None),
        (None, None),
    ],
)
def test_parse_next_link(header, url):
    assert parse_next_link(header) == url


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", "is out of range once converted to UTC"),
        ("2026-02-30T00:00:00Z", "is not a valid date and time"),
        ("2026-11-01T00:00:00\x00", "must be an RFC 3339 DateTime"),
    ],
)
def test_bad_dates_say_why(raw, reason):
    with pytest.raises(InvalidOrMissingParameters) as caught:
        PageRequest.from_query({"date_to": raw}, max_limit=10)
    assert caught.value.message.startswith(f"Query parameter date_to {reason}")
