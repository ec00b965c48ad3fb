"""the small fields of issue 19: processing_time_ms of jobs and chunks, a GIN index on the images'
infant_metadata, and audit_logs range-partitioned by month with its retention functions

- `processing_time_ms` (seed 000 names it on AuditLog; the jobs and chunks are where the work is
  measured): on pipeline_chunks, training_jobs, inference_jobs (evaluations are inference jobs)
  and dataset_imports, written by the code that ran the work when it finishes.
- `idx_image_infant_metadata`: GIN (jsonb_path_ops) on images.infant_metadata, the one JSONB field
  the API filters on (datasets.verified_images: the `infant` containment filter).
- `audit_logs` becomes a table partitioned by RANGE (created_at), one partition per calendar
  month in UTC (`audit_logs_yYYYYmMM`) and a default partition that catches a row no month
  partition takes (it should stay empty; the retention job says so when it is not). Every row
  moves across with its id; the primary key becomes (id, created_at), as a partitioned table's
  must include its partition key. The append-only triggers are on the parent (the row trigger
  is cloned onto every partition; the TRUNCATE trigger, a statement trigger, is created on each
  partition too). The app role keeps SELECT and INSERT on the parent and has nothing on the
  partitions themselves (the partitions are reached through the parent).
- `cradle_audit_partitions_at(at, months_ahead, keep_months)` (owner only) creates the month
  partitions from `at`'s month to `months_ahead` months later and detaches and drops the
  partitions whose whole month ended more than `keep_months` months before `at`'s month began
  (NULL: drops nothing). `cradle_maintain_audit_partitions()`, SECURITY DEFINER and the one the
  app role may execute, runs it at now() with the policy of docs/retention.md: three months
  ahead, 72 months (six years) kept. Neither the time nor the period is the caller's to choose,
  so the app role can keep the partitions coming and drop only what the policy drops;
  `cradle_audit_rows_in_default()` (likewise) counts the rows that landed in the default partition.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported: a migration says what it did on the day it was written.
APP_GROUP = "cradle_app"
MONTHS_AHEAD = 3
KEEP_MONTHS = 72  # docs/retention.md: six years, what HIPAA asks of audit documentation
TIMED_TABLES = ("pipeline_chunks", "training_jobs", "inference_jobs", "dataset_imports")
AUDIT_INDEXES = {
    "idx_audit_user_action": "(user_id, action)",
    "idx_audit_resource": "(resource_type, resource_id)",
    "idx_audit_created": "(created_at)",
    "idx_audit_action_category": "(action_category)",
    "idx_audit_status": "(status)",
}

# Built from this file's constants only, never from input.
PARTITION_FUNCTIONS = f"""
CREATE FUNCTION cradle_audit_partitions_at(at timestamptz, months_ahead integer, keep_months integer)
RETURNS TABLE (action text, partition_name text)
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    this_month timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    first_day timestamptz;
    new_part text;
    part record;
    month_end timestamptz;
BEGIN
    IF months_ahead < 0 OR keep_months < 1 THEN
        RAISE EXCEPTION 'months_ahead must be >= 0 and keep_months >= 1 (or NULL)';
    END IF;
    FOR i IN 0..months_ahead LOOP
        first_day := this_month + make_interval(months => i);
        new_part := 'audit_logs_' || to_char(first_day AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
        IF to_regclass(new_part) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                new_part, first_day, first_day + interval '1 month'
            );
            -- Default privileges gave the app role DML on the new table: it needs none there.
            EXECUTE format('REVOKE ALL ON %I FROM {APP_GROUP}', new_part);
            EXECUTE format(
                'CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON %I '
                'FOR EACH STATEMENT EXECUTE FUNCTION cradle_audit_log_is_append_only()', new_part
            );
            action := 'created';
            partition_name := new_part;
            RETURN NEXT;
        END IF;
    END LOOP;
    IF keep_months IS NULL THEN
        RETURN;
    END IF;
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit_logs'::regclass AND c.relname ~ '^audit_logs_y[0-9]{{4}}m[0-9]{{2}}$'
        ORDER BY c.relname
    LOOP
        month_end := make_timestamptz(
            substr(part.relname, 13, 4)::int, substr(part.relname, 18, 2)::int, 1, 0, 0, 0, 'UTC'
        ) + interval '1 month';
        IF month_end <= this_month - make_interval(months => keep_months) THEN
            EXECUTE format('ALTER TABLE audit_logs DETACH PARTITION %I', part.relname);
            EXECUTE format('DROP TABLE %I', part.relname);
            action := 'dropped';
            partition_name := part.relname;
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION cradle_audit_partitions_at(timestamptz, integer, integer) FROM PUBLIC;

