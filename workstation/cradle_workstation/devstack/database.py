"""The local stack's database: the embedded PostgreSQL under the state directory, migrated to head
(and holding the reference notes of this release) by its owner, and used by the app login, as in
the cloud (cradlepose.db.roles)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose import upgrade as database
from cradlepose.db.engine import create_engine, make_session_factory
from cradlepose.db.roles import LOCAL_APP_LOGIN, AppLogin
from cradlepose.settings import Settings

DATABASE_NAME = "cradle"


def app_url(owner_url: str) -> str:
    """The app login's URL on the owner's server and database.

    No password: the embedded server trusts its unix socket. What keeps the app from the schema is
    the role, not the password (cradlepose.db.roles).
    """
    url = sa.make_url(owner_url).set(username=LOCAL_APP_LOGIN, password=None)
    return url.render_as_string(hide_password=False)


def upgrade_as_owner(owner_url: str) -> None:
    """Migrate as the owner (the server's own superuser locally) and create the app login."""
    engine = create_engine(Settings(database_url=SecretStr(owner_url), db_pool_size=1))
    try:
        database.upgrade(engine, app_login=AppLogin(LOCAL_APP_LOGIN))  # schema, reference notes, roles
    finally:
        engine.dispose()


@dataclass
class LocalDatabase:
    server: EmbeddedPostgres
    url: str  # the app login's: what the local stack's functions connect with
    migration_url: str  # the owner's: migrations only
    engine: sa.Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def open(cls, state_dir: Path, *, fresh: bool = False, pool_size: int = 5) -> LocalDatabase:
        data_dir = state_dir / "pgdata"
        if fresh and data_dir.exists():
            EmbeddedPostgres(data_dir).start().stop()  # make sure no server still holds the directory
            shutil.rmtree(data_dir)
        server = EmbeddedPostgres(data_dir).start()
        owner_url = server.ensure_database(DATABASE_NAME)
        upgrade_as_owner(owner_url)
        url = app_url(owner_url)
        engine = create_engine(Settings(database_url=SecretStr(url), db_pool_size=pool_size))
        return cls(server, url, owner_url, engine, make_session_factory(engine))

    def close(self) -> None:
        self.engine.dispose()
        self.server.stop()
