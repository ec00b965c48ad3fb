"""Bringing a database up to date: the schema (Alembic), then the data shipped with the code.

Everyone who migrates calls this — the CLI, the deploy-time custom resource, the local stack —
so a database at the head revision always holds the reference notes of the same release.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from cradlepose.db import migrate
from cradlepose.db.engine import make_session_factory
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.reports import reference_library


@dataclass(frozen=True)
class Upgraded:
    previous_revision: str | None
    revision: str | None
    library: reference_library.SyncResult


def upgrade(engine: sa.Engine) -> Upgraded:
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    library = reference_library.sync(unit_of_work_factory(make_session_factory(engine)))
    return Upgraded(before, migrate.current_revision(engine), library)
