"""Pose anomaly screening (seed 004 adapted to infant poses). A research aid, not a diagnosis.

- PoseEmbedding: one verified annotation's pose vector under one embedding recipe (name, version).
  The column is pgvector's `vector` without a fixed dimension; each recipe has its own partial
  HNSW index on the vector cast to the recipe's dimension, so recipes never mix and a new recipe
  is a new index, not a rewrite of old vectors.
- AnomalyTrainingJob / AnomalyTrainingReport: a training of the age-group models (status, progress,
  configuration, what data it saw) and its validation figures (seed 004's training_jobs and
  training_reports; prefixed because the datasets' training jobs are another thing).
- AgeGroupModel: the model of typical poses of one age band, from one training job. A band with too
  few samples still gets a row, with `refusal` saying why it refuses to score.
- AnomalyAnalysis: one annotation scored by one age-group model (unique: analysing twice is a no-op).
- InterpretabilityResult: each joint's share of the score, a sentence, and an overlay image in S3.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, numeric, pg_enum
from cradlepose.domain import pose_features
from cradlepose.domain.enums import AnomalyTrainingStatus


def hnsw_index_name(recipe: str, version: str) -> str:
    return f"idx_pose_embedding_hnsw_{recipe.replace('-', '_')}_v{version.replace('.', '_')}"


def hnsw_index(recipe: str, version: str, dimension: int) -> sa.Index:
    """The HNSW index (L2 distance) of one recipe's vectors: partial, on the vector cast to its dimension."""
    cast: sa.Label[Any] = sa.literal_column(f"(vector::vector({dimension}))").label("cast_vector")
    return sa.Index(
        hnsw_index_name(recipe, version),
        cast,
        postgresql_using="hnsw",
        postgresql_ops={"cast_vector": "vector_l2_ops"},
        postgresql_where=sa.text(f"embedding_model = '{recipe}' AND embedding_version = '{version}'"),
    )


class PoseEmbedding(Base):
    __tablename__ = "pose_embeddings"

    id: Mapped[BigIntPK]
    annotation_id: Mapped[int] = mapped_column(sa.ForeignKey("annotations.id"))
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"))
    embedding_model: Mapped[str] = mapped_column(sa.String(50))
    embedding_version: Mapped[str] = mapped_column(sa.String(20))
    dimension: Mapped[int]
    vector: Mapped[Any] = mapped_column(Vector())
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.UniqueConstraint(
            "annotation_id", "embedding_model", "embedding_version", name="uq_pose_embedding_recipe"
        ),
        sa.Index("idx_pose_embedding_image", "image_id"),
        sa.CheckConstraint("vector_dims(vector) = dimension", name="dimension_matches"),
        hnsw_index(pose_features.RECIPE_NAME, pose_features.RECIPE_VERSION, pose_features.DIMENSION),
    )


class AnomalyTrainingJob(Base):
    __tablename__ = "anomaly_training_jobs"

    id: Mapped[BigIntPK]
    job_name: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[AnomalyTrainingStatus] = mapped_column(
        pg_enum(AnomalyTrainingStatus, "anomaly_training_status"),
        server_default=AnomalyTrainingStatus.QUEUED.value,
        default=AnomalyTrainingStatus.QUEUED,
    )
    config: Mapped[dict[str, Any]]
    # What the job trained on, once it has loaded it (counts, schema, recipe, skipped poses).
    dataset: Mapped[dict[str, Any] | None]
    progress: Mapped[Decimal] = mapped_column(numeric(4, 3), server_default=sa.text("0"), default=Decimal(0))
    progress_message: Mapped[str | None] = mapped_column(sa.String(200))
    requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[CreatedAt]
    started_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    finished_at: Mapped[dt.datetime | None]

    __table_args__ = (
        sa.Index("idx_anomaly_training_job_status", "status"),
        # At most one job waiting and one running: a second request is refused, not stacked up.
        sa.Index(
            "uq_anomaly_training_one_per_open_status",
            "status",
            unique=True,
            postgresql_where=sa.text("status IN ('QUEUED', 'RUNNING')"),
        ),
        between("progress", 0, 1),
    )


