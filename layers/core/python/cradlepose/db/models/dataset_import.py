"""A COCO keypoints or YOLO pose archive on its way into Cradle as a batch to review. Beyond the seeds.

AWAITING_UPLOAD (a form was issued) → PENDING (the archive is in and its COCO documents passed
every check) → COMPLETED (the batch, its images and the IMPORTED dataset exist) or FAILED (with the
first broken record; nothing of the import is left behind).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative, pg_enum
from cradlepose.domain.enums import ImportStatus


class DatasetImport(Base):
    __tablename__ = "dataset_imports"

    id: Mapped[BigIntPK]
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    source_url: Mapped[str | None] = mapped_column(sa.String(500))
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    status: Mapped[ImportStatus] = mapped_column(
        pg_enum(ImportStatus, "import_status"),
        server_default=ImportStatus.AWAITING_UPLOAD.value,
        default=ImportStatus.AWAITING_UPLOAD,
    )
    archive_key: Mapped[str] = mapped_column(sa.String(500), unique=True)  # in the uploads bucket
    archive_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    # False: keep the archive's own train/validation/test splits; True: split by infant (migration 0015).
    resplit: Mapped[bool] = mapped_column(server_default=sa.text("false"), default=False)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("image_batches.id"))
    dataset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("datasets.id"))
    images_imported: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    annotations_imported: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    finished_at: Mapped[dt.datetime | None]
    processing_time_ms: Mapped[int | None]  # the worker's run over the archive, written when it ends

    __table_args__ = (
        sa.Index("idx_dataset_import_status", "status", "id"),
        sa.CheckConstraint("status <> 'FAILED' OR error_message IS NOT NULL", name="failed_has_error"),
        sa.CheckConstraint(
            "status <> 'COMPLETED' OR (batch_id IS NOT NULL AND dataset_id IS NOT NULL)",
            name="completed_has_batch",
        ),
        *non_negative("archive_size", "images_imported", "annotations_imported", "processing_time_ms"),
    )
