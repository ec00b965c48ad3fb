"""Bringing a database up to date: the schema (Alembic), then the data shipped with the code.

Everyone who migrates calls this — the CLI, the deploy-time custom resource, the local stack —
so a database at the head revision always holds the reference notes of the same release.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from cradlepose.db import migrate, roles
from cradlepose.db.engine import make_session_factory
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.reports import reference_library


@dataclass(frozen=True)
class Upgraded:
    previous_revision: str | None
    revision: str | None
    library: reference_library.SyncResult


def upgrade(engine: sa.Engine, app_login: roles.AppLogin | None = None) -> Upgraded:
    """Upgrade over `engine`, the migration role's (the owner's); `app_login`: see `migrate.upgrade`."""
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, app_login=app_login)
    library = reference_library.sync(unit_of_work_factory(make_session_factory(engine)))
    return Upgraded(before, migrate.current_revision(engine), library)
