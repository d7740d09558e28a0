"""Peer JSON into models: failures in words (ocpi.validation)."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from ocpi.errors import InvalidOrMissingParameters, MalformedJson
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.locations import Connector
from ocpi.validation import describe_validation_error, parse_json

CREDENTIALS = TypeAdapter(Credentials)


def test_depth_is_limited_without_recursion_error():
    with pytest.raises(MalformedJson) as caught:
        parse_json(b"[" * 100_000 + b"]" * 100_000, CREDENTIALS)
    assert caught.value.http_status == 400
    assert caught.value.message.startswith("Request body is not valid JSON: nested too deeply")


@pytest.mark.parametrize("body", [b"", b" \t\r\n"])
def test_empty_body_is_malformed(body):
    with pytest.raises(MalformedJson, match="empty"):
        parse_json(body, CREDENTIALS)


def test_union_members_are_not_named_and_a_field_is_reported_once():
    # Connector.standard is an open enum (ConnectorType | str): pydantic reports both members,
    # with locations such as ("standard", "str-enum[ConnectorType]").
    with pytest.raises(ValidationError) as caught:
        Connector.model_validate(
            {
                "id": "1",
                "standard": 5,
                "format": "CABLE",
                "power_type": "DC",
                "max_voltage": 1,
                "max_amperage": 1,
                "last_updated": "2020-01-01T00:00:00Z",
            }
        )
    message = describe_validation_error(caught.value, subject="Connector")
    assert message.startswith("Invalid connector: standard must be one of 'CHADEMO'")
    assert message.count("standard") == 1
    assert "ConnectorType" not in message
    assert "str-enum" not in message
    assert len(message) < 300


def test_whole_value_and_many_fields():
    with pytest.raises(InvalidOrMissingParameters) as whole:
        parse_json(b"null", CREDENTIALS)
    assert whole.value.message == "Request body must be a JSON object"
    body = b'{"roles": [{}, {}]}'
    with pytest.raises(InvalidOrMissingParameters) as many:
        parse_json(body, CREDENTIALS)
    assert many.value.message.startswith("Invalid request body: token is required; url is required")
    assert many.value.message.endswith("more field(s)")
