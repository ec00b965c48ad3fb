"""The engine's per-request savings keep what they replace: a dead pooled connection is still
replaced before use, and pg8000 still receives the statement text it would have built itself."""

from __future__ import annotations

from typing import Any

import pg8000.converters
import pg8000.core
import pg8000.dbapi
import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.dialects.postgresql.pg8000 import PGDialect_pg8000

from cradlepose.db import engine as engine_module
from cradlepose.db.engine import create_engine
from cradlepose.settings import Settings

pytestmark = pytest.mark.integration


def _engine(url: str, monkeypatch: pytest.MonkeyPatch, idle_s: float) -> sa.Engine:
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", idle_s)
    return create_engine(Settings(database_url=SecretStr(url), db_pool_size=1, stage="test"))


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted: list[int] = []
    original = PGDialect_pg8000.do_ping

    def counting(self: Any, dbapi_connection: Any) -> bool:
        counted.append(1)
        return bool(original(self, dbapi_connection))

    monkeypatch.setattr(PGDialect_pg8000, "do_ping", counting)
    return counted


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(sa.text("SELECT pg_backend_pid()")) or 0)


def test_a_connection_used_within_the_idle_window_is_not_pinged(
    database_url: str, owner_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, pings: list[int]
) -> None:
    engine = _engine(database_url, monkeypatch, idle_s=3600)
    try:
        first = _backend_pid(engine)
        assert _backend_pid(engine) == first  # the same pooled connection
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced_before_use(
    database_url: str, owner_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch, pings: list[int]
) -> None:
    engine = _engine(database_url, monkeypatch, idle_s=0.0)
    try:
        first = _backend_pid(engine)
        # Given the pooled connection's server session is gone (a proxy dropped it, a failover)
        with owner_engine.connect() as owner:
            assert owner.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        # Then the next request gets a new connection instead of an error
        second = _backend_pid(engine)
        assert second != first
        assert pings  # found dead by the ping at checkout, not by the request's statement
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT users.id FROM users WHERE users.identity_subject = %s AND users.role = %s",
        "SELECT '%s literal', \"odd %s name\" FROM t WHERE a = %s -- a %s comment\n AND b = %s",
        "SELECT 100 %% 7, E'it''s %s' WHERE x = %s AND y = $$%s$$",
    ],
)
def test_the_memoized_placeholder_rewrite_is_pg8000s_own(statement: str) -> None:
    args = ("a", "b", "c")
    expected = pg8000.dbapi.convert_paramstyle("format", statement, args)
    engine_module.fewer_pg8000_round_trips()
    assert pg8000.legacy.convert_paramstyle("format", statement, args) == expected
    assert pg8000.legacy.convert_paramstyle("format", statement, args) == expected  # from the cache


def test_named_placeholders_are_still_rewritten_per_call() -> None:
    engine_module.fewer_pg8000_round_trips()
    statement = "SELECT :a, :b, :a"
    assert pg8000.legacy.convert_paramstyle("named", statement, {"a": 1, "b": 2}) == (
        pg8000.dbapi.convert_paramstyle("named", statement, {"a": 1, "b": 2})
    )


def test_a_statement_with_parameters_is_one_round_trip_and_errors_still_surface(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes: list[int] = []
    original = pg8000.core._flush

    def counting(sock: Any) -> None:
        flushes.append(1)
        original(sock)

    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT 1")) == 1  # the transaction is open
        monkeypatch.setattr(pg8000.core, "_flush", counting)
        assert connection.scalar(sa.text("SELECT CAST(:n AS integer) + 1"), {"n": "41"}) == 42
        assert len(flushes) == 1  # Parse, Describe, Bind, Execute and Sync in one write
        connection.commit()
        assert len(flushes) == 2  # COMMIT: one more
        # A statement the server refuses at Parse, and one it refuses at Execute, still raise
        with pytest.raises(sa.exc.ProgrammingError):
            connection.execute(sa.text("SELEC :n"), {"n": 1})
        connection.rollback()
        with pytest.raises(sa.exc.DBAPIError):
            connection.execute(sa.text("SELECT CAST(:n AS integer)"), {"n": "not a number"})
        connection.rollback()
        # And the connection goes on answering, rows and all
        rows = connection.execute(sa.text("SELECT g, :x FROM generate_series(1, 3) AS g"), {"x": "x"}).all()
        assert [tuple(row) for row in rows] == [(1, "x"), (2, "x"), (3, "x")]


@pytest.mark.parametrize(
    "literal",
    [
        "TIMESTAMPTZ '2024-02-29 23:59:59.123456+00'",
        "TIMESTAMPTZ '2024-02-29 23:59:59+05:30'",
        "TIMESTAMPTZ '1999-12-31 00:00:00.1-03'",
        "TIMESTAMPTZ 'infinity'",
        "TIMESTAMPTZ '0044-03-15 12:00:00+00 BC'",
        "TIMESTAMP '2024-02-29 23:59:59.5'",
        "TIMESTAMP '-infinity'",
        "TIMESTAMP '0044-03-15 12:00:00 BC'",
    ],
)
@pytest.mark.filterwarnings("ignore:tzname BC")  # pg8000's own fallback (dateutil) on a BC timestamp
def test_timestamps_are_read_as_pg8000_reads_them(engine: sa.Engine, literal: str) -> None:
    """The fast timestamp parsers give pg8000's own values, down to its fallbacks."""
    with engine.connect() as connection:
        types = connection.connection.driver_connection.pg_types  # type: ignore[union-attr]
        assert types[engine_module.TIMESTAMPTZ_OID] is engine_module._timestamptz_in
        assert types[engine_module.TIMESTAMP_OID] is engine_module._timestamp_in
        text = connection.scalar(sa.text(f"SELECT CAST({literal} AS text)"))
        value = connection.scalar(sa.text(f"SELECT {literal}"))
    own = (
        pg8000.converters.timestamptz_in
        if literal.startswith("TIMESTAMPTZ")
        else pg8000.converters.timestamp_in
    )
    assert value == own(text)
    assert type(value) is type(own(text))
