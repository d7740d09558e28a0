"""Validate JSON payloads against the official OCPI 2.2.1 OpenAPI schemas.

Where the schemas come from
    ``openapi/ocpi-2.2.1-official/`` is an unchanged copy of the EV Roaming Foundation's
    ``ocpi/openapi-specification`` (OpenAPI 3.1, whose Schema Objects are JSON Schema 2020-12);
    see its ``NOTICE.md``. Object schemas live in ``components/schema.yaml`` (envelope,
    BusinessDetails, DisplayText, Image, Price, ...) and ``modules/<module>/schema.yaml``, each
    under ``#/components/schemas/<Name>``; the operations are in
    ``modules/<module>/{sender,receiver}-interface.yaml`` (``interface.yaml`` for credentials and
    versions). Nothing here edits them: a disagreement is reported, never patched over.

How references are resolved
    Every YAML file of the folder is loaded once (``functools.cache``) and registered in a
    :class:`referencing.Registry` under its ``file://`` URI as a Draft 2020-12 resource. The files
    have no ``$id``, so a relative ``$ref`` such as ``../../components/schema.yaml#/components/
    schemas/DisplayText`` resolves against the URI of the file it is written in, and a local
    ``#/components/schemas/EVSE`` within that file. A named schema is validated through a root
    ``{"$ref": "<file URI>#/components/schemas/<Name>"}`` with :class:`Draft202012Validator`
    bound to that registry (no deprecated ``RefResolver``). Validators are cached.

What is validated
    Everything the JSON Schema keywords of the files say: types (an OCPI number must be a JSON
    number, not a string), ``required``, ``enum``, ``minLength``/``maxLength``, ``pattern``,
    ``minItems``, ``minimum``/``maximum``, and these ``format`` values:

    - ``date-time``: RFC 3339 with a time zone designator, and (stricter than the format, per
      OCPI "All timestamps SHALL be in UTC") the offset must be UTC: ``Z`` or ``+00:00``. OCPI's
      designator-less form (``2015-06-29T20:39:09``, "implies UTC") is rejected: it is not
      RFC 3339, and the hub never sends it. Checked here without the optional
      ``rfc3339-validator`` package (without it jsonschema would skip the format silently).
    - ``uri``: an absolute URI (scheme, no whitespace; ``http(s)`` needs a host).
    - ``uuid`` (headers only): jsonschema's built-in check.
    - ``enum``/``open-enum`` are the files' own markers, not JSON Schema formats, and are ignored;
      the ``enum`` keyword next to them is enforced for both, so by default a value outside the
      published list fails even where the list is "open". ``open_enums=True`` drops the ``enum``
      of the schemas marked ``format: open-enum`` (Capability, CdrDimensionType, ConnectorType,
      EnvironmentalImpactCategory, Facility, ImageCategory, ModuleID, ParkingRestriction,
      ParkingType, TariffType, TokenType, VersionNumber), for payloads that pass on a peer's
      newer value.

    The official schemas allow properties they do not declare. ``strict=True`` reports those
    too (``additionalProperties: false`` on every object of an inlined copy): what the hub sends
    should contain no misspelt or invented keys. ``strict`` and ``open_enums`` apply to named
    schemas (:func:`validate`, :func:`validate_patch`); operation bodies are checked as the
    files say (validate ``body["data"]`` by name for more).

PATCH bodies
    The official files describe PATCH request bodies with their own schemas, ``LocationPatch``,
    ``EVSEPatch``, ``ConnectorPatch``, ``SessionPatch`` and ``TokenPatch``: the object's
    properties without its identity fields (Token excepted), and ``required: [last_updated]``.
    :func:`validate_patch` checks a body against that schema when it exists, *and* against the
    object schema with its top-level ``required`` removed, so every present field must satisfy
    the full object's definition (a nested object sent in a PATCH replaces the old value, so its
    own ``required`` stays). ``last_updated`` is always required ("Any request to the PATCH
    method SHALL contain the last_updated field"), also for objects without a Patch schema.

Usage::

    from tests.support import ocpi_openapi

    ocpi_openapi.validate("Location", location.to_wire(), strict=True)
    ocpi_openapi.validate_patch("EVSE", {"status": "CHARGING", "last_updated": "..."})
    ocpi_openapi.validate_response("locations", "sender", "get", "/locations", 200, body)
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urldefrag, urljoin, urlsplit

import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = [
    "OFFICIAL_DIR",
    "SchemaViolation",
    "Violation",
    "available_schemas",
    "operations",
    "patch_schema_names",
    "request_body_schema_uri",
    "response_schema_uri",
    "schema",
    "schema_uri",
    "validate",
    "validate_patch",
    "validate_request_body",
    "validate_response",
    "violations",
]

OFFICIAL_DIR = Path(__file__).resolve().parents[2] / "openapi" / "ocpi-2.2.1-official"
_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Keywords that only annotate; a ``$ref`` with nothing else beside it can be inlined by merging.
_ANNOTATIONS = frozenset({"description", "title", "example", "examples", "deprecated"})
_HTTP_METHODS = frozenset({"get", "put", "post", "patch", "delete"})


# ---------------------------------------------------------------------------------------------
# Loading and the registry


class _JsonLoader(yaml.SafeLoader):
    """YAML loader that yields JSON-compatible data: dates and timestamps stay strings."""


_JsonLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _stringify_keys(node: Any) -> Any:
    # ``x-enumDescriptions`` of StatusCode has integer keys (1000: ...); JSON keys are strings.
    if isinstance(node, dict):
        return {str(key): _stringify_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_stringify_keys(item) for item in node]
    return node


def _yaml_files() -> list[Path]:
    return sorted(
        path
        for folder in ("components", "modules", "roles")
        for path in (OFFICIAL_DIR / folder).rglob("*.yaml")
    )


@functools.cache
def _documents() -> dict[str, Any]:
    """Every YAML file of the official folder, by ``file://`` URI."""
    if not OFFICIAL_DIR.is_dir():
        raise FileNotFoundError(f"official OCPI OpenAPI files not found in {OFFICIAL_DIR}")
    return {
        path.as_uri(): _stringify_keys(
            yaml.load(path.read_text(encoding="utf-8"), Loader=_JsonLoader)  # noqa: S506
        )
        for path in _yaml_files()
    }