CREATE FUNCTION cradle_maintain_audit_partitions()
RETURNS TABLE (action text, partition_name text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM cradle_audit_partitions_at(now(), {MONTHS_AHEAD}, {KEEP_MONTHS})
$$;
REVOKE ALL ON FUNCTION cradle_maintain_audit_partitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cradle_maintain_audit_partitions() TO {APP_GROUP};
"""  # noqa: S608

# After the default partition exists: how many rows no month partition took (the job reports it).
DEFAULT_ROWS_FUNCTION = f"""
CREATE FUNCTION cradle_audit_rows_in_default() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM audit_logs_default
$$;
REVOKE ALL ON FUNCTION cradle_audit_rows_in_default() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cradle_audit_rows_in_default() TO {APP_GROUP};
"""  # noqa: S608

APPEND_ONLY_TRIGGERS = """
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE OR DELETE ON audit_logs
    FOR EACH ROW EXECUTE FUNCTION cradle_audit_log_is_append_only();
CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs
    FOR EACH STATEMENT EXECUTE FUNCTION cradle_audit_log_is_append_only();
"""


def upgrade() -> None:
    for table in TIMED_TABLES:
        op.add_column(table, sa.Column("processing_time_ms", sa.Integer(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_{table}_processing_time_ms_non_negative"), table, "processing_time_ms >= 0"
        )
    op.execute("CREATE INDEX idx_image_infant_metadata ON images USING gin (infant_metadata jsonb_path_ops)")
    _partition_audit_logs()


def _partition_audit_logs() -> None:
    op.execute("ALTER TABLE audit_logs RENAME TO audit_logs_unpartitioned")
    op.execute(
        "ALTER TABLE audit_logs_unpartitioned RENAME CONSTRAINT pk_audit_logs TO pk_audit_logs_unpartitioned"
    )
    for index in AUDIT_INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_unpartitioned")
    op.execute(
        "CREATE TABLE audit_logs (LIKE audit_logs_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY) PARTITION BY RANGE (created_at)"
    )
    op.execute("ALTER TABLE audit_logs ADD CONSTRAINT pk_audit_logs PRIMARY KEY (id, created_at)")
    op.execute(
        "ALTER TABLE audit_logs ADD CONSTRAINT fk_audit_logs_user_id_users "
        "FOREIGN KEY (user_id) REFERENCES users (id)"
    )
    for index, columns in AUDIT_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON audit_logs {columns}")
    op.execute(APPEND_ONLY_TRIGGERS)
    op.execute(PARTITION_FUNCTIONS)
    op.execute("CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT")
    op.execute(f"REVOKE ALL ON audit_logs_default FROM {APP_GROUP}")
    op.execute(
        "CREATE TRIGGER audit_logs_no_truncate BEFORE TRUNCATE ON audit_logs_default "
        "FOR EACH STATEMENT EXECUTE FUNCTION cradle_audit_log_is_append_only()"
    )
    op.execute(DEFAULT_ROWS_FUNCTION)
    # A partition for every month that has rows, then the months ahead; nothing is dropped here.
    op.execute(
        "SELECT cradle_audit_partitions_at(m, 0, NULL) FROM (SELECT DISTINCT date_trunc('month', "
        "created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM audit_logs_unpartitioned) months"
    )
    op.execute(f"SELECT cradle_audit_partitions_at(now(), {MONTHS_AHEAD}, NULL)")
    op.execute("INSERT INTO audit_logs SELECT * FROM audit_logs_unpartitioned")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('audit_logs', 'id'), "
        "(SELECT COALESCE(max(id), 0) + 1 FROM audit_logs), false)"
    )
    op.execute("DROP TABLE audit_logs_unpartitioned")  # its triggers and its sequence go with it
    # The app role: what migration 0008 gave it on the old table, and no more.
    op.execute(f"REVOKE ALL ON audit_logs FROM {APP_GROUP}")
    op.execute(f"GRANT SELECT, INSERT ON audit_logs TO {APP_GROUP}")


def downgrade() -> None:
    op.execute("DROP FUNCTION cradle_audit_rows_in_default()")
    op.execute("DROP FUNCTION cradle_maintain_audit_partitions()")
    op.execute("DROP FUNCTION cradle_audit_partitions_at(timestamptz, integer, integer)")
    op.execute("ALTER TABLE audit_logs RENAME TO audit_logs_partitioned")
    op.execute(
        "ALTER TABLE audit_logs_partitioned RENAME CONSTRAINT pk_audit_logs TO pk_audit_logs_partitioned"
    )
    for index in AUDIT_INDEXES:
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_partitioned")
    op.execute(
        "CREATE TABLE audit_logs (LIKE audit_logs_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING IDENTITY)"
    )
    op.execute("ALTER TABLE audit_logs ADD CONSTRAINT pk_audit_logs PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE audit_logs ADD CONSTRAINT fk_audit_logs_user_id_users "
        "FOREIGN KEY (user_id) REFERENCES users (id)"
    )
    op.execute("INSERT INTO audit_logs SELECT * FROM audit_logs_partitioned")
    op.execute(
        "SELECT setval(pg_get_serial_sequence('audit_logs', 'id'), "
        "(SELECT COALESCE(max(id), 0) + 1 FROM audit_logs), false)"
    )
    op.execute("DROP TABLE audit_logs_partitioned")  # with its partitions
    for index, columns in AUDIT_INDEXES.items():
        op.execute(f"CREATE INDEX {index} ON audit_logs {columns}")
    op.execute(APPEND_ONLY_TRIGGERS)
    op.execute(f"REVOKE ALL ON audit_logs FROM {APP_GROUP}")
    op.execute(f"GRANT SELECT, INSERT ON audit_logs TO {APP_GROUP}")

    op.execute("DROP INDEX idx_image_infant_metadata")
    for table in TIMED_TABLES:
        op.drop_constraint(op.f(f"ck_{table}_processing_time_ms_non_negative"), table, type_="check")
        op.drop_column(table, "processing_time_ms")
