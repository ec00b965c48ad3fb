from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt


class UploadManifestEntry(Base):
    """What the uploader said about one file of a batch before sending it (intake.image_metadata).

    Beyond seed 000: the upload trigger registers the file later, from S3's event alone, and copies
    these values onto the Image row (over the batch's `image_defaults`). One entry per batch and
    file name (as the upload key spells it: `domain.uploads.safe_filename`); asking again for a
    file's form with new values replaces them.
    """

    __tablename__ = "upload_manifest_entries"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    infant_metadata: Mapped[dict[str, Any] | None]
    acquisition_date: Mapped[dt.date | None]
    source_institution: Mapped[str | None] = mapped_column(sa.String(100))
    created_at: Mapped[CreatedAt]

    __table_args__ = (sa.UniqueConstraint("batch_id", "filename"),)
