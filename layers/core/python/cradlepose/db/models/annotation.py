from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, non_negative, numeric, pg_enum
from cradlepose.domain.enums import AnnotationStatus, DifficultyRating


class Annotation(Base):
    """One version of the keypoints for one image.

    `version` is the seed's revision number (1, then n+1 for each revision). `row_version` is
    separate: it increases on every write and is the ETag clients send back in If-Match, so a
    stale write is refused instead of overwriting someone else's change.
    """

    __tablename__ = "annotations"

    id: Mapped[BigIntPK]
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"))
    batch_assignment_id: Mapped[int] = mapped_column(sa.ForeignKey("batch_assignments.id"))

    refined_keypoints: Mapped[dict[str, Any]]
    keypoint_confidence: Mapped[dict[str, Any] | None]
    keypoint_visibility: Mapped[dict[str, Any] | None]
    keypoint_notes: Mapped[dict[str, Any] | None]

    annotation_quality_score: Mapped[Decimal | None] = mapped_column(numeric(3, 2))
    difficulty_rating: Mapped[DifficultyRating | None] = mapped_column(
        pg_enum(DifficultyRating, "difficulty_rating")
    )
    difficulty_reasons: Mapped[list[Any] | None]

    annotation_tool_version: Mapped[str | None] = mapped_column(sa.String(20))
    total_keypoints_modified: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    major_corrections_made: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    used_ai_suggestions: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)

    general_notes: Mapped[str | None] = mapped_column(sa.Text)
    image_quality_feedback: Mapped[str | None] = mapped_column(sa.Text)
    suggested_improvements: Mapped[str | None] = mapped_column(sa.Text)

    version: Mapped[int] = mapped_column(server_default=sa.text("1"), default=1)
    is_revision: Mapped[bool] = mapped_column(server_default=sa.false(), default=False)
    original_annotation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("annotations.id"))
    revision_reason: Mapped[str | None] = mapped_column(sa.Text)

    time_spent_seconds: Mapped[int]
    pause_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    zoom_level_used: Mapped[Decimal | None] = mapped_column(sa.Numeric(3, 1))

    status: Mapped[AnnotationStatus] = mapped_column(
        pg_enum(AnnotationStatus, "annotation_status"),
        server_default=AnnotationStatus.DRAFT.value,
        default=AnnotationStatus.DRAFT,
    )
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    submitted_at: Mapped[dt.datetime | None]

    row_version: Mapped[int] = mapped_column(server_default=sa.text("1"), default=1)

    __table_args__ = (
        sa.Index("idx_annotation_image", "image_id"),
        sa.Index("idx_annotation_assignment", "batch_assignment_id"),
        sa.Index("idx_annotation_status", "status"),
        sa.Index("idx_annotation_submitted", "submitted_at"),
        sa.Index("idx_annotation_quality", "annotation_quality_score"),
        between("annotation_quality_score", 0, 1),
        sa.CheckConstraint("version >= 1", name="version_positive"),
        sa.CheckConstraint("row_version >= 1", name="row_version_positive"),
        sa.CheckConstraint("zoom_level_used > 0", name="zoom_level_used_positive"),
        sa.CheckConstraint(
            "NOT is_revision OR original_annotation_id IS NOT NULL", name="revision_has_original"
        ),
        *non_negative("total_keypoints_modified", "time_spent_seconds", "pause_count"),
    )
    # The ORM adds `WHERE row_version = <read value>` to every UPDATE and bumps it: of two
    # writers that read the same version, exactly one wins.
    __mapper_args__ = {"version_id_col": row_version}
