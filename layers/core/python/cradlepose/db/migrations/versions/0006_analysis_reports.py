"""analysis reports (seed 003): jobs, per-stage results, the reference passages they cite

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-23 11:02:50.440870
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANALYSIS_STATUS = postgresql.ENUM(
    "uploaded", "segmenting", "converting", "enhancing", "completed", "failed",
    name="analysis_status", create_type=False,
)  # fmt: skip


def upgrade() -> None:
    ANALYSIS_STATUS.create(op.get_bind(), checkfirst=True)
    op.create_table(
        "reference_passages",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("note", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('english', title || ' ' || body)", persisted=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_passages")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_reference_passages_content_hash")),
    )
    op.create_index("idx_reference_passages_search", "reference_passages", ["search"], postgresql_using="gin")
    op.create_table(
        "analysis_jobs",
        sa.Column("job_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=True),
        sa.Column("original_image_key", sa.String(length=500), nullable=False),
        sa.Column("status", ANALYSIS_STATUS, server_default="uploaded", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("failed_stage", sa.String(length=20), nullable=True),
        sa.Column("execution_arn", sa.String(length=2048), nullable=True),
        sa.CheckConstraint(
            "status <> 'failed' OR error_message IS NOT NULL",
            name=op.f("ck_analysis_jobs_failure_has_message"),
        ),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"], name=op.f("fk_analysis_jobs_annotation_id_annotations")
        ),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_analysis_jobs_image_id_images")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_analysis_jobs_user_id_users")),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_analysis_jobs")),
    )
    op.create_index("idx_analysis_jobs_created_at", "analysis_jobs", ["created_at"])
    op.create_index("idx_analysis_jobs_image_id", "analysis_jobs", ["image_id"])
    op.create_index("idx_analysis_jobs_status", "analysis_jobs", ["status"])
    op.create_index("idx_analysis_jobs_user_id", "analysis_jobs", ["user_id"])
    # Seed 003's update_analysis_jobs_updated_at, with the function every other table uses.
    op.execute(
        "CREATE TRIGGER analysis_jobs_touch_updated_at BEFORE UPDATE ON analysis_jobs "
        "FOR EACH ROW EXECUTE FUNCTION cradle_touch('updated_at')"
    )
    op.create_table(
        "analysis_results",
        sa.Column("result_id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("segmentation_result_key", sa.String(length=500), nullable=True),
        sa.Column("image_description", sa.Text(), nullable=True),
        sa.Column("enhanced_report", sa.Text(), nullable=True),
        sa.Column("confidence_scores", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("processing_metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("keypoints", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("findings", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("sources", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("provenance", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["analysis_jobs.job_id"],
            name=op.f("fk_analysis_results_job_id_analysis_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("result_id", name=op.f("pk_analysis_results")),
        sa.UniqueConstraint("job_id", name=op.f("uq_analysis_results_job_id")),
    )
    op.create_index("idx_analysis_results_created_at", "analysis_results", ["created_at"])
    op.create_index("idx_analysis_results_job_id", "analysis_results", ["job_id"])


def downgrade() -> None:
    op.drop_table("analysis_results")
    op.execute("DROP TRIGGER IF EXISTS analysis_jobs_touch_updated_at ON analysis_jobs")
    op.drop_table("analysis_jobs")
    op.drop_table("reference_passages")
    op.execute("DROP TYPE IF EXISTS analysis_status")
