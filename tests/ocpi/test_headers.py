import uuid

import pytest

from ocpi.errors import InvalidOrMissingParameters
from ocpi.headers import PartyRef, RoutingHeaders, new_message_id


def test_message_ids_are_unique_uuids():
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    for value in ids:
        assert str(uuid.UUID(value)) == value


def test_full_routing_headers_parse_and_upper_case():
    routing = RoutingHeaders.parse(
        {
            "OCPI-from-country-code": "us",
            "OCPI-from-party-id": "abc",
            "OCPI-to-country-code": "CA",
            "OCPI-to-party-id": "X1Z",
        }
    )
    assert routing.sender == PartyRef("US", "ABC")
    assert routing.receiver == PartyRef("CA", "X1Z")
    assert str(routing.sender) == "US*ABC"


def test_open_routing_request_has_no_receiver():
    routing = RoutingHeaders.parse({"OCPI-from-country-code": "US", "OCPI-from-party-id": "ABC"})
    assert routing.receiver is None
    assert RoutingHeaders.parse({}) == RoutingHeaders(sender=None, receiver=None)


def test_response_headers_swap_sender_and_receiver():
    routing = RoutingHeaders(sender=PartyRef("US", "EMS"), receiver=PartyRef("US", "CPO"))
    assert routing.reversed().as_headers() == {
        "OCPI-from-country-code": "US",
        "OCPI-from-party-id": "CPO",
        "OCPI-to-country-code": "US",
        "OCPI-to-party-id": "EMS",
    }


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"OCPI-from-country-code": "US"}, "OCPI-from-party-id"),
        ({"OCPI-to-party-id": "ABC"}, "OCPI-to-country-code"),
        ({"OCPI-from-country-code": "USA", "OCPI-from-party-id": "ABC"}, "OCPI-from-country-code"),
        ({"OCPI-from-country-code": "U1", "OCPI-from-party-id": "ABC"}, "OCPI-from-country-code"),
        ({"OCPI-to-country-code": "US", "OCPI-to-party-id": "AB"}, "OCPI-to-party-id"),
        ({"OCPI-to-country-code": "US", "OCPI-to-party-id": "AB-"}, "OCPI-to-party-id"),
        # "$" in a regex also matches before a final line break
        ({"OCPI-to-country-code": "US\n", "OCPI-to-party-id": "ABC"}, "OCPI-to-country-code"),
        ({"OCPI-to-country-code": "US", "OCPI-to-party-id": "ABC\n"}, "OCPI-to-party-id"),
        ({"OCPI-to-country-code": "US", "OCPI-to-party-id": "AB\x00"}, "OCPI-to-party-id"),
    ],
)
def test_invalid_routing_headers_are_2001_naming_the_header(headers, named):
    with pytest.raises(InvalidOrMissingParameters) as caught:
        RoutingHeaders.parse(headers)
    assert caught.value.status_code == 2001
    assert named in caught.value.message
