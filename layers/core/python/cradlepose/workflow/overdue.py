"""Assignments past their due date become OVERDUE; the counts the admin dashboard shows.

`mark_overdue` serves both the pipeline's MarkOverdue step (one batch) and the scheduled sweep
(every batch). Each page of assignments is one transaction, every change audited; rows another
transaction holds are skipped and caught by the next run.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from pydantic import BaseModel

from cradlepose.common.system import SYSTEM
from cradlepose.db.models import BatchAssignment, Image, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AssignmentStatus, AuditCategory, BatchStatus, ImageStatus
from cradlepose.domain.status_changes import change_status

LATE_CANDIDATES = (AssignmentStatus.ASSIGNED, AssignmentStatus.ACKNOWLEDGED, AssignmentStatus.IN_PROGRESS)
AWAITING_ANNOTATION = (ImageStatus.YOLO_PROCESSED, ImageStatus.ASSIGNED, ImageStatus.IN_PROGRESS)
AWAITING_VERIFICATION = (ImageStatus.SUBMITTED, ImageStatus.UNDER_REVIEW)
PAGE = 500
MAX_PAGES = 200  # 100,000 assignments per run; the rest wait for the next run


class Gauges(BaseModel):
    batches_in_status: dict[BatchStatus, int]
    images_awaiting_annotation: int
    images_awaiting_verification: int


def mark_overdue(
    uow_factory: UnitOfWorkFactory,
    context: RequestContext,
    *,
    batch_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Move late open assignments (of one batch, or of all) to OVERDUE. Returns their ids."""
    moment = now or dt.datetime.now(dt.UTC)
    marked: list[int] = []
    for _ in range(MAX_PAGES):
        with uow_factory(SYSTEM, context) as uow:
            page = _late(uow, moment, batch_id)
            for assignment in page:
                old = assignment.status
                change_status(uow, assignment, AssignmentStatus.OVERDUE)
                uow.audit(
                    AuditEntry(
                        action="ASSIGNMENT_OVERDUE",
                        category=AuditCategory.ANNOTATION,
                        resource_type="BatchAssignment",
                        resource_id=assignment.id,
                        old_values={"status": old},
                        new_values={"status": assignment.status, "due_date": assignment.due_date},
                        batch_context={"batch_id": assignment.batch_id},
                    )
                )
                marked.append(assignment.id)
            uow.commit()
        if len(page) < PAGE:
            break
    return marked


def _late(uow: UnitOfWork, moment: dt.datetime, batch_id: int | None) -> list[BatchAssignment]:
    query = sa.select(BatchAssignment).where(
        BatchAssignment.status.in_(LATE_CANDIDATES),
        BatchAssignment.due_date.is_not(None),
        BatchAssignment.due_date < moment,
    )
    if batch_id is not None:
        query = query.where(BatchAssignment.batch_id == batch_id)
    return list(
        uow.session.scalars(query.order_by(BatchAssignment.id).limit(PAGE).with_for_update(skip_locked=True))
    )


def gauges(uow_factory: UnitOfWorkFactory, context: RequestContext) -> Gauges:
    with uow_factory(SYSTEM, context) as uow:
        by_status: dict[BatchStatus, int] = {
            status: int(count)
            for status, count in uow.session.execute(
                sa.select(ImageBatch.status, sa.func.count()).group_by(ImageBatch.status)
            )
        }
        annotation = _count_images(uow, AWAITING_ANNOTATION)
        verification = _count_images(uow, AWAITING_VERIFICATION)
    return Gauges(
        batches_in_status={status: int(by_status.get(status, 0)) for status in BatchStatus},
        images_awaiting_annotation=int(annotation),
        images_awaiting_verification=int(verification),
    )


def _count_images(uow: UnitOfWork, statuses: tuple[ImageStatus, ...]) -> int:
    """Index-backed (idx_image_status): its cost grows with the matching rows, not the table."""
    return int(
        uow.session.scalar(sa.select(sa.func.count()).select_from(Image).where(Image.status.in_(statuses)))
        or 0
    )
