from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt


class PendingUpload(Base):
    """One issued upload form, usable once. Beyond seed 000 (issue 18, "Upload race").

    The form's key is `incoming/<batch>/<nonce>/<name>`: the nonce names this row. The upload
    trigger consumes the row in the same transaction that registers or rejects the object
    (`UPDATE … WHERE consumed_at IS NULL RETURNING`), and records which object consumed it
    (key and ETag), so a redelivered event is recognised and a second object through the same
    form is refused. `filename`, `size_bytes` and `sha256` are what the uploader declared when
    asking for the form (hints; the trigger measures the object itself).
    """

    __tablename__ = "pending_uploads"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    nonce: Mapped[str] = mapped_column(sa.String(32), unique=True)
    filename: Mapped[str | None] = mapped_column(sa.String(255))  # None: an open form (any name)
    size_bytes: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    created_at: Mapped[CreatedAt]
    consumed_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    consumed_key: Mapped[str | None] = mapped_column(sa.String(500))
    consumed_etag: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (
        # The open forms of a batch for one declared file: the duplicate check before the S3 write.
        sa.Index(
            "idx_pending_upload_open_sha256",
            "batch_id",
            "sha256",
            postgresql_where=sa.text("consumed_at IS NULL AND sha256 IS NOT NULL"),
        ),
        sa.CheckConstraint("size_bytes >= 0", name="size_bytes_non_negative"),
        sa.CheckConstraint("(consumed_at IS NULL) = (consumed_key IS NULL)", name="consumed_with_key"),
    )
