"""The spec examples and our models' JSON against the official OCPI 2.2.1 OpenAPI schemas.

``tests/support/ocpi_openapi.py`` validates against the unchanged official files in
``openapi/ocpi-2.2.1-official/``. Here:

- every JSON example of the 2.2.1-d2 spec is mapped to what it is an example of (``CASES``); the
  mapping must cover the whole folder. Valid examples must pass, also in ``strict`` mode (no key
  the official schema does not declare). Examples the official schema rejects are listed in
  ``DISAGREEMENTS`` with the reason and must fail with exactly the listed JSON paths, so the list
  stays honest. (They are the same two files ``test_models_examples.KNOWN_WRONG`` lists: the
  official schema and our models agree on what is wrong with them.)
- our serializer: each example parsed with our models and written back with ``to_wire()`` (or
  our envelope) must pass in ``strict`` mode: datetimes RFC 3339 in UTC, numbers as JSON
  numbers, no invented keys.
- deliberately broken payloads fail, naming the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import TypeAdapter

from ocpi.envelope import OcpiResponse, success_envelope
from ocpi.types import DisplayText, OcpiModel
from ocpi.v221.models import (
    CDR,
    ConnectorPatch,
    Credentials,
    EnergyMix,
    EVSEPatch,
    Hours,
    Location,
    LocationPatch,
    Session,
    SessionPatch,
    Tariff,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)
from tests.support import ocpi_openapi
from tests.support.ocpi_openapi import SchemaViolation

EXAMPLES_DIR = Path(__file__).parents[1] / "data" / "ocpi" / "examples-2.2.1-d2"

Check = Callable[[Any, bool], None]  # (payload, strict) -> None, raises SchemaViolation


def _object(name: str) -> Check:
    def check(payload: Any, strict: bool) -> None:
        ocpi_openapi.validate(name, payload, strict=strict)

    return check


def _patch(name: str) -> Check:
    def check(payload: Any, strict: bool) -> None:
        ocpi_openapi.validate_patch(name, payload, strict=strict)

    return check


def _wrapped(key: str, name: str) -> Check:
    """Examples that show an object as the value of its field, e.g. ``{"energy_mix": {...}}``."""

    def check(payload: Any, strict: bool) -> None:
        assert set(payload) == {key}
        ocpi_openapi.validate(name, payload[key], strict=strict)

    return check


def _each(name: str) -> Check:
    def check(payload: Any, strict: bool) -> None:
        assert isinstance(payload, list)
        for item in payload:
            ocpi_openapi.validate(name, item, strict=strict)

    return check


def _response(module: str, interface: str | None, path: str, name: str | None = None) -> Check:
    """A GET 200 response as the operation describes it; with ``strict``, ``data`` by name."""

    def check(payload: Any, strict: bool) -> None:
        ocpi_openapi.validate_response(module, interface, "GET", path, 200, payload)
        if strict and name is not None:
            data = payload["data"]
            for item in data if isinstance(data, list) else [data]:
                ocpi_openapi.validate(name, item, strict=True)

    return check


class EnergyMixExample(OcpiModel):
    energy_mix: EnergyMix


class OpeningTimesExample(OcpiModel):
    opening_times: Hours


@dataclass(frozen=True)
class Case:
    model: Any  # what our models parse the example as (anything TypeAdapter accepts)
    check: Check


_TOKEN_OBJECT = "/tokens/{country_code}/{party_id}/{token_uid}"

CASES: dict[str, Case] = {
    "cdr_example.json": Case(CDR, _object("CDR")),
    "credentials_example.json": Case(Credentials, _object("Credentials")),
    "credentials_example2.json": Case(Credentials, _object("Credentials")),
    "credentials_example3.json": Case(Credentials, _object("Credentials")),
    "credentials_example4.json": Case(Credentials, _object("Credentials")),
    "location_energymix_example_complete.json": Case(
        EnergyMixExample, _wrapped("energy_mix", "EnergyMix")
    ),
    "location_energymix_example_energy_provider.json": Case(
        EnergyMixExample, _wrapped("energy_mix", "EnergyMix")
    ),
    "location_energymix_example_simple.json": Case(
        EnergyMixExample, _wrapped("energy_mix", "EnergyMix")
    ),
    "location_example.json": Case(Location, _object("Location")),
    "location_example_parking_garage_opening_hours.json": Case(Location, _object("Location")),
    "location_example_uc2_destination_charger.json": Case(Location, _object("Location")),
    "location_example_uc3_destination_charger_not_published.json": Case(
        Location, _object("Location")
    ),
    "location_example_uc4_limited_visibility.json": Case(Location, _object("Location")),
    "location_example_uc5_home_charge_point.json": Case(Location, _object("Location")),
    "location_hours_247_open_exception_closing.json": Case(Hours, _object("Hours")),
    "location_hours_opening_hours_with_exceptional_closing.json": Case(Hours, _object("Hours")),
    "location_hours_opening_hours_with_exceptional_opening.json": Case(Hours, _object("Hours")),
    # PATCHes of a Location, two EVSEs (status) and a Connector (tariff_ids).
    "location_patch_example_location.json": Case(LocationPatch, _patch("Location")),
    "location_patch_example_remove_evse.json": Case(EVSEPatch, _patch("EVSE")),
    "location_patch_example_status.json": Case(EVSEPatch, _patch("EVSE")),
    "location_patch_example_tariff.json": Case(ConnectorPatch, _patch("Connector")),
    "location_regularhours_example.json": Case(
        OpeningTimesExample, _wrapped("opening_times", "Hours")
    ),
    "session_example_1_simple_start.json": Case(Session, _object("Session")),
    "session_example_2_short_finished.json": Case(Session, _object("Session")),
    "session_patch_example_charging_period.json": Case(SessionPatch, _patch("Session")),
    "session_patch_example_total_cost.json": Case(SessionPatch, _patch("Session")),
    "tariff_10_025kwh_parking_start.json": Case(Tariff, _object("Tariff")),
    "tariff_11_not_possible_alt_text.json": Case(Tariff, _object("Tariff")),
    "tariff_12_025kwh_min_price.json": Case(Tariff, _object("Tariff")),
    "tariff_13_simple_3hour_5parking.json": Case(Tariff, _object("Tariff")),
    "tariff_14_step_size.json": Case(Tariff, _object("Tariff")),
    "tariff_15_reservation_5_euro_per_hour.json": Case(Tariff, _object("Tariff")),
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Case(Tariff, _object("Tariff")),
    "tariff_17_reservation_with_expire_fee.json": Case(Tariff, _object("Tariff")),
    "tariff_18_reservation_with_expire_time.json": Case(Tariff, _object("Tariff")),
    "tariff_1_simple_2hour.json": Case(Tariff, _object("Tariff")),
    "tariff_2_alt_text.json": Case(Tariff, _object("Tariff")),
    "tariff_3_alt_url.json": Case(Tariff, _object("Tariff")),
    "tariff_4_complex.json": Case(Tariff, _object("Tariff")),
    "tariff_5_free_of_charge.json": Case(Tariff, _object("Tariff")),
    "tariff_6_025kwh_start_max_price.json": Case(Tariff, _object("Tariff")),
    "tariff_8_simple_025kwh.json": Case(Tariff, _object("Tariff")),
    "tariff_9_025kwh_start.json": Case(Tariff, _object("Tariff")),
    "tariffrestriction_example_max_duration.json": Case(Tariff, _object("Tariff")),
    "tariffrestriction_example_max_power.json": Case(Tariff, _object("Tariff")),
    "token_example_1_app_user.json": Case(Token, _object("Token")),
    "token_example_2_full_rfid.json": Case(Token, _object("Token")),
    "token_patch_example.json": Case(TokenPatch, _patch("Token")),
    "token_put_example.json": Case(Token, _object("Token")),
    # A CPO GETs one Token from the eMSP's Receiver interface, the list from its Sender one.
    "transport_and_format_get_token_example.json": Case(
        OcpiResponse[Token], _response("tokens", "receiver", _TOKEN_OBJECT, "Token")
    ),
    "transport_and_format_get_token_list_example.json": Case(
        OcpiResponse[list[Token]], _response("tokens", "sender", "/tokens", "Token")
    ),
    "transport_and_format_version_details_example.json": Case(
        OcpiResponse[VersionDetails],
        _response("versions", None, "/versions/2.2.1", "VersionDetails"),
    ),
    "transport_and_format_version_info_example.json": Case(
        OcpiResponse[list[Version]], _response("versions", None, "/versions", "Version")
    ),
    "type_displaytext_example.json": Case(DisplayText, _object("DisplayText")),
    "version_details_example.json": Case(VersionDetails, _object("VersionDetails")),
    "version_details_example2.json": Case(VersionDetails, _object("VersionDetails")),
    "versions_info_example.json": Case(list[Version], _each("Version")),
}

# file name -> (schema name, reason, JSON paths of the violations: exactly these)
DISAGREEMENTS: dict[str, tuple[str, str, set[str]]] = {
    "location_put_example_add_evse.json": (
        "EVSE",
        "the example is wrong, the schema right: its Connector lacks the required power_type, "
        "max_voltage, max_amperage and last_updated, and physical_reference is a number instead "
        "of a string(16). (`floor` for `floor_level` is only an undeclared key: strict mode.)",
        {
            "$.connectors[0].last_updated",
            "$.connectors[0].max_amperage",
            "$.connectors[0].max_voltage",
            "$.connectors[0].power_type",
            "$.physical_reference",
        },
    ),
    "tariff_put_example.json": (
        "Tariff",
        "the example is wrong, the schema right: a PUT carries the full Tariff, and "
        "last_updated is required.",
        {"$.last_updated"},
    ),
}


def _load(name: str) -> Any:
    return json.loads((EXAMPLES_DIR / name).read_text(encoding="utf-8"))


def _to_wire(model: Any, text: str) -> Any:
    """Parse ``text`` with our models and serialize it as the hub sends it."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    value = adapter.validate_json(text)
    if isinstance(value, OcpiModel):
        return value.to_wire()
    if isinstance(value, OcpiResponse):
        return success_envelope(
            value.data, status_message=value.status_message, now=value.timestamp
        ) | {"status_code": value.status_code}
    return adapter.dump_python(value, mode="json", exclude_none=True)


