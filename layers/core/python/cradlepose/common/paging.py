"""The one keyset paginator every list uses.

A list is a select, an ordering whose last key is unique (so the order is total) and a cursor:
the key values of the last row of the previous page. The next page is the rows after those
values in that order, found through the index of the keys at any depth, where OFFSET would read
and throw away every row before it. The cursor is opaque to clients (base64url of a JSON array)
and checked here: anything this API did not hand out is a 422 problem on `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from cradlepose.common.use_cases import MAX_LIMIT, Page
from cradlepose.domain.bounds import BIGINT_MAX
from cradlepose.domain.errors import ValidationFailed

T = TypeVar("T")

NOT_A_CURSOR = "is not a cursor this API returned"


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed.single("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed.single("cursor", NOT_A_CURSOR)


def _int_from(value: Any) -> int:
    # bool is an int to Python but never a key; beyond bigint the driver would fail, not answer 422
    if isinstance(value, bool) or not isinstance(value, int) or not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
        raise _bad_cursor()
    return value


def _str_from(value: Any) -> str:
    if not isinstance(value, str):
        raise _bad_cursor()
    return value


def _datetime_from(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(_str_from(value))
    except ValueError:
        raise _bad_cursor() from None


def _date_from(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(_str_from(value))
    except ValueError:
        raise _bad_cursor() from None


def _uuid_from(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(_str_from(value))
    except ValueError:
        raise _bad_cursor() from None


# The key types a cursor can carry, each with the check that turns a JSON value back into it.
# datetime before date: a datetime is a date to isinstance.
_DECODERS: dict[type, Callable[[Any], Any]] = {
    int: _int_from,
    str: _str_from,
    dt.datetime: _datetime_from,
    dt.date: _date_from,
    uuid.UUID: _uuid_from,
}


def _json_value(value: Any) -> Any:
    if value is None:
        raise ValueError("a keyset key is NULL: order only by NOT NULL columns")
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@dataclass(frozen=True)
class _Key:
    column: ColumnElement[Any]
    descending: bool
    decode: Callable[[Any], Any]

    @classmethod
    def of(cls, order: ColumnElement[Any]) -> _Key:
        """A key from `column`, `column.asc()` or `column.desc()`."""
        descending = False
        column = order
        if isinstance(order, UnaryExpression) and order.modifier in (operators.asc_op, operators.desc_op):
            descending = order.modifier is operators.desc_op
            column = order.element
        if getattr(column, "nullable", False):
            # NULLs sort outside any comparison: a row with a NULL key would be skipped or repeated
            raise TypeError(f"keyset key {column} is nullable")
        python_type = column.type.python_type
        decode = _DECODERS.get(python_type)
        if decode is None:
            raise TypeError(
                f"keyset key {column} has type {python_type.__name__}, which a cursor cannot carry"
            )
        return cls(column, descending, decode)

    def order(self) -> ColumnElement[Any]:
        return self.column.desc() if self.descending else self.column.asc()

    def after(self, value: Any) -> ColumnElement[bool]:
        bound = sa.literal(value, self.column.type)
        return self.column < bound if self.descending else self.column > bound

    def equal(self, value: Any) -> ColumnElement[bool]:
        return self.column == sa.literal(value, self.column.type)


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_json_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, arity: int) -> list[Any] | None:
    """The raw JSON values of a cursor, or None for the first page (no cursor, or an empty one)."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != arity:
        raise _bad_cursor()
    return values


def _after(keys: Sequence[_Key], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the keys' order."""
    if len(keys) == 1:
        return keys[0].after(values[0])
    if all(k.descending for k in keys) or not any(k.descending for k in keys):
        # one direction: a row comparison, which PostgreSQL answers from a composite index
        left = sa.tuple_(*(k.column for k in keys))
        right = sa.tuple_(*(sa.literal(v, k.column.type) for k, v in zip(keys, values, strict=True)))
        return left < right if keys[0].descending else left > right
    # mixed directions: after on the first key, or equal on it and after on the rest
    return sa.or_(
        *(
            sa.and_(
                *(k.equal(v) for k, v in zip(keys[:i], values[:i], strict=True)), keys[i].after(values[i])
            )
            for i in range(len(keys))
        )
    )


def keyset_rows(
    session: Session,
    statement: sa.Select[*tuple[Any, ...]],
    *,
    order_by: Sequence[ColumnElement[Any]],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """One page of `statement`'s rows in `order_by` order, and the cursor of the next (None at the end).

    `statement` has no ORDER BY or LIMIT of its own. `order_by` are NOT NULL columns, each plain
    (ascending), `.asc()` or `.desc()`, the last one unique. A row is the selected entity when the
    statement selects one thing, else the tuple of what it selects.
    """
    keys = [_Key.of(o) for o in order_by]
    if not keys:
        raise TypeError("a keyset needs at least one key")
    check_limit(limit)
    raw = decode_cursor(cursor, len(keys))
    if raw is not None:
        statement = statement.where(_after(keys, [k.decode(v) for k, v in zip(keys, raw, strict=True)]))
    # the keys ride along as extra columns, so any select (an entity, a join of several) pages alike
    labelled = [k.column.label(f"keyset_{i}") for i, k in enumerate(keys)]
    fetched = session.execute(
        statement.add_columns(*labelled).order_by(*(k.order() for k in keys)).limit(limit + 1)
    ).all()
    width = len(fetched[0]) - len(keys) if fetched else 0
    page = fetched[:limit]  # the row past the page only says there is a next one
    rows = [r[0] if width == 1 else tuple(r[:width]) for r in page]
    next_cursor = encode_cursor(list(page[-1][width:])) if len(fetched) > limit else None
    return rows, next_cursor


def keyset_page(
    session: Session,
    statement: sa.Select[*tuple[Any, ...]],
    *,
    order_by: Sequence[ColumnElement[Any]],
    cursor: str | None,
    limit: int,
    to_model: Callable[[Any], T],
) -> Page[T]:
    """`keyset_rows` with each row turned into the list's item."""
    rows, next_cursor = keyset_rows(session, statement, order_by=order_by, cursor=cursor, limit=limit)
    return Page[T](items=[to_model(r) for r in rows], next_cursor=next_cursor)
