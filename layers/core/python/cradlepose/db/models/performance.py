from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, between, numeric, pg_enum
from cradlepose.domain.enums import PeriodType


class PerformanceMetrics(Base):
    """One person's figures for one period. Re-running a period replaces its row (unique key)."""

    __tablename__ = "performance_metrics"

    id: Mapped[BigIntPK]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    metrics_date: Mapped[dt.date]
    period_type: Mapped[PeriodType] = mapped_column(pg_enum(PeriodType, "period_type"))
    period_start: Mapped[dt.datetime]
    period_end: Mapped[dt.datetime]

    images_annotated: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    annotations_created: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    annotations_revised: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    avg_time_per_annotation_minutes: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    total_annotation_time_minutes: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    annotations_verified: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    annotations_approved: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    annotations_rejected: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    avg_verification_time_minutes: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )

    accuracy_score: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    avg_quality_rating: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    improvement_trend: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )

    productivity_score: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    consistency_score: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    learning_curve_indicator: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )

    keypoint_accuracy_breakdown: Mapped[dict[str, Any] | None]
    difficulty_distribution: Mapped[dict[str, Any] | None]
    time_distribution: Mapped[dict[str, Any] | None]
    error_patterns: Mapped[dict[str, Any] | None]

    peer_comparison_percentile: Mapped[int | None]
    improvement_rate: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )

    system_uptime_percentage: Mapped[Decimal | None] = mapped_column(numeric(5, 2))
    avg_processing_time_ms: Mapped[int | None]
    error_rate_percentage: Mapped[Decimal | None] = mapped_column(numeric(5, 2))

    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    calculation_version: Mapped[str] = mapped_column(
        sa.String(10), server_default=sa.text("'1.0'"), default="1.0"
    )
    data_completeness: Mapped[Decimal] = mapped_column(
        numeric(3, 2), server_default=sa.text("1.00"), default=Decimal("1.00")
    )

    __table_args__ = (
        sa.Index("idx_performance_user_date", "user_id", "metrics_date"),
        sa.Index("idx_performance_period", "period_type", "period_start"),
        sa.Index("idx_performance_accuracy", "accuracy_score"),
        sa.Index("idx_performance_unique", "user_id", "metrics_date", "period_type", unique=True),
        sa.CheckConstraint("period_end > period_start", name="period_ordered"),
        between("accuracy_score", 0, 1),
        between("avg_quality_rating", 0, 1),
        between("productivity_score", 0, 1),
        between("consistency_score", 0, 1),
        between("peer_comparison_percentile", 1, 100),
        between("system_uptime_percentage", 0, 100),
        between("error_rate_percentage", 0, 100),
        between("data_completeness", 0, 1),
        sa.CheckConstraint(
            "images_annotated >= 0 AND annotations_created >= 0 AND annotations_revised >= 0 "
            "AND total_annotation_time_minutes >= 0 AND annotations_verified >= 0 "
            "AND annotations_approved >= 0 AND annotations_rejected >= 0 "
            "AND avg_time_per_annotation_minutes >= 0 AND avg_verification_time_minutes >= 0",
            name="counts_non_negative",
        ),
    )
