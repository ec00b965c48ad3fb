from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt


class UploadRejection(Base):
    """An uploaded file the trigger refused (wrong type, corrupt, too large, batch closed,
    an exact duplicate, a form used twice or never issued).

    Beyond seed 000: the uploader needs a per-file answer, and the object itself is moved to
    quarantine. Unique on the upload's key, so a redelivered event records it once.
    """

    __tablename__ = "upload_rejections"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    upload_key: Mapped[str] = mapped_column(sa.String(500), unique=True)
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    reason: Mapped[str] = mapped_column(sa.Text)
    detected_type: Mapped[str | None] = mapped_column(sa.String(100))
    file_size: Mapped[int | None] = mapped_column(sa.BigInteger)
    quarantine_path: Mapped[str | None] = mapped_column(sa.String(500))
    # An exact duplicate's original (issue 19): the report says "duplicate of image N".
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("images.id"))
    created_at: Mapped[CreatedAt]

    __table_args__ = (sa.Index("idx_upload_rejection_batch", "batch_id"),)
