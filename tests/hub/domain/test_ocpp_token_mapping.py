import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import ocpp
import pytest

from hub.domain.authorization import AuthMethod, Decision, DecisionPath
from hub.domain.ocpp_tokens import (
    OCPP16_ID_TAG_POLICY,
    DisplayText,
    GroupIdToken,
    IdTokenRoute,
    Ocpp16AuthorizationStatus,
    Ocpp201AuthorizationStatus,
    Ocpp201IdTokenType,
    cache_expiry,
    ocpp16_id_tag_info,
    ocpp16_parent_id_tag,
    ocpp16_status,
    ocpp201_group_id_token,
    ocpp201_id_token_info,
    ocpp201_policy,
    ocpp201_status,
    personal_message,
)
from hub.domain.tokens import AllowedType, TokenType

SCHEMAS = Path(ocpp.__file__).parent
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CACHE = timedelta(hours=1)


def decision(allowed, *, unknown=False, path=DecisionPath.REAL_TIME):
    return Decision(allowed, path, AuthMethod.AUTH_REQUEST, "test", unknown_token=unknown)


def schema_of(version, action, part):
    definition = json.loads((SCHEMAS / version / "schemas" / f"{action}Response.json").read_text())
    if version == "v16":
        return definition["properties"][part]
    # 2.0.1 schemas keep their types under definitions; validate the part with them in scope.
    return {**definition, "$ref": f"#/definitions/{part}"}


@pytest.mark.parametrize(
    ("id_token_type", "route", "ocpi_type", "broadcast"),
    [
        ("ISO14443", IdTokenRoute.TOKEN, TokenType.RFID, True),
        ("ISO15693", IdTokenRoute.TOKEN, TokenType.RFID, True),
        ("Central", IdTokenRoute.TOKEN, TokenType.APP_USER, False),
        ("Local", IdTokenRoute.TOKEN, TokenType.AD_HOC_USER, False),
        ("eMAID", IdTokenRoute.PLUG_AND_CHARGE, TokenType.OTHER, False),
        ("MacAddress", IdTokenRoute.TOKEN, TokenType.OTHER, False),
        ("KeyCode", IdTokenRoute.REFUSE, None, False),
        ("NoAuthorization", IdTokenRoute.FREE, None, False),
    ],
)
def test_ocpp201_id_token_types_map_to_a_route_and_ocpi_type(
    id_token_type, route, ocpi_type, broadcast
):
    policy = ocpp201_policy(id_token_type)
    assert (policy.route, policy.ocpi_type, policy.broadcast_when_unknown) == (
        route,
        ocpi_type,
        broadcast,
    )


def test_every_ocpp201_schema_id_token_type_has_a_policy():
    schema = json.loads((SCHEMAS / "v201/schemas/AuthorizeRequest.json").read_text())
    for value in schema["definitions"]["IdTokenEnumType"]["enum"]:
        assert ocpp201_policy(value).route in IdTokenRoute


def test_an_id_token_type_outside_the_schema_is_refused_in_words():
    with pytest.raises(ValueError, match=r"not an OCPP 2\.0\.1 IdTokenEnumType"):
        ocpp201_policy("Fingerprint")


def test_ocpp16_id_tag_is_always_an_rfid():
    assert OCPP16_ID_TAG_POLICY.route is IdTokenRoute.TOKEN
    assert OCPP16_ID_TAG_POLICY.ocpi_type is TokenType.RFID


@pytest.mark.parametrize(
    ("allowed", "unknown", "v16", "v201"),
    [
        (AllowedType.ALLOWED, False, "Accepted", "Accepted"),
        (AllowedType.BLOCKED, False, "Blocked", "Blocked"),
        (AllowedType.EXPIRED, False, "Expired", "Expired"),
        (AllowedType.NO_CREDIT, False, "Invalid", "NoCredit"),
        (AllowedType.NOT_ALLOWED, False, "Invalid", "NotAtThisLocation"),
        (None, True, "Invalid", "Unknown"),
        (None, False, "Invalid", "Invalid"),
    ],
)
def test_allowed_type_maps_to_ocpp_status(allowed, unknown, v16, v201):
    chosen = decision(allowed, unknown=unknown)
    assert ocpp16_status(chosen) is Ocpp16AuthorizationStatus(v16)
    assert ocpp201_status(chosen) is Ocpp201AuthorizationStatus(v201)


def test_status_enums_match_the_ocpp_schemas():
    v16 = json.loads((SCHEMAS / "v16/schemas/AuthorizeResponse.json").read_text())
    v201 = json.loads((SCHEMAS / "v201/schemas/AuthorizeResponse.json").read_text())
    v16_values = v16["properties"]["idTagInfo"]["properties"]["status"]["enum"]
    v201_values = v201["definitions"]["AuthorizationStatusEnumType"]["enum"]
    assert sorted(Ocpp16AuthorizationStatus) == sorted(v16_values)
    assert sorted(Ocpp201AuthorizationStatus) == sorted(v201_values)
    assert sorted(Ocpp201IdTokenType) == sorted(v201["definitions"]["IdTokenEnumType"]["enum"])


