"""pose anomaly screening: pose embeddings (pgvector), age-group models, analyses, explanations

Seed 004's tables adapted to infant poses. The `vector` extension (pgvector, on Aurora PostgreSQL
and in the embedded server) holds the embeddings; each embedding recipe has its own partial HNSW
index on the vector cast to the recipe's dimension (here pose-geometry v1, 67 dimensions, L2).

Revision ID: 0007
Revises: 0006 (0004 on the anomaly branch before main was merged)
Create Date: 2026-11-23 11:58:35.066679
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen here (not imported from the code): a later recipe gets its own index in its own migration.
HNSW_INDEX = "idx_pose_embedding_hnsw_pose_geometry_v1"
HNSW_WHERE = "embedding_model = 'pose-geometry' AND embedding_version = '1'"


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "anomaly_training_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("job_name", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum("QUEUED", "RUNNING", "COMPLETED", "FAILED", name="anomaly_training_status"),
            server_default="QUEUED",
            nullable=False,
        ),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dataset", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("progress", sa.Numeric(precision=4, scale=3), server_default=sa.text("0"), nullable=False),
        sa.Column("progress_message", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.BigInteger(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("progress BETWEEN 0 AND 1", name=op.f("ck_anomaly_training_jobs_progress_range")),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_anomaly_training_jobs_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_training_jobs")),
    )
    op.create_index("idx_anomaly_training_job_status", "anomaly_training_jobs", ["status"], unique=False)
    op.create_index(
        "uq_anomaly_training_one_per_open_status",
        "anomaly_training_jobs",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
    )
    op.create_table(
        "age_group_models",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("training_job_id", sa.BigInteger(), nullable=False),
        sa.Column("keypoint_schema_id", sa.BigInteger(), nullable=False),
        sa.Column("age_min_months", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("age_max_months", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("model_type", sa.String(length=50), nullable=False),
        sa.Column("embedding_model", sa.String(length=50), nullable=False),
        sa.Column("embedding_version", sa.String(length=20), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("threshold_percentile", sa.Numeric(precision=4, scale=1), nullable=False),
        sa.Column("refusal", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "(refusal IS NULL) = (parameters IS NOT NULL AND threshold IS NOT NULL)",
            name=op.f("ck_age_group_models_scores_or_refuses"),
        ),
        sa.CheckConstraint(
            "age_min_months >= 0 AND age_min_months < age_max_months",
            name=op.f("ck_age_group_models_age_range"),
        ),
        sa.CheckConstraint("sample_count >= 0", name=op.f("ck_age_group_models_sample_count_non_negative")),
        sa.ForeignKeyConstraint(
            ["keypoint_schema_id"],
            ["keypoint_schemas.id"],
            name=op.f("fk_age_group_models_keypoint_schema_id_keypoint_schemas"),
        ),
        sa.ForeignKeyConstraint(
            ["training_job_id"],
            ["anomaly_training_jobs.id"],
            name=op.f("fk_age_group_models_training_job_id_anomaly_training_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_age_group_models")),
    )
    op.create_index("idx_age_group_model_job", "age_group_models", ["training_job_id"], unique=False)
    op.create_index(
        "uq_age_group_model_one_active_per_band",
        "age_group_models",
        ["keypoint_schema_id", "embedding_model", "embedding_version", "age_min_months"],
        unique=True,
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "anomaly_training_reports",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("training_job_id", sa.BigInteger(), nullable=False),
        sa.Column("bands", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("validation_false_positive_rate", sa.Double(), nullable=True),
        sa.Column("roc_auc", sa.Double(), nullable=True),
        sa.Column("labelled_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("training_time_seconds", sa.Double(), nullable=False),
        sa.Column("report_file_path", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("roc_auc BETWEEN 0 AND 1", name=op.f("ck_anomaly_training_reports_roc_auc_range")),
        sa.CheckConstraint(
            "training_time_seconds >= 0",
            name=op.f("ck_anomaly_training_reports_training_time_seconds_non_negative"),
        ),
        sa.CheckConstraint(
            "validation_false_positive_rate BETWEEN 0 AND 1",
            name=op.f("ck_anomaly_training_reports_validation_false_positive_rate_range"),
        ),
        sa.ForeignKeyConstraint(
            ["training_job_id"],
            ["anomaly_training_jobs.id"],
            name=op.f("fk_anomaly_training_reports_training_job_id_anomaly_training_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_training_reports")),
        sa.UniqueConstraint("training_job_id", name=op.f("uq_anomaly_training_reports_training_job_id")),
    )
    op.create_table(
        "pose_embeddings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("embedding_model", sa.String(length=50), nullable=False),
        sa.Column("embedding_version", sa.String(length=20), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", Vector(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "vector_dims(vector) = dimension", name=op.f("ck_pose_embeddings_dimension_matches")
        ),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"], name=op.f("fk_pose_embeddings_annotation_id_annotations")
        ),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_pose_embeddings_image_id_images")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pose_embeddings")),
        sa.UniqueConstraint(
            "annotation_id", "embedding_model", "embedding_version", name="uq_pose_embedding_recipe"
        ),
    )
    op.execute(
        f"CREATE INDEX {HNSW_INDEX} ON pose_embeddings USING hnsw ((vector::vector(67)) vector_l2_ops) "
        f"WHERE {HNSW_WHERE}"
    )
    op.create_index("idx_pose_embedding_image", "pose_embeddings", ["image_id"], unique=False)
    op.create_table(
        "anomaly_analyses",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("annotation_id", sa.BigInteger(), nullable=False),
        sa.Column("image_id", sa.BigInteger(), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("age_group_model_id", sa.BigInteger(), nullable=False),
        sa.Column("embedding_id", sa.BigInteger(), nullable=False),
        sa.Column("age_months", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("anomaly_score", sa.Double(), nullable=False),
        sa.Column("mahalanobis_sq", sa.Double(), nullable=False),
        sa.Column("observed_features", sa.Integer(), nullable=False),
        sa.Column("normalized_score", sa.Double(), nullable=False),
        sa.Column("is_anomaly", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("analysed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name=op.f("ck_anomaly_analyses_confidence_range")),
        sa.CheckConstraint(
            "normalized_score BETWEEN 0 AND 1", name=op.f("ck_anomaly_analyses_normalized_score_range")
        ),
        sa.CheckConstraint(
            "observed_features >= 0", name=op.f("ck_anomaly_analyses_observed_features_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["age_group_model_id"],
            ["age_group_models.id"],
            name=op.f("fk_anomaly_analyses_age_group_model_id_age_group_models"),
        ),
        sa.ForeignKeyConstraint(
            ["annotation_id"], ["annotations.id"], name=op.f("fk_anomaly_analyses_annotation_id_annotations")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["image_batches.id"], name=op.f("fk_anomaly_analyses_batch_id_image_batches")
        ),
        sa.ForeignKeyConstraint(
            ["embedding_id"],
            ["pose_embeddings.id"],
            name=op.f("fk_anomaly_analyses_embedding_id_pose_embeddings"),
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name=op.f("fk_anomaly_analyses_image_id_images")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anomaly_analyses")),
        sa.UniqueConstraint(
            "annotation_id", "age_group_model_id", name="uq_anomaly_analysis_annotation_model"
        ),
    )
    op.create_index("idx_anomaly_analysis_batch", "anomaly_analyses", ["batch_id"], unique=False)
    op.create_index("idx_anomaly_analysis_image", "anomaly_analyses", ["image_id"], unique=False)
    op.create_index(
        "idx_anomaly_analysis_model_anomaly",
        "anomaly_analyses",
        ["age_group_model_id", "is_anomaly"],
        unique=False,
    )
    op.create_table(
        "interpretability_results",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("analysis_id", sa.BigInteger(), nullable=False),
        sa.Column("joint_importances", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("top_joints", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("explanation_text", sa.Text(), nullable=False),
        sa.Column("overlay_image_path", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["analysis_id"],
            ["anomaly_analyses.id"],
            name=op.f("fk_interpretability_results_analysis_id_anomaly_analyses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interpretability_results")),
        sa.UniqueConstraint("analysis_id", name=op.f("uq_interpretability_results_analysis_id")),
    )


def downgrade() -> None:
    op.drop_table("interpretability_results")
    op.drop_index("idx_anomaly_analysis_model_anomaly", table_name="anomaly_analyses")
    op.drop_index("idx_anomaly_analysis_image", table_name="anomaly_analyses")
    op.drop_index("idx_anomaly_analysis_batch", table_name="anomaly_analyses")
    op.drop_table("anomaly_analyses")
    op.drop_index("idx_pose_embedding_image", table_name="pose_embeddings")
    op.execute(f"DROP INDEX IF EXISTS {HNSW_INDEX}")
    op.drop_table("pose_embeddings")
    op.drop_table("anomaly_training_reports")
    op.drop_index(
        "uq_age_group_model_one_active_per_band",
        table_name="age_group_models",
        postgresql_where=sa.text("is_active"),
    )
    op.drop_index("idx_age_group_model_job", table_name="age_group_models")
    op.drop_table("age_group_models")
    op.drop_index(
        "uq_anomaly_training_one_per_open_status",
        table_name="anomaly_training_jobs",
        postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
    )
    op.drop_index("idx_anomaly_training_job_status", table_name="anomaly_training_jobs")
    op.drop_table("anomaly_training_jobs")
    op.execute("DROP TYPE IF EXISTS anomaly_training_status")
    # The extension stays: other tables may use it, and CREATE EXTENSION IF NOT EXISTS is harmless.
