"""No connection SETs anything (a SET pins the session at RDS Proxy); the role's defaults hold instead."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from cradlepose.db.engine import create_engine
from cradlepose.db.migrate import set_role_defaults
from cradlepose.settings import Settings

pytestmark = pytest.mark.integration


def _setting(connection: sa.Connection, name: str) -> tuple[str, str]:
    row = connection.execute(
        sa.text("SELECT current_setting(:name), source FROM pg_settings WHERE name = :name"), {"name": name}
    ).one()
    return row[0], row[1]


def test_a_new_connection_has_the_settings_from_its_role_not_from_a_set(engine: sa.Engine) -> None:
    # Given the engine the functions use, over a migrated database
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    # When a connection opens and a unit of work runs
    with engine.connect() as connection:
        timeout = _setting(connection, "statement_timeout")
        zone = _setting(connection, "TimeZone")
        set_in_session = connection.execute(sa.text("SELECT name FROM pg_settings WHERE source = 'session'"))

    # Then nothing was SET in the session, by the engine, the dialect or anyone
    assert set_in_session.scalars().all() == []
    assert not any(s.lstrip().upper().startswith("SET") for s in statements)
    # and the settings hold, from the role's defaults (a SET would say 'session')
    assert timeout == ("30s", "user")
    assert zone == ("UTC", "user")


@pytest.fixture
def role_url(owner_database_url: str) -> Iterator[str]:
    """A login role of its own (not a superuser, like the cloud's `cradle`) on the test database."""
    role = f"cradle_role_{os.getpid()}"
    database_url = owner_database_url
    admin = sa.create_engine(database_url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        connection.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
    yield sa.make_url(database_url).set(username=role).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP ROLE {role}"))
    admin.dispose()


def test_a_migration_run_makes_the_settings_the_roles_own_defaults(role_url: str) -> None:
    # Given a role that has no defaults yet, and a stage whose statement timeout is 12.345 s
    settings = Settings(database_url=SecretStr(role_url), db_statement_timeout_ms=12_345, stage="test")
    engine = create_engine(settings)
    with engine.connect() as connection:
        assert _setting(connection, "statement_timeout")[1] != "user"

    # When the migration run sets the role's defaults (as the role itself, as in the cloud)
    with engine.begin() as connection:
        set_role_defaults(connection, settings)
    engine.dispose()

    # Then every new session of that role has them, with nothing SET on connecting
    engine = create_engine(settings)
    with engine.connect() as connection:
        assert _setting(connection, "statement_timeout") == ("12345ms", "user")
        assert _setting(connection, "TimeZone") == ("UTC", "user")
    engine.dispose()
