from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, between, non_negative, numeric, pg_enum
from cradlepose.domain.enums import AssignmentStatus, AssignmentType


class BatchAssignment(Base):
    __tablename__ = "batch_assignments"

    id: Mapped[BigIntPK]
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("image_batches.id"))
    annotator_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    assigned_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    assignment_type: Mapped[AssignmentType] = mapped_column(
        pg_enum(AssignmentType, "assignment_type"),
        server_default=AssignmentType.INITIAL.value,
        default=AssignmentType.INITIAL,
    )
    priority: Mapped[int] = mapped_column(server_default=sa.text("5"), default=5)
    special_instructions: Mapped[str | None] = mapped_column(sa.Text)
    estimated_completion_hours: Mapped[int | None]

    status: Mapped[AssignmentStatus] = mapped_column(
        pg_enum(AssignmentStatus, "assignment_status"),
        server_default=AssignmentStatus.ASSIGNED.value,
        default=AssignmentStatus.ASSIGNED,
    )
    progress_percentage: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    images_completed: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    images_total: Mapped[int]
    # A verifier's QUALITY_CHECK or SECOND_OPINION assignment concerns this one image (migration 0010).
    image_id: Mapped[int | None] = mapped_column(sa.ForeignKey("images.id", use_alter=True))

    assigned_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())
    acknowledged_at: Mapped[dt.datetime | None]
    due_date: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]

    total_time_spent_minutes: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    # When the current stretch of work began; None while paused or not started.
    active_since: Mapped[dt.datetime | None]
    avg_time_per_image_minutes: Mapped[Decimal] = mapped_column(
        numeric(5, 2), server_default=sa.text("0.00"), default=Decimal("0.00")
    )
    pause_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    self_reported_difficulty: Mapped[int | None]
    completion_confidence: Mapped[Decimal | None] = mapped_column(numeric(3, 2))

    __table_args__ = (
        sa.Index("idx_assignment_annotator_status", "annotator_id", "status"),
        sa.Index("idx_assignment_batch", "batch_id"),
        # An annotator's batch list (batches with an open assignment of theirs, newest first) and
        # assignment list, newest first; btree scans run backwards, so ascending serves DESC.
        sa.Index("idx_assignment_annotator_batch", "annotator_id", "batch_id", "status"),
        sa.Index("idx_assignment_annotator_id", "annotator_id", "id"),
        sa.Index("idx_assignment_due_date", "due_date"),
        sa.Index("idx_assignment_assigned_at", "assigned_at"),
        sa.Index("idx_assignment_review_image", "image_id", postgresql_where=sa.text("image_id IS NOT NULL")),
        between("priority", 1, 10),
        between("progress_percentage", 0, 100),
        between("self_reported_difficulty", 1, 5),
        between("completion_confidence", 0, 1),
        sa.CheckConstraint("images_completed <= images_total", name="images_completed_within_total"),
        sa.CheckConstraint("estimated_completion_hours > 0", name="estimated_completion_hours_positive"),
        *non_negative(
            "images_completed",
            "images_total",
            "total_time_spent_minutes",
            "avg_time_per_image_minutes",
            "pause_count",
        ),
    )
