"""Request-body building blocks shared by the resource schemas."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    field_validator,
)
from pydantic_core import CoreSchema, core_schema

# No NUL, and one character at least that is whitespace neither to JSON Schema's `\s` nor to
# str.strip() (they differ a little): the same set to Python's `re` and to JSON Schema's regex.
TEXT_PATTERN = r"^[^\u0000]*[^\u0000\s\u001c-\u001f\u0085\ufeff][^\u0000]*$"


def _storable(value: str) -> str:
    """PostgreSQL text holds no NUL character, and UTF-8 no lone surrogate (valid in JSON's
    \\u escapes): refused here as a 422, not left to fail in the database as a 5xx."""
    if "\x00" in value:
        raise ValueError("Text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("Text must be valid Unicode (no lone surrogates)") from exc
    if re.fullmatch(TEXT_PATTERN, value) is None:
        raise ValueError("Text must contain a visible character")
    return value.strip()


class _StorableText:
    """Text as people type it: checked by `_storable`, then stored without surrounding
    whitespace; lengths count the text as sent, as the schema's `maxLength` does."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_storable, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema["pattern"] = TEXT_PATTERN
        return json_schema


StorableText = _StorableText()
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), StorableText]
Title = Annotated[str, StringConstraints(min_length=1, max_length=300), StorableText]


class Body(BaseModel):
    """Base of every request body: unknown fields are refused with a 422, not ignored."""

    model_config = ConfigDict(extra="forbid")


def _no_null_properties(schema: dict[str, Any]) -> None:
    """Document a partial update as it is validated: fields that may be left out, not null,
    and at least one of them."""
    schema["minProperties"] = 1
    for prop in schema.get("properties", {}).values():
        options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            prop.update(options[0])
        elif options:
            prop["anyOf"] = options
        if prop.get("default", ...) is None:
            del prop["default"]


class PatchBody(Body):
    """Base of partial updates: a field left out is unchanged; `null` is refused (422), since no
    field of a resource may be set to null."""

    model_config = ConfigDict(json_schema_extra=_no_null_properties)

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("May be left out, but not null")
        return value


class Public(BaseModel):
    """Base of every response model (read from ORM rows or SQL rows)."""

    model_config = ConfigDict(from_attributes=True)
