"""The described OpenAPI document of a server with the Commands and ChargingProfiles Receivers.

The hub does not mount them yet (its ports are not wired), so ``tests/hub/test_openapi.py``
cannot see these operations; here a router built with fake ports is described and held against
the official 2.2.1 receiver interface files: every official path, parameter and response, the
request bodies (no field the official schema requires is optional in ours) and typed envelopes.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from litestar import Litestar
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from ocpi.v221.enums import ChargingProfileResponseType, CommandResponseType, CommandType
from ocpi.v221.ports import OcpiPorts
from ocpi.v221.server.common import ServerConfig
from ocpi.v221.server.openapi import describe_interfaces
from ocpi.v221.server.router import build_router
from tests.ocpi.test_server_commands_profiles import FakePorts
from tests.support import ocpi_openapi

OURS = {"commands": "/ocpi/2.2.1/commands", "chargingprofiles": "/ocpi/2.2.1/chargingprofiles"}
OFFICIAL = [
    (module, path, method)
    for module in OURS
    for (path, method) in ocpi_openapi.operations(module, "receiver")
]


@functools.cache
def _document() -> dict[str, Any]:
    fake = FakePorts()
    ports = OcpiPorts(authentication=fake, credentials=fake, commands=fake, charging_profiles=fake)
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


def _ours(module: str, path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = _document()["paths"][
        OURS[module] + path.removeprefix(f"/{module}")
    ][method]
    return operation


def _parameters(operation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    resolved = (_resolve(parameter) for parameter in operation["parameters"])
    return {(p["in"], p["name"].lower()): p for p in resolved}


def _data(operation: dict[str, Any]) -> Any:
    success, error = operation["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert error == {"$ref": "#/components/schemas/OcpiErrorResponse"}
    return _resolve(success)["properties"]["data"]


def test_the_document_is_valid_openapi_3_1():
    validate(_document(), cls=OpenAPIV31SpecValidator)


def test_the_official_receiver_interfaces_have_eight_operations():
    assert sorted((path, method) for _, path, method in OFFICIAL) == [
        ("/chargingprofiles/{session_id}", "delete"),
        ("/chargingprofiles/{session_id}", "get"),
        ("/chargingprofiles/{session_id}", "put"),
        *sorted((f"/commands/{command.value}", "post") for command in CommandType),
    ]


def test_our_paths_are_the_official_ones_and_no_more():
    ours = {
        (path, method)
        for path, item in _document()["paths"].items()
        if path.startswith(tuple(OURS.values()))
        for method in item
    }
    assert ours == {
        (OURS[module] + path.removeprefix(f"/{module}"), method)
        for module, path, method in OFFICIAL
    }
    # The route answering other command names (2001) never succeeds: it is not described.
    assert "/ocpi/2.2.1/commands/{command}" not in _document()["paths"]


@pytest.mark.parametrize(("module", "path", "method"), OFFICIAL)
def test_every_official_operation_is_described(module, path, method):
    official = ocpi_openapi.operations(module, "receiver")[(path, method)]
    operation = _ours(module, path, method)
    ours = _parameters(operation)
    for expected in official["parameters"]:
        key = (expected["in"], expected["name"].lower())
        assert key in ours, f"{key} missing"
        # Required exactly where the spec requires it (session_id, duration, response_url).
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


@pytest.mark.parametrize(
    ("module", "path", "method"), [case for case in OFFICIAL if case[2] in ("post", "put")]
)
def test_request_bodies_require_what_the_official_schemas_require(module, path, method):
    official_name = ocpi_openapi.operations(module, "receiver")[(path, method)]["requestBody"][
        "content"
    ]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    operation = _ours(module, path, method)
    assert operation["requestBody"]["required"] is True
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    ours = _resolve(body)
    official = ocpi_openapi.schema(official_name)
    assert body["$ref"].rsplit("/", 1)[-1].removesuffix("-Input") == official_name
    assert set(ours["required"]) == set(official["required"])
    assert set(ours["properties"]) == set(official["properties"])
    assert "413" in operation["responses"]


@pytest.mark.parametrize(("module", "path", "method"), OFFICIAL)
def test_the_envelopes_carry_the_receivers_response(module, path, method):
    name = "CommandResponse" if module == "commands" else "ChargingProfileResponse"
    assert _data(_ours(module, path, method)) == {"$ref": f"#/components/schemas/{name}"}


def test_the_response_enums_are_the_official_ones():
    schemas = _document()["components"]["schemas"]
    for enum, name in (
        (CommandResponseType, "CommandResponseType"),
        (ChargingProfileResponseType, "ChargingProfileResponseType"),
    ):
        assert schemas[name]["enum"] == [member.value for member in enum]
        assert set(schemas[name]["enum"]) == set(ocpi_openapi.schema(name)["enum"])


def test_charging_profile_queries_and_unknown_sessions_are_documented():
    path = "/chargingprofiles/{session_id}"
    get = _parameters(_ours("chargingprofiles", path, "get"))
    delete = _parameters(_ours("chargingprofiles", path, "delete"))
    assert get[("query", "duration")]["schema"]["minimum"] == 0
    assert get[("query", "response_url")]["schema"]["format"] == "uri"
    assert ("query", "duration") not in delete
    assert ("query", "response_url") in delete
    for method in ("get", "put", "delete"):
        assert "404" in _ours("chargingprofiles", path, method)["responses"]
