"""The keyset paginator against PostgreSQL: paging through any table in any key order, with any
page sizes, yields every row exactly once, in the order a full sort gives."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.common.paging import keyset_page, keyset_rows

pytestmark = pytest.mark.integration

probe = sa.Table(
    "paging_probe",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key", sa.Uuid, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
)
KEYS = ("rank", "at", "key", "name")
MOMENTS = [
    dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=n) for n in (0, 1, 86_400_000_000)
]
UUIDS = [uuid.UUID(int=n) for n in (1, 2**64, 2**127)]

# Few distinct values per key, so that ties (the hard part of a keyset) are the rule.
rows_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.integers(1, 2**62),
            "rank": st.integers(0, 3),
            "at": st.sampled_from(MOMENTS),
            "key": st.sampled_from(UUIDS),
            # lower-case letters sort alike in Python and under any PostgreSQL collation
            "name": st.text(alphabet="ab", max_size=2),
        }
    ),
    max_size=30,
    unique_by=lambda r: r["id"],
)
order_strategy = st.lists(
    st.tuples(st.sampled_from(KEYS), st.booleans()), unique_by=lambda k: k[0], max_size=4
)


@pytest.fixture
def sessions(owner_engine: sa.Engine, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    # The probe table is DDL, the owner's (a migration's) business; the app's sessions then use it.
    probe.metadata.create_all(owner_engine)
    return session_factory


def fill(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> None:
    with sessions() as session:
        session.execute(probe.delete())
        if rows:
            session.execute(probe.insert(), rows)
        session.commit()


def sorted_ids(rows: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[int]:
    """The ids in key order, sorting by Python: stable sorts, last key first."""
    ordered = list(rows)
    for name, descending in reversed(order):
        ordered.sort(key=lambda r: r[name], reverse=descending)
    return [r["id"] for r in ordered]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=rows_strategy,
    order=order_strategy,
    id_descending=st.booleans(),
    page_sizes=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    min_rank=st.none() | st.integers(0, 3),
)
def test_paging_returns_every_row_once_in_order(
    sessions: sessionmaker[Session],
    rows: list[dict[str, Any]],
    order: list[tuple[str, bool]],
    id_descending: bool,
    page_sizes: list[int],
    min_rank: int | None,
) -> None:
    # Given a table, a key order ending in the unique id, and maybe a filter
    fill(sessions, rows)
    order = [*order, ("id", id_descending)]
    order_by = [probe.c[name].desc() if descending else probe.c[name].asc() for name, descending in order]
    statement = sa.select(probe)
    if min_rank is not None:
        statement = statement.where(probe.c.rank >= min_rank)
        rows = [r for r in rows if r["rank"] >= min_rank]

    # When every page is read, each with the next page size, until there is no next cursor
    seen: list[int] = []
    cursor: str | None = None
    with sessions() as session:
        for limit in itertools.cycle(page_sizes):
            page, cursor = keyset_rows(session, statement, order_by=order_by, cursor=cursor, limit=limit)
            assert len(page) <= limit
            assert cursor is None or len(page) == limit  # a page before the last is full
            seen.extend(row[0] for row in page)
            if cursor is None:
                break

    # Then every row came exactly once, in the order a full sort gives
    assert seen == sorted_ids(rows, order)


def test_a_page_of_one_selected_thing_holds_that_thing(sessions: sessionmaker[Session]) -> None:
    fill(sessions, [{"id": n, "rank": 0, "at": MOMENTS[0], "key": UUIDS[0], "name": "a"} for n in (1, 2, 3)])
    with sessions() as session:
        first = keyset_page(
            session, sa.select(probe.c.id), order_by=[probe.c.id.desc()], cursor=None, limit=2, to_model=str
        )
        second = keyset_page(
            session,
            sa.select(probe.c.id),
            order_by=[probe.c.id.desc()],
            cursor=first.next_cursor,
            limit=2,
            to_model=str,
        )
    assert (first.items, second.items, second.next_cursor) == (["3", "2"], ["1"], None)