@functools.cache
def _registry() -> Registry[Any]:
    resources = [
        (uri, DRAFT202012.create_resource(contents)) for uri, contents in _documents().items()
    ]
    return Registry().with_resources(resources)


def _lookup(uri: str) -> Any:
    """Contents at an absolute URI (file URI plus JSON pointer fragment)."""
    return _registry().resolver().lookup(uri).contents


def _pointer(segments: Iterable[str]) -> str:
    escaped = (segment.replace("~", "~0").replace("/", "~1") for segment in segments)
    return quote("/" + "/".join(escaped), safe="/~")


@functools.cache
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    files = [OFFICIAL_DIR / "components" / "schema.yaml"]
    files += sorted((OFFICIAL_DIR / "modules").glob("*/schema.yaml"))
    documents = _documents()
    for path in files:
        uri = path.as_uri()
        for name in documents[uri].get("components", {}).get("schemas", {}):
            if name in index:
                raise RuntimeError(f"schema {name!r} is defined twice: {index[name]} and {uri}")
            index[name] = f"{uri}#{_pointer(['components', 'schemas', name])}"
    return index


def available_schemas() -> tuple[str, ...]:
    """Names accepted by :func:`schema` and :func:`validate`, sorted.

    Every ``#/components/schemas/<Name>`` of ``components/schema.yaml`` and of each module's
    ``schema.yaml`` (the names are unique across the files), e.g. ``Location``, ``EVSE``,
    ``Connector``, ``LocationPatch``, ``Tariff``, ``Session``, ``CDR``, ``CdrToken``, ``Token``,
    ``AuthorizationInfo``, ``Credentials``, ``Version``, ``VersionDetails``, ``ClientInfo``,
    ``StartSession``, ``CommandResult``, ``ChargingProfile``, ``DisplayText``, ``Price``,
    ``OCPIResponse`` and the enumerations (``Status``, ``ConnectorType``, ...).
    """
    return tuple(sorted(_index()))