class AnomalyTrainingReport(Base):
    __tablename__ = "anomaly_training_reports"

    id: Mapped[BigIntPK]
    training_job_id: Mapped[int] = mapped_column(sa.ForeignKey("anomaly_training_jobs.id"), unique=True)
    bands: Mapped[list[Any]]  # per band: range, samples, trained or refused, threshold, validation
    validation_false_positive_rate: Mapped[float | None] = mapped_column(sa.Double)
    roc_auc: Mapped[float | None] = mapped_column(sa.Double)
    labelled_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    training_time_seconds: Mapped[float] = mapped_column(sa.Double)
    report_file_path: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        between("validation_false_positive_rate", 0, 1),
        between("roc_auc", 0, 1),
        sa.CheckConstraint("training_time_seconds >= 0", name="training_time_seconds_non_negative"),
    )


class AgeGroupModel(Base):
    __tablename__ = "age_group_models"

    id: Mapped[BigIntPK]
    training_job_id: Mapped[int] = mapped_column(sa.ForeignKey("anomaly_training_jobs.id"))
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    age_min_months: Mapped[Decimal] = mapped_column(numeric(5, 2))  # inclusive
    age_max_months: Mapped[Decimal] = mapped_column(numeric(5, 2))  # exclusive
    model_type: Mapped[str] = mapped_column(sa.String(50))
    embedding_model: Mapped[str] = mapped_column(sa.String(50))
    embedding_version: Mapped[str] = mapped_column(sa.String(20))
    parameters: Mapped[dict[str, Any] | None]  # None when the band refuses to score
    sample_count: Mapped[int]
    threshold: Mapped[float | None] = mapped_column(sa.Double)
    threshold_percentile: Mapped[Decimal] = mapped_column(numeric(4, 1))
    refusal: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.Index("idx_age_group_model_job", "training_job_id"),
        sa.Index(
            "uq_age_group_model_one_active_per_band",
            "keypoint_schema_id",
            "embedding_model",
            "embedding_version",
            "age_min_months",
            unique=True,
            postgresql_where=sa.text("is_active"),
        ),
        sa.CheckConstraint("age_min_months >= 0 AND age_min_months < age_max_months", name="age_range"),
        sa.CheckConstraint("sample_count >= 0", name="sample_count_non_negative"),
        sa.CheckConstraint(
            "(refusal IS NULL) = (parameters IS NOT NULL AND threshold IS NOT NULL)",
            name="scores_or_refuses",
        ),
    )


class AnomalyAnalysis(Base):
    __tablename__ = "anomaly_analyses"

    id: Mapped[BigIntPK]
    annotation_id: Mapped[int] = mapped_column(sa.ForeignKey("annotations.id"))
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"))
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    age_group_model_id: Mapped[int] = mapped_column(sa.ForeignKey("age_group_models.id"))
    embedding_id: Mapped[int] = mapped_column(sa.ForeignKey("pose_embeddings.id"))
    age_months: Mapped[Decimal] = mapped_column(numeric(5, 2))
    anomaly_score: Mapped[float] = mapped_column(sa.Double)
    mahalanobis_sq: Mapped[float] = mapped_column(sa.Double)
    observed_features: Mapped[int]
    normalized_score: Mapped[float] = mapped_column(sa.Double)
    is_anomaly: Mapped[bool]
    confidence: Mapped[float] = mapped_column(sa.Double)
    analysed_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.UniqueConstraint(
            "annotation_id", "age_group_model_id", name="uq_anomaly_analysis_annotation_model"
        ),
        sa.Index("idx_anomaly_analysis_batch", "batch_id"),
        sa.Index("idx_anomaly_analysis_model_anomaly", "age_group_model_id", "is_anomaly"),
        sa.Index("idx_anomaly_analysis_image", "image_id"),
        between("normalized_score", 0, 1),
        between("confidence", 0, 1),
        sa.CheckConstraint("observed_features >= 0", name="observed_features_non_negative"),
    )


class InterpretabilityResult(Base):
    __tablename__ = "interpretability_results"

    id: Mapped[BigIntPK]
    analysis_id: Mapped[int] = mapped_column(sa.ForeignKey("anomaly_analyses.id"), unique=True)
    joint_importances: Mapped[dict[str, Any]]  # joint name -> share of the score (0–1)
    top_joints: Mapped[list[Any]]
    explanation_text: Mapped[str] = mapped_column(sa.Text)
    overlay_image_path: Mapped[str] = mapped_column(sa.String(500))  # key in the derived bucket
    created_at: Mapped[CreatedAt]
