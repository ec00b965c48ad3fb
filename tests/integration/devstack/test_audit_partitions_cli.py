"""`cradle db audit-partitions`: the audit log's retention run by hand on the local database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cradle_workstation.cli.main import app
from cradle_workstation.devstack.database import LocalDatabase

pytestmark = pytest.mark.integration


def test_the_command_creates_the_missing_months_and_audits_it(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ahead = (now.replace(day=1) + dt.timedelta(days=32 * 3)).replace(day=1)
    last = f"audit_logs_y{ahead.year:04d}m{ahead.month:02d}"
    database = LocalDatabase.open(tmp_path)
    try:
        owner = sa.create_engine(database.migration_url, poolclass=sa.NullPool)
        with owner.begin() as conn:  # as if the stack had been off for months
            conn.execute(sa.text(f"DROP TABLE {last}"))
        owner.dispose()
    finally:
        database.close()

    result = CliRunner().invoke(app, ["db", "audit-partitions", "--state-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert f"created: {last}" in result.output
    assert "dropped: none (kept: 72 months)" in result.output
    database = LocalDatabase.open(tmp_path)
    try:
        with database.engine.connect() as conn:
            actions = conn.scalars(
                sa.text("SELECT action FROM audit_logs WHERE action = 'AUDIT_PARTITIONS_MAINTAINED'")
            ).all()
    finally:
        database.close()
    assert actions == ["AUDIT_PARTITIONS_MAINTAINED"]