@pytest.mark.parametrize(
    ("group_id", "expected"),
    [(None, None), ("GROUP-1", "GROUP-1"), ("G" * 20, "G" * 20), ("G" * 21, None)],
)
def test_parent_id_tag_is_the_group_id_when_it_fits_ocpp16(group_id, expected):
    assert ocpp16_parent_id_tag(group_id) == expected


@pytest.mark.parametrize(
    ("group_id", "expected"),
    [(None, None), ("G" * 21, GroupIdToken("G" * 21)), ("G" * 36, GroupIdToken("G" * 36))],
)
def test_group_id_token_carries_the_group_id_as_a_central_token(group_id, expected):
    assert ocpp201_group_id_token(group_id) == expected
    if expected is not None:
        assert expected.as_payload() == {"idToken": group_id, "type": "Central"}


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (decision(AllowedType.ALLOWED), NOW + CACHE),
        (decision(AllowedType.ALLOWED, path=DecisionPath.OFFLINE_FALLBACK), NOW + CACHE),
        (decision(AllowedType.BLOCKED), None),
        (decision(AllowedType.NO_CREDIT), None),
        (decision(None, unknown=True), None),
    ],
)
def test_cache_expiry_only_for_accepted_tokens(chosen, expected):
    assert cache_expiry(chosen, now=NOW, cache_time=CACHE) == expected


def test_cache_expiry_is_in_utc_and_needs_an_aware_now():
    eastern = timezone(timedelta(hours=-5))
    expiry = cache_expiry(
        decision(AllowedType.ALLOWED), now=NOW.astimezone(eastern), cache_time=CACHE
    )
    assert expiry == NOW + CACHE
    assert expiry is not None
    assert expiry.tzinfo is UTC
    with pytest.raises(ValueError, match="aware"):
        cache_expiry(decision(AllowedType.ALLOWED), now=NOW.replace(tzinfo=None), cache_time=CACHE)


INFO = [DisplayText("en", "Welcome"), DisplayText("es", "Bienvenido"), DisplayText("fr", "Bonjour")]


@pytest.mark.parametrize(
    ("info", "language", "content", "message_language"),
    [
        (INFO, "es", "Bienvenido", "es"),
        (INFO, "ES", "Bienvenido", "es"),
        (INFO, "de", "Welcome", "en"),
        (INFO, None, "Welcome", "en"),
        (DisplayText("nl", "Welkom"), "en", "Welkom", "nl"),
    ],
)
def test_personal_message_in_the_token_language_else_the_first(
    info, language, content, message_language
):
    message = personal_message(info, language)
    assert message is not None
    assert (message.content, message.language) == (content, message_language)
    assert message.as_payload() == {
        "format": "UTF8",
        "content": content,
        "language": message_language,
    }


@pytest.mark.parametrize("info", [None, [], [DisplayText("en", "")]])
def test_no_personal_message_without_info(info):
    assert personal_message(info, "en") is None


def test_personal_message_is_cut_to_what_ocpp_allows():
    message = personal_message(DisplayText("en", "x" * 600), "en")
    assert message is not None
    assert len(message.content) == 512


@pytest.mark.parametrize("action", ["Authorize", "StartTransaction"])
def test_ocpp16_id_tag_info_is_valid_against_the_schema(action):
    accepted = ocpp16_id_tag_info(
        decision(AllowedType.ALLOWED), group_id="FLEET-7", now=NOW, cache_time=CACHE
    )
    assert accepted == {
        "status": "Accepted",
        "expiryDate": "2026-12-01T13:00:00Z",
        "parentIdTag": "FLEET-7",
    }
    refused = ocpp16_id_tag_info(
        decision(AllowedType.NO_CREDIT), group_id="G" * 30, now=NOW, cache_time=CACHE
    )
    assert refused == {"status": "Invalid"}
    for payload in (accepted, refused):
        jsonschema.validate(payload, schema_of("v16", action, "idTagInfo"))


@pytest.mark.parametrize("action", ["Authorize", "TransactionEvent"])
def test_ocpp201_id_token_info_is_valid_against_the_schema(action):
    accepted = ocpp201_id_token_info(
        decision(AllowedType.ALLOWED),
        group_id="FLEET-7",
        language="es",
        info=INFO,
        now=NOW,
        cache_time=CACHE,
    )
    assert accepted == {
        "status": "Accepted",
        "cacheExpiryDateTime": "2026-12-01T13:00:00Z",
        "groupIdToken": {"idToken": "FLEET-7", "type": "Central"},
        "language1": "es",
        "personalMessage": {"format": "UTF8", "content": "Bienvenido", "language": "es"},
    }
    unknown = ocpp201_id_token_info(
        decision(None, unknown=True),
        group_id=None,
        language=None,
        info=None,
        now=NOW,
        cache_time=CACHE,
    )
    assert unknown == {"status": "Unknown"}
    for payload in (accepted, unknown):
        jsonschema.validate(payload, schema_of("v201", action, "IdTokenInfoType"))
