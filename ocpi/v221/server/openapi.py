"""OpenAPI 3.1 description of the OCPI 2.2.1 interfaces this server implements.

Litestar generates the skeleton of the document from the routes (paths, methods, operation ids,
tags), but it cannot see what the handlers read from the request themselves (pagination query
parameters, the ``Authorization``, message id and routing headers) nor what ``ocpi_response``
puts in the envelope. :func:`describe_interfaces` completes it from :data:`OPERATIONS`, one entry
per operation id of the controllers:

* the parameters of the official 2.2.1 interface files (``X-Request-ID``, ``X-Correlation-ID``,
  the four ``OCPI-from/to-*`` routing headers on functional modules, ``date_from``/``date_to``/
  ``offset``/``limit`` on paginated GETs, the object ids), with the limits this server applies;
* the ``OCPIToken`` security scheme (``Authorization: Token <base64 token>``,
  ``transport_and_format.asciidoc`` "Authorization header");
* the response envelope (``transport_and_format.asciidoc`` "Response format") with a typed
  ``data``: the JSON Schemas of the wire models in :mod:`ocpi.v221.models`, as they serialize;
* the pagination response headers (``X-Total-Count``, ``X-Limit``, ``Link``);
* the error responses: HTTP 200 with a 2xxx/3xxx/4xxx envelope (the spec's rule for valid
  requests that fail at the OCPI layer), 400 (body missing or not JSON), 401 (token, with
  ``WWW-Authenticate``), 404 (unknown object), 405 (credentials call in the wrong registration
  state, with ``Allow``), 413 (body too large), each with the error envelope.

The public data feed (``ocpi.v221.server.public``) is described from the same table: its
operations (``public=True``) have no security requirement and no routing headers, and they
document ``If-None-Match``, ``ETag``, ``Cache-Control``, HTTP 304 and HTTP 429.

The document describes what the server does, which is sometimes more lenient than the spec:
message ids are optional (one is generated when absent), ``limit`` may be 0. Each difference is
stated in the parameter's description.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from litestar import Request
from litestar.openapi.plugins import JsonRenderPlugin
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema
from pydantic_core import core_schema

from ocpi.auth import MAX_TOKEN_LENGTH
from ocpi.envelope import LINK, MAX_PAGE_INTEGER, SUCCESS, X_LIMIT, X_TOTAL_COUNT
from ocpi.headers import (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
    X_CORRELATION_ID,
    X_REQUEST_ID,
)
from ocpi.types import CiString, String, format_datetime
from ocpi.v221.enums import ChargingPreferencesResponse, TokenType
from ocpi.v221.models.cdrs import CDR
from ocpi.v221.models.charging_profiles import ChargingProfileResponse, SetChargingProfile
from ocpi.v221.models.commands import (
    CancelReservation,
    CommandResponse,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from ocpi.v221.models.credentials import Credentials
from ocpi.v221.models.hub_client_info import ClientInfo
from ocpi.v221.models.locations import EVSE, Connector, Location
from ocpi.v221.models.sessions import ChargingPreferences, Session
from ocpi.v221.models.tariffs import Tariff
from ocpi.v221.models.tokens import Token, TokenPatch
from ocpi.v221.models.versions import Version, VersionDetails
from ocpi.v221.server.charging_profiles import MAX_DURATION

__all__ = [
    "OPERATIONS",
    "SECURITY_SCHEME",
    "DescribedOpenAPIJson",
    "Operation",
    "describe_interfaces",
]

SECURITY_SCHEME = "OCPIToken"
"""Name of the security scheme, as in the official files (``components/schema.yaml``)."""

_REF = "#/components/schemas/{model}"
_PRINTABLE_ASCII = r"^[\x20-\x7e]*$"
# OCPI string: printable UTF-8, so no C0 or C1 control characters.
_PRINTABLE_TEXT = r"^[^\u0000-\u001f\u007f-\u009f]*$"
_ID_LENGTH = 36  # Location.id, EVSE.uid, Connector.id: CiString(36)


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says about one operation (keyed by its Litestar ``operation_id``).

    Attributes:
        description: Markdown description; cites the spec chapter.
        data: The model (or enum, for a bare value) of the envelope's ``data`` on success,
            None when there is none.
        many: ``data`` is a list of ``data`` objects.
        functional: A functional module: routing headers apply and a registered, active peer is
            required (configuration modules: versions, credentials).
        paginated: A paginated Sender GET (``date_from``, ``date_to``, ``offset``, ``limit`` and
            the pagination response headers).
        date_from_required: The module makes ``date_from`` required (Sessions).
        body: The model of the JSON request body, if any.
        not_found: When HTTP 404 (with 2003, 2004 or 2000) answers an unknown object.
        method_not_allowed: When HTTP 405 answers (credentials registration state), if it can.
        query: Query parameters beyond pagination (described in the parameters table).
        path_parameters: (path parameter, entry of the parameters table) pairs for path
            parameters whose name another module uses with another meaning.
        public: An operation of the public data feed (``ocpi.v221.server.public``): no token,
            no routing headers, ``ETag``/``If-None-Match`` (304), ``Cache-Control``, HTTP 429.
    """

    description: str
    data: type[BaseModel] | type[StrEnum] | None
    many: bool = False
    functional: bool = False
    paginated: bool = False
    date_from_required: bool = False
    body: type[BaseModel] | None = None
    not_found: str | None = None
    method_not_allowed: str | None = None
    query: tuple[str, ...] = ()
    path_parameters: tuple[tuple[str, str], ...] = ()
    public: bool = False


_LIST_NOTE = (
    " Only objects with `last_updated` in [`date_from`, `date_to`) are returned, `offset` and"
    " `limit` page through them in a stable order, and every page has `X-Total-Count`, `X-Limit`"
    " and, unless it is the last, a `Link` to the next one carrying every filter."
)

