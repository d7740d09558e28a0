"""Tokens module, Receiver interface (``mod_tokens.asciidoc`` "Receiver Interface").

``GET/PUT/PATCH {tokens_url}/{country_code}/{party_id}/{token_uid}[?type={type}]``; ``type``
defaults to RFID. There is no DELETE: an eMSP invalidates a token with ``valid=false``.

A body must name the token of its URL: ``country_code``, ``party_id``, ``uid`` and ``type``
"SHALL be the same value" (PUT request parameters), compared case-insensitively as CiStrings;
otherwise, and for a ``type`` 2.2.1 does not define, the answer is 2001 naming the field and
nothing is stored. A GET of an id that cannot be a token is answered like an unknown token.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from ocpi.errors import InvalidOrMissingParameters, TokenNotFound, quote_input
from ocpi.headers import RoutingHeaders
from ocpi.types import is_cistring
from ocpi.v221.enums import TokenType
from ocpi.v221.models.tokens import Token, TokenPatch
from ocpi.v221.ports import ClientIdentity, OcpiPorts, TokenRef, TokensReceiverPort
from ocpi.v221.server.body import OcpiBody, require_body
from ocpi.v221.server.common import ocpi_response

_URL_LIMITS = (("country_code", 2), ("party_id", 3), ("token_uid", 36))
_TYPES = ", ".join(t.value for t in TokenType)

TypeQuery = Annotated[
    TokenType | None,
    QueryParameter(name="type", description="Token.type of the token; default if omitted: RFID"),
]


def _port(ports: OcpiPorts) -> TokensReceiverPort:
    if ports.tokens is None:  # the router only mounts this controller with a port
        raise TokenNotFound("Tokens are not offered")
    return ports.tokens


def _unknown(uid: str, type_: TokenType) -> TokenNotFound:
    return TokenNotFound(f"Unknown token {quote_input(uid)} of type {type_.value}")


def _ref(country_code: str, party_id: str, token_uid: str, type_: TokenType | None) -> TokenRef:
    return TokenRef(country_code, party_id, token_uid, type_ or TokenType.RFID)


def _require_url_ids(country_code: str, party_id: str, token_uid: str) -> None:
    values = {"country_code": country_code, "party_id": party_id, "token_uid": token_uid}
    for name, limit in _URL_LIMITS:
        if not is_cistring(values[name], limit):
            raise InvalidOrMissingParameters(
                f"URL {name} must be printable ASCII of at most {limit} characters, "
                f"got {quote_input(values[name])}"
            )


def _require_same_token(
    ref: TokenRef,
    country_code: str | None,
    party_id: str | None,
    uid: str | None,
    type_: Any,
) -> None:
    """The body's identity fields that are present equal the URL's.

    2001 names the first that differs; ``type`` must also be a 2.2.1 TokenType.
    """
    if type_ is not None and type_ not in set(TokenType):
        raise InvalidOrMissingParameters(
            f"Invalid request body: type must be one of {_TYPES}, got {quote_input(str(type_))}"
        )
    pairs = (
        ("country_code", country_code, ref.country_code),
        ("party_id", party_id, ref.party_id),
        ("uid", uid, ref.uid),
        ("type", type_, ref.type.value),
    )
    for name, in_body, in_url in pairs:
        if in_body is not None and str(in_body).upper() != in_url.upper():
            url_name = "token_uid" if name == "uid" else name
            words = "URL parameter type (default RFID)" if name == "type" else f"URL {url_name}"
            raise InvalidOrMissingParameters(
                f"Invalid request body: {name} {quote_input(str(in_body))} differs from the "
                f"{words} {quote_input(in_url)}"
            )


_PATH = "/{country_code:str}/{party_id:str}/{token_uid:str}"


class TokensReceiverController(Controller):
    path = "/2.2.1/tokens"
    tags = ["tokens"]  # noqa: RUF012 - litestar reads it as a class attribute

    @get(_PATH, operation_id="getToken", summary="One Token as stored here")
    async def get_token(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        country_code: FromPath[str],
        party_id: FromPath[str],
        token_uid: FromPath[str],
        token_type: TypeQuery = None,
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        ref = _ref(country_code, party_id, token_uid, token_type)
        try:
            _require_url_ids(country_code, party_id, token_uid)
            token = await _port(ports).get_token(client, ref)
        except (InvalidOrMissingParameters, TokenNotFound):
            # One answer for every token that is not there for this client.
            raise _unknown(token_uid, ref.type) from None
        return ocpi_response(token, headers=routing.reversed().as_headers())

    @put(
        _PATH,
        dto=OcpiBody[Token],
        return_dto=None,
        operation_id="putToken",
        summary="Push a new or updated Token",
    )
    async def put_token(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        country_code: FromPath[str],
        party_id: FromPath[str],
        token_uid: FromPath[str],
        token_type: TypeQuery = None,
        data: JSONBody[Token | None] = None,
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        token = require_body(data)
        _require_url_ids(country_code, party_id, token_uid)
        ref = _ref(country_code, party_id, token_uid, token_type)
        _require_same_token(ref, token.country_code, token.party_id, token.uid, token.type)
        await _port(ports).put_token(client, token)
        return ocpi_response(headers=routing.reversed().as_headers())

    @patch(
        _PATH,
        dto=OcpiBody[TokenPatch],
        return_dto=None,
        operation_id="patchToken",
        summary="Update some fields of a Token (last_updated required)",
    )
    async def patch_token(
        self,
        request: Request[Any, Any, Any],
        client: NamedDependency[ClientIdentity],
        ports: NamedDependency[OcpiPorts],
        country_code: FromPath[str],
        party_id: FromPath[str],
        token_uid: FromPath[str],
        token_type: TypeQuery = None,
        data: JSONBody[TokenPatch | None] = None,
    ) -> Response[dict[str, Any]]:
        routing = RoutingHeaders.parse(request.headers)
        changes = require_body(data)
        _require_url_ids(country_code, party_id, token_uid)
        ref = _ref(country_code, party_id, token_uid, token_type)
        _require_same_token(ref, changes.country_code, changes.party_id, changes.uid, changes.type)
        await _port(ports).patch_token(client, ref, changes)
        return ocpi_response(headers=routing.reversed().as_headers())
