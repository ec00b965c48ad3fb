"""One transaction per use case, with its audit row inside it; an audit log nobody can rewrite."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.db.models import AuditLog, User
from cradlepose.db.unit_of_work import UnauditedChange, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext, SystemActor
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, Role

pytestmark = pytest.mark.integration

CONTEXT = RequestContext(
    ip_address="203.0.113.7", user_agent="pytest", endpoint="/users", method="POST", request_id="req-1"
)


def _new_user(name: str) -> User:
    return User(username=name, email=f"{name}@example.org", role=Role.ANNOTATOR)


def _created(user: User) -> AuditEntry:
    return AuditEntry(
        action="USER_CREATED",
        category=AuditCategory.USER_MANAGEMENT,
        resource_type="User",
        resource_id=user.id,
        resource_name=user.username,
        new_values={"username": user.username, "role": user.role},
    )


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)


def test_commit_writes_the_change_and_its_audit_row_together(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    with uow_factory(None, CONTEXT) as uow:
        user = uow.users.add(_new_user("ada"))
        uow.audit(_created(user))
        uow.commit()

    with engine.connect() as conn:
        row = conn.execute(sa.select(AuditLog).where(AuditLog.resource_id == user.id)).one()
    assert row.action == "USER_CREATED"
    assert str(row.ip_address) == "203.0.113.7"
    assert row.request_id == "req-1"
    assert row.api_endpoint == "/users"
    assert row.new_values == {"username": "ada", "role": "ANNOTATOR"}


def test_leaving_without_commit_rolls_back_change_and_audit(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    users_before, audits_before = _count(engine, "users"), _count(engine, "audit_logs")

    with uow_factory(None, CONTEXT) as uow:
        user = uow.users.add(_new_user("grace"))
        uow.audit(_created(user))
        # no commit

    assert _count(engine, "users") == users_before
    assert _count(engine, "audit_logs") == audits_before


def test_an_error_midway_rolls_back_everything(uow_factory: UnitOfWorkFactory, engine: sa.Engine) -> None:
    audits_before = _count(engine, "audit_logs")

    def use_case_that_fails() -> None:
        with uow_factory(None, CONTEXT) as uow:
            user = uow.users.add(_new_user("alan"))
            uow.audit(_created(user))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        use_case_that_fails()
    assert _count(engine, "audit_logs") == audits_before
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE username = 'alan'")) == 0


def test_a_change_without_an_audit_row_cannot_be_committed(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    with uow_factory(None, CONTEXT) as uow:
        uow.users.add(_new_user("eve"))
        with pytest.raises(UnauditedChange):
            uow.commit()
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE username = 'eve'")) == 0


def test_a_bulk_update_without_an_audit_row_cannot_be_committed(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory(None, CONTEXT) as uow:
        uow.session.execute(sa.update(User).where(User.username == "system").values(max_concurrent_batches=5))
        with pytest.raises(UnauditedChange):
            uow.commit()


def test_a_change_in_one_unit_of_work_is_tracked_there_alone(
    uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], engine: sa.Engine
) -> None:
    """The write tracking listens on every session once: a change counts against the unit of
    work whose session made it, and a session of no unit of work is left alone."""
    with uow_factory(None, CONTEXT) as reading, uow_factory(None, CONTEXT) as writing:
        writing.users.add(_new_user("mallory"))
        assert reading.users.by_username("system") is not None
        reading.commit()  # nothing of its own changed
        with pytest.raises(UnauditedChange):
            writing.commit()
    with session_factory() as plain:
        plain.add(_new_user("trent"))
        plain.commit()
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE username = 'mallory'")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE username = 'trent'")) == 1


def test_repositories_work_on_their_unit_of_works_session(uow_factory: UnitOfWorkFactory) -> None:
    uow = uow_factory(None, CONTEXT)
    with uow:
        first = uow.users
        assert first is uow.users  # made once
        assert first.session is uow.session
    with uow:  # entered again: a new session, and repositories on it
        assert uow.users is not first
        assert uow.users.session is uow.session
        assert uow.batches.session is uow.session


def _max_batches(engine: sa.Engine, username: str) -> int:
    with engine.connect() as conn:
        value = conn.scalar(
            sa.text("SELECT max_concurrent_batches FROM users WHERE username = :u"), {"u": username}
        )
        return int(value or 0)


_SET_MAX = sa.text("UPDATE users SET max_concurrent_batches = :n WHERE username = 'system'")


def test_core_statements_before_the_session_share_its_transaction(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    """A unit of work's Core connection, opened before any ORM use, is the session's transaction
    once the session is needed: committed together, rolled back together, one pooled connection."""
    with uow_factory(None, CONTEXT) as uow:
        uow.connection().execute(_SET_MAX, {"n": 7})
        user = uow.users.add(_new_user("peggy"))
        assert uow.session.connection() is uow.connection()
        uow.audit(_created(user))
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        uow.commit()
    assert _max_batches(engine, "system") == 7
    assert _count(engine, "users WHERE username = 'peggy'") == 1
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]

    with uow_factory(None, CONTEXT) as uow:
        uow.connection().execute(_SET_MAX, {"n": 9})
        uow.audit(_created(uow.users.add(_new_user("victor"))))
        # leaves without commit
    assert _max_batches(engine, "system") == 7
    assert _count(engine, "users WHERE username = 'victor'") == 0
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_unit_of_work_of_core_statements_alone_commits_or_rolls_back(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    with uow_factory(None, CONTEXT) as uow:
        uow.connection().execute(_SET_MAX, {"n": 4})
        assert uow._session is None  # no ORM session was made
    assert _max_batches(engine, "system") != 4
    with uow_factory(None, CONTEXT) as uow:
        uow.connection().execute(_SET_MAX, {"n": 4})
        uow.commit()
    assert _max_batches(engine, "system") == 4
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_reading_needs_no_audit_row(uow_factory: UnitOfWorkFactory) -> None:
    with uow_factory(None, CONTEXT) as uow:
        assert uow.users.by_username("system") is not None
        uow.commit()


def test_system_actor_is_recorded_as_the_system_user(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    system = SystemActor(user_id=None, username="system", role=Role.ADMIN)
    with uow_factory(system) as uow:
        user = uow.users.add(_new_user("bob"))
        uow.audit(_created(user))
        uow.commit()
    with engine.connect() as conn:
        actor = conn.scalar(
            sa.text(
                "SELECT u.username FROM audit_logs a JOIN users u ON u.id = a.user_id WHERE a.resource_id = :id"
            ),
            {"id": user.id},
        )
    assert actor == "system"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_logs SET action = 'FORGED'", "DELETE FROM audit_logs", "TRUNCATE audit_logs"],
)
def test_the_audit_log_is_append_only(
    uow_factory: UnitOfWorkFactory, engine: sa.Engine, owner_engine: sa.Engine, statement: str
) -> None:
    # The trigger holds even for the schema's owner; the app's own role may not even try
    # (tests/integration/db/test_app_role.py).
    with uow_factory(None, CONTEXT) as uow:
        user = uow.users.add(_new_user(f"u{abs(hash(statement)) % 10_000}"))
        uow.audit(_created(user))
        uow.commit()

    with owner_engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(sa.text(statement))

    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'USER_CREATED'")) == 1


def test_engine_connections_can_switch_to_autocommit(engine: sa.Engine) -> None:
    # The engine's connect hook sets session parameters; it must not leave a transaction open.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM (ANALYZE) users"))
        assert conn.scalar(sa.text("SHOW statement_timeout")) == "30s"
        assert conn.scalar(sa.text("SHOW TimeZone")) == "UTC"
