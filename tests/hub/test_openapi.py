"""The committed OpenAPI document: current, valid OpenAPI 3.1, and a superset of the official
2.2.1 operations we implement (paths, methods, parameters, responses, security)."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from hub.app import openapi_document
from hub.cli.main import OPENAPI_PATH, render_openapi
from hub.config import Settings
from hub.persistence.migrations import PROJECT_ROOT
from tests.support import ocpi_openapi

# The official interfaces we implement -> where their module-relative paths live on our server.
# The official files write the version endpoints as /versions and /versions/2.2.1 ("typical
# implementation patterns"); ours are the URLs our versions endpoint publishes.
IMPLEMENTED = {
    ("versions", None): {"/versions": "/ocpi/versions", "/versions/2.2.1": "/ocpi/2.2.1"},
    ("credentials", None): {"/credentials": "/ocpi/2.2.1/credentials"},
    ("locations", "sender"): {"/locations": "/ocpi/2.2.1/locations"},
    ("tariffs", "sender"): {"/tariffs": "/ocpi/2.2.1/tariffs"},
    ("sessions", "sender"): {"/sessions": "/ocpi/2.2.1/sessions"},
    ("cdrs", "sender"): {"/cdrs": "/ocpi/2.2.1/cdrs"},
    ("commands", "receiver"): {"/commands": "/ocpi/2.2.1/commands"},
}


def _our_path(module: str, interface: str | None, official_path: str) -> str:
    for prefix, ours in sorted(IMPLEMENTED[(module, interface)].items(), key=lambda i: -len(i[0])):
        if official_path == prefix or official_path.startswith(prefix + "/"):
            return ours + official_path[len(prefix) :]
    raise AssertionError(f"no mapping for official path {official_path}")


OFFICIAL_OPERATIONS = [
    (module, interface, path, method)
    for (module, interface) in IMPLEMENTED
    for (path, method) in ocpi_openapi.operations(module, interface)
]


@functools.cache
def _document() -> dict[str, Any]:
    return openapi_document(Settings())


def _resolve(document: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_committed_openapi_document_is_current():
    committed = (PROJECT_ROOT / OPENAPI_PATH).read_text()
    assert committed == render_openapi(_document()), (
        "openapi/hub-ocpi-2.2.1.json is stale: run `hub openapi` and commit the result"
    )


def test_document_is_valid_openapi_3_1():
    document = _document()
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_the_official_operations_we_implement_are_all_there():
    # Guards the table above: versions 2, credentials 4, the Sender GETs of locations 4,
    # tariffs, sessions (with charging_preferences 2) and cdrs 1 each, the commands 5.
    assert len(OFFICIAL_OPERATIONS) == 19


@pytest.mark.parametrize(
    ("module", "interface", "path", "method"),
    OFFICIAL_OPERATIONS,
    ids=[f"{m}-{i or 'interface'}-{verb.upper()} {p}" for m, i, p, verb in OFFICIAL_OPERATIONS],
)
def test_every_official_operation_is_described(module, interface, path, method):
    """Path, method, every official parameter (with nothing required that the spec leaves
    optional, and limits no narrower than the spec's), every official response status with its
    headers, and the token security scheme."""
    document = _document()
    official = ocpi_openapi.operations(module, interface)[(path, method)]
    ours_path = _our_path(module, interface, path)
    assert ours_path in document["paths"], f"{ours_path} missing"
    operation = document["paths"][ours_path].get(method)
    assert operation is not None, f"{method.upper()} {ours_path} missing"

    ours = {
        (parameter["in"], parameter["name"].lower()): parameter
        for parameter in (_resolve(document, p) for p in operation["parameters"])
    }
    for expected in official["parameters"]:
        key = (expected["in"], expected["name"].lower())
        assert key in ours, f"{method.upper()} {ours_path}: parameter {key} missing"
        parameter = ours[key]
        if not expected.get("required", False):
            assert not parameter.get("required", False), f"{key} required but optional in spec"
        theirs, mine = expected["schema"], parameter["schema"]
        assert mine.get("type") == theirs.get("type"), key
        if "maxLength" in theirs:
            assert mine.get("maxLength", float("inf")) >= theirs["maxLength"], key
        if "minimum" in theirs:
            assert mine.get("minimum", float("-inf")) <= theirs["minimum"], key
    assert set(official["responses"]) <= set(operation["responses"]), (
        f"{method.upper()} {ours_path}: responses {set(official['responses'])} expected"
    )
    for status, expected in official["responses"].items():
        response = _resolve(document, operation["responses"][status])
        missing = set(expected.get("headers", {})) - set(response.get("headers", {}))
        assert not missing, f"{method.upper()} {ours_path} {status}: headers {missing} missing"
        assert "application/json" in response["content"]

    assert operation["security"] == [{"OCPIToken": []}]
    scheme = document["components"]["securitySchemes"]["OCPIToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")


OUR_DATA = {
    ("/ocpi/versions", "get"): ("array", "Version"),
    ("/ocpi/2.2.1", "get"): ("object", "VersionDetails"),
    ("/ocpi/2.2.1/credentials", "get"): ("object", "Credentials"),
    ("/ocpi/2.2.1/credentials", "post"): ("object", "Credentials"),
    ("/ocpi/2.2.1/credentials", "put"): ("object", "Credentials"),
    ("/ocpi/2.2.1/credentials", "delete"): (None, None),
    ("/ocpi/2.2.1/locations", "get"): ("array", "Location"),
    ("/ocpi/2.2.1/locations/{location_id}", "get"): ("object", "Location"),
    ("/ocpi/2.2.1/locations/{location_id}/{evse_uid}", "get"): ("object", "EVSE"),
    ("/ocpi/2.2.1/locations/{location_id}/{evse_uid}/{connector_id}", "get"): (
        "object",
        "Connector",
    ),
    ("/ocpi/2.2.1/tariffs", "get"): ("array", "Tariff"),
    ("/ocpi/2.2.1/sessions", "get"): ("array", "Session"),
    ("/ocpi/2.2.1/sessions/{session_id}/charging_preferences", "put"): (
        "object",
        "ChargingPreferencesResponse",
    ),
    ("/ocpi/2.2.1/cdrs", "get"): ("array", "CDR"),
    ("/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}", "get"): ("object", "Token"),
    ("/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}", "put"): (None, None),
    ("/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}", "patch"): (None, None),
    ("/ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}", "get"): ("object", "ClientInfo"),
    ("/ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}", "put"): (None, None),
    **{
        (f"/ocpi/2.2.1/commands/{command}", "post"): ("object", "CommandResponse")
        for command in (
            "START_SESSION",
            "STOP_SESSION",
            "RESERVE_NOW",
            "CANCEL_RESERVATION",
            "UNLOCK_CONNECTOR",
        )
    },
    **{
        ("/ocpi/2.2.1/chargingprofiles/{session_id}", method): (
            "object",
            "ChargingProfileResponse",
        )
        for method in ("get", "put", "delete")
    },
    # The free public data feed (23 CFR 680.116(c)): no token.
    ("/public/2.2.1/locations", "get"): ("array", "Location"),
    ("/public/2.2.1/locations/{location_id}", "get"): ("object", "Location"),
    ("/public/2.2.1/tariffs", "get"): ("array", "Tariff"),
}
PUBLIC = {key for key in OUR_DATA if key[0].startswith("/public/")}


def test_every_operation_answers_a_typed_envelope_or_an_error_envelope():
    document = _document()
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert described == set(OUR_DATA)
    schemas = document["components"]["schemas"]
    for (path, method), (shape, model) in OUR_DATA.items():
        operation = document["paths"][path][method]
        success, error = operation["responses"]["200"]["content"]["application/json"]["schema"][
            "oneOf"
        ]
        assert error == {"$ref": "#/components/schemas/OcpiErrorResponse"}
        envelope = _resolve(document, success)
        assert envelope["properties"]["status_code"]["const"] == 1000
        assert {"status_code", "timestamp"} <= set(envelope["required"])
        if shape is None:
            assert "data" not in envelope["properties"]
            continue
        data = envelope["properties"]["data"]
        if shape == "array":
            assert data["type"] == "array"
            data = data["items"]
        assert data == {"$ref": f"#/components/schemas/{model}"}
        if "enum" in schemas[model]:  # a value of a closed set (ChargingPreferencesResponse)
            assert schemas[model]["enum"]
        else:
            # A real object schema, with its required fields and limits, not {"type": "object"}.
            assert schemas[model]["required"]
            assert schemas[model]["properties"]
        for status in ("400", "429") if (path, method) in PUBLIC else ("400", "401"):
            assert _resolve(document, operation["responses"][status])["content"][
                "application/json"
            ]["schema"] == {"$ref": "#/components/schemas/OcpiErrorResponse"}
    location = schemas["Location"]["properties"]
    assert location["id"] == {"maxLength": 36, "pattern": r"^[\x20-\x7e]*$", "type": "string"}
    assert location["last_updated"] == {"format": "date-time", "type": "string"}
    assert schemas["Price"]["properties"]["excl_vat"] == {"type": "number"}
    credentials = document["paths"]["/ocpi/2.2.1/credentials"]
    for method in ("post", "put"):
        body = credentials[method]["requestBody"]
        assert body["required"] is True
        assert body["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Credentials"
        }
        assert {"405", "413"} <= set(credentials[method]["responses"])
    assert "405" in credentials["delete"]["responses"]


def test_paginated_gets_document_their_parameters_and_headers():
    document = _document()
    for path in ("/ocpi/2.2.1/locations", "/ocpi/2.2.1/tariffs"):
        operation = document["paths"][path]["get"]
        names = {_resolve(document, p)["name"] for p in operation["parameters"]}
        assert {"offset", "limit", "date_from", "date_to", "OCPI-to-party-id"} <= names
        headers = operation["responses"]["200"]["headers"]
        assert {"X-Total-Count", "X-Limit", "Link", "X-Request-ID", "X-Correlation-ID"} <= set(
            headers
        )
    offset = document["components"]["parameters"]["offset"]["schema"]
    assert offset == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0}


@pytest.mark.parametrize(("path", "method"), sorted(PUBLIC))
def test_the_public_feed_needs_no_token_and_documents_its_caching_and_rate_limit(path, method):
    document = _document()
    operation = document["paths"][path][method]
    assert operation["security"] == []
    assert "401" not in operation["responses"]
    names = {_resolve(document, p)["name"] for p in operation["parameters"]}
    assert "If-None-Match" in names
    assert not any(name.startswith("OCPI-") for name in names)
    success = operation["responses"]["200"]["headers"]
    assert {"ETag", "Cache-Control", "Access-Control-Allow-Origin"} <= set(success)
    assert not any(name.startswith("OCPI-") for name in success)
    not_modified = operation["responses"]["304"]
    assert "content" not in not_modified
    assert {"ETag", "Cache-Control"} <= set(not_modified["headers"])
    limited = _resolve(document, operation["responses"]["429"])
    assert "Retry-After" in limited["headers"]
    if path.endswith("}"):
        assert "404" in operation["responses"]
    else:
        assert {"offset", "limit", "date_from", "date_to"} <= names
        assert {"X-Total-Count", "X-Limit", "Link"} <= set(success)
    # The partners' interface still requires the token everywhere.
    assert document["security"] == [{"OCPIToken": []}]


def test_hub_client_info_is_a_configuration_module_with_the_official_parameters():
    """Like the Tokens Receiver it is not in IMPLEMENTED: the official PUT lists HTTP 201,
    which we never answer (a PUT is answered 200)."""
    document = _document()
    path = "/ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}"
    for (official_path, method), official in ocpi_openapi.operations(
        "hubclientinfo", "receiver"
    ).items():
        assert official_path == "/hubclientinfo/{country_code}/{party_id}"
        operation = document["paths"][path][method]
        ours = {
            (p["in"], p["name"]): p
            for p in (_resolve(document, p) for p in operation["parameters"])
        }
        for expected in official["parameters"]:
            assert (expected["in"], expected["name"]) in ours
        assert not any(name.startswith("OCPI-") for _, name in ours)
        assert not any(h.startswith("OCPI-") for h in operation["responses"]["200"]["headers"])
        assert ours[("path", "party_id")]["schema"]["maxLength"] == 3
        assert "hub reports on" in ours[("path", "country_code")]["description"]