_PUBLIC_NOTE = (
    " No token, no routing headers; GET only (any other method is HTTP 405). Every answer has"
    " `Cache-Control: public, max-age=N` (N at most 15: a change of status or price is visible"
    " within 15 s) and a weak `ETag`, a hash of the body without its `timestamp`; send it back"
    " in `If-None-Match` to get HTTP 304 while nothing changed. Each client address may make a"
    " limited number of requests per hour, with a burst; beyond it HTTP 429 with"
    " `Retry-After`."
)

_COMMAND_NOTE = (
    " `data` is the CPO's CommandResponse (ACCEPTED, REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION and"
    " a `timeout` in seconds), not the Charge Point's: with ACCEPTED, the CommandResult is POSTed"
    " to the body's `response_url`, which must be an absolute http(s) URL. A body that is not"
    " a {model} object is status_code 2001 naming the field. The path takes the command names"
    " of the spec, upper case; any other name is status_code 2001 (HTTP 200)."
)


def _command(name: str, model: type[BaseModel], what: str) -> Operation:
    return Operation(
        description=(
            f"The {name} command (`mod_commands.asciidoc` Receiver interface, POST): {what}"
            + _COMMAND_NOTE.format(model=model.__name__)
        ),
        data=CommandResponse,
        functional=True,
        body=model,
    )


_PROFILE_NOTE = " A session the caller may not address is answered UNKNOWN_SESSION (or HTTP 404)."
_UNKNOWN_SESSION = (
    "No such Session, or not one of the caller's; also a `session_id` that cannot be one"
    " (status_code 2000)."
)

