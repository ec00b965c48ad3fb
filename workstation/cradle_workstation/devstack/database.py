"""The local stack's database: the embedded PostgreSQL under the state directory, migrated to head
(and holding the reference notes of this release)."""

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
from cradlepose.settings import Settings

DATABASE_NAME = "cradle"


@dataclass
class LocalDatabase:
    server: EmbeddedPostgres
    url: str
    engine: sa.Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def open(cls, state_dir: Path, *, fresh: bool = False, pool_size: int = 5) -> LocalDatabase:
        data_dir = state_dir / "pgdata"
        if fresh and data_dir.exists():
            EmbeddedPostgres(data_dir).start().stop()  # make sure no server still holds the directory
            shutil.rmtree(data_dir)
        server = EmbeddedPostgres(data_dir).start()
        url = server.ensure_database(DATABASE_NAME)
        engine = create_engine(Settings(database_url=SecretStr(url), db_pool_size=pool_size))
        database.upgrade(engine)  # the schema and the reference notes
        return cls(server, url, engine, make_session_factory(engine))

    def close(self) -> None:
        self.engine.dispose()
        self.server.stop()
