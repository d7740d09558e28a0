"""OCPP-J framing: a text frame becomes a ``Call``, ``CallResult`` or ``CallError`` of the
``ocpp`` package, or a :class:`FrameError` that says why not, in the version's own error code.

OCPP-J (1.6 §4, 2.0.1 part 4 §4): a frame is a JSON array ``[MessageTypeId, MessageId, ...]``;
CALL ``[2, id, action, payload]``, CALLRESULT ``[3, id, payload]``, CALLERROR
``[4, id, errorCode, errorDescription, errorDetails]``.

Replaces ``ocpp.messages.unpack``, which lets ``RecursionError`` escape on deeply nested JSON
(the socket then dies with 4500).
"""

from __future__ import annotations

import json
import re
from typing import Any

from ocpp.messages import Call, CallError, CallResult, MessageType, get_validator

MAX_ID_LENGTH = 36
"""OCPP-J: the MessageId is a string of at most 36 characters (a UUID fits)."""

MAX_NESTING = 32
"""Deepest array/object nesting accepted, the frame's own array included. The deepest OCPP
message (2.0.1 ReportChargingProfiles) nests 14 levels in its frame."""

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_HEAD = re.compile(r'\s*\[\s*(\d{1,2})\s*,\s*"([^"\\]{1,36})"')


_LENGTHS = {MessageType.Call: 4, MessageType.CallResult: 3, MessageType.CallError: 5}


def frame_error_code(version: str) -> str:
    """The code for a frame that is not a valid OCPP-J RPC frame."""
    return "FormationViolation" if version == "1.6" else "RpcFrameworkError"


class FrameError(Exception):
    """A frame we cannot route. ``message_type`` is what the frame claims to be, if readable:
    only frames that may be CALLs are answered (an answer is never answered)."""

    def __init__(
        self, code: str, description: str, unique_id: str = "-1", message_type: int | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.unique_id = unique_id
        self.message_type = message_type

    @property
    def answerable(self) -> bool:
        return self.message_type not in (MessageType.CallResult, MessageType.CallError)


def read_head(raw: str) -> tuple[int | None, str]:
    """Message type and id read from the start of a frame that cannot be parsed as a whole
    (not JSON, too deep, too big): the CallError can then name the station's message."""
    match = _HEAD.match(raw, 0, 200)
    if match is None:
        return None, "-1"
    return int(match.group(1)), match.group(2)


def nesting(value: Any) -> int:
    """Depth of arrays and objects in ``value`` (iterative: no recursion limit to hit)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def untextual_string(value: Any) -> str | None:
    """Where in ``value`` a key or string holds a NUL character or an unpaired surrogate (a JSON
    escape such as ``\\ud800`` alone), or None. Such a string is not text: PostgreSQL refuses
    to store it and UTF-8 cannot encode it (a proper surrogate pair is one ordinary character
    once decoded)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _NOT_TEXT.search(item):
                return path or "(value)"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if _NOT_TEXT.search(key):
                    return json.dumps(child_path)
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return None


def valid_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_ID_LENGTH


def _payload(value: Any, version: str, unique_id: str, message_type: int) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    # OCPP-J 1.6 §4.2.1: "If there is no payload JSON allows for two different notations: null
    # or and empty object {}." 2.0.1 requires the object.
    if value is None and version == "1.6":
        return {}
    raise FrameError(
        "FormationViolation" if version == "1.6" else "FormatViolation",
        "the payload is a JSON object" + (" (or null)" if version == "1.6" else ""),
        unique_id,
        message_type,
    )


def parse_frame(raw: str, version: str) -> Call | CallResult | CallError:
    """Parse one frame. Raises :class:`FrameError`."""
    rpc = frame_error_code(version)
    try:
        frame = json.loads(raw)
    except RecursionError:
        message_type, unique_id = read_head(raw)
        raise FrameError(
            rpc, f"JSON nested deeper than {MAX_NESTING} levels", unique_id, message_type
        ) from None
    except ValueError as exc:
        message_type, unique_id = read_head(raw)
        raise FrameError(rpc, f"not valid JSON: {exc}", unique_id, message_type) from None
    if not isinstance(frame, list) or not frame:
        raise FrameError(rpc, "a frame is a JSON array [MessageTypeId, MessageId, ...]")
    message_type = frame[0] if type(frame[0]) is int else None
    # A CallError about a frame whose MessageId cannot be read carries "-1" (OCPP-J 2.0.1).
    unique_id = frame[1] if len(frame) > 1 and valid_id(frame[1]) else "-1"
    if nesting(frame) > MAX_NESTING:
        raise FrameError(
            rpc, f"JSON nested deeper than {MAX_NESTING} levels", unique_id, message_type
        )
    if message_type not in _LENGTHS and message_type is not None and version != "1.6":
        # OCPP-J 2.0.1 has a code for this; 1.6 has not (FormationViolation below).
        raise FrameError(
            "MessageTypeNotSupported", f"MessageTypeId {message_type} is not supported", unique_id
        )
    if len(frame) < 2 or not valid_id(frame[1]):
        raise FrameError(
            rpc,
            f"MessageId must be a string of at most {MAX_ID_LENGTH} characters",
            "-1",
            message_type,
        )
    if message_type not in _LENGTHS:
        raise FrameError(rpc, f"MessageTypeId {frame[0]!r} isn't valid", unique_id)
    if len(frame) != _LENGTHS[message_type]:
        raise FrameError(
            rpc,
            f"a frame of MessageTypeId {message_type} has {_LENGTHS[message_type]} elements",
            unique_id,
            message_type,
        )
    if message_type == MessageType.CallResult:
        return CallResult(unique_id, _payload(frame[2], version, unique_id, 3))
    if message_type == MessageType.CallError:
        code, description, details = frame[2:]
        if not isinstance(code, str) or not isinstance(description, str):
            raise FrameError(rpc, "errorCode and errorDescription are strings", unique_id, 4)
        return CallError(unique_id, code, description, details if details is not None else {})
    action = frame[2]
    if not isinstance(action, str) or not action:
        raise FrameError(rpc, "the Action of a CALL is a non-empty string", unique_id, 2)
    payload = _payload(frame[3], version, unique_id, 2)
    where = untextual_string(payload)
    if where is not None:
        raise FrameError(
            "PropertyConstraintViolation",
            f"{where} contains a NUL character or an unpaired surrogate",
            unique_id,
            message_type,
        )
    return Call(unique_id, action, payload)


# jsonschema keywords -> OCPP-J error codes (1.6 §4.2.3, 2.0.1 part 4 §4.3), where ``ocpp``
# answers FormatViolation for anything it does not single out (an invalid enum value included).
_VALUE_KEYWORDS = frozenset({"enum", "minimum", "maximum", "multipleOf", "pattern"})
_OCCURRENCE_KEYWORDS = frozenset({"minItems", "maxItems"})


def schema_error_code(call: Call, version: str) -> str | None:
    """The OCPP-J code for the first schema violation of an incoming CALL's payload, when it
    is more precise than ``ocpp``'s FormatViolation: a field with a value outside its allowed
    set or range is a PropertyConstraintViolation ("syntactically correct but at least one
    field contains an invalid value"); too few or too many list items an occurrence violation.
    """
    try:
        validator = get_validator(MessageType.Call, call.action, version)
    except (OSError, ValueError):
        return None
    first = next(iter(validator.iter_errors(call.payload)), None)
    if first is None:
        return None
    if first.validator in _VALUE_KEYWORDS:
        return "PropertyConstraintViolation"
    if first.validator in _OCCURRENCE_KEYWORDS:
        return "OccurrenceConstraintViolation"
    return None
