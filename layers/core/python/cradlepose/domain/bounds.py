"""Integer types a client may send, bounded to the database column they end up in.

An id beyond PostgreSQL's bigint, or a count beyond integer, must be a 422 at the edge: reaching
the driver it is a 500 (`value ... is out of range for type bigint`). Every integer in a request
body or parameter uses one of these or its own tighter bounds; `tests/unit/test_openapi_document.py`
checks the published document for any that does not.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint: ids, byte sizes
INTEGER_MAX = 2**31 - 1  # PostgreSQL integer: counts, seeds, indices

DbId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
ByteSize = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Count = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
KeypointId = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
Score1To10 = Annotated[int, Field(ge=1, le=10)]


def _still_to_come(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2030-01-31T17:00:00Z")
    if value <= dt.datetime.now(dt.UTC):
        raise ValueError("the due date must be in the future")
    return value


# A due date a client sets (a batch's, an assignment's): with a time zone, and still to come.
DueDate = Annotated[dt.datetime, AfterValidator(_still_to_come)]


# PostgreSQL text cannot hold the NUL character: a string carrying one reaches the driver and fails
# there (`invalid byte sequence for encoding "UTF8": 0x00`), a 500. The API refuses it at the edge,
# in every string a request carries (body values and keys at any depth, query and path parameters).
NUL = "\x00"
NUL_MESSAGE = "must not contain the NUL character (\\u0000)"


def nul_locations(value: object, where: str) -> list[str]:
    """Where in a decoded request value a string holds NUL, as `where.key[0].other` paths."""
    found: list[str] = []
    if isinstance(value, str):
        if NUL in value:
            found.append(where)
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if isinstance(key, str) and NUL not in key else where
            if isinstance(key, str) and NUL in key:
                found.append(f"{where} (a key)")
            found.extend(nul_locations(item, inner))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found.extend(nul_locations(item, f"{where}[{index}]"))
    return found


class NotNull:
    """Marks a field of a PATCH body that may be left out but never set to null.

    `field: Annotated[int | None, NOT_NULL] = None`: left out, the value stays as it is; null would
    store a NULL that the row's response model cannot render (after which every read of the object
    fails, for everyone), so it is a 422 naming the field. The document shows the field as not
    nullable.
    """


NOT_NULL = NotNull()
NOT_NULL_MESSAGE = "may be left out to keep its value, but not set to null"


def _not_null_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        name for name, info in model.model_fields.items() if any(m is NOT_NULL for m in info.metadata)
    )


def _document_not_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    for name in _not_null_fields(model):
        field = schema.get("properties", {}).get(name, {})
        options = [o for o in field.pop("anyOf", []) if o != {"type": "null"}]
        if len(options) == 1:
            field.update(options[0])
        elif options:
            field["anyOf"] = options
        if field.get("default", "") is None:
            del field["default"]


class Patch(BaseModel):
    """A PATCH body: unset fields keep their value; fields marked NOT_NULL refuse an explicit null."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_not_null)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in _not_null_fields(cls):
            raise ValueError(NOT_NULL_MESSAGE)
        return value