OPERATIONS: Mapping[str, Operation] = {
    "getVersions": Operation(
        description=(
            "The OCPI versions this platform supports, with their details URLs"
            " (`version_information_endpoint.asciidoc`). Any known token (A, B or C) may call."
        ),
        data=Version,
        many=True,
    ),
    "getVersionDetails": Operation(
        description=(
            "The 2.2.1 endpoints of this platform, one per module interface it offers"
            " (`version_information_endpoint.asciidoc`). Any known token may call."
        ),
        data=VersionDetails,
    ),
    "getCredentials": Operation(
        description=(
            "The credentials object to access this platform: the token the caller used, our"
            " versions URL and our CPO roles (`credentials.asciidoc`)."
        ),
        data=Credentials,
    ),
    "postCredentials": Operation(
        description=(
            "Registration with a registration token (token A): we fetch the caller's versions and"
            " endpoints from `url`, store its token B and answer with our credentials carrying a"
            " new token C (`credentials.asciidoc`). A failed exchange changes nothing (3001)."
        ),
        data=Credentials,
        body=Credentials,
        method_not_allowed="The caller is already registered: update with PUT.",
    ),
    "putCredentials": Operation(
        description=(
            "Update of a registered peer's credentials: we fetch its versions and endpoints again"
            " and answer with our credentials carrying a new token (`credentials.asciidoc`)."
        ),
        data=Credentials,
        body=Credentials,
        method_not_allowed="The caller is not registered yet: register with POST.",
    ),
    "deleteCredentials": Operation(
        description=(
            "Unregistration: the caller's tokens stop working in both directions"
            " (`credentials.asciidoc`). The envelope has no `data`."
        ),
        data=None,
        method_not_allowed="The caller is not registered.",
    ),
    "getLocations": Operation(
        description=(
            "The Locations the caller may see, with their EVSEs and Connectors"
            " (`mod_locations.asciidoc` Sender interface)." + _LIST_NOTE
        ),
        data=Location,
        many=True,
        functional=True,
        paginated=True,
    ),
    "getLocation": Operation(
        description="One Location (`mod_locations.asciidoc` Sender interface, GET Object).",
        data=Location,
        functional=True,
        not_found="No such Location, or not visible to the caller (status_code 2003).",
    ),
    "getEvse": Operation(
        description="One EVSE of a Location (`mod_locations.asciidoc` Sender interface).",
        data=EVSE,
        functional=True,
        not_found="No such Location or EVSE, or not visible to the caller (status_code 2003).",
    ),
    "getConnector": Operation(
        description="One Connector of an EVSE (`mod_locations.asciidoc` Sender interface).",
        data=Connector,
        functional=True,
        not_found=(
            "No such Location, EVSE or Connector, or not visible to the caller (status_code 2003)."
        ),
    ),
    "getTariffs": Operation(
        description=(
            "The Tariffs the caller may see (`mod_tariffs.asciidoc` Sender interface)." + _LIST_NOTE
        ),
        data=Tariff,
        many=True,
        functional=True,
        paginated=True,
    ),
    "getToken": Operation(
        description=(
            "One Token as stored here (`mod_tokens.asciidoc` Receiver interface, GET): only"
            " tokens of the parties the caller owns."
        ),
        data=Token,
        functional=True,
        not_found=(
            "No such Token (uid and type), or one of a party the caller does not own"
            " (status_code 2004)."
        ),
        query=("type",),
    ),
    "putToken": Operation(
        description=(
            "Push a new Token or replace the stored one (`mod_tokens.asciidoc` Receiver"
            " interface, PUT); `valid: false` invalidates it (there is no DELETE). The body's"
            " `country_code`, `party_id`, `uid` and `type` must be the URL's, the party one the"
            " caller owns; otherwise status_code 2001 naming the field, and nothing is stored."
            " The envelope has no `data`."
        ),
        data=None,
        functional=True,
        body=Token,
        query=("type",),
    ),
    "patchToken": Operation(
        description=(
            "Change some fields of a stored Token (`mod_tokens.asciidoc` Receiver interface,"
            " PATCH); `last_updated` is required. Identity fields, when present, must be the"
            " URL's; required fields cannot be cleared (status_code 2001). The envelope has no"
            " `data`."
        ),
        data=None,
        functional=True,
        body=TokenPatch,
        not_found="No such Token to change: PUT it first (status_code 2004).",
        query=("type",),
    ),
    "getSessions": Operation(
        description=(
            "The Sessions the caller may see (`mod_sessions.asciidoc` Sender interface, GET)."
            " `date_from` is required: the spec's parameter table says so for Sessions (its"
            " endpoint structure shows it in optional brackets); without it, status_code 2001."
            + _LIST_NOTE
        ),
        data=Session,
        many=True,
        functional=True,
        paginated=True,
        date_from_required=True,
    ),
    "putChargingPreferences": Operation(
        description=(
            "Set the driver's Charging Preferences of an ongoing Session (`mod_sessions.asciidoc`"
            " Sender interface, PUT); `data` is the ChargingPreferencesResponse. A body that is"
            " not a ChargingPreferences object is status_code 2001 naming the field."
        ),
        data=ChargingPreferencesResponse,
        functional=True,
        body=ChargingPreferences,
        not_found=(
            "No such Session, or not one of the caller's (status_code 2000); or the Session's"
            " EVSE is not CHARGING_PREFERENCES_CAPABLE (status_code 2001, as the spec asks)."
        ),
    ),
    "getCdrs": Operation(
        description=(
            "The CDRs of the caller (`mod_cdrs.asciidoc` Sender interface, GET); a CDR's"
            " `last_updated` is its creation, as CDRs never change." + _LIST_NOTE
        ),
        data=CDR,
        many=True,
        functional=True,
        paginated=True,
    ),
    "postCancelReservation": _command(
        "CANCEL_RESERVATION",
        CancelReservation,
        "Cancel the reservation `reservation_id` made with RESERVE_NOW; the CommandResult"
        " says whether the Charge Point knew it (UNKNOWN_RESERVATION otherwise).",
    ),
    "postReserveNow": _command(
        "RESERVE_NOW",
        ReserveNow,
        "Reserve an EVSE of `location_id` (`evse_uid`, or any EVSE) for `token` until"
        " `expiry_date`; the same `reservation_id` replaces the reservation. The Token is the"
        " eMSP's to authorize, not checked here.",
    ),
    "postStartSession": _command(
        "START_SESSION",
        StartSession,
        "Start a session at `location_id` (`evse_uid`, `connector_id` if given) for `token`."
        " `connector_id` without `evse_uid` is status_code 2001 (the spec: `evse_uid` is"
        " required when `connector_id` is set). The Token is the eMSP's to authorize, not"
        " checked here. An unknown Location may be status_code 2003.",
    ),
    "postStopSession": _command(
        "STOP_SESSION",
        StopSession,
        "Stop the ongoing session `session_id`; UNKNOWN_SESSION when there is no such session,"
        " REJECTED when it is not the caller's.",
    ),
    "postUnlockConnector": _command(
        "UNLOCK_CONNECTOR",
        UnlockConnector,
        "Unlock a Connector stuck after a session: for help desk operators only, never to be"
        " triggered by a driver.",
    ),
    "getActiveChargingProfile": Operation(
        description=(
            "Ask for the ActiveChargingProfile of an ongoing Session for the next `duration`"
            " seconds (`mod_charging_profiles.asciidoc` Receiver interface, GET). `data` is the"
            " CPO's ChargingProfileResponse; with ACCEPTED an ActiveChargingProfileResult is"
            " POSTed to `response_url` within `timeout` seconds." + _PROFILE_NOTE
        ),
        data=ChargingProfileResponse,
        functional=True,
        not_found=_UNKNOWN_SESSION,
        query=("duration", "response_url"),
    ),
    "putChargingProfile": Operation(
        description=(
            "Set or replace the ChargingProfile of an ongoing Session"
            " (`mod_charging_profiles.asciidoc` Receiver interface, PUT). `data` is the CPO's"
            " ChargingProfileResponse; with ACCEPTED a ChargingProfileResult is POSTed to the"
            " body's `response_url` within `timeout` seconds, and from then on every change of"
            " the session's ActiveChargingProfile is PUT to the caller's ChargingProfiles"
            " Sender interface. Refused with status_code 2001 naming the field: a negative"
            " `duration`, `min_charging_rate` or `limit`, a rate with more than one decimal, a"
            " `start_period` below 0 or not greater than the previous one, a `response_url` that"
            " is not an absolute http(s) URL." + _PROFILE_NOTE
        ),
        data=ChargingProfileResponse,
        functional=True,
        body=SetChargingProfile,
        not_found=_UNKNOWN_SESSION,
    ),
    "deleteChargingProfile": Operation(
        description=(
            "Clear the ChargingProfile the caller set on an ongoing Session"
            " (`mod_charging_profiles.asciidoc` Receiver interface, DELETE). `data` is the CPO's"
            " ChargingProfileResponse; with ACCEPTED a ClearProfileResult is POSTed to"
            " `response_url` within `timeout` seconds." + _PROFILE_NOTE
        ),
        data=ChargingProfileResponse,
        functional=True,
        not_found=_UNKNOWN_SESSION,
        query=("response_url",),
    ),
    "getClientInfo": Operation(
        description=(
            "The ClientInfo the calling hub reported for a party, as stored here"
            " (`mod_hub_client_info.asciidoc` Receiver interface, GET). A configuration module:"
            " no routing headers. Only what the caller itself reported is visible."
        ),
        data=ClientInfo,
        not_found=(
            "The caller reported no ClientInfo for this party, or is not a hub (status_code 2000)."
        ),
        path_parameters=(
            ("country_code", "client_info_country_code"),
            ("party_id", "client_info_party_id"),
        ),
    ),
    "putClientInfo": Operation(
        description=(
            "A hub pushes the state of its connection to a party (`mod_hub_client_info.asciidoc`"
            " Receiver interface, PUT); there is no DELETE (SUSPENDED invalidates it). Only a"
            " registered partner whose credentials declare the role HUB may call; any other"
            " gets status_code 2001. The body's `country_code` and `party_id` must be the"
            " URL's, otherwise status_code 2001 naming the field; nothing is stored then. The"
            " envelope has no `data`."
        ),
        data=None,
        body=ClientInfo,
        path_parameters=(
            ("country_code", "client_info_country_code"),
            ("party_id", "client_info_party_id"),
        ),
    ),
    "getPublicLocations": Operation(
        description=(
            "The free public data feed (23 CFR 680.116(c)): every published Location with its"
            " EVSEs (real-time `status`) and Connectors (their `tariff_ids`), exactly as the"
            " Locations Sender interface serves them (`mod_locations.asciidoc`), to anyone,"
            " without a token. Unpublished locations never appear." + _LIST_NOTE + _PUBLIC_NOTE
        ),
        data=Location,
        many=True,
        paginated=True,
        public=True,
    ),
    "getPublicLocation": Operation(
        description=(
            "One published Location of the free public data feed, as the Locations Sender"
            " interface serves it (`mod_locations.asciidoc`, GET Object), without a token."
            + _PUBLIC_NOTE
        ),
        data=Location,
        not_found="No such Location, or not published (status_code 2003).",
        public=True,
    ),
    "getPublicTariffs": Operation(
        description=(
            "The real-time prices of the free public data feed: the Tariffs the published"
            " Locations reference, and those no location references yet (published ahead of"
            " use), as the Tariffs Sender interface serves them (`mod_tariffs.asciidoc`),"
            " without a token. A tariff only unpublished locations reference never appears."
            + _LIST_NOTE
            + _PUBLIC_NOTE
        ),
        data=Tariff,
        many=True,
        paginated=True,
        public=True,
    ),
}
"""Every OCPI operation of the server, by Litestar ``operation_id``."""

