"""pipeline chunks, waits and image inference errors

The plan of each pipeline run (its chunks, with the ingest step's idempotency guard), the task
tokens parked until a batch moves on, the model of each run, and the reason an image's
pre-annotation failed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:36:12.216021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The type exists since 0001; these columns only use it.
BATCH_STATUS = postgresql.ENUM(name="batch_status", create_type=False)


def upgrade() -> None:
    op.create_table(
        "pipeline_chunks",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("image_ids", postgresql.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("manifest_key", sa.String(length=500), nullable=False),
        sa.Column("results_key", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loaded_count", sa.Integer(), nullable=True),
        sa.Column("failed_count", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(loaded_at IS NULL) = (loaded_count IS NULL AND failed_count IS NULL)",
            name=op.f("ck_pipeline_chunks_loaded_counts_with_loaded_at"),
        ),
        sa.CheckConstraint(
            "cardinality(image_ids) >= 1", name=op.f("ck_pipeline_chunks_image_ids_not_empty")
        ),
        sa.CheckConstraint("chunk_index >= 0", name=op.f("ck_pipeline_chunks_chunk_index_non_negative")),
        sa.CheckConstraint("failed_count >= 0", name=op.f("ck_pipeline_chunks_failed_count_non_negative")),
        sa.CheckConstraint("loaded_count >= 0", name=op.f("ck_pipeline_chunks_loaded_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_pipeline_chunks_batch_id_image_batches")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["pipeline_runs.id"], name=op.f("fk_pipeline_chunks_run_id_pipeline_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_chunks")),
        sa.UniqueConstraint("results_key", name=op.f("uq_pipeline_chunks_results_key")),
        sa.UniqueConstraint("run_id", "chunk_index", name="uq_pipeline_chunk_run_index"),
    )
    op.create_index("idx_pipeline_chunk_batch", "pipeline_chunks", ["batch_id"], unique=False)
    op.create_table(
        "pipeline_waits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("task_token", sa.Text(), nullable=False),
        sa.Column("seen_status", BATCH_STATUS, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_status", BATCH_STATUS, nullable=True),
        sa.CheckConstraint(
            "(released_at IS NULL) = (released_status IS NULL)",
            name=op.f("ck_pipeline_waits_released_status_with_released_at"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_pipeline_waits_batch_id_image_batches")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["pipeline_runs.id"], name=op.f("fk_pipeline_waits_run_id_pipeline_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_waits")),
        sa.UniqueConstraint("task_token", name=op.f("uq_pipeline_waits_task_token")),
    )
    op.create_index(
        "idx_pipeline_wait_parked",
        "pipeline_waits",
        ["batch_id"],
        unique=False,
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index("idx_pipeline_wait_run", "pipeline_waits", ["run_id"], unique=False)
    op.add_column("images", sa.Column("yolo_error", sa.Text(), nullable=True))
    op.add_column(
        "pipeline_runs",
        sa.Column("model_spec", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("pipeline_runs", "model_spec")
    op.drop_column("images", "yolo_error")
    op.drop_index("idx_pipeline_wait_run", table_name="pipeline_waits")
    op.drop_index(
        "idx_pipeline_wait_parked",
        table_name="pipeline_waits",
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.drop_table("pipeline_waits")
    op.drop_index("idx_pipeline_chunk_batch", table_name="pipeline_chunks")
    op.drop_table("pipeline_chunks")
