"""Request bodies, read by the OCPI layer itself rather than by the framework's JSON decoder.

Handlers declare ``data: JSONBody[Model | None] = None`` with ``dto=OcpiBody[Model]``: the body
is then decoded and validated by :func:`ocpi.validation.parse_json` (depth-limited parser,
errors in words) and the OpenAPI document still shows ``Model`` as the request body. Litestar
skips DTOs for an empty body and passes no data, hence the ``None`` default and
:func:`require_body`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, TypeVar

from litestar.dto import AbstractDTO
from litestar.dto.data_structures import DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition
from pydantic import TypeAdapter, ValidationError

from ocpi.errors import InvalidOrMissingParameters, MalformedJson
from ocpi.validation import describe_validation_error, parse_json

__all__ = ["OcpiBody", "require_body"]

ModelT = TypeVar("ModelT")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model_type: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model_type)
    if adapter is None:
        adapter = _ADAPTERS[model_type] = TypeAdapter(model_type)
    return adapter


class OcpiBody(AbstractDTO[ModelT]):
    """Litestar DTO decoding a JSON request body into ``ModelT`` with the OCPI rules."""

    @classmethod
    def generate_field_definitions(
        cls,
        model_type: type[Any],  # noqa: ARG003 - the DTO interface
    ) -> Generator[DTOFieldDefinition, None, None]:
        """Unused: the model is validated whole by pydantic, not field by field."""
        yield from ()

    @classmethod
    def detect_nested_field(
        cls,
        field_definition: FieldDefinition,  # noqa: ARG003 - the DTO interface
    ) -> bool:
        """Unused: nested objects are the model's business."""
        return False

    @classmethod
    def create_for_field_definition(
        cls, field_definition: FieldDefinition, handler_id: str, backend_cls: Any = None
    ) -> None:
        """Nothing to prepare: no transfer model is generated."""

    @classmethod
    def create_openapi_schema(
        cls,
        field_definition: FieldDefinition,  # noqa: ARG003 - the DTO interface
        handler_id: str,  # noqa: ARG003 - the DTO interface
        schema_creator: Any,
    ) -> Reference | Schema:
        """The schema of the model itself, exactly as without a DTO."""
        schema: Reference | Schema = schema_creator.for_field_definition(
            FieldDefinition.from_annotation(cls.model_type)
        )
        return schema

    def decode_bytes(self, value: bytes) -> Any:
        """Decode and validate the body (HTTP 400 when not JSON, OCPI 2001 when invalid)."""
        return parse_json(value, _adapter(self.model_type))

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        """Already-decoded values (not used for JSON bodies) are validated the same way."""
        try:
            return _adapter(self.model_type).validate_python(value)
        except ValidationError as exc:
            raise InvalidOrMissingParameters(describe_validation_error(exc)) from None


def require_body(data: ModelT | None) -> ModelT:
    """The decoded body, or 400/2001 when the request had none."""
    if data is None:
        raise MalformedJson("Request body is empty; a JSON object is required")
    return data
