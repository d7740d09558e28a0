"""Targeted behaviour of the OCPI 2.2.1 wire models (constraints, open enums, numbers, dates)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from ocpi.types import OcpiModel, Price
from ocpi.v221.enums import (
    Capability,
    ConnectorType,
    Facility,
    ModuleID,
    Status,
    TokenType,
    VersionNumber,
)
from ocpi.v221.models import (
    EVSE,
    CdrLocation,
    Connector,
    ConnectorPatch,
    EVSEPatch,
    GeoLocation,
    Location,
    LocationPatch,
    RegularHours,
    Session,
    SessionPatch,
    Tariff,
    TariffRestrictions,
    Token,
    TokenPatch,
    Version,
    VersionDetails,
)


def connector(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "1",
        "standard": "IEC_62196_T2_COMBO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 920,
        "max_amperage": 500,
        "last_updated": "2024-05-01T10:00:00Z",
        **overrides,
    }


def evse(**overrides: Any) -> dict[str, Any]:
    return {
        "uid": "EVSE-1",
        "status": "AVAILABLE",
        "connectors": [connector()],
        "last_updated": "2024-05-01T10:00:00Z",
        **overrides,
    }


def location(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "US",
        "party_id": "HPC",
        "id": "LOC-1",
        "publish": True,
        "address": "1 Main Street",
        "city": "Springfield",
        "country": "USA",
        "coordinates": {"latitude": "39.78373", "longitude": "-89.65063"},
        "time_zone": "America/Chicago",
        "evses": [evse()],
        "last_updated": "2024-05-01T10:00:00Z",
        **overrides,
    }


def token(**overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "TNM",
        "uid": "012345678",
        "type": "RFID",
        "contract_id": "NL-TNM-C12345678-X",
        "issuer": "TheNewMotion",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2024-05-01T10:00:00Z",
        **overrides,
    }


def locs(exc: pytest.ExceptionInfo[ValidationError]) -> set[tuple[str | int, ...]]:
    return {error["loc"] for error in exc.value.errors()}


# --- CiString / string -------------------------------------------------------------------------


def test_cistring_too_long_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(location(id="x" * 37))
    assert locs(exc) == {("id",)}
    assert exc.value.errors()[0]["type"] == "string_too_long"


def test_cistring_at_max_length_is_accepted() -> None:
    assert Location.model_validate(location(id="x" * 36)).id == "x" * 36


def test_nested_cistring_error_has_the_full_path() -> None:
    data = location(evses=[evse(connectors=[connector(tariff_ids=["ok", "t" * 37])])])
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(data)
    assert locs(exc) == {("evses", 0, "connectors", 0, "tariff_ids", 1)}


@pytest.mark.parametrize(
    "uid", ["tökén", "tab\there", "line\nbreak", "final-line-break\n", "nul\x00", "del\x7f"]
)
def test_cistring_rejects_non_printable_ascii(uid: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Token.model_validate(token(uid=uid))
    assert locs(exc) == {("uid",)}


def test_string_allows_utf8_but_not_control_characters() -> None:
    assert Location.model_validate(location(city="Düsseldorf")).city == "Düsseldorf"
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(location(city="Düssel\ndorf"))
    assert locs(exc) == {("city",)}


@pytest.mark.parametrize("city", ["nul\x00", "final-break\n", "c1\x85control", "lone\ud800"])
def test_string_rejects_what_is_not_printable_utf8(city: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(location(city=city))
    assert locs(exc) == {("city",)}


@pytest.mark.parametrize(
    ("country_code", "party_id"), [("U1", "HPC"), ("U ", "HPC"), ("US", "H-C"), ("US", "HP\n")]
)
def test_party_ids_of_every_object_follow_iso_shapes(country_code: str, party_id: str) -> None:
    # country_code: ISO 3166-1 alpha-2 (two letters); party_id: ISO 15118 (three alphanumerics).
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(location(country_code=country_code, party_id=party_id))
    assert locs(exc) <= {("country_code",), ("party_id",)}
    assert exc.value.errors()[0]["type"] in {"ocpi_country_code", "ocpi_party_id"}


def test_location_address_and_state_use_the_erratum_lengths() -> None:
    # release-2.2.1-bugfixes: Location.address is string(255), state string(45); d2 said 45/20.
    parsed = Location.model_validate(location(address="a" * 255, state="s" * 45))
    assert len(parsed.address) == 255
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(location(address="a" * 256, state="s" * 46))
    assert locs(exc) == {("address",), ("state",)}


def test_cdr_location_keeps_the_short_address() -> None:
    data = {
        "id": "LOC-1",
        "address": "a" * 46,
        "city": "Springfield",
        "country": "USA",
        "coordinates": {"latitude": "39.78373", "longitude": "-89.65063"},
        "evse_uid": "EVSE-1",
        "evse_id": "US*HPC*E1",
        "connector_id": "1",
        "connector_standard": "SAE_J3400",
        "connector_format": "CABLE",
        "connector_power_type": "DC",
    }
    with pytest.raises(ValidationError) as exc:
        CdrLocation.model_validate(data)
    assert locs(exc) == {("address",)}


@pytest.mark.parametrize(
    ("latitude", "longitude", "bad"),
    [
        ("51.0476", "3.729944", "latitude"),  # 4 decimals: the spec regex wants 5 to 7
        ("51.047599", "3,729944", "longitude"),
        ("151.047599", "3.729944", "latitude"),
    ],
)
def test_geolocation_follows_the_spec_regex(latitude: str, longitude: str, bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        GeoLocation(latitude=latitude, longitude=longitude)
    assert locs(exc) == {(bad,)}


@pytest.mark.parametrize("value", ["24:00", "8:00", "08:60", "0800"])
def test_local_times_follow_the_spec_regex(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        RegularHours(weekday=1, period_begin="08:00", period_end=value)
    assert locs(exc) == {("period_end",)}
    with pytest.raises(ValidationError) as exc:
        TariffRestrictions(start_time=value)
    assert locs(exc) == {("start_time",)}


def test_tariff_restriction_dates_follow_the_spec_regex() -> None:
    assert TariffRestrictions(start_date="2015-12-24").start_date == "2015-12-24"
    with pytest.raises(ValidationError) as exc:
        TariffRestrictions(start_date="24-12-2015")
    assert locs(exc) == {("start_date",)}


# --- required fields and cardinality ---------------------------------------------------------


@pytest.mark.parametrize("field", ["uid", "type", "contract_id", "issuer", "valid", "whitelist"])
def test_token_missing_required_field_is_named(field: str) -> None:
    data = token()
    del data[field]
    with pytest.raises(ValidationError) as exc:
        Token.model_validate(data)
    assert locs(exc) == {(field,)}
    assert exc.value.errors()[0]["type"] == "missing"


@pytest.mark.parametrize(
    "field", ["country_code", "party_id", "publish", "address", "coordinates", "time_zone"]
)
def test_location_missing_required_field_is_named(field: str) -> None:
    data = location()
    del data[field]
    with pytest.raises(ValidationError) as exc:
        Location.model_validate(data)
    assert locs(exc) == {(field,)}


def test_one_or_more_lists_reject_empty() -> None:
    with pytest.raises(ValidationError) as exc:
        EVSE.model_validate(evse(connectors=[]))
    assert locs(exc) == {("connectors",)}


def test_optional_fields_are_absent_on_the_wire() -> None:
    wire = Location.model_validate(location(evses=None)).to_wire()
    assert "evses" not in wire
    assert "name" not in wire
    assert None not in wire.values()


# --- unknown fields ----------------------------------------------------------------------------


def test_unknown_fields_are_ignored() -> None:
    data = location(x_vendor_rating=5, evses=[evse(floor=-1)])
    parsed = Location.model_validate(data)
    wire = parsed.to_wire()
    assert "x_vendor_rating" not in wire
    assert "floor" not in wire["evses"][0]


# --- open and closed enums ---------------------------------------------------------------------


def test_unknown_connector_type_is_kept_as_a_string() -> None:
    parsed = Connector.model_validate(connector(standard="MCS"))
    assert parsed.standard == "MCS"
    assert not isinstance(parsed.standard, ConnectorType)
    assert parsed.to_wire()["standard"] == "MCS"


def test_sae_j3400_is_a_known_connector_type() -> None:
    parsed = Connector.model_validate(connector(standard="SAE_J3400"))
    assert parsed.standard is ConnectorType.SAE_J3400
    assert parsed.to_wire()["standard"] == "SAE_J3400"


def test_known_open_enum_value_becomes_the_member() -> None:
    parsed = Connector.model_validate_json(json.dumps(connector(standard="CHADEMO")))
    assert parsed.standard is ConnectorType.CHADEMO
    assert parsed.model_dump()["standard"] is ConnectorType.CHADEMO


def test_open_enum_values_are_case_sensitive() -> None:
    parsed = Connector.model_validate(connector(standard="chademo"))
    assert parsed.standard == "chademo"
    assert not isinstance(parsed.standard, ConnectorType)


def test_open_enum_lists_keep_known_and_unknown_values() -> None:
    data = location(
        facilities=["WIFI", "EV_LOUNGE"],
        parking_type="TRUCK_STOP",
        evses=[evse(capabilities=["RFID_READER", "ISO_15118_PLUG_AND_CHARGE"])],
    )
    parsed = Location.model_validate(data)
    assert parsed.facilities == [Facility.WIFI, "EV_LOUNGE"]
    assert parsed.facilities is not None
    assert parsed.facilities[0] is Facility.WIFI
    assert parsed.evses is not None
    assert parsed.evses[0].capabilities == [Capability.RFID_READER, "ISO_15118_PLUG_AND_CHARGE"]
    wire = parsed.to_wire()
    assert wire["facilities"] == ["WIFI", "EV_LOUNGE"]
    assert wire["parking_type"] == "TRUCK_STOP"


def test_unknown_token_type_is_accepted() -> None:
    parsed = Token.model_validate(token(type="EMAID"))
    assert parsed.type == "EMAID"
    assert Token.model_validate(token()).type is TokenType.RFID


def test_closed_enum_rejects_unknown_value() -> None:
    with pytest.raises(ValidationError) as exc:
        EVSE.model_validate(evse(status="FAULTED"))
    assert locs(exc) == {("status",)}
    assert EVSE.model_validate(evse()).status is Status.AVAILABLE


def test_versions_accept_newer_versions_and_custom_modules() -> None:
    version = Version.model_validate({"version": "2.3.0", "url": "https://x.example/2.3.0"})
    assert version.version == "2.3.0"
    assert Version.model_validate({"version": "2.2.1", "url": "u"}).version is VersionNumber.V2_2_1
    details = VersionDetails.model_validate(
        {
            "version": "2.2.1",
            "endpoints": [
                {"identifier": "credentials", "role": "SENDER", "url": "https://x/c"},
                {"identifier": "nltnm-tokens", "role": "RECEIVER", "url": "https://x/t"},
            ],
        }
    )
    assert details.endpoints[0].identifier is ModuleID.CREDENTIALS
    assert details.endpoints[1].identifier == "nltnm-tokens"


# --- numbers -----------------------------------------------------------------------------------


def test_decimal_is_preserved_and_written_as_a_json_number() -> None:
    price = Price.model_validate_json('{"excl_vat": 0.1, "incl_vat": 0.121}')
    assert price.excl_vat == Decimal("0.1")
    assert isinstance(price.excl_vat, Decimal)
    assert price.incl_vat == Decimal("0.121")
    assert json.dumps(price.to_wire()) == '{"excl_vat": 0.1, "incl_vat": 0.121}'


def test_decimal_arithmetic_is_exact() -> None:
    prices = [Price.model_validate({"excl_vat": 0.1}).excl_vat for _ in range(3)]
    assert sum(prices, Decimal(0)) == Decimal("0.3")


def test_integral_numbers_are_written_as_integers() -> None:
    assert Price(excl_vat=Decimal("2.00")).to_wire() == {"excl_vat": 2}


def test_tariff_numbers_are_decimals() -> None:
    tariff = Tariff.model_validate_json(
        json.dumps(
            {
                "country_code": "DE",
                "party_id": "ALL",
                "id": "1",
                "currency": "EUR",
                "elements": [
                    {"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}
                ],
                "last_updated": "2024-05-01T10:00:00Z",
            }
        )
    )
    assert tariff.elements[0].price_components[0].price == Decimal("0.25")


# --- datetimes ---------------------------------------------------------------------------------


def test_datetime_is_written_with_z() -> None:
    parsed = Token.model_validate(token(last_updated="2015-06-29T20:39:09Z"))
    assert parsed.last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)
    assert parsed.to_wire()["last_updated"] == "2015-06-29T20:39:09Z"


def test_fractional_seconds_are_written_as_milliseconds() -> None:
    parsed = Token.model_validate(token(last_updated="2016-12-29T17:45:09.2Z"))
    assert parsed.to_wire()["last_updated"] == "2016-12-29T17:45:09.200Z"


def test_datetime_without_designator_is_utc() -> None:
    # types.asciidoc says a DateTime without a designator is UTC.
    parsed = Token.model_validate(token(last_updated="2015-06-29T20:39:09"))
    assert parsed.last_updated.tzinfo is not None
    assert parsed.last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


def test_naive_python_datetime_is_taken_as_utc() -> None:
    naive = datetime(2015, 6, 29, 20, 39, 9)  # noqa: DTZ001 - the case under test
    parsed = Token.model_validate(token(last_updated=naive))
    assert parsed.last_updated == datetime(2015, 6, 29, 20, 39, 9, tzinfo=UTC)


def test_offset_datetime_is_converted_to_utc() -> None:
    parsed = Token.model_validate(token(last_updated="2015-06-29T22:39:09+02:00"))
    assert parsed.last_updated.utcoffset() == timedelta(0)
    assert parsed.to_wire()["last_updated"] == "2015-06-29T20:39:09Z"
    aware = datetime(2015, 6, 29, 22, 39, 9, tzinfo=timezone(timedelta(hours=2)))
    assert Token.model_validate(token(last_updated=aware)).last_updated.hour == 20


@pytest.mark.parametrize(
    "value",
    [
        "2015-06-29T20:39:09\x00",  # datetime.fromisoformat() takes a trailing NUL
        "2015-W27-1T20:39:09",  # ISO week date
        "20150629T203909",  # ISO basic format
        "2015-06-29T20",  # hour only
        "2015-06-29 20:39:09",
        "2015-06-29T20:39:09,5Z",
        "2015-06-29T20:39:09+0200",
        "\u0662015-06-29T20:39:09Z",  # a non-ASCII digit
        "2015-02-30T20:39:09Z",
    ],
)
def test_datetime_outside_rfc_3339_is_rejected(value: str) -> None:
    with pytest.raises(ValidationError) as exc:
        Token.model_validate(token(last_updated=value))
    assert locs(exc) == {("last_updated",)}


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_datetime_outside_the_utc_range_is_a_validation_error(value: str) -> None:
    # Converting these to UTC overflows; that must be a field error, not an OverflowError.
    with pytest.raises(ValidationError) as exc:
        Token.model_validate(token(last_updated=value))
    assert locs(exc) == {("last_updated",)}


def test_datetime_fraction_and_lower_case_designators_are_rfc_3339() -> None:
    parsed = Token.model_validate(token(last_updated="2015-06-29t20:39:09.123456789z"))
    assert parsed.last_updated == datetime(2015, 6, 29, 20, 39, 9, 123456, tzinfo=UTC)


def test_invalid_datetime_names_the_field() -> None:
    with pytest.raises(ValidationError) as exc:
        Token.model_validate(token(last_updated="29-06-2015 20:39"))
    assert locs(exc) == {("last_updated",)}


# --- PATCH models ------------------------------------------------------------------------------

PATCH_MODELS: list[tuple[type[OcpiModel], type[OcpiModel]]] = [
    (LocationPatch, Location),
    (EVSEPatch, EVSE),
    (ConnectorPatch, Connector),
    (SessionPatch, Session),
    (TokenPatch, Token),
]


@pytest.mark.parametrize(("patch", "full"), PATCH_MODELS)
def test_patch_model_mirrors_the_object(patch: type[OcpiModel], full: type[OcpiModel]) -> None:
    assert list(patch.model_fields) == list(full.model_fields)
    required = {name for name, field in patch.model_fields.items() if field.is_required()}
    assert required == {"last_updated"}


@pytest.mark.parametrize(("patch", "full"), PATCH_MODELS)
def test_patch_without_last_updated_is_rejected(
    patch: type[OcpiModel], full: type[OcpiModel]
) -> None:
    with pytest.raises(ValidationError) as exc:
        patch.model_validate({})
    assert locs(exc) == {("last_updated",)}


@pytest.mark.parametrize(("patch", "full"), PATCH_MODELS)
def test_patch_with_only_last_updated_is_accepted(
    patch: type[OcpiModel], full: type[OcpiModel]
) -> None:
    parsed = patch.model_validate({"last_updated": "2024-05-01T10:00:00Z"})
    assert parsed.to_wire() == {"last_updated": "2024-05-01T10:00:00Z"}


def test_patch_fields_keep_their_constraints() -> None:
    with pytest.raises(ValidationError) as exc:
        TokenPatch.model_validate({"uid": "u" * 37, "last_updated": "2024-05-01T10:00:00Z"})
    assert locs(exc) == {("uid",)}
    with pytest.raises(ValidationError) as exc:
        EVSEPatch.model_validate({"status": "FAULTED", "last_updated": "2024-05-01T10:00:00Z"})
    assert locs(exc) == {("status",)}


def test_patch_carries_only_the_sent_fields() -> None:
    patch = TokenPatch.model_validate({"valid": False, "last_updated": "2024-05-01T10:00:00Z"})
    assert patch.model_fields_set == {"valid", "last_updated"}
    assert patch.to_wire() == {"valid": False, "last_updated": "2024-05-01T10:00:00Z"}
