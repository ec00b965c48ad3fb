"""The keyset paginator's cursors and keys, without a database; and the rule that it is the only one.

Paging through real rows is tests/integration/db/test_paging.py.
"""

from __future__ import annotations

import ast
import base64
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql

from cradlepose.common import paging
from cradlepose.domain.bounds import BIGINT_MAX
from cradlepose.domain.errors import ValidationFailed

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PAGINATOR = ROOT / "layers/core/python/cradlepose/common/paging.py"
# Everything that ships or runs: the Lambda layer, the functions, the container, the developer tools.
CODE_ROOTS = ("layers", "functions", "containers", "workstation")
CURSOR_CODECS = {"encode_cursor", "decode_cursor"}

probe = sa.Table(
    "probe",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key", sa.Uuid, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("maybe", sa.Integer, nullable=True),
    sa.Column("score", sa.Float, nullable=False),
)


def raw_cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def problem_field(error: ValidationFailed) -> str:
    return error.problems[0].location


# --- cursors --------------------------------------------------------------------------------


def test_an_id_cursor_is_spelled_as_before() -> None:
    # clients may hold cursors across a deploy: the paginator keeps the format of the lists it replaced
    assert paging.encode_cursor([42]) == "WzQyXQ"
    moment = dt.datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)
    key = uuid.UUID(int=7)
    assert paging.encode_cursor([moment, key]) == raw_cursor([moment.isoformat(), str(key)])


@given(
    st.lists(
        st.one_of(
            st.integers(-BIGINT_MAX - 1, BIGINT_MAX),
            st.text(),
            st.datetimes(timezones=st.just(dt.UTC)),
            st.uuids(),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_every_key_value_comes_back_from_its_cursor(values: list[Any]) -> None:
    decoded = paging.decode_cursor(paging.encode_cursor(values), len(values))
    assert decoded is not None
    decoders = {int: paging._int_from, str: paging._str_from, dt.datetime: paging._datetime_from}
    restored = [decoders.get(type(v), paging._uuid_from)(raw) for v, raw in zip(values, decoded, strict=True)]
    assert restored == values


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_the_first_page(cursor: str | None) -> None:
    assert paging.decode_cursor(cursor, 1) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        raw_cursor({"id": 1}),
        raw_cursor([1, 2]),
        raw_cursor([]),
    ],
)
def test_a_cursor_this_api_did_not_hand_out_is_a_problem_on_cursor(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        paging.decode_cursor(cursor, 1)
    assert problem_field(caught.value) == "cursor"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        (probe.c.id, "12"),
        (probe.c.id, True),
        (probe.c.id, 1.5),
        (probe.c.id, BIGINT_MAX + 1),
        (probe.c.id, None),
        (probe.c.at, "yesterday"),
        (probe.c.at, 17),
        (probe.c.key, "not-a-uuid"),
        (probe.c.key, 3),
        (probe.c.name, 3),
    ],
)
def test_a_key_of_the_wrong_kind_is_a_problem_on_cursor(column: sa.Column[Any], value: Any) -> None:
    key = paging._Key.of(column.desc())
    with pytest.raises(ValidationFailed) as caught:
        key.decode(value)
    assert problem_field(caught.value) == "cursor"


# --- keys and limits --------------------------------------------------------------------------


def test_a_nullable_key_is_refused() -> None:
    with pytest.raises(TypeError, match="nullable"):
        paging._Key.of(probe.c.maybe)


def test_a_key_a_cursor_cannot_carry_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        paging._Key.of(probe.c.score)


@pytest.mark.parametrize("limit", [0, -1, 201])
def test_a_limit_out_of_range_is_a_problem_on_limit(limit: int) -> None:
    with pytest.raises(ValidationFailed) as caught:
        paging.check_limit(limit)
    assert problem_field(caught.value) == "limit"


def where_sql(*orders: sa.ColumnElement[Any], values: list[Any]) -> str:
    keys = [paging._Key.of(o) for o in orders]
    clause = paging._after(keys, values)
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_one_direction_is_a_row_comparison() -> None:
    assert (
        where_sql(probe.c.rank.desc(), probe.c.id.desc(), values=[3, 9]) == "(probe.rank, probe.id) < (3, 9)"
    )
    assert where_sql(probe.c.rank, probe.c.id.asc(), values=[3, 9]) == "(probe.rank, probe.id) > (3, 9)"


def test_mixed_directions_spell_out_each_tie() -> None:
    assert where_sql(probe.c.rank.desc(), probe.c.id.asc(), values=[3, 9]) == (
        "probe.rank < 3 OR probe.rank = 3 AND probe.id > 9"
    )


# --- one paginator ------------------------------------------------------------------------------


def cursor_codec_uses(roots: list[Path]) -> list[str]:
    """`file:line what` for every mention of the cursor codecs, or of the paginator's cursor
    problem, outside the paginator: each would be a keyset written by hand."""
    found: list[str] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if path.resolve() == PAGINATOR.resolve() or {".venv", "node_modules"} & set(path.parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
                if isinstance(node, ast.Name):
                    what: object = node.id
                elif isinstance(node, ast.Attribute):
                    what = node.attr
                elif isinstance(node, ast.alias):
                    what = node.name
                elif isinstance(node, ast.Constant):
                    what = node.value
                else:
                    continue
                if what in CURSOR_CODECS or what == paging.NOT_A_CURSOR:
                    found.append(f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', '?')} {what}")
    return found


def test_no_module_but_the_paginator_reads_or_writes_cursors() -> None:
    assert cursor_codec_uses([ROOT / r for r in CODE_ROOTS]) == []