def patch_schema_names() -> dict[str, str]:
    """Object name -> name of its official PATCH schema, e.g. ``{"EVSE": "EVSEPatch", ...}``."""
    names = _index()
    return {name[: -len("Patch")]: name for name in names if name.endswith("Patch")}


def schema_uri(name: str) -> str:
    """Absolute URI of a named schema, e.g. ``file:///.../locations/schema.yaml#/...EVSE``."""
    try:
        return _index()[name]
    except KeyError:
        raise KeyError(
            f"no official OCPI 2.2.1 schema named {name!r}; see available_schemas()"
        ) from None


# ---------------------------------------------------------------------------------------------
# Self-contained schemas


def _inline(node: Any, base: str, stack: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, base, stack) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" not in node:
        return {key: _inline(value, base, stack) for key, value in node.items()}
    target = urljoin(base, node["$ref"])
    if target in stack:
        raise RuntimeError(f"recursive $ref cannot be inlined: {' -> '.join((*stack, target))}")
    resolved = _inline(_lookup(target), urldefrag(target).url, (*stack, target))
    siblings = {key: _inline(value, base, stack) for key, value in node.items() if key != "$ref"}
    if set(siblings) <= _ANNOTATIONS and isinstance(resolved, dict):
        return {**resolved, **siblings}
    return {"allOf": [resolved], **siblings}


@functools.cache
def _inlined(name: str) -> dict[str, Any]:
    uri = schema_uri(name)
    inlined = _inline(_lookup(uri), urldefrag(uri).url, (uri,))
    return {"$schema": _SCHEMA_DIALECT, **inlined}


def schema(name: str) -> dict[str, Any]:
    """Self-contained JSON Schema (Draft 2020-12) of a named official schema.

    Every ``$ref`` is replaced by the schema it points to (the schemas are not recursive), so the
    result needs no registry: it can be dumped, given to another tool, or inspected. A ``$ref``
    that only has a ``description`` beside it is merged with its target, the local description
    winning. A fresh copy is returned on every call.
    """
    return copy.deepcopy(_inlined(name))


def _adapted(node: Any, *, strict: bool, open_enums: bool) -> Any:
    """Copy of an inlined schema, closed (``strict``) and/or without open enum lists."""
    if isinstance(node, list):
        return [_adapted(item, strict=strict, open_enums=open_enums) for item in node]
    if not isinstance(node, dict):
        return node
    adapted = {
        key: _adapted(value, strict=strict, open_enums=open_enums) for key, value in node.items()
    }
    if strict and "properties" in adapted and "additionalProperties" not in adapted:
        adapted["additionalProperties"] = False
    if open_enums and adapted.get("format") == "open-enum":
        adapted.pop("enum", None)
    return adapted


# ---------------------------------------------------------------------------------------------
# Formats

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})$"
)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_FORMAT_CHECKER = FormatChecker()


def _is_utc_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    match = _DATE_TIME.match(value)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with a designator, e.g. 2015-06-29T20:39:09Z")
    parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # ranges: month 13...
    if parsed.utcoffset() != timedelta(0):
        raise ValueError("not in UTC: OCPI timestamps SHALL be UTC (Z)")
    return True


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _URI.match(value):
        raise ValueError("not an absolute URI")
    parts = urlsplit(value)
    if parts.scheme.lower() in {"http", "https"} and not parts.hostname:
        raise ValueError("http(s) URI without a host")
    return True


_FORMAT_CHECKER.checks("date-time", raises=ValueError)(_is_utc_date_time)
_FORMAT_CHECKER.checks("uri", raises=ValueError)(_is_uri)


# ---------------------------------------------------------------------------------------------
# Validators and violations


