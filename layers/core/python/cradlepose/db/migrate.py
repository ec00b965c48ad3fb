"""Run Alembic programmatically: the CLI, the local stack, tests and the deploy-time task.

An upgrade also sets the connecting role's session defaults (`engine.session_defaults`: statement
timeout, UTC) with `ALTER ROLE CURRENT_USER SET`, so no connection has to SET them itself, which
would pin its session at RDS Proxy. The migrate function runs as the owner; the app's login role
(cradlepose.db.roles), which every other function connects as, gets the same defaults from the same
run. New sessions get them.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from cradlepose.db import roles
from cradlepose.db.engine import session_defaults
from cradlepose.settings import Settings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(
    engine: Engine,
    revision: str = "head",
    settings: Settings | None = None,
    app_login: roles.AppLogin | None = None,
) -> None:
    """Migrate as the engine's role (the owner), then keep the app's login role up to date.

    `app_login` None: the one the settings name (CRADLE_DB_APP_USER, its password from
    CRADLE_DB_APP_SECRET_ARN), if any.
    """
    settings = settings or get_settings()
    app_login = app_login or roles.app_login_from_settings(settings)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
        set_role_defaults(connection, settings)
        if app_login is not None:
            roles.ensure_app_login(connection, app_login, session_defaults(settings))


def set_role_defaults(connection: Connection, settings: Settings) -> None:
    """Make the session settings the connecting role's defaults (for its sessions from now on)."""
    for name, value in session_defaults(settings).items():
        # Utility statements take no bind parameters; the names are ours, the values plain.
        literal = "'" + value.replace("'", "''") + "'"
        connection.execute(text(f"ALTER ROLE CURRENT_USER SET {name} = {literal}"))


def downgrade(engine: Engine, revision: str = "base") -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
