"""Training and inference jobs (seed 001): what runs a model, where, and how far it got.

QUEUED → RUNNING → COMPLETED / FAILED, and CANCELLED from either of the first two (domain.lifecycles).
A job runs outside the database (an ECS GPU task in the cloud, a thread on a laptop): it reads
its spec from S3 and writes its progress there; the jobs worker copies that progress into these
rows. A completed training job has registered its result as a new model; a completed inference
job with an evaluation has stored its metrics (model_metrics).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, numeric, pg_enum
from cradlepose.domain.enums import DatasetSplit, JobStatus


class _JobColumns:
    """What both kinds of job record about their run."""

    status: Mapped[JobStatus] = mapped_column(
        pg_enum(JobStatus, "job_status"), server_default=JobStatus.QUEUED.value, default=JobStatus.QUEUED
    )
    progress_percentage: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    execution_logs: Mapped[str | None] = mapped_column(sa.Text)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    runner: Mapped[str | None] = mapped_column(sa.String(20))  # ecs | local
    runner_handle: Mapped[str | None] = mapped_column(sa.String(2048))  # the ECS task ARN, a thread name
    spec_uri: Mapped[str | None] = mapped_column(sa.String(1000))
    cancel_requested: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    start_time: Mapped[dt.datetime | None]
    end_time: Mapped[dt.datetime | None]
    # Measured by the runner around the work itself (not queueing), written when the job ends.
    processing_time_ms: Mapped[int | None]
    last_report_at: Mapped[dt.datetime | None]
    job_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata")
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())


class TrainingJob(_JobColumns, Base):
    __tablename__ = "training_jobs"

    id: Mapped[BigIntPK]
    base_model_id: Mapped[int] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    dataset_id: Mapped[int] = mapped_column(sa.ForeignKey("datasets.id"))
    export_id: Mapped[int] = mapped_column(sa.ForeignKey("collections.id"))  # the YOLO pose archive
    hyperparameters: Mapped[dict[str, Any]]
    result_model_name: Mapped[str] = mapped_column(sa.String(100))
    result_model_version: Mapped[str] = mapped_column(sa.String(20))
    result_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))

    __table_args__ = (
        sa.Index("idx_training_job_status", "status", "created_at"),
        sa.Index("idx_training_job_base_model", "base_model_id"),
        sa.Index("idx_training_job_created", "created_at"),
        between("progress_percentage", 0, 100),
        sa.CheckConstraint("processing_time_ms >= 0", name="processing_time_ms_non_negative"),
        sa.CheckConstraint(
            "status <> 'COMPLETED' OR result_model_id IS NOT NULL", name="completed_has_result_model"
        ),
        sa.CheckConstraint("status <> 'FAILED' OR error_message IS NOT NULL", name="failed_has_error"),
        sa.CheckConstraint("jsonb_typeof(hyperparameters) = 'object'", name="hyperparameters_object"),
    )


class InferenceJob(_JobColumns, Base):
    __tablename__ = "inference_jobs"

    id: Mapped[BigIntPK]
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    target_images: Mapped[list[int]] = mapped_column(sa.ARRAY(sa.BigInteger))
    # An evaluation: the target images are this dataset split's, scored against their keypoints.
    dataset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("datasets.id"))
    split: Mapped[DatasetSplit | None] = mapped_column(pg_enum(DatasetSplit, "dataset_split"))
    sigma_schema_id: Mapped[int | None] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    results: Mapped[dict[str, Any] | None]

    __table_args__ = (
        sa.Index("idx_inference_job_status", "status", "created_at"),
        sa.Index("idx_inference_job_model", "model_id"),
        sa.Index("idx_inference_job_created", "created_at"),
        between("progress_percentage", 0, 100),
        sa.CheckConstraint("processing_time_ms >= 0", name="processing_time_ms_non_negative"),
        sa.CheckConstraint("cardinality(target_images) > 0", name="target_images_not_empty"),
        sa.CheckConstraint(
            "(dataset_id IS NULL) = (split IS NULL)", name="evaluation_names_dataset_and_split"
        ),
        sa.CheckConstraint("status <> 'FAILED' OR error_message IS NOT NULL", name="failed_has_error"),
    )