@functools.cache
def _validator_for_uri(uri: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$schema": _SCHEMA_DIALECT, "$ref": uri},
        registry=_registry(),
        format_checker=_FORMAT_CHECKER,
    )


@functools.cache
def _validator_for_variant(
    name: str, *, strict: bool, partial: bool, open_enums: bool
) -> Draft202012Validator:
    variant = _adapted(schema(name), strict=strict, open_enums=open_enums)
    if partial:
        # PATCH: present fields as in the full object; only last_updated must be there.
        variant["required"] = ["last_updated"]
    Draft202012Validator.check_schema(variant)
    return Draft202012Validator(variant, format_checker=_FORMAT_CHECKER)


def _validator(
    name: str, *, strict: bool = False, partial: bool = False, open_enums: bool = False
) -> Draft202012Validator:
    uri = schema_uri(name)  # a readable KeyError for unknown names
    if not (strict or partial or open_enums):
        return _validator_for_uri(uri)
    return _validator_for_variant(name, strict=strict, partial=partial, open_enums=open_enums)


@dataclass(frozen=True, order=True)
class Violation:
    """One failed check: where (JSON path into the payload), what, and the failing keyword."""

    path: str
    message: str
    keyword: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.keyword}]"


class SchemaViolation(AssertionError):
    """A payload does not match an official schema; the message lists every violation."""

    def __init__(self, subject: str, found: Sequence[Violation]) -> None:
        self.subject = subject
        self.violations = tuple(found)
        lines = [
            f"{subject} violates the official OCPI 2.2.1 schema "
            f"({len(self.violations)} violation{'s' if len(self.violations) != 1 else ''}):",
            *(f"  - {violation}" for violation in self.violations),
        ]
        super().__init__("\n".join(lines))

    @property
    def paths(self) -> set[str]:
        """JSON paths of all violations, e.g. ``{"$.evses[0].connectors[0].power_type"}``."""
        return {violation.path for violation in self.violations}


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_path(segments: Iterable[str | int]) -> str:
    path = "$"
    for segment in segments:
        if isinstance(segment, int):
            path += f"[{segment}]"
        elif _IDENTIFIER.match(segment):
            path += f".{segment}"
        else:
            path += f"[{segment!r}]"
    return path


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _to_violations(error: ValidationError) -> list[Violation]:
    segments = list(error.absolute_path)
    keyword = str(error.validator)
    instance = error.instance
    value = error.validator_value
    if keyword == "required" and isinstance(instance, Mapping):
        missing = [name for name in value if name not in instance]
        named = [name for name in missing if f"{name!r} is a required property" == error.message]
        return [
            Violation(_json_path([*segments, name]), "required property is missing", keyword)
            for name in named or missing
        ]
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        declared = (
            set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        )
        return [
            Violation(
                _json_path([*segments, name]),
                "property not declared by the official schema",
                keyword,
            )
            for name in instance
            if name not in declared
        ]
    if keyword == "enum":
        allowed = list(value)
        shown = ", ".join(repr(item) for item in allowed[:8])
        more = f", ... ({len(allowed)} values)" if len(allowed) > 8 else ""
        message = f"{_short(instance)} is not one of [{shown}{more}]"
    elif keyword in {"maxLength", "minLength"} and isinstance(instance, str):
        relation = "longer than maxLength" if keyword == "maxLength" else "shorter than minLength"
        message = f"string of length {len(instance)} ({_short(instance, 30)}) is {relation} {value}"
    elif keyword == "format":
        cause = f": {error.cause}" if error.cause else ""
        message = f"{_short(instance)} is not a valid {value}{cause}"
    else:
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return [Violation(_json_path(segments), message, keyword)]


def _collect(validator: Draft202012Validator, payload: object) -> list[Violation]:
    found: set[Violation] = set()
    for error in validator.iter_errors(payload):
        found.update(_to_violations(error))
    return sorted(found)


def violations(
    name: str, payload: object, *, strict: bool = False, open_enums: bool = False
) -> list[Violation]:
    """Every violation of the named schema by ``payload``, sorted by path; empty when valid."""
    return _collect(_validator(name, strict=strict, open_enums=open_enums), payload)


