import pytest

from ocpi.v221.server.openapi import OPERATIONS, describe_interfaces


def test_an_ocpi_route_without_a_description_is_refused():
    generated = {"paths": {"/ocpi/2.2.1/sessions": {"get": {"operationId": "getSessions"}}}}
    with pytest.raises(ValueError, match="getSessions"):
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
