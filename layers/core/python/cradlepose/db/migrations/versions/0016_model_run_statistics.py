"""a model's run statistics: one tally per loaded pipeline chunk or finished inference job

`model_run_statistics` keeps, per run of a model, the sums its registry figures are rolled up
from (images, images with a pose, processing milliseconds, the poses' confidence sum), so
`ml_model_configs.avg_processing_time_ms`, `avg_confidence_score` and `success_rate` are ratios
of sums over all the model's runs, recomputed at each run's end.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "model_run_statistics"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("pipeline_chunk_id", sa.BigInteger(), nullable=True),
        sa.Column("inference_job_id", sa.BigInteger(), nullable=True),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("posed", sa.Integer(), nullable=False),
        sa.Column("processing_ms", sa.BigInteger(), nullable=False),
        sa.Column("confidence_sum", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(pipeline_chunk_id IS NULL) <> (inference_job_id IS NULL)", name=op.f(f"ck_{TABLE}_one_source")
        ),
        sa.CheckConstraint("posed <= images", name=op.f(f"ck_{TABLE}_posed_within_images")),
        *[
            sa.CheckConstraint(f"{column} >= 0", name=op.f(f"ck_{TABLE}_{column}_non_negative"))
            for column in ("images", "posed", "processing_ms", "confidence_sum")
        ],
        sa.ForeignKeyConstraint(
            ["model_id"], ["ml_model_configs.id"], name=op.f(f"fk_{TABLE}_model_id_ml_model_configs")
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_chunk_id"],
            ["pipeline_chunks.id"],
            name=op.f(f"fk_{TABLE}_pipeline_chunk_id_pipeline_chunks"),
        ),
        sa.ForeignKeyConstraint(
            ["inference_job_id"],
            ["inference_jobs.id"],
            name=op.f(f"fk_{TABLE}_inference_job_id_inference_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("pipeline_chunk_id", name=op.f(f"uq_{TABLE}_pipeline_chunk_id")),
        sa.UniqueConstraint("inference_job_id", name=op.f(f"uq_{TABLE}_inference_job_id")),
    )
    op.create_index("idx_model_run_statistic_model", TABLE, ["model_id"])


def downgrade() -> None:
    op.drop_index("idx_model_run_statistic_model", table_name=TABLE)
    op.drop_table(TABLE)
