"""The audit log partitioned by month (migration 0012) on the embedded PostgreSQL.

Rows land in their month's partition; the migration keeps every existing row and its id; the app
role still cannot UPDATE, DELETE, TRUNCATE or drop a trigger, on the parent or on any partition,
nor detach, drop or create one itself; the retention function creates the months ahead and drops
only the months older than the retention period (docs/retention.md).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from cradlepose.db import audit_partitions, migrate
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO audit_logs (action, action_category, resource_type, resource_id, ip_address, created_at) "
    "VALUES (:action, 'SYSTEM', 'Test', 1, '127.0.0.1', :at) RETURNING id"
)


def _month_partition(at: dt.datetime) -> str:
    return f"audit_logs_y{at.year:04d}m{at.month:02d}"


def _partitions(conn: sa.Connection) -> set[str]:
    return set(
        conn.scalars(
            sa.text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                    " WHERE i.inhparent = 'audit_logs'::regclass")
        )
    )  # fmt: skip


def _where(conn: sa.Connection, row_id: int) -> str:
    return str(
        conn.scalar(sa.text("SELECT tableoid::regclass::text FROM audit_logs WHERE id = :id"), {"id": row_id})
    )


def test_rows_land_in_their_month(uow_factory: UnitOfWorkFactory, owner_engine: sa.Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    with uow_factory(None, RequestContext()) as uow:
        row = uow.audit(
            AuditEntry(action="NOW", category=AuditCategory.SYSTEM, resource_type="Test", resource_id=1)
        )
        uow.commit()
        now_id = row.id
    with owner_engine.begin() as conn:
        assert {_month_partition(now), "audit_logs_default"} <= _partitions(conn)
        # the last instant of a month and the first of the next, in UTC whatever the session's zone
        conn.execute(sa.text("SET LOCAL TimeZone = 'America/Los_Angeles'"))
        next_month = (now.replace(day=1) + dt.timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0,
                                                                            microsecond=0)  # fmt: skip
        last_instant = conn.scalar(
            sa.text(INSERT), {"action": "LAST", "at": next_month - dt.timedelta(microseconds=1)}
        )
        first_instant = conn.scalar(sa.text(INSERT), {"action": "FIRST", "at": next_month})
        # a month nobody created a partition for: the default partition takes it, never an error
        stray = conn.scalar(
            sa.text(INSERT), {"action": "STRAY", "at": dt.datetime(1999, 1, 1, tzinfo=dt.UTC)}
        )

        assert _where(conn, now_id) == _month_partition(now)
        assert _where(conn, last_instant) == _month_partition(now)
        assert _where(conn, first_instant) == _month_partition(next_month)
        assert _where(conn, stray) == "audit_logs_default"
        ids = list(conn.scalars(sa.text("SELECT id FROM audit_logs ORDER BY id")))
    assert ids == sorted(set(ids))  # one sequence across the partitions
    assert len(ids) >= 4


def test_the_migration_keeps_every_row_and_its_id(empty_engine_at_0009: sa.Engine) -> None:
    engine = empty_engine_at_0009
    old_month = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as conn:
        before = {
            conn.scalar(sa.text(INSERT), {"action": f"A{i}", "at": at}): f"A{i}"
            for i, at in enumerate([old_month, old_month, dt.datetime.now(dt.UTC)])
        }
    migrate.upgrade(engine)
    with engine.connect() as conn:
        after = {r.id: r.action for r in conn.execute(sa.text("SELECT id, action FROM audit_logs"))}
        placed = {row_id: _where(conn, row_id) for row_id in before}
        is_partitioned = conn.scalar(
            sa.text("SELECT count(*) FROM pg_partitioned_table WHERE partrelid = 'audit_logs'::regclass")
        )
        next_id = conn.scalar(sa.text(INSERT), {"action": "NEXT", "at": dt.datetime.now(dt.UTC)})
    assert after == before
    assert is_partitioned == 1
    assert {placed[i] for i, a in before.items() if a in ("A0", "A1")} == {"audit_logs_y2025m03"}
    assert next_id > max(before)


@pytest.fixture
def empty_engine_at_0009(empty_database_url: str) -> sa.Engine:
    engine = sa.create_engine(empty_database_url, poolclass=sa.NullPool)
    migrate.upgrade(engine, "0009")
    return engine


def _partition_statements(partition: str) -> list[str]:
    return [
        f"UPDATE {partition} SET action = 'FORGED'",
        f"DELETE FROM {partition}",
        f"TRUNCATE {partition}",
        f"SELECT count(*) FROM {partition}",
        f"DROP TRIGGER audit_logs_no_truncate ON {partition}",
        f"ALTER TABLE {partition} DISABLE TRIGGER ALL",
        f"ALTER TABLE audit_logs DETACH PARTITION {partition}",
        f"DROP TABLE {partition}",
        "CREATE TABLE audit_logs_y2999m01 PARTITION OF audit_logs FOR VALUES FROM ('2999-01-01') TO ('2999-02-01')",
        "SELECT * FROM cradle_audit_partitions_at(now() + interval '100 years', 0, 1)",
    ]


def test_the_app_can_touch_no_partition_and_not_the_policy(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine, owner_engine: sa.Engine
) -> None:
    with uow_factory(None, RequestContext()) as uow:
        uow.audit(
            AuditEntry(action="KEPT", category=AuditCategory.SYSTEM, resource_type="Test", resource_id=1)
        )
        uow.commit()
    this_month = _month_partition(dt.datetime.now(dt.UTC))
    with owner_engine.connect() as conn:
        before = conn.scalar(sa.text("SELECT count(*) FROM audit_logs"))
        partitions_before = _partitions(conn)
    for partition in (this_month, "audit_logs_default"):
        for statement in _partition_statements(partition):
            with engine.connect() as conn, pytest.raises(DBAPIError) as refused:
                conn.execute(sa.text(statement))
            message = str(refused.value.orig)
            assert "permission denied" in message or "must be owner" in message, (statement, message)
    # Through the parent the app reads and appends, and the triggers stop the owner's rewrites too
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs")) == before
    for statement in (f"DELETE FROM {this_month}", f"TRUNCATE {this_month}", "TRUNCATE audit_logs_default",
                      f"UPDATE {this_month} SET action = 'FORGED'"):  # fmt: skip
        with owner_engine.connect() as conn, pytest.raises(DBAPIError) as stopped:
            conn.execute(sa.text(statement))
        assert "append-only" in str(stopped.value.orig), statement
    with owner_engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs")) == before
        assert _partitions(conn) == partitions_before


def test_the_app_runs_the_policy_which_keeps_the_months_ahead(
    engine: sa.Engine, owner_engine: sa.Engine
) -> None:
    with owner_engine.begin() as conn:  # as if the last run was long ago: the months ahead are gone
        now = dt.datetime.now(dt.UTC)
        ahead = (now.replace(day=1) + dt.timedelta(days=32 * audit_partitions.MONTHS_AHEAD)).replace(day=1)
        conn.execute(sa.text(f"DROP TABLE {_month_partition(ahead)}"))
    with engine.begin() as conn:
        first = audit_partitions.maintain(conn)
    with engine.begin() as conn:
        again = audit_partitions.maintain(conn)
    assert first.created == [_month_partition(ahead)]
    assert first.dropped == []
    assert first.rows_in_default == 0
    assert again.created == again.dropped == []  # idempotent


def test_retention_drops_only_the_months_older_than_the_period(owner_engine: sa.Engine) -> None:
    keep = audit_partitions.KEEP_MONTHS
    months = [dt.datetime(2020, m, 1, tzinfo=dt.UTC) for m in range(1, 7)]  # 2020-01 … 2020-06
    with owner_engine.begin() as conn:
        for month in months:
            conn.execute(sa.text("SELECT * FROM cradle_audit_partitions_at(:at, 0, NULL)"), {"at": month})
            conn.execute(sa.text(INSERT), {"action": "OLD", "at": month + dt.timedelta(days=3)})
        # "now" is 2026-04-10: with 72 months kept, every month that ended by 2020-04-01 goes
        at = dt.datetime(2020 + keep // 12, 4, 10, tzinfo=dt.UTC)
        rows = conn.execute(
            sa.text("SELECT action, partition_name FROM cradle_audit_partitions_at(:at, 0, :keep)"),
            {"at": at, "keep": keep},
        ).all()
        remaining = _partitions(conn)
        kept_rows = conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'OLD'"))
    dropped = sorted(r.partition_name for r in rows if r.action == "dropped")
    assert dropped == ["audit_logs_y2020m01", "audit_logs_y2020m02", "audit_logs_y2020m03"]
    assert {"audit_logs_y2020m04", "audit_logs_y2020m05", "audit_logs_y2020m06"} <= remaining
    assert "audit_logs_default" in remaining
    assert kept_rows == 3
