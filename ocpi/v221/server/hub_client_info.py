"""Hub Client Info module, Receiver interface (``mod_hub_client_info.asciidoc``).

``GET/PUT {hubclientinfo_url}/{country_code}/{party_id}``: a hub pushes the state of its
connection to another party (CONNECTED, OFFLINE, PLANNED, SUSPENDED) and may read back what we
stored. There is no POST, PATCH or DELETE: a hub invalidates a ClientInfo by PUTting it with
``status`` SUSPENDED.

A configuration module (``transport_and_format.asciidoc`` "Message Routing"): routing headers
SHALL NOT be used, so none are read or echoed. A PUT body must name the party of its URL
(``country_code`` and ``party_id``, compared case-insensitively as CiStrings); otherwise the
answer is 2001 naming the field and nothing is stored. A GET of an id that cannot be a party is
answered like an unknown ClientInfo (HTTP 404, 2000), a PUT under one gets 2001.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from ocpi.errors import InvalidOrMissingParameters, UnknownObject, quote_input
from ocpi.types import is_cistring
from ocpi.v221.models.hub_client_info import ClientInfo
from ocpi.v221.ports import ClientIdentity, HubClientInfoReceiverPort, OcpiPorts
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import ocpi_response

__all__ = ["HubClientInfoReceiverController"]

_URL_LIMITS = (("country_code", 2), ("party_id", 3))


def _port(ports: OcpiPorts) -> HubClientInfoReceiverPort:
    if ports.hub_client_info is None:  # the router only mounts this controller with a port
        raise UnknownObject("Hub Client Info is not offered")
    return ports.hub_client_info


def _unknown(country_code: str, party_id: str) -> UnknownObject:
    return UnknownObject(f"No ClientInfo for party {quote_input(f'{country_code}*{party_id}')}")


def _require_url_ids(country_code: str, party_id: str) -> None:
    values = {"country_code": country_code, "party_id": party_id}
    for name, limit in _URL_LIMITS:
        if not is_cistring(values[name], limit):
            raise InvalidOrMissingParameters(
                f"URL {name} must be printable ASCII of at most {limit} characters, "
                f"got {quote_input(values[name])}"
            )


def _require_same_party(info: ClientInfo, country_code: str, party_id: str) -> None:
    """The body's party equals the URL's; 2001 names the first field that differs."""
    for name, in_body, in_url in (
        ("country_code", info.country_code, country_code),
        ("party_id", info.party_id, party_id),
    ):
        if in_body.upper() != in_url.upper():
            raise InvalidOrMissingParameters(
                f"Invalid request body: {name} {quote_input(in_body)} differs from the URL "
                f"{name} {quote_input(in_url)}"
            )


_PATH = "/{country_code:str}/{party_id:str}"


class HubClientInfoReceiverController(Controller):
    path = "/2.2.1/hubclientinfo"
    tags = ["hubclientinfo"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(_PATH, operation_id="getClientInfo", summary="One ClientInfo as stored here")
    async def get_client_info(
        self,
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        country_code: FromPath[str],
        party_id: FromPath[str],
    ) -> Response[dict[str, Any]]:
        try:
            _require_url_ids(country_code, party_id)
            info = await _port(ports).get_client_info(client, country_code, party_id)
        except (InvalidOrMissingParameters, UnknownObject):
            # One answer for every ClientInfo that is not there for this client.
            raise _unknown(country_code, party_id) from None
        return ocpi_response(info)

    @put(
        _PATH,
        dto=OcpiBody[ClientInfo],
        return_dto=None,
        operation_id="putClientInfo",
        summary="Push a new or updated ClientInfo",
    )
    async def put_client_info(
        self,
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        country_code: FromPath[str],
        party_id: FromPath[str],
        data: JSONBody[ClientInfo | None] = None,
    ) -> Response[dict[str, Any]]:
        info = require_body(data)
        _require_url_ids(country_code, party_id)
        _require_same_party(info, country_code, party_id)
        await _port(ports).put_client_info(client, info)
        return ocpi_response()