# ---------------------------------------------------------------------------------------------
# Wire-model schemas


class _WireJsonSchema(GenerateJsonSchema):
    """JSON Schema of the wire models as they are on the wire.

    * ``None`` is never sent (``OcpiModel.to_wire`` drops it) and OCPI has no ``null`` for an
      absent value, so optional fields are optional, not nullable. (The server also accepts
      ``null`` for an absent optional field of a request body; the document does not invite it.)
    * DateTime is an RFC 3339 string; Number a JSON number.
    * ``CiString``/``String`` keep their character rules as ``pattern``.
    * No generated property titles ("Country Code"), no ``default: null``.
    """

    def field_title_should_be_set(self, schema: Any) -> bool:  # noqa: ARG002 - never
        return False

    def nullable_schema(self, schema: core_schema.NullableSchema) -> dict[str, Any]:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        json_schema = super().default_schema(schema)
        if "default" in json_schema and json_schema["default"] is None:
            del json_schema["default"]
        return json_schema

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> Any:
        json_schema = super().function_after_schema(schema)
        function = schema["function"].get("function")
        # The character rules of ocpi.types, which pydantic cannot see inside the validators; a
        # pattern of the field itself (LocalDate, GeoLocation) is stricter and stays.
        if "pattern" not in json_schema:
            if function is CiString._check:
                json_schema = {**json_schema, "pattern": _PRINTABLE_ASCII}
            elif function is String._check:
                json_schema = {**json_schema, "pattern": _PRINTABLE_TEXT}
        return json_schema

    def ser_schema(self, schema: Any) -> dict[str, Any] | None:
        if schema.get("type") == "function-plain":
            if schema.get("function") is format_datetime:
                return {"type": "string", "format": "date-time"}
            if _returns_json_number(schema):
                return {"type": "number"}
        return super().ser_schema(schema)


def _returns_json_number(schema: Mapping[str, Any]) -> bool:
    # ocpi.types.Number: a Decimal serialized by a function returning int | float.
    returned = schema.get("return_schema", {})
    choices = {item.get("type") for item in returned.get("choices", [])}
    return returned.get("type") == "union" and choices == {"int", "float"}


_Key = tuple[type[Any], JsonSchemaMode]  # a model, or an enum given as data


def _model_schemas() -> tuple[dict[str, Any], dict[_Key, dict[str, Any]]]:
    """Component schemas of every model OPERATIONS names, and the reference to each.

    Response data in serialization mode, request bodies in validation mode; a model whose two
    forms differ gets two components (``Name-Input``, ``Name-Output``, pydantic's names). An
    enum given as ``data`` (a bare value) gets a component of its own name.
    """
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    enums: list[type[StrEnum]] = []
    for spec in OPERATIONS.values():
        if isinstance(spec.data, type) and issubclass(spec.data, StrEnum):
            enums.append(spec.data)
        elif spec.data is not None:
            wanted.append((spec.data, "serialization"))
        if spec.body is not None:
            wanted.append((spec.body, "validation"))
    keys, definitions = models_json_schema(
        list(dict.fromkeys(wanted)), ref_template=_REF, schema_generator=_WireJsonSchema
    )
    refs: dict[_Key, dict[str, Any]] = {
        (model, mode): dict(ref) for (model, mode), ref in keys.items()
    }
    schemas = dict(definitions["$defs"])
    for enum in dict.fromkeys(enums):
        schemas[enum.__name__] = TypeAdapter(enum).json_schema(
            ref_template=_REF, schema_generator=_WireJsonSchema
        )
        refs[(enum, "serialization")] = {"$ref": _REF.format(model=enum.__name__)}
    return schemas, refs


# ---------------------------------------------------------------------------------------------
# Envelope, errors, headers, parameters