def _location() -> dict[str, Any]:
    payload: dict[str, Any] = _load("location_example.json")
    return payload


# ---------------------------------------------------------------------------------------------
# The spec examples


def test_cases_cover_every_example_file() -> None:
    on_disk = {path.name for path in EXAMPLES_DIR.glob("*.json")}
    assert len(on_disk) == 59
    assert not set(CASES) & set(DISAGREEMENTS)
    assert set(CASES) | set(DISAGREEMENTS) == on_disk


@pytest.mark.parametrize("name", sorted(CASES))
def test_spec_example_matches_official_schema(name: str) -> None:
    payload = _load(name)
    CASES[name].check(payload, False)
    CASES[name].check(payload, True)


@pytest.mark.parametrize("name", sorted(DISAGREEMENTS))
def test_spec_example_rejected_by_official_schema(name: str) -> None:
    schema_name, reason, paths = DISAGREEMENTS[name]
    assert reason
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate(schema_name, _load(name))
    assert exc_info.value.paths == paths
    for path in paths:
        assert path in str(exc_info.value)


def test_add_evse_example_floor_is_undeclared() -> None:
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate("EVSE", _load("location_put_example_add_evse.json"), strict=True)
    assert exc_info.value.paths == DISAGREEMENTS["location_put_example_add_evse.json"][2] | {
        "$.floor"
    }


