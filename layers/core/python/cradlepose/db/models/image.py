from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, numeric, pg_enum
from cradlepose.domain.enums import ImageStatus


class Image(Base):
    """One uploaded image. `storage_path` (the S3 key) is unique: registering is idempotent.

    `image_quality_score` is on the seed's 1–10 scale; the seed's decimal(2,1) cannot hold
    10.0, so it is numeric(3,1).
    """

    __tablename__ = "images"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))

    filename: Mapped[str] = mapped_column(sa.String(255))
    original_filename: Mapped[str] = mapped_column(sa.String(255))
    storage_path: Mapped[str] = mapped_column(sa.String(500), unique=True)
    thumbnail_path: Mapped[str | None] = mapped_column(sa.String(500))

    width: Mapped[int]
    height: Mapped[int]
    file_size: Mapped[int] = mapped_column(sa.BigInteger)
    mime_type: Mapped[str] = mapped_column(sa.String(50))
    format: Mapped[str] = mapped_column(sa.String(10))

    infant_metadata: Mapped[dict[str, Any] | None]
    acquisition_date: Mapped[dt.date | None]
    source_institution: Mapped[str | None] = mapped_column(sa.String(100))
    anonymization_status: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    yolo_keypoints: Mapped[dict[str, Any] | None]
    # A quality-check image: verified keypoints set by an admin, never shown to annotators.
    gold_keypoints: Mapped[dict[str, Any] | None]
    yolo_confidence: Mapped[Decimal | None] = mapped_column(numeric(3, 2))
    yolo_processing_time_ms: Mapped[int | None]
    yolo_model_version: Mapped[str | None] = mapped_column(sa.String(20))
    # Why pre-annotation failed for this image (unreadable, model output unusable); None when it
    # did not fail. Beyond seed 000: the batch's failed_yolo_count says how many, this says which.
    yolo_error: Mapped[str | None] = mapped_column(sa.Text)

    image_quality_score: Mapped[Decimal | None] = mapped_column(sa.Numeric(3, 1))
    has_quality_issues: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    quality_issues: Mapped[list[Any] | None]

    status: Mapped[ImageStatus] = mapped_column(
        pg_enum(ImageStatus, "image_status"),
        server_default=ImageStatus.UPLOADED.value,
        default=ImageStatus.UPLOADED,
    )

    current_annotator: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The assignment the image's work currently belongs to (INITIAL, REVISION or a re-annotation).
    current_assignment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("batch_assignments.id"))
    current_verifier: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The verification claim is a lease: the holder's last sign of life (claim, renew, decide).
    # A claim silent longer than settings.claim_idle_timeout_s has expired (workflow.claims).
    verifier_claimed_at: Mapped[dt.datetime | None]
    # An annotator's "cannot be annotated" report waiting for (or given) a verifier's decision:
    # {"reason", "details", "flagged_by", "flagged_at", "assignment_id", "decision"?}.
    unusable_flag: Mapped[dict[str, Any] | None]

    is_difficult_case: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    requires_specialist_review: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    has_annotation_issues: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    # Duplicates (issue 19). `pixel_sha256`: SHA-256 of the cleaned image's decoded pixels (mode,
    # size and the EXIF orientation kept in the file included), so metadata cannot hide a copy;
    # unique per batch. `upload_sha256`: SHA-256 of the bytes as uploaded (what a client can
    # compute before asking for a form). `perceptual_hash`: 64-bit dHash of the image as shown,
    # stored as a signed bigint. `duplicate_of_id`/`duplicate_distance`: the image this one
    # (stored anyway) nearly or, in another batch, exactly repeats, and the dHash distance (0–64).
    pixel_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    upload_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    perceptual_hash: Mapped[int | None] = mapped_column(sa.BigInteger)
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("images.id"))
    duplicate_distance: Mapped[int | None] = mapped_column(sa.SmallInteger)

    created_at: Mapped[CreatedAt]
    last_status_change: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.Index("idx_image_batch_status", "batch_id", "status"),
        sa.Index("idx_image_status", "status"),
        sa.Index("idx_image_annotator", "current_annotator"),
        sa.Index("idx_image_quality", "image_quality_score"),
        # The catalogue's institution filter (datasets.catalogue): datasets holding a site's images.
        sa.Index("idx_image_source_institution", "source_institution"),
        sa.Index("idx_image_created", "created_at"),
        # The JSONB field the API filters on (datasets.verified_images: `infant` containment, @>).
        sa.Index(
            "idx_image_infant_metadata",
            "infant_metadata",
            postgresql_using="gin",
            postgresql_ops={"infant_metadata": "jsonb_path_ops"},
        ),
        sa.Index("idx_image_assignment_status", "current_assignment_id", "status"),
        # A batch's images newest first (an annotator's view of a batch filters them by assignment):
        # without it the newest-first page scans the whole table's primary key backwards, past the
        # other batches' images, once uploads of several batches interleave their ids.
        sa.Index("idx_image_batch_id", "batch_id", "id"),
        # A verifier's images of a batch: the ones under review by them, newest first.
        sa.Index(
            "idx_image_verifier_review",
            "current_verifier",
            "batch_id",
            "id",
            postgresql_where=sa.text("status = 'UNDER_REVIEW'"),
        ),
        # One original per batch: two deliveries of the same pixels at once cannot both commit.
        sa.Index("uq_image_batch_pixels", "batch_id", "pixel_sha256", unique=True),
        sa.Index("idx_image_pixels", "pixel_sha256"),
        sa.Index("idx_image_batch_upload_sha256", "batch_id", "upload_sha256"),
        sa.CheckConstraint("duplicate_distance BETWEEN 0 AND 64", name="duplicate_distance_in_range"),
        # The flagged queue: images an annotator flagged as unusable, waiting for a decision.
        sa.Index(
            "idx_image_unusable_pending",
            "batch_id",
            "id",
            postgresql_where=sa.text("status = 'SUBMITTED' AND unusable_flag IS NOT NULL"),
        ),
        sa.CheckConstraint("width > 0 AND height > 0", name="dimensions_positive"),
        sa.CheckConstraint("file_size > 0", name="file_size_positive"),
        sa.CheckConstraint("format IN ('JPEG', 'PNG')", name="format_supported"),
        between("yolo_confidence", 0, 1),
        between("image_quality_score", 1, 10),
        sa.CheckConstraint("yolo_processing_time_ms >= 0", name="yolo_processing_time_ms_non_negative"),
    )