def _timestamp() -> dict[str, Any]:
    return {
        "type": "string",
        "format": "date-time",
        "description": "When the response was generated (UTC).",
    }


def _success_envelope(data: dict[str, Any] | None, description: str) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "status_code": {"type": "integer", "const": SUCCESS, "description": "1000: success."},
        "status_message": {"type": "string"},
        "timestamp": _timestamp(),
    }
    required = ["status_code", "timestamp"]
    if data is not None:
        properties = {"data": data, **properties}
        required.insert(0, "data")
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "required": required,
    }


_ERROR_ENVELOPE = {
    "type": "object",
    "description": (
        "OCPI response envelope of a failed request (`transport_and_format.asciidoc`"
        ' "Response format", `status_codes.asciidoc`): no `data`; 2xxx: the request cannot be'
        " processed (2000 generic, 2001 invalid or missing parameters, 2002 not enough"
        " information, 2003 unknown Location, 2004 unknown Token), 3xxx: this server failed"
        " (3001 unable to use the client's API, 3002 unsupported version, 3003 no matching"
        " endpoints), 4xxx: a hub could not route the request."
    ),
    "properties": {
        "status_code": {"type": "integer", "minimum": 2000, "maximum": 4999},
        "status_message": {"type": "string", "description": "What went wrong, for humans."},
        "timestamp": _timestamp(),
    },
    "required": ["status_code", "timestamp"],
}

_HEADERS: dict[str, Any] = {
    X_REQUEST_ID: {
        "description": "The request's X-Request-ID, or a new UUID when it had none.",
        "required": True,
        "schema": {"type": "string"},
    },
    X_CORRELATION_ID: {
        "description": "The request's X-Correlation-ID, or a new UUID when it had none.",
        "required": True,
        "schema": {"type": "string"},
    },
    X_TOTAL_COUNT: {
        "description": (
            "Number of objects matching the query (filters included, offset and limit excluded)"
            " that the caller may see. On every successful page."
        ),
        "schema": {"type": "integer", "minimum": 0},
    },
    X_LIMIT: {
        "description": "The server's maximum page size. On every successful page.",
        "schema": {"type": "integer", "minimum": 0},
    },
    LINK: {
        "description": (
            'Link to the next page, `<URL>; rel="next"`, with every filter of the request;'
            " absent on the last page."
        ),
        "schema": {"type": "string", "pattern": '^<[^>]*>; rel="next"$'},
    },
    "Allow": {
        "description": (
            "The methods the caller may use on this path now (for credentials: in its"
            " registration state)."
        ),
        "required": True,
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "The authentication scheme to use: `Token`.",
        "required": True,
        "schema": {"type": "string", "const": "Token"},
    },
    "ETag": {
        "description": (
            "Weak validator of the answer (RFC 9110 §8.8.3): a hash of the body without its"
            " `timestamp`, and of the pagination headers. Send it in `If-None-Match`. On every"
            " success (status_code 1000) and 304; not on errors."
        ),
        "schema": {"type": "string", "pattern": '^W/"[0-9a-f]{32}"$'},
    },
    "Cache-Control": {
        "description": (
            "`public, max-age=N`: the answer may be reused for N seconds (at most 15), by the"
            " client and by shared caches; errors (also those answered with HTTP 200, such as"
            " status_code 2001) are `no-store`."
        ),
        "required": True,
        "schema": {"type": "string", "pattern": "^(public, max-age=[0-9]+|no-store)$"},
    },
    "Access-Control-Allow-Origin": {
        "description": "`*`: browser applications of any origin may read the feed.",
        "required": True,
        "schema": {"type": "string", "const": "*"},
    },
    "Retry-After": {
        "description": "Whole seconds until this client's next request is accepted.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
}
for _name, _header in {
    OCPI_FROM_COUNTRY_CODE: "country code",
    OCPI_FROM_PARTY_ID: "party id",
    OCPI_TO_COUNTRY_CODE: "country code",
    OCPI_TO_PARTY_ID: "party id",
}.items():
    _side = "TO" if "-from-" in _name else "FROM"
    _HEADERS[_name] = {
        "description": (
            f"Message routing: the {_header} of the request's {_side} party, echoed with FROM and"
            " TO swapped, when the request carried routing headers."
        ),
        "schema": {
            "type": "string",
            "pattern": "^[A-Z]{2}$" if "country" in _header else "^[A-Z0-9]{3}$",
        },
    }

_MESSAGE_ID_NOTE = (
    " The spec says every request SHALL carry one and advises a UUID; this server accepts any"
    " value, and a request without one (a new UUID is then generated and returned)."
)


def _routing_parameter(name: str, side: str, what: str, pattern: str) -> dict[str, Any]:
    length = 2 if "country" in name else 3
    return {
        "in": "header",
        "name": name,
        "required": False,
        "description": (
            f"Message routing (`transport_and_format.asciidoc`): {what} of the party this message"
            f" is {side}. Case-insensitive. Both headers of a pair, or neither; an invalid value"
            " or half a pair is status_code 2001. A TO party narrows the answer to objects of"
            " that CPO party."
        ),
        "schema": {"type": "string", "minLength": length, "maxLength": length, "pattern": pattern},
    }


_COUNTRY = "^[A-Za-z]{2}$"
_PARTY = "^[A-Za-z0-9]{3}$"
_PARAMETERS: dict[str, Any] = {
    X_REQUEST_ID: {
        "in": "header",
        "name": X_REQUEST_ID,
        "required": False,
        "description": "Unique id of this request; the response carries the same value."
        + _MESSAGE_ID_NOTE,
        "schema": {"type": "string", "examples": ["4b1b5d2e-3f74-4b53-9f13-2f1c8a7f3a55"]},
    },
    X_CORRELATION_ID: {
        "in": "header",
        "name": X_CORRELATION_ID,
        "required": False,
        "description": "Unique id of the request chain; every response carries the same value."
        + _MESSAGE_ID_NOTE,
        "schema": {"type": "string", "examples": ["0e5f7fc4-3c6d-4ad2-9b35-34f0b9c8d1a2"]},
    },
    OCPI_FROM_COUNTRY_CODE: _routing_parameter(
        OCPI_FROM_COUNTRY_CODE, "sent from", "ISO 3166-1 alpha-2 country code", _COUNTRY
    ),
    OCPI_FROM_PARTY_ID: _routing_parameter(OCPI_FROM_PARTY_ID, "sent from", "party id", _PARTY),
    OCPI_TO_COUNTRY_CODE: _routing_parameter(
        OCPI_TO_COUNTRY_CODE, "to be sent to", "ISO 3166-1 alpha-2 country code", _COUNTRY
    ),
    OCPI_TO_PARTY_ID: _routing_parameter(OCPI_TO_PARTY_ID, "to be sent to", "party id", _PARTY),
    "date_from": {
        "in": "query",
        "name": "date_from",
        "required": False,
        "description": (
            "Only objects with `last_updated` at or after this RFC 3339 date-time (inclusive)."
            " Anything else is status_code 2001."
        ),
        "schema": {"type": "string", "format": "date-time"},
    },
    "date_from_required": {
        "in": "query",
        "name": "date_from",
        "required": True,
        "description": (
            "Only objects with `last_updated` at or after this RFC 3339 date-time (inclusive)."
            " Required by this module: a request without it, or anything else, is status_code"
            " 2001."
        ),
        "schema": {"type": "string", "format": "date-time"},
    },
    "date_to": {
        "in": "query",
        "name": "date_to",
        "required": False,
        "description": (
            "Only objects with `last_updated` before this RFC 3339 date-time (exclusive)."
            " Anything else is status_code 2001."
        ),
        "schema": {"type": "string", "format": "date-time"},
    },
    "offset": {
        "in": "query",
        "name": "offset",
        "required": False,
        "description": (
            "Index of the first object returned, 0 by default. Digits only, at most"
            f" {MAX_PAGE_INTEGER}; anything else is status_code 2001."
        ),
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE_INTEGER, "default": 0},
    },
    "limit": {
        "in": "query",
        "name": "limit",
        "required": False,
        "description": (
            "Maximum number of objects returned; values above the server maximum (`X-Limit`,"
            " the default) are lowered to it, 0 answers an empty page. Digits only, at most"
            f" {MAX_PAGE_INTEGER}; anything else is status_code 2001."
        ),
        "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE_INTEGER},
    },
}
for _name, _object in (
    ("location_id", "Location.id"),
    ("evse_uid", "EVSE.uid"),
    ("connector_id", "Connector.id"),
):
    _PARAMETERS[_name] = {
        "in": "path",
        "name": _name,
        "required": True,
        "description": (
            f"{_object} (CiString(36)). An id that cannot exist (longer, not printable ASCII) is"
            " answered like an unknown one: HTTP 404, status_code 2003."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": _ID_LENGTH,
            "pattern": _PRINTABLE_ASCII,
        },
    }

