"""The described OpenAPI document of a server with the Sessions and CDRs Sender interfaces.

The hub does not mount them yet (its ports are not wired), so ``tests/hub/test_openapi.py``
cannot see these operations; here a router built with fake ports is described and held against
the official 2.2.1 interface files: every official path, parameter (``date_from`` required for
Sessions, optional for CDRs) and response, and typed envelopes.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from litestar import Litestar
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from ocpi.v221.enums import ChargingPreferencesResponse
from ocpi.v221.ports import OcpiPorts
from ocpi.v221.server.common import ServerConfig
from ocpi.v221.server.openapi import describe_interfaces
from ocpi.v221.server.router import build_router
from tests.ocpi.test_server_sessions_cdrs import FakePorts
from tests.support import ocpi_openapi

OURS = {"sessions": "/ocpi/2.2.1/sessions", "cdrs": "/ocpi/2.2.1/cdrs"}
OFFICIAL = [
    (module, path, method)
    for module in OURS
    for (path, method) in ocpi_openapi.operations(module, "sender")
]


@functools.cache
def _document() -> dict[str, Any]:
    fake = FakePorts()
    ports = OcpiPorts(authentication=fake, credentials=fake, sessions=fake, cdrs=fake)
    app = Litestar(route_handlers=[build_router(ports, ServerConfig(base_url="https://x/ocpi"))])
    return describe_interfaces(app.openapi_schema.to_schema())


def _resolve(node: Any) -> Any:
    document = _document()
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    resolved = (_resolve(parameter) for parameter in operation["parameters"])
    return {(p["in"], p["name"].lower()): p for p in resolved}


def _data(operation: dict[str, Any]) -> Any:
    success, error = operation["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert error == {"$ref": "#/components/schemas/OcpiErrorResponse"}
    return _resolve(success)["properties"]["data"]


def test_the_document_is_valid_openapi_3_1():
    validate(_document(), cls=OpenAPIV31SpecValidator)


def test_the_official_sender_interfaces_have_three_operations():
    assert sorted((path, method) for _, path, method in OFFICIAL) == [
        ("/cdrs", "get"),
        ("/sessions", "get"),
        ("/sessions/{session_id}/charging_preferences", "put"),
    ]


@pytest.mark.parametrize(("module", "path", "method"), OFFICIAL)
def test_every_official_operation_is_described(module, path, method):
    official = ocpi_openapi.operations(module, "sender")[(path, method)]
    ours_path = OURS[module] + path.removeprefix(f"/{module}")
    operation = _document()["paths"][ours_path][method]
    ours = _parameters(operation)
    for expected in official["parameters"]:
        key = (expected["in"], expected["name"].lower())
        assert key in ours, f"{key} missing"
        # Required exactly where the spec requires it (date_from of Sessions, the session id).
        if key[0] != "header":
            assert ours[key].get("required", False) == expected.get("required", False), key
        assert ours[key]["schema"].get("type") == expected["schema"].get("type"), key
        if "maxLength" in expected["schema"]:
            assert ours[key]["schema"]["maxLength"] >= expected["schema"]["maxLength"], key
    assert set(official["responses"]) <= set(operation["responses"])
    for status, expected in official["responses"].items():
        response = _resolve(operation["responses"][status])
        missing = set(expected.get("headers", {})) - set(response.get("headers", {}))
        assert not missing, f"{status}: headers {missing} missing"
    assert operation["security"] == [{"OCPIToken": []}]


def test_date_from_is_required_for_sessions_only():
    paths = _document()["paths"]
    sessions = _parameters(paths["/ocpi/2.2.1/sessions"]["get"])
    cdrs = _parameters(paths["/ocpi/2.2.1/cdrs"]["get"])
    assert sessions[("query", "date_from")]["required"] is True
    assert cdrs[("query", "date_from")]["required"] is False
    for parameters in (sessions, cdrs):
        assert {("query", "date_to"), ("query", "offset"), ("query", "limit")} <= set(parameters)


def test_the_envelopes_carry_sessions_cdrs_and_the_preferences_response():
    paths = _document()["paths"]
    schemas = _document()["components"]["schemas"]
    assert _data(paths["/ocpi/2.2.1/sessions"]["get"]) == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Session"},
    }
    assert _data(paths["/ocpi/2.2.1/cdrs"]["get"]) == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/CDR"},
    }
    put = paths["/ocpi/2.2.1/sessions/{session_id}/charging_preferences"]["put"]
    assert _data(put) == {"$ref": "#/components/schemas/ChargingPreferencesResponse"}
    assert schemas["ChargingPreferencesResponse"]["enum"] == [
        answer.value for answer in ChargingPreferencesResponse
    ]
    assert (
        schemas["ChargingPreferencesResponse"]["enum"]
        == ocpi_openapi.schema("ChargingPreferencesResponse")["enum"]
    )
    body = put["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ChargingPreferences"}
    assert schemas["ChargingPreferences"]["required"] == ["profile_type"]
    assert {"404", "413"} <= set(put["responses"])
    for path in ("/ocpi/2.2.1/sessions", "/ocpi/2.2.1/cdrs"):
        headers = paths[path]["get"]["responses"]["200"]["headers"]
        assert {"X-Total-Count", "X-Limit", "Link"} <= set(headers)
