from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative, numeric


class ModelRunStatistic(Base):
    """One run's tally of a model's work (domain.model_statistics.RunTally): a loaded pipeline
    chunk or a finished inference job. Beyond seed 000; the model's registry figures
    (avg_processing_time_ms, avg_confidence_score, success_rate) are rolled up from these rows.
    A run is tallied once (the unique source columns)."""

    __tablename__ = "model_run_statistics"

    id: Mapped[BigIntPK]
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    pipeline_chunk_id: Mapped[int | None] = mapped_column(sa.ForeignKey("pipeline_chunks.id"), unique=True)
    inference_job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inference_jobs.id"), unique=True)
    images: Mapped[int]
    posed: Mapped[int]
    processing_ms: Mapped[int] = mapped_column(sa.BigInteger)
    confidence_sum: Mapped[Decimal] = mapped_column(numeric(14, 4))
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.Index("idx_model_run_statistic_model", "model_id"),
        sa.CheckConstraint("(pipeline_chunk_id IS NULL) <> (inference_job_id IS NULL)", name="one_source"),
        sa.CheckConstraint("posed <= images", name="posed_within_images"),
        *non_negative("images", "posed", "processing_ms", "confidence_sum"),
    )