for _name, _limit, _words in (
    ("country_code", 2, "Country code of the eMSP party that owns the Token"),
    ("party_id", 3, "Party id of the eMSP party that owns the Token"),
    ("token_uid", 36, "Token.uid"),
):
    _PARAMETERS[_name] = {
        "in": "path",
        "name": _name,
        "required": True,
        "description": (
            f"{_words} (CiString({_limit})). A GET of an id that cannot exist is answered like an"
            " unknown token (HTTP 404, status_code 2004); a PUT or PATCH gets status_code 2001."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": _limit,
            "pattern": _PRINTABLE_ASCII,
        },
    }
_PARAMETERS["session_id"] = {
    "in": "path",
    "name": "session_id",
    "required": True,
    "description": (
        "Session.id (CiString(36)). An id that cannot exist (longer, not printable ASCII) is"
        " answered like an unknown one: HTTP 404, status_code 2000."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": _ID_LENGTH,
        "pattern": _PRINTABLE_ASCII,
    },
}
_PARAMETERS["duration"] = {
    "in": "query",
    "name": "duration",
    "required": True,
    "description": (
        "Length of the requested ActiveChargingProfile in seconds. Digits only, at most"
        f" {MAX_DURATION}; missing, given twice or anything else is status_code 2001."
    ),
    "schema": {"type": "integer", "minimum": 0, "maximum": MAX_DURATION},
}
_PARAMETERS["response_url"] = {
    "in": "query",
    "name": "response_url",
    "required": True,
    "description": (
        "URL the asynchronous result is POSTed to (an ActiveChargingProfileResult after a GET,"
        " a ClearProfileResult after a DELETE). An absolute http(s) URL of at most 255"
        " characters; missing, given twice or anything else is status_code 2001."
    ),
    "schema": {"type": "string", "format": "uri", "maxLength": 255},
}
_PARAMETERS["type"] = {
    "in": "query",
    "name": "type",
    "required": False,
    "description": (
        "Token.type of the Token; default if omitted: RFID. Another value is status_code 2001."
    ),
    "schema": {"type": "string", "enum": [token_type.value for token_type in TokenType]},
}
for _name, _limit, _words in (
    ("country_code", 2, "Country code of the party the hub reports on"),
    ("party_id", 3, "Party id of the party the hub reports on"),
):
    _PARAMETERS[f"client_info_{_name}"] = {
        "in": "path",
        "name": _name,
        "required": True,
        "description": (
            f"{_words} (ClientInfo.{_name}, CiString({_limit})). A GET of an id that cannot"
            " exist is answered like an unknown ClientInfo (HTTP 404, status_code 2000); a PUT"
            " gets status_code 2001."
        ),
        "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": _limit,
            "pattern": _PRINTABLE_ASCII,
        },
    }

