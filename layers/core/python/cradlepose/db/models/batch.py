from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, between, non_negative, numeric, pg_enum
from cradlepose.domain.enums import BatchStatus


class ImageBatch(Base):
    __tablename__ = "image_batches"

    id: Mapped[BigIntPK]
    batch_name: Mapped[str] = mapped_column(sa.String(255))
    description: Mapped[str | None] = mapped_column(sa.Text)

    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    total_images: Mapped[int]

    status: Mapped[BatchStatus] = mapped_column(
        pg_enum(BatchStatus, "batch_status"),
        server_default=BatchStatus.UPLOADED.value,
        default=BatchStatus.UPLOADED,
    )

    yolo_processing_started: Mapped[dt.datetime | None]
    yolo_processing_completed: Mapped[dt.datetime | None]
    yolo_model_version: Mapped[str | None] = mapped_column(sa.String(20))
    avg_yolo_confidence: Mapped[Decimal | None] = mapped_column(numeric(3, 2))
    failed_yolo_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    quality_check_passed: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    min_image_quality_score: Mapped[Decimal] = mapped_column(
        sa.Numeric(3, 1), server_default=sa.text("7.0"), default=Decimal("7.0")
    )

    upload_metadata: Mapped[dict[str, Any] | None]
    # Beyond seed 000: what every image of the batch gets unless its own upload says otherwise
    # (domain.image_metadata.ImageMetadata as JSON: infant_metadata, acquisition_date, source_institution).
    image_defaults: Mapped[dict[str, Any] | None]
    processing_priority: Mapped[int] = mapped_column(server_default=sa.text("5"), default=5)
    # Beyond seed 000 (which dates assignments only): when the batch should be done; new
    # assignments of the batch default to it.
    due_date: Mapped[dt.datetime | None]

    uploaded_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    assigned_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    completed_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    approved_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    rejected_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    # Images registered so far, kept by one atomic increment per registration (intake.uploads), so
    # the upload trigger never locks the batch to count its images.
    registered_images: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    __table_args__ = (
        sa.Index("idx_batch_status", "status"),
        sa.Index("idx_batch_uploaded_by", "uploaded_by"),
        sa.Index("idx_batch_schema", "keypoint_schema_id"),
        sa.Index("idx_batch_priority", "processing_priority", "uploaded_at"),
        between("processing_priority", 1, 10),
        between("min_image_quality_score", 1, 10),
        between("avg_yolo_confidence", 0, 1),
        *non_negative(
            "total_images",
            "failed_yolo_count",
            "assigned_count",
            "completed_count",
            "approved_count",
            "rejected_count",
            "registered_images",
        ),
    )
