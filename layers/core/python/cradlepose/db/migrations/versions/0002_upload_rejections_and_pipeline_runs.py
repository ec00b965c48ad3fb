"""upload rejections and pipeline runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:10:36.863882
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("execution_name", sa.String(length=80), nullable=False),
        sa.Column("execution_arn", sa.String(length=2048), nullable=True),
        sa.Column(
            "status",
            sa.Enum("REQUESTED", "RUNNING", "SUCCEEDED", "FAILED", name="pipeline_run_status"),
            server_default="REQUESTED",
            nullable=False,
        ),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_step", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("attempt >= 1", name=op.f("ck_pipeline_runs_attempt_positive")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_pipeline_runs_batch_id_image_batches")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_pipeline_runs_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
        sa.UniqueConstraint("batch_id", "attempt", name="uq_pipeline_run_batch_attempt"),
        sa.UniqueConstraint("execution_name", name=op.f("uq_pipeline_runs_execution_name")),
    )
    op.create_index(
        "uq_pipeline_run_one_open_per_batch",
        "pipeline_runs",
        ["batch_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('REQUESTED', 'RUNNING')"),
    )
    op.create_table(
        "upload_rejections",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("upload_key", sa.String(length=500), nullable=False),
        sa.Column("original_filename", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detected_type", sa.String(length=100), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("quarantine_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_upload_rejections_batch_id_image_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_rejections")),
        sa.UniqueConstraint("upload_key", name=op.f("uq_upload_rejections_upload_key")),
    )
    op.create_index("idx_upload_rejection_batch", "upload_rejections", ["batch_id"], unique=False)


def downgrade() -> None:
    op.drop_index("idx_upload_rejection_batch", table_name="upload_rejections")
    op.drop_table("upload_rejections")
    op.drop_index(
        "uq_pipeline_run_one_open_per_batch",
        table_name="pipeline_runs",
        postgresql_where=sa.text("status IN ('REQUESTED', 'RUNNING')"),
    )
    op.drop_table("pipeline_runs")
    op.execute("DROP TYPE IF EXISTS pipeline_run_status")