_PARAMETERS["If-None-Match"] = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": (
        "The `ETag` of an answer the client holds (or a list of them, or `*`), compared weakly:"
        " while it is still the current one, HTTP 304 without a body."
    ),
    "schema": {"type": "string"},
}

_MESSAGE_ID_HEADERS = (X_REQUEST_ID, X_CORRELATION_ID)
_PUBLIC_SUCCESS_HEADERS = ("ETag", "Cache-Control", "Access-Control-Allow-Origin")
_PAGINATION_PARAMETERS = ("date_from", "date_to", "offset", "limit")
_PAGINATION_PARAMETERS_DATE_FROM_REQUIRED = ("date_from_required", "date_to", "offset", "limit")
_ROUTING_PARAMETERS = (
    OCPI_FROM_COUNTRY_CODE,
    OCPI_FROM_PARTY_ID,
    OCPI_TO_COUNTRY_CODE,
    OCPI_TO_PARTY_ID,
)

_SECURITY_SCHEMES = {
    SECURITY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": (
            "`Authorization: Token <encoded token>` (`transport_and_format.asciidoc`"
            ' "Authorization header"): the credentials token, UTF-8, Base64-encoded (RFC 4648).'
            " The unencoded form of OCPI 2.1.1 is accepted from partners configured for it."
            " Token A (registration) opens the versions and credentials modules only; tokens C of"
            " registered partners open every module. A missing, malformed or unknown token is"
            f" HTTP 401. Tokens are 1 to {MAX_TOKEN_LENGTH} printable ASCII characters."
        ),
    }
}


def _error_response(description: str, *, extra_header: str | None = None) -> dict[str, Any]:
    headers = {name: {"$ref": f"#/components/headers/{name}"} for name in _MESSAGE_ID_HEADERS}
    if extra_header is not None:
        headers[extra_header] = {"$ref": f"#/components/headers/{extra_header}"}
    return {
        "description": description,
        "headers": headers,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/OcpiErrorResponse"}}
        },
    }


_ERROR_RESPONSES: dict[str, Any] = {
    "BadRequest": _error_response(
        "The request body is missing, not JSON, or nested too deeply (status_code 2001)."
    ),
    "Unauthorized": _error_response(
        "Authorization header missing or not `Token <token>`, unknown token, or, on functional"
        " modules, a registration token (token A) or a suspended partner (status_code 2000).",
        extra_header="WWW-Authenticate",
    ),
    "PayloadTooLarge": _error_response(
        "The request body is larger than the server accepts (status_code 2001)."
    ),
    "TooManyRequests": _error_response(
        "This client address made more requests than the public feed's rate allows"
        " (status_code 2000); `Retry-After` says when to try again.",
        extra_header="Retry-After",
    ),
}


# ---------------------------------------------------------------------------------------------
# The document

_INFO_DESCRIPTION = """\
The OCPI 2.2.1 interfaces of this CPO platform: versions, credentials, the Sender interfaces
of Locations and Tariffs, and the Receiver interface of Tokens.

* Every request carries `Authorization: Token <base64 token>` (security scheme `OCPIToken`).
* Every response body is an OCPI envelope `{data, status_code, status_message, timestamp}`.
  A valid request that fails at the OCPI layer is answered with HTTP 200 and a 2xxx/3xxx/4xxx
  `status_code` (`status_codes.asciidoc`); HTTP errors are used where the spec names them:
  400 (body missing or not JSON), 401 (token), 404 (unknown object), 405 (method not offered,
  or credentials call in the wrong registration state; with `Allow`), 413 (body too large).
* `X-Request-ID` and `X-Correlation-ID` are echoed on every response.
* Paginated GETs take `date_from`, `date_to`, `offset`, `limit` and answer with `X-Total-Count`,
  `X-Limit` and `Link`.

The free public data feed (23 CFR 680.116(c)) under `/public/2.2.1/` (tag `public feed`) serves
the published Locations and the Tariffs they reference in the same OCPI 2.2.1 terms, to anyone:
no token (`security: []`), GET only, `ETag`/`If-None-Match` (304), `Cache-Control: public,
max-age=N` with N at most 15, and a rate limit per client address (429 with `Retry-After`).
"""