# ---------------------------------------------------------------------------------------------
# Our serializer


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_models_emit_schema_valid_json(name: str) -> None:
    case = CASES[name]
    wire = _to_wire(case.model, (EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    # Through JSON text, as it goes over the wire: Decimals must already be numbers.
    case.check(json.loads(json.dumps(wire)), True)


def test_location_with_sub_second_timestamp_and_decimal_numbers() -> None:
    location = Location.model_validate(_location())
    when = datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    location = location.model_copy(update={"last_updated": when})
    wire = location.to_wire()
    assert wire["last_updated"] == "2024-02-29T23:59:59.123Z"
    ocpi_openapi.validate("Location", wire, strict=True)


def test_tariff_prices_go_out_as_json_numbers() -> None:
    tariff = Tariff.model_validate(_load("tariff_4_complex.json"))
    wire = json.loads(json.dumps(tariff.to_wire()))
    component = wire["elements"][0]["price_components"][0]
    assert isinstance(component["price"], int | float)
    assert Decimal(str(component["price"])) == Decimal("2.50")
    ocpi_openapi.validate("Tariff", wire, strict=True)


def test_our_success_envelope_for_a_location_list() -> None:
    locations = [Location.model_validate(_location())]
    body = json.loads(json.dumps(success_envelope(locations)))
    ocpi_openapi.validate_response("locations", "sender", "get", "/locations", 200, body)


# ---------------------------------------------------------------------------------------------
# Broken payloads


def _violation(name: str, payload: Any, **options: bool) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate(name, payload, **options)
    return exc_info.value


def test_missing_required_field_is_named() -> None:
    payload = _location()
    del payload["evses"][0]["connectors"][1]["power_type"]
    error = _violation("Location", payload)
    assert error.paths == {"$.evses[0].connectors[1].power_type"}
    assert "$.evses[0].connectors[1].power_type: required property is missing" in str(error)
    assert isinstance(error, AssertionError)


def test_wrong_enum_value_is_named() -> None:
    payload = _location()
    payload["evses"][1]["status"] = "BROKEN"
    error = _violation("Location", payload)
    assert error.paths == {"$.evses[1].status"}
    assert "'BROKEN' is not one of" in str(error)


def test_too_long_string_is_named() -> None:
    payload = _location()
    payload["address"] = "x" * 46
    error = _violation("Location", payload)
    assert error.paths == {"$.address"}
    assert "longer than maxLength 45" in str(error)


def test_every_violation_is_listed() -> None:
    payload = _location()
    del payload["city"]
    payload["country_code"] = "BEL"
    payload["coordinates"]["latitude"] = "51,047599"
    payload["evses"][0]["connectors"][0]["max_voltage"] = "220"
    error = _violation("Location", payload)
    assert error.paths == {
        "$.city",
        "$.country_code",
        "$.coordinates.latitude",
        "$.evses[0].connectors[0].max_voltage",
    }
    assert "(4 violations)" in str(error)


def test_number_as_string_fails() -> None:
    payload = _load("tariff_1_simple_2hour.json")
    payload["elements"][0]["price_components"][0]["price"] = "2.00"
    error = _violation("Tariff", payload)
    assert error.paths == {"$.elements[0].price_components[0].price"}
    assert "is not of type 'number'" in str(error)


@pytest.mark.parametrize(
    "value",
    [
        "2015-06-29T20:39:09",  # OCPI reads this as UTC, but it is not RFC 3339
        "2015-06-29T22:39:09+02:00",  # RFC 3339, not UTC
        "2015-06-29 20:39:09Z",
        "2015-13-29T20:39:09Z",
        "yesterday",
    ],
)
def test_bad_timestamp_fails(value: str) -> None:
    payload = _location()
    payload["last_updated"] = value
    error = _violation("Location", payload)
    assert error.paths == {"$.last_updated"}
    assert "date-time" in str(error)


@pytest.mark.parametrize(
    "value", ["2015-06-29T20:39:09Z", "2015-06-29T20:39:09.123Z", "2015-06-29T20:39:09+00:00"]
)
def test_utc_timestamps_pass(value: str) -> None:
    payload = _location()
    payload["last_updated"] = value
    ocpi_openapi.validate("Location", payload)


def test_bad_uri_fails() -> None:
    payload = _load("tariff_3_alt_url.json")
    payload["tariff_alt_url"] = "company.com/tariffs/13"
    assert _violation("Tariff", payload).paths == {"$.tariff_alt_url"}
    payload["tariff_alt_url"] = "https:///tariffs/13"
    assert _violation("Tariff", payload).paths == {"$.tariff_alt_url"}


def test_strict_reports_undeclared_keys_at_any_depth() -> None:
    payload = _location()
    payload["evses"][0]["floor"] = -1
    payload["colour"] = "green"
    ocpi_openapi.validate("Location", payload)  # the official schema allows them
    error = _violation("Location", payload, strict=True)
    assert error.paths == {"$.colour", "$.evses[0].floor"}
    assert "not declared" in str(error)


def test_open_enums_accept_a_newer_value_only_when_asked() -> None:
    payload = _location()
    payload["facilities"] = ["HOTEL", "PARKING_GARAGE"]  # not in the 2.2.1 list
    assert _violation("Location", payload).paths == {"$.facilities[1]"}
    ocpi_openapi.validate("Location", payload, open_enums=True)
    payload["evses"][0]["status"] = "BROKEN"  # Status is a closed enum
    assert _violation("Location", payload, open_enums=True).paths == {"$.evses[0].status"}


def test_unknown_schema_name() -> None:
    with pytest.raises(KeyError, match="available_schemas"):
        ocpi_openapi.validate("Locations", {})


# ---------------------------------------------------------------------------------------------
# PATCH bodies


def test_patch_needs_last_updated() -> None:
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_patch("EVSE", {"status": "CHARGING"})
    assert exc_info.value.paths == {"$.last_updated"}


def test_patch_checks_present_fields_only() -> None:
    ocpi_openapi.validate_patch(
        "Tariff", {"currency": "EUR", "last_updated": "2019-06-24T12:39:09Z"}
    )
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_patch(
            "Session", {"status": "STARTED", "kwh": "1.5", "last_updated": "2019-06-24T12:39:09Z"}
        )
    assert exc_info.value.paths == {"$.status", "$.kwh"}
    assert str(exc_info.value).startswith("PATCH Session violates")


def test_patch_nested_objects_stay_complete() -> None:
    body = {"coordinates": {"latitude": "51.047599"}, "last_updated": "2019-06-24T12:39:09Z"}
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_patch("Location", body)
    assert exc_info.value.paths == {"$.coordinates.longitude"}


def test_patch_uses_the_object_schema_too() -> None:
    # EVSEPatch lacks the minItems: 1 of EVSE.connectors; the object schema catches it.
    body = {"connectors": [], "last_updated": "2019-06-24T12:39:09Z"}
    assert ocpi_openapi.violations("EVSEPatch", body) == []
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_patch("EVSE", body)
    assert exc_info.value.paths == {"$.connectors"}


def test_strict_patch_rejects_identity_fields() -> None:
    body = {"id": "LOC2", "name": "Gent Zuid", "last_updated": "2019-06-24T12:39:09Z"}
    ocpi_openapi.validate_patch("Location", body)
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_patch("Location", body, strict=True)
    assert exc_info.value.paths == {"$.id"}


def test_patch_of_object_without_last_updated() -> None:
    with pytest.raises(ValueError, match="no last_updated"):
        ocpi_openapi.validate_patch("Credentials", {"token": "abc"})


def test_patch_schema_names() -> None:
    assert ocpi_openapi.patch_schema_names() == {
        "Location": "LocationPatch",
        "EVSE": "EVSEPatch",
        "Connector": "ConnectorPatch",
        "Session": "SessionPatch",
        "Token": "TokenPatch",
    }


# ---------------------------------------------------------------------------------------------
# The helper itself


def test_available_schemas() -> None:
    names = ocpi_openapi.available_schemas()
    assert list(names) == sorted(names)
    for name in (
        "Location",
        "EVSE",
        "Connector",
        "Tariff",
        "Session",
        "CDR",
        "Token",
        "Credentials",
        "Version",
        "VersionDetails",
        "ClientInfo",
        "CommandResult",
        "OCPIResponse",
        "DisplayText",
    ):
        assert name in names


def _refs(node: Any) -> int:
    if isinstance(node, dict):
        return ("$ref" in node) + sum(_refs(value) for value in node.values())
    if isinstance(node, list):
        return sum(_refs(item) for item in node)
    return 0


@pytest.mark.parametrize("name", ocpi_openapi.available_schemas())
def test_schema_is_self_contained(name: str) -> None:
    inlined = ocpi_openapi.schema(name)
    assert _refs(inlined) == 0
    Draft202012Validator.check_schema(inlined)
    json.dumps(inlined)
    inlined["mutated"] = True
    assert "mutated" not in ocpi_openapi.schema(name)


def test_inlined_schema_keeps_nested_constraints() -> None:
    location = ocpi_openapi.schema("Location")
    connector = location["properties"]["evses"]["items"]["properties"]["connectors"]["items"]
    assert "power_type" in connector["required"]
    assert "IEC_62196_T2" in connector["properties"]["standard"]["enum"]
    assert location["properties"]["operator"]["properties"]["name"]["maxLength"] == 100


def _broken_location() -> dict[str, Any]:
    payload = _location()
    payload["evses"][0]["status"] = "BROKEN"
    del payload["evses"][1]["connectors"][0]["standard"]
    payload["coordinates"]["latitude"] = 51.047599
    return payload


@pytest.mark.parametrize(
    ("schema_name", "payload"),
    [
        ("EVSE", _load("location_put_example_add_evse.json")),
        ("Tariff", _load("tariff_put_example.json")),
        ("Location", _location()),
        ("Location", _broken_location()),
    ],
)
def test_inlined_schema_agrees_with_the_registry(schema_name: str, payload: Any) -> None:
    # Without formats, one error per violation either way (no format errors in these payloads).
    errors = list(Draft202012Validator(ocpi_openapi.schema(schema_name)).iter_errors(payload))
    assert len(errors) == len(ocpi_openapi.violations(schema_name, payload))


def test_operation_lookup() -> None:
    assert ocpi_openapi.request_body_schema_uri(
        "locations", "receiver", "PATCH", "/locations/{country_code}/{party_id}/{location_id}"
    ).endswith("/patch/requestBody/content/application~1json/schema")
    # Shared responses are followed into components/schema.yaml.
    assert ocpi_openapi.response_schema_uri(
        "locations", "receiver", "put", "/locations/{country_code}/{party_id}/{location_id}", 200
    ).endswith(
        "components/schema.yaml#/components/responses/OCPISuccessResponse"
        "/content/application~1json/schema"
    )
    with pytest.raises(KeyError, match="known"):
        ocpi_openapi.response_schema_uri("locations", "sender", "get", "/location", 200)
    with pytest.raises(KeyError, match="no response 418"):
        ocpi_openapi.response_schema_uri("locations", "sender", "get", "/locations", 418)


def test_request_body_validation() -> None:
    path = "/locations/{country_code}/{party_id}/{location_id}/{evse_uid}"
    body = _load("location_patch_example_status.json")
    ocpi_openapi.validate_request_body("locations", "receiver", "patch", path, body)
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_request_body(
            "locations", "receiver", "put", path, _load("location_put_example_add_evse.json")
        )
    assert "$.physical_reference" in exc_info.value.paths


def test_response_validation_checks_data() -> None:
    body = _load("transport_and_format_get_token_list_example.json")
    body["data"][1]["whitelist"] = "SOMETIMES"
    with pytest.raises(SchemaViolation) as exc_info:
        ocpi_openapi.validate_response("tokens", "sender", "get", "/tokens", 200, body)
    assert exc_info.value.paths == {"$.data[1].whitelist"}
    assert str(exc_info.value).startswith("GET /tokens response 200 violates")
