"""JSON from peers into OCPI models, with every failure described in words.

Spec ``status_codes.asciidoc``: a body that is not JSON is HTTP 400; valid JSON that breaks the
object rules is OCPI 2001 (``transport_and_format.asciidoc`` "Errors"). Both raise
:mod:`ocpi.errors` exceptions whose messages name the field and the rule, never a Python class
or a library's internals, because they are sent to the peer as ``status_message``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from ocpi.errors import InvalidOrMissingParameters, MalformedJson

__all__ = ["describe_validation_error", "parse_json"]

T = TypeVar("T")

_SHOWN_ERRORS = 5
_MESSAGE_LENGTH = 240
# Pydantic names the member of a union that failed ("str", "str-enum[ConnectorType]",
# "function-after[...]") inside the location; OCPI field names are plain snake_case.
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]*")
_UNION_MEMBERS = frozenset({"str", "int", "float", "bool", "none", "decimal", "datetime"})


def _ctx(error: ErrorDetails, key: str) -> Any:
    return (error.get("ctx") or {}).get(key)


_OBJECT = "must be a JSON object"
_ARRAY = "must be a JSON array"
_WHOLE_NUMBER = "must be a whole number"
_NUMBER = "must be a number"
_BOOLEAN = "must be true or false"
_WRONG_TYPE = "has a value of the wrong type"
# Pydantic error types, in words; "{...}" is filled from the error's context.
_WORDS: dict[str, str] = {
    "missing": "is required",
    "model_type": _OBJECT,
    "model_attributes_type": _OBJECT,
    "dict_type": _OBJECT,
    "dataclass_type": _OBJECT,
    "dataclass_exact_type": _OBJECT,
    "list_type": _ARRAY,
    "tuple_type": _ARRAY,
    "set_type": _ARRAY,
    "string_type": "must be a string",
    "int_type": _WHOLE_NUMBER,
    "int_parsing": _WHOLE_NUMBER,
    "int_from_float": _WHOLE_NUMBER,
    "int_parsing_size": "is too large a number",
    "float_type": _NUMBER,
    "float_parsing": _NUMBER,
    "finite_number": "must be a finite number",
    "decimal_type": _NUMBER,
    "decimal_parsing": _NUMBER,
    "bool_type": _BOOLEAN,
    "bool_parsing": _BOOLEAN,
    "string_too_long": "must be at most {max_length} characters long",
    "string_too_short": "must be at least {min_length} characters long",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "enum": "must be one of {expected}",
    "literal_error": "must be {expected}",
    "is_instance_of": _WRONG_TYPE,
    "is_subclass_of": _WRONG_TYPE,
    "union_tag_invalid": _WRONG_TYPE,
    "union_tag_not_found": _WRONG_TYPE,
    "value_error": "{error}",
    "assertion_error": "has an invalid value",
}


def _where(location: Sequence[int | str]) -> str:
    parts: list[str] = []
    for item in location:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif _FIELD_NAME.fullmatch(item) and item not in _UNION_MEMBERS:
            parts.append(f".{item}" if parts else item)
    return "".join(parts)


def _words(error: ErrorDetails) -> str:
    template = _WORDS.get(error["type"])
    if template is None:
        # Custom errors of ocpi.types (ocpi_*) and pydantic's constraint errors (greater_than...)
        # already read as words and name no class.
        text = error["msg"]
    else:
        try:
            text = template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError):
            text = "has an invalid value"
    if len(text) > _MESSAGE_LENGTH:
        text = text[:_MESSAGE_LENGTH] + "..."
    return text


def describe_validation_error(exc: ValidationError, *, subject: str = "Request body") -> str:
    """One line naming each failing field and its rule.

    For example ``Invalid request body: roles[0].party_id must be at most 3 characters long;
    url is required``, or ``Request body must be a JSON object`` when the whole value is wrong.
    A field that failed several ways (members of a union) is reported once; at most five fields
    are listed, then how many more failed.
    """
    seen: dict[str, str] = {}
    for error in exc.errors(include_url=False, include_input=False):
        seen.setdefault(_where(error["loc"]), _words(error))
    if "" in seen:
        return f"{subject} {seen['']}"
    shown = [f"{where} {words}" for where, words in list(seen.items())[:_SHOWN_ERRORS]]
    if len(seen) > _SHOWN_ERRORS:
        shown.append(f"and {len(seen) - _SHOWN_ERRORS} more field(s)")
    return f"Invalid {subject[:1].lower()}{subject[1:]}: " + "; ".join(shown)


def parse_json(body: bytes, adapter: TypeAdapter[T], *, subject: str = "Request body") -> T:
    """Decode and validate a JSON document (a request body) in one pass.

    The JSON parser is pydantic's, which limits nesting depth (about 200 levels) instead of
    recursing until Python's stack runs out; OCPI objects nest less than ten levels.

    Raises:
        MalformedJson: the body is empty or whitespace, or is not JSON (not UTF-8, a syntax
            error, nested too deeply): HTTP 400, OCPI 2001.
        InvalidOrMissingParameters: valid JSON that is not the expected object: OCPI 2001,
            naming the fields.
    """
    if not body.strip():
        raise MalformedJson(f"{subject} is empty; a JSON object is required")
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        for error in exc.errors(include_url=False, include_input=False):
            if error["type"] == "json_invalid":
                reason = str(_ctx(error, "error") or "syntax error")
                if reason.startswith("recursion limit exceeded"):
                    reason = "nested too deeply" + reason[len("recursion limit exceeded") :]
                raise MalformedJson(f"{subject} is not valid JSON: {reason}") from None
        raise InvalidOrMissingParameters(describe_validation_error(exc, subject=subject)) from None