def validate(name: str, payload: object, *, strict: bool = False, open_enums: bool = False) -> None:
    """Assert that ``payload`` (parsed JSON) is a valid ``name`` per the official schemas.

    Args:
        name: One of :func:`available_schemas`, e.g. ``"Location"``.
        payload: The JSON value (``dict``/``list``/``str``/numbers), e.g. ``model.to_wire()``.
        strict: Also report properties the official schema does not declare, at any depth.
        open_enums: Accept any string where the files mark an enum ``format: open-enum``.

    Raises:
        SchemaViolation: (an ``AssertionError``) listing every violation with its JSON path.
    """
    found = violations(name, payload, strict=strict, open_enums=open_enums)
    if found:
        raise SchemaViolation(name, found)


def validate_patch(
    name: str, payload: object, *, strict: bool = False, open_enums: bool = False
) -> None:
    """Assert that ``payload`` is a valid PATCH body for the object ``name`` (e.g. ``"EVSE"``).

    Checked, all violations together:

    - ``last_updated`` is present (OCPI: any PATCH SHALL contain it);
    - the official ``<name>Patch`` schema, when the files have one (Location, EVSE, Connector,
      Session, Token);
    - the object schema ``<name>`` with its top-level ``required`` removed: present fields must
      be valid as in a full object (nested objects keep their ``required``).

    With ``strict``, undeclared properties are reported; for objects with an official Patch
    schema that includes fields the Patch schema leaves out (the identity fields ``country_code``,
    ``party_id``, ``id`` of Location and Session, ``uid`` of EVSE, ``id`` of Connector).
    ``open_enums`` as in :func:`validate`.

    Raises:
        SchemaViolation: listing every violation.
        ValueError: ``name`` has no ``last_updated`` field, so it cannot be PATCHed.
    """
    inlined = _inlined(name)
    if "last_updated" not in inlined.get("properties", {}):
        raise ValueError(f"{name} has no last_updated field: OCPI objects without it have no PATCH")
    options = {"strict": strict, "open_enums": open_enums}
    found = set(_collect(_validator(name, partial=True, **options), payload))
    patch_name = patch_schema_names().get(name)
    if patch_name is not None:
        found.update(_collect(_validator(patch_name, **options), payload))
    if found:
        raise SchemaViolation(f"PATCH {name}", sorted(found))


# ---------------------------------------------------------------------------------------------
# Operations (request and response bodies of the interface files)


def _interface_file(module: str, interface: str | None) -> str:
    folder = OFFICIAL_DIR / "modules" / module
    file_name = "interface.yaml" if interface in (None, "") else f"{interface}-interface.yaml"
    uri = (folder / file_name).as_uri()
    if uri not in _documents():
        raise KeyError(f"no official interface file modules/{module}/{file_name}")
    return uri


def _operation(
    module: str, interface: str | None, method: str, path_template: str
) -> tuple[str, list[str]]:
    uri = _interface_file(module, interface)
    method = method.lower()
    if method not in _HTTP_METHODS:
        raise ValueError(f"not an HTTP method of OCPI: {method!r}")
    paths = _documents()[uri].get("paths", {})
    if path_template not in paths or method not in paths[path_template]:
        known = sorted(f"{verb.upper()} {path}" for path in paths for verb in paths[path])
        raise KeyError(
            f"{module}/{interface or ''} has no operation {method.upper()} {path_template}; "
            f"known: {known}"
        )
    return uri, ["paths", path_template, method]