def _operation(
    operation_id: str,
    generated: Mapping[str, Any],
    spec: Operation,
    refs: Mapping[_Key, dict[str, Any]],
) -> dict[str, Any]:
    names = list(_MESSAGE_ID_HEADERS)
    if spec.public:
        names.append("If-None-Match")
    if spec.functional:
        names += _ROUTING_PARAMETERS
    if spec.paginated:
        names += (
            _PAGINATION_PARAMETERS_DATE_FROM_REQUIRED
            if spec.date_from_required
            else _PAGINATION_PARAMETERS
        )
    names += [
        dict(spec.path_parameters).get(parameter["name"], parameter["name"])
        for parameter in generated.get("parameters", [])
        if parameter.get("in") == "path"
    ]
    names += spec.query
    unknown = [name for name in names if name not in _PARAMETERS]
    if unknown:
        raise ValueError(f"{operation_id}: parameters {unknown} are not described")
    envelope = f"#/components/schemas/{_envelope_name(operation_id)}"
    success_headers = {
        name: {"$ref": f"#/components/headers/{name}"} for name in _MESSAGE_ID_HEADERS
    }
    if spec.paginated:
        for name in (X_TOTAL_COUNT, X_LIMIT, LINK):
            success_headers[name] = {"$ref": f"#/components/headers/{name}"}
    if spec.functional:
        for name in _ROUTING_PARAMETERS:
            success_headers[name] = {"$ref": f"#/components/headers/{name}"}
    if spec.public:
        for name in _PUBLIC_SUCCESS_HEADERS:
            success_headers[name] = {"$ref": f"#/components/headers/{name}"}
    responses: dict[str, Any] = {
        "200": {
            "description": (
                "Success (status_code 1000, `data` as described), or a request that failed at the"
                " OCPI layer (status_code 2xxx, 3xxx or 4xxx, no `data`): OCPI answers HTTP 200"
                " to every valid request that reaches an existing resource."
            ),
            "headers": success_headers,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": envelope},
                            {"$ref": "#/components/schemas/OcpiErrorResponse"},
                        ]
                    }
                }
            },
        },
        "400": {"$ref": "#/components/responses/BadRequest"},
        "401": {"$ref": "#/components/responses/Unauthorized"},
    }
    if spec.public:
        del responses["401"]
        responses["304"] = {
            "description": (
                "Not modified: the `ETag` in `If-None-Match` is still the current one. No body."
            ),
            "headers": {
                name: {"$ref": f"#/components/headers/{name}"}
                for name in (*_MESSAGE_ID_HEADERS, *_PUBLIC_SUCCESS_HEADERS)
            },
        }
        responses["429"] = {"$ref": "#/components/responses/TooManyRequests"}
    if spec.not_found is not None:
        responses["404"] = _error_response(spec.not_found)
    if spec.method_not_allowed is not None:
        responses["405"] = _error_response(
            f"{spec.method_not_allowed.rstrip('.')} (status_code 2000).", extra_header="Allow"
        )
    if spec.body is not None:
        responses["413"] = {"$ref": "#/components/responses/PayloadTooLarge"}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": generated.get("summary", operation_id),
        "description": spec.description,
        "tags": generated.get("tags", []),
        "parameters": [{"$ref": f"#/components/parameters/{name}"} for name in names],
        "responses": responses,
        "security": [] if spec.public else [{SECURITY_SCHEME: []}],
    }
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "description": f"A {spec.body.__name__} object (not wrapped in an envelope).",
            "content": {"application/json": {"schema": refs[(spec.body, "validation")]}},
        }
    return operation


def _envelope_name(operation_id: str) -> str:
    return f"{operation_id[0].upper()}{operation_id[1:]}Response"


def describe_interfaces(
    generated: Mapping[str, Any], *, prefix: str = "/ocpi", public_prefix: str = "/public"
) -> dict[str, Any]:
    """The complete OpenAPI 3.1 document of the OCPI interfaces of an app.

    Args:
        generated: Litestar's document of the application (``app.openapi_schema.to_schema()``).
            Its ``info`` and ``servers`` are kept; every operation under ``prefix`` must be one
            of :data:`OPERATIONS` (by ``operationId``) and is rewritten from it; the generated
            components are replaced by the JSON Schemas of the wire models and envelopes.
        prefix: Path of the OCPI router; paths outside it and ``public_prefix`` are left out.
        public_prefix: Path of the public data feed (``ocpi.v221.server.public``); its
            operations are those of :data:`OPERATIONS` marked ``public``.

    Raises:
        ValueError: An OCPI route has no (or an unknown) operation id, or a public one is
            described as a partner's (or the reverse).
    """
    paths: dict[str, Any] = {}
    schemas, refs = _model_schemas()
    for path, item in sorted(generated.get("paths", {}).items()):
        public = path.startswith(f"{public_prefix}/")
        if not public and not path.startswith(f"{prefix}/"):
            continue
        described: dict[str, Any] = {}
        for method, operation in sorted(item.items()):
            operation_id = operation.get("operationId") if isinstance(operation, dict) else None
            if not isinstance(operation_id, str) or operation_id not in OPERATIONS:
                raise ValueError(
                    f"{method.upper()} {path}: operation id {operation_id!r} is not described in"
                    " ocpi.v221.server.openapi.OPERATIONS"
                )
            spec = OPERATIONS[operation_id]
            if spec.public is not public:
                raise ValueError(
                    f"{method.upper()} {path}: {operation_id} is described as"
                    f" {'public' if spec.public else 'an OCPI operation for partners'}"
                )
            described[method] = _operation(operation_id, operation, spec, refs)
            data: dict[str, Any] | None = None
            if spec.data is not None:
                data = refs[(spec.data, "serialization")]
                if spec.many:
                    data = {"type": "array", "items": data}
            schemas[_envelope_name(operation_id)] = _success_envelope(
                data, f"OCPI response envelope of {operation_id}: status_code 1000."
            )
        paths[path] = described
    schemas["OcpiErrorResponse"] = copy.deepcopy(_ERROR_ENVELOPE)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            **generated.get("info", {}),
            "description": _INFO_DESCRIPTION,
        },
        "servers": generated.get("servers", [{"url": "/"}]),
        "security": [{SECURITY_SCHEME: []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "parameters": copy.deepcopy(_PARAMETERS),
            "headers": copy.deepcopy(_HEADERS),
            "responses": copy.deepcopy(_ERROR_RESPONSES),
            "securitySchemes": copy.deepcopy(_SECURITY_SCHEMES),
        },
    }
    return document


class DescribedOpenAPIJson(JsonRenderPlugin):
    """Litestar render plugin serving :func:`describe_interfaces` of the app's document.

    Register it in ``OpenAPIConfig(render_plugins=[...])`` so ``/schema/openapi.json`` serves the
    same document as the one committed under ``openapi/``.
    """

    def __init__(
        self, describe: Callable[[Mapping[str, Any]], dict[str, Any]] = describe_interfaces
    ) -> None:
        """Serve ``describe(generated)`` at ``openapi.json`` (computed once)."""
        super().__init__(path="/openapi.json")
        self._describe = describe
        self._document: dict[str, Any] | None = None

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The described document as JSON."""
        if self._document is None:
            self._document = self._describe(openapi_schema)
        return self.render_json(request, self._document)
