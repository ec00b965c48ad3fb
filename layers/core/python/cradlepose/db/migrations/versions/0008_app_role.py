"""the app role: DML on the tables, only SELECT and INSERT on audit_logs; the owner keeps the schema

Creates the NOLOGIN group role `cradle_app` (cluster-wide, so only if absent) and grants it what
the functions need and nothing more: USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on every
table but `audit_logs` (SELECT, INSERT) and `alembic_version` (SELECT), the sequences, and the same
on whatever later migrations create (ALTER DEFAULT PRIVILEGES for the role that runs them). The
app's login role is a member of it (cradlepose.db.roles.ensure_app_login); the migration role
stays the owner, so only it can drop the append-only trigger or change a table.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported: a migration says what it did on the day it was written.
APP_GROUP = "cradle_app"


def upgrade() -> None:
    op.execute(
        """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cradle_app') THEN
        CREATE ROLE cradle_app NOLOGIN;
    END IF;
END
$$"""
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_GROUP}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_GROUP}")
    # The audit trail: written and read by the app, never rewritten (the trigger stops the owner too).
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_logs FROM {APP_GROUP}")
    # The schema's revision is the migration's business.
    op.execute(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {APP_GROUP}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_GROUP}")
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_GROUP}"
    )
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_GROUP}")


def downgrade() -> None:
    # The role itself stays: it is cluster-wide, and other databases (or their copies) may use it.
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {APP_GROUP}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {APP_GROUP}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_GROUP}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_GROUP}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_GROUP}")
