from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt


class UploadManifestEntry(Base):
    """What the uploader said about one file of a batch before sending it (intake.image_metadata).

    Beyond seed 000: the upload trigger registers the file later, from S3's event alone, and copies
    these values onto the Image row (over the batch's `image_defaults`). One entry per upload form,
    found by the form's key (unique), so two files of the same name in one batch (two sessions'
    IMG_0001.jpg) each keep their own values.
    """

    __tablename__ = "upload_manifest_entries"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    upload_key: Mapped[str] = mapped_column(sa.String(500), unique=True)
    infant_metadata: Mapped[dict[str, Any] | None]
    acquisition_date: Mapped[dt.date | None]
    source_institution: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[CreatedAt]

    __table_args__ = (sa.Index("idx_upload_manifest_batch", "batch_id"),)
