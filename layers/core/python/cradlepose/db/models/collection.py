"""Collections (seed 002): a query's images packed as a ZIP in S3 by an asynchronous job.

PENDING until the packer has written the archive (READY, with its key and size) or given up
(FAILED, with the error); after the retention period the archive is deleted and the row EXPIRED.
Exporting a dataset is a collection too: its query is the dataset, its items the dataset's
images with their splits. Items name the annotation version they export, so an archive can be
traced to exactly the keypoints it holds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative, pg_enum
from cradlepose.domain.enums import CollectionStatus, DatasetSplit, ExportFormat


class Collection(Base):
    __tablename__ = "collections"

    id: Mapped[BigIntPK]
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(sa.String(200))
    query_text: Mapped[str | None] = mapped_column(sa.Text)
    filter_snapshot: Mapped[dict[str, Any]]
    format: Mapped[ExportFormat] = mapped_column(pg_enum(ExportFormat, "export_format"))
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    dataset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("datasets.id"))  # an export of this dataset

    status: Mapped[CollectionStatus] = mapped_column(
        pg_enum(CollectionStatus, "collection_status"),
        server_default=CollectionStatus.PENDING.value,
        default=CollectionStatus.PENDING,
    )
    num_images: Mapped[int]
    archive_path: Mapped[str | None] = mapped_column(sa.String(500))  # key in the exports bucket
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    attempts: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    ready_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]

    __table_args__ = (
        sa.Index("idx_collection_user", "user_id", "id"),
        sa.Index("idx_collection_status", "status", "id"),
        sa.Index("idx_collection_dataset", "dataset_id"),
        sa.CheckConstraint("status <> 'READY' OR archive_path IS NOT NULL", name="ready_has_archive"),
        sa.CheckConstraint("status <> 'FAILED' OR error_message IS NOT NULL", name="failed_has_error"),
        sa.CheckConstraint("num_images > 0", name="num_images_positive"),
        *non_negative("size_bytes", "attempts"),
    )


class CollectionItem(Base):
    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(
        sa.ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"), primary_key=True)
    split: Mapped[DatasetSplit] = mapped_column(pg_enum(DatasetSplit, "dataset_split"))
    annotation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("annotations.id"))

    __table_args__ = (sa.Index("idx_collection_item_split", "collection_id", "split", "image_id"),)