def operations(module: str, interface: str | None) -> dict[tuple[str, str], dict[str, Any]]:
    """Every operation of an official interface file, by ``(path, method)``.

    Each operation is returned with its ``parameters`` and ``responses`` resolved (a ``$ref``
    replaced by the object it points to, one level, as the files use them), e.g.
    ``operations("locations", "sender")[("/locations", "get")]["parameters"][0]["name"]``.
    Paths are the files' keys, relative to the module's endpoint URL.
    """
    uri = _interface_file(module, interface)

    def resolved(node: Any) -> Any:
        if isinstance(node, dict) and "$ref" in node:
            return copy.deepcopy(_lookup(urljoin(uri, node["$ref"])))
        return copy.deepcopy(node)

    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in _documents()[uri].get("paths", {}).items():
        for method, operation in item.items():
            if method not in _HTTP_METHODS:
                continue
            found[(path, method)] = {
                **copy.deepcopy(operation),
                "parameters": [resolved(p) for p in operation.get("parameters", [])],
                "responses": {
                    str(code): resolved(response)
                    for code, response in operation.get("responses", {}).items()
                },
            }
    return found


def _json_content_schema_uri(base: str, segments: list[str], what: str) -> str:
    """URI of ``content["application/json"].schema`` below the object at base#segments.

    Follows one level of ``$ref`` (shared responses in components/schema.yaml).
    """
    node = _lookup(f"{base}#{_pointer(segments)}")
    if isinstance(node, dict) and "$ref" in node:
        target = urljoin(base, node["$ref"])
        base, fragment = urldefrag(target)
        segments = [part.replace("~1", "/").replace("~0", "~") for part in fragment.split("/")[1:]]
        node = _lookup(target)
    content = node.get("content", {}) if isinstance(node, dict) else {}
    if "application/json" not in content or "schema" not in content["application/json"]:
        raise ValueError(f"the official files describe no JSON body for {what}")
    return f"{base}#{_pointer([*segments, 'content', 'application/json', 'schema'])}"


def response_schema_uri(
    module: str, interface: str | None, method: str, path_template: str, status: int
) -> str:
    """URI of the JSON schema of one response of one operation (see :func:`validate_response`)."""
    uri, segments = _operation(module, interface, method, path_template)
    responses = _lookup(f"{uri}#{_pointer([*segments, 'responses'])}")
    if str(status) not in responses:
        raise KeyError(
            f"{method.upper()} {path_template} has no response {status}; known: {sorted(responses)}"
        )
    what = f"{method.upper()} {path_template} -> {status}"
    return _json_content_schema_uri(uri, [*segments, "responses", str(status)], what)


def request_body_schema_uri(
    module: str, interface: str | None, method: str, path_template: str
) -> str:
    """URI of the JSON schema of an operation's request body."""
    uri, segments = _operation(module, interface, method, path_template)
    what = f"the request of {method.upper()} {path_template}"
    return _json_content_schema_uri(uri, [*segments, "requestBody"], what)


def validate_response(
    module: str,
    interface: str | None,
    method: str,
    path_template: str,
    status: int,
    body: object,
) -> None:
    """Assert that ``body`` matches the documented response of an operation.

    Args:
        module: Folder under ``modules/``, e.g. ``"locations"``.
        interface: ``"sender"`` or ``"receiver"``; ``None`` for credentials and versions, which
            have a single ``interface.yaml``.
        method: HTTP method, any case.
        path_template: The path key of the file, relative to the module's endpoint URL as the
            files write it, e.g. ``"/locations"`` or ``"/locations/{location_id}"``.
        status: HTTP status code of the response.
        body: The parsed JSON body (the OCPI envelope, ``data`` included).

    Note that the official envelope schema (``OCPIResponse``) requires none of its fields, so this
    mainly checks ``data``.
    """
    uri = response_schema_uri(module, interface, method, path_template, status)
    found = _collect(_validator_for_uri(uri), body)
    if found:
        raise SchemaViolation(f"{method.upper()} {path_template} response {status}", found)


def validate_request_body(
    module: str, interface: str | None, method: str, path_template: str, body: object
) -> None:
    """Assert that ``body`` matches the documented request body of an operation."""
    uri = request_body_schema_uri(module, interface, method, path_template)
    found = _collect(_validator_for_uri(uri), body)
    if found:
        raise SchemaViolation(f"{method.upper()} {path_template} request body", found)
