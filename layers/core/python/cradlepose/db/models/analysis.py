from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, CreatedAt, pg_enum
from cradlepose.domain.enums import AnalysisStatus


class AnalysisJob(Base):
    """Seed 003's analysis job, on an infant image: uploaded → segmenting → converting → enhancing →
    completed, or failed at a named stage. `updated_at` is kept by a trigger.

    Beyond the seed: the image (and the annotation whose keypoints were asked for), and the
    stage that failed. The requesting user is a Cradle user (bigint), not the seed's string.
    """

    __tablename__ = "analysis_jobs"

    job_id: Mapped[uuid.UUID] = mapped_column(
        pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
    )
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"))
    annotation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("annotations.id"))
    original_image_key: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[AnalysisStatus] = mapped_column(
        pg_enum(AnalysisStatus, "analysis_status"),
        server_default=AnalysisStatus.UPLOADED.value,
        default=AnalysisStatus.UPLOADED,
    )
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    failed_stage: Mapped[str | None] = mapped_column(sa.String(20))
    execution_arn: Mapped[str | None] = mapped_column(sa.String(2048))

    __table_args__ = (
        sa.Index("idx_analysis_jobs_user_id", "user_id"),
        sa.Index("idx_analysis_jobs_status", "status"),
        sa.Index("idx_analysis_jobs_created_at", "created_at"),
        sa.Index("idx_analysis_jobs_image_id", "image_id"),
        sa.Index("idx_analysis_jobs_user_created", "user_id", "created_at", "job_id"),  # a verifier's list
        sa.CheckConstraint("status <> 'failed' OR error_message IS NOT NULL", name="failure_has_message"),
    )


class AnalysisResult(Base):
    """What the stages produced for a job: each stage fills its own fields in its own transaction."""

    __tablename__ = "analysis_results"

    result_id: Mapped[uuid.UUID] = mapped_column(
        pg.UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")
    )
    job_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("analysis_jobs.job_id", ondelete="CASCADE"), unique=True
    )
    segmentation_result_key: Mapped[str | None] = mapped_column(sa.String(500))
    image_description: Mapped[str | None] = mapped_column(sa.Text)
    enhanced_report: Mapped[str | None] = mapped_column(sa.Text)
    confidence_scores: Mapped[dict[str, Any] | None]
    processing_metrics: Mapped[dict[str, Any] | None]
    # Beyond the seed: the structured findings, the passages the report cites, and what made them.
    keypoints: Mapped[dict[str, Any] | None]
    findings: Mapped[dict[str, Any] | None]
    sources: Mapped[list[Any] | None]
    provenance: Mapped[dict[str, Any] | None]
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.Index("idx_analysis_results_job_id", "job_id"),
        sa.Index("idx_analysis_results_created_at", "created_at"),
    )


class ReferencePassage(Base):
    """One passage of the reference notes kept in the repository, searchable with full-text ranking."""

    __tablename__ = "reference_passages"

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False), primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(100))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    citation: Mapped[str] = mapped_column(sa.Text)
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    search: Mapped[Any] = mapped_column(
        pg.TSVECTOR,
        sa.Computed("to_tsvector('english', title || ' ' || body)", persisted=True),
    )

    __table_args__ = (sa.Index("idx_reference_passages_search", "search", postgresql_using="gin"),)
