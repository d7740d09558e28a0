import pytest
from jsonschema import Draft202012Validator
from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.testing import AsyncTestClient

from ocpi.v221.models import Credentials, Location, Tariff, VersionDetails
from ocpi.v221.ports import OcpiPorts
from ocpi.v221.server.common import ServerConfig
from ocpi.v221.server.openapi import OPERATIONS, DescribedOpenAPIJson, describe_interfaces
from ocpi.v221.server.router import build_router
from tests.ocpi.test_models_examples import EXAMPLES, _load
from tests.ocpi.test_server import FakePorts

CONFIG = ServerConfig(base_url="https://ocpi.example.net/ocpi")


def test_an_ocpi_route_without_a_description_is_refused():
    generated = {
        "paths": {"/ocpi/2.2.1/commands/{command}": {"post": {"operationId": "postCommand"}}}
    }
    with pytest.raises(ValueError, match="postCommand"):
        describe_interfaces(generated)


def test_routes_outside_the_ocpi_router_are_left_out():
    generated = {
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/internal/ocpp/{station}/calls": {"post": {"operationId": "internal"}},
            "/ocpi/versions": {"get": {"operationId": "getVersions"}},
        },
    }
    document = describe_interfaces(generated)
    assert list(document["paths"]) == ["/ocpi/versions"]
    assert document["info"]["title"] == "t"
    assert set(OPERATIONS) >= {"getVersions", "getLocations", "putCredentials"}


# --- The component schemas describe what the wire models send ------------------------------

DOCUMENT = describe_interfaces({"paths": {}})  # the components do not depend on the routes
_SENT = {
    Location: "Location",
    Tariff: "Tariff",
    Credentials: "Credentials",
    VersionDetails: "VersionDetails",
}
SPEC_EXAMPLES = sorted(name for name, model in EXAMPLES.items() if model in _SENT)


def _validator(component: str) -> Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{component}", "components": DOCUMENT["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _assert_valid(component: str, payload: object) -> None:
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in _validator(component).iter_errors(payload)
    ]
    assert not errors, errors


def test_the_examples_cover_every_object_we_send():
    assert {EXAMPLES[name] for name in SPEC_EXAMPLES} == set(_SENT)
    assert len(SPEC_EXAMPLES) == 31  # 6 Locations, 19 Tariffs, 4 Credentials, 2 VersionDetails


@pytest.mark.parametrize("name", SPEC_EXAMPLES)
def test_spec_examples_as_we_send_them_match_the_documented_schemas(name):
    model = EXAMPLES[name]
    sent = model.model_validate_json(_load(name)).to_wire()
    _assert_valid(_SENT[model], sent)
    for evse in sent.get("evses", []) if model is Location else []:
        _assert_valid("EVSE", evse)
        for connector in evse["connectors"]:
            _assert_valid("Connector", connector)


def test_the_schemas_refuse_what_we_never_send():
    location = Location.model_validate_json(_load("location_example.json")).to_wire()
    _assert_valid("Location", location)
    for broken in (
        {**location, "name": None},  # absent, never null
        {**location, "country_code": "USA"},
        {**location, "id": "LOC\n1"},
        {**location, "last_updated": 1},
        {key: value for key, value in location.items() if key != "coordinates"},
    ):
        assert list(_validator("Location").iter_errors(broken)), broken


async def test_the_app_serves_the_described_document():
    fake = FakePorts()
    app = Litestar(
        route_handlers=[build_router(OcpiPorts(authentication=fake, credentials=fake), CONFIG)],
        openapi_config=OpenAPIConfig(
            title="t", version="1", path="/schema", render_plugins=[DescribedOpenAPIJson()]
        ),
    )
    expected = describe_interfaces(app.openapi_schema.to_schema())
    assert set(expected["paths"]) == {"/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials"}
    async with AsyncTestClient(app) as client:
        served = await client.get("/schema/openapi.json")
    assert served.status_code == 200
    assert served.json() == expected
