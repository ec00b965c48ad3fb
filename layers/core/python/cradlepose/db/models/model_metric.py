"""Seed 001's PerformanceMetric: one measured figure of a model, on a dataset split.

Named model_metrics: seed 000's performance_metrics (per person and period) already exists.
Each evaluation writes one row per figure (AP, AP50, AP75, AP_M, AP_L, AR, AR50, AR75,
MEAN_ERROR_PX, PCK, and per keypoint MEAN_ERROR_PX and PCK with `class_name` the keypoint),
all with the inference job that produced them and, in `metric_metadata`, the sigmas used.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, between, pg_enum
from cradlepose.domain.enums import DatasetSplit


class ModelMetric(Base):
    __tablename__ = "model_metrics"

    id: Mapped[BigIntPK]
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    dataset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("datasets.id"))
    split: Mapped[DatasetSplit | None] = mapped_column(pg_enum(DatasetSplit, "dataset_split"))
    inference_job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("inference_jobs.id"))
    metric_type: Mapped[str] = mapped_column(sa.String(30))
    metric_value: Mapped[float] = mapped_column(sa.Float)
    threshold: Mapped[float | None] = mapped_column(sa.Float)  # OKS threshold of AP50/75, α of PCK
    class_name: Mapped[str | None] = mapped_column(sa.String(50))  # the keypoint, for per-keypoint rows
    evaluation_timestamp: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    metric_metadata: Mapped[dict[str, Any] | None] = mapped_column("metadata")

    __table_args__ = (
        sa.Index("idx_model_metric_model", "model_id", "metric_type", "evaluation_timestamp"),
        sa.Index("idx_model_metric_dataset", "dataset_id", "split", "metric_type"),
        sa.Index("idx_model_metric_timestamp", "evaluation_timestamp"),
        sa.CheckConstraint("metric_value >= 0", name="metric_value_non_negative"),
        between("threshold", 0, 1),
    )
