"""Assigning batches to annotators, and the annotator's own handling of an assignment.

A batch ready for annotation gets one INITIAL assignment covering its images. Revisions and
re-annotations get assignments of their own (REVISION, or a fresh INITIAL), covering exactly the
images sent back; `Image.current_assignment_id` says which assignment an image's work belongs to.
Time is tracked from start/resume to pause/submission (`active_since`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import DecimalNumber, Page, audit
from cradlepose.db.models import BatchAssignment, Image, ImageBatch, User
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, assignment_policy
from cradlepose.domain.actor import Actor
from cradlepose.domain.bounds import DbId, DueDate, Patch
from cradlepose.domain.enums import (
    AssignmentStatus,
    AssignmentType,
    AuditCategory,
    BatchStatus,
    ImageStatus,
    Role,
)
from cradlepose.domain.errors import Conflict, NotFound, ValidationFailed
from cradlepose.domain.status_changes import change_status

OPEN = tuple(sorted(access.OPEN_ASSIGNMENT_STATUSES))  # one definition: it also bounds image access
ASSIGNABLE_IMAGE = (ImageStatus.YOLO_PROCESSED, ImageStatus.UPLOADED)


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotator_id: DbId
    priority: int = Field(default=5, ge=1, le=10)
    due_date: DueDate | None = None
    special_instructions: str | None = Field(default=None, max_length=5000)
    estimated_completion_hours: int | None = Field(default=None, ge=1, le=10_000)


class AssignmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    batch_id: int
    annotator_id: int
    assigned_by: int
    assignment_type: AssignmentType
    priority: int
    special_instructions: str | None
    estimated_completion_hours: int | None
    status: AssignmentStatus
    progress_percentage: DecimalNumber
    images_completed: int
    images_total: int
    image_id: int | None = Field(
        default=None, description="a verifier's QUALITY_CHECK or SECOND_OPINION assignment: its one image"
    )
    assigned_at: dt.datetime
    acknowledged_at: dt.datetime | None
    due_date: dt.datetime | None
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    total_time_spent_minutes: int
    avg_time_per_image_minutes: DecimalNumber
    pause_count: int
    self_reported_difficulty: int | None
    completion_confidence: DecimalNumber | None
    is_paused: bool = False
    in_pool: bool = Field(
        default=False, description="held by the pool (the system account), waiting for someone"
    )


class Finishing(Patch):
    """What an annotator may say about an assignment as they pause or finish it."""

    self_reported_difficulty: int | None = Field(default=None, ge=1, le=5)
    completion_confidence: float | None = Field(default=None, ge=0, le=1)


class AssignmentFilters(BaseModel):
    status: AssignmentStatus | None = None
    assignment_type: AssignmentType | None = None
    annotator_id: int | None = None
    batch_id: int | None = None
    in_pool: bool | None = None


class AutoAssigned(BaseModel):
    assignment: AssignmentOut | None = Field(description="null when no annotator has capacity")


class HandedOver(BaseModel):
    """Where one open assignment's remaining work went (workflow.handover)."""

    assignment_id: int = Field(description="the assignment that was handed over")
    from_annotator_id: int
    to: Literal["annotator", "pool"]
    annotator_id: int | None = Field(description="the new holder; null when it went to the pool")
    now_in_assignment_id: int = Field(
        description="the assignment the remaining images belong to now (the same one, or a new one)"
    )
    images_moved: int
    drafts_kept: int = Field(description="drafts the new holder (or the next one) continues from")


class AutoAssignResult(BaseModel):
    assigned: list[AssignmentOut]
    waiting_batches: list[int] = Field(description="ready batches nobody had capacity for")
    from_pool: list[HandedOver] = Field(
        default_factory=list, description="pooled assignments handed to an annotator, highest priority first"
    )


# ------------------------------------------------------------------ admin: assigning


def assign_batch(uow: UnitOfWork, batch_id: int, command: AssignmentIn) -> AssignmentOut:
    actor = access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    annotator = eligible_annotator(uow, command.annotator_id)
    assignment = _assign(uow, actor, batch, annotator, command)
    uow.commit()
    return out(assignment)


def auto_assign_batch(uow: UnitOfWork, batch_id: int) -> AssignmentOut | None:
    """Assign one ready batch with the auto-assign policy; None when nobody has capacity."""
    actor = access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    if batch.status is not BatchStatus.READY_FOR_ANNOTATION:
        raise Conflict(f"batch {batch.id} is {batch.status.value}, not READY_FOR_ANNOTATION")
    chosen = assignment_policy.choose(candidates(uow), specialty_of(batch))
    if chosen is None:
        return None
    annotator = uow.users.require(chosen.user_id, for_update=True)
    assignment = _assign(
        uow,
        actor,
        batch,
        annotator,
        AssignmentIn(annotator_id=annotator.id, priority=batch.processing_priority),
        auto=True,
    )
    uow.commit()
    return out(assignment)


def auto_assign_all(uow: UnitOfWork) -> AutoAssignResult:
    """Every ready batch, highest priority first, to whoever the policy picks while capacity lasts."""
    actor = access.require_admin(uow.actor)
    waiting = uow.session.scalars(
        sa.select(ImageBatch)
        .where(ImageBatch.status == BatchStatus.READY_FOR_ANNOTATION)
        .order_by(ImageBatch.processing_priority.desc(), ImageBatch.uploaded_at, ImageBatch.id)
        .with_for_update()
    ).all()
    order = {b.id: i for i, b in enumerate(waiting)}
    plan = assignment_policy.plan(
        [
            assignment_policy.WaitingBatch(b.id, b.processing_priority, order[b.id], specialty_of(b))
            for b in waiting
        ],
        candidates(uow),
    )
    by_id = {b.id: b for b in waiting}
    made = []
    for batch_id, user_id in plan:
        annotator = uow.users.require(user_id, for_update=True)
        batch = by_id[batch_id]
        made.append(
            _assign(
                uow,
                actor,
                batch,
                annotator,
                AssignmentIn(annotator_id=user_id, priority=batch.processing_priority),
                auto=True,
            )
        )
    uow.commit()
    assigned_ids = {batch_id for batch_id, _ in plan}
    return AutoAssignResult(
        assigned=[out(a) for a in made], waiting_batches=[b.id for b in waiting if b.id not in assigned_ids]
    )


def candidates(uow: UnitOfWork) -> list[assignment_policy.Candidate]:
    open_counts = (
        sa.select(BatchAssignment.annotator_id, sa.func.count().label("n"))
        .where(BatchAssignment.status.in_(OPEN))
        .group_by(BatchAssignment.annotator_id)
        .subquery()
    )
    rows = uow.session.execute(
        sa.select(User, sa.func.coalesce(open_counts.c.n, 0))
        .outerjoin(open_counts, open_counts.c.annotator_id == User.id)
        .where(User.role == Role.ANNOTATOR, User.is_approved, User.is_active)
    ).all()
    return [
        assignment_policy.Candidate(
            user_id=user.id,
            specialty=user.annotation_specialty,
            open_assignments=int(count),
            max_concurrent=user.max_concurrent_batches,
            accuracy=float(user.accuracy_score),
        )
        for user, count in rows
    ]


# ------------------------------------------------------------------ the annotator's side


def acknowledge(uow: UnitOfWork, assignment_id: int) -> AssignmentOut:
    assignment = _mine(uow, assignment_id)
    old = assignment.status
    change_status(uow, assignment, AssignmentStatus.ACKNOWLEDGED)
    assignment.acknowledged_at = _now()
    _audit(uow, assignment, "ASSIGNMENT_ACKNOWLEDGED", old={"status": old}, new={"status": assignment.status})
    uow.commit()
    return out(assignment)


def start(uow: UnitOfWork, assignment_id: int) -> AssignmentOut:
    assignment = _mine(uow, assignment_id)
    old = assignment.status
    change_status(uow, assignment, AssignmentStatus.IN_PROGRESS)
    now = _now()
    assignment.started_at = assignment.started_at or now
    assignment.acknowledged_at = assignment.acknowledged_at or now
    assignment.active_since = now
    batch = uow.batches.require(assignment.batch_id, for_update=True)
    mark_batch_in_progress(uow, batch)
    _audit(uow, assignment, "ASSIGNMENT_STARTED", old={"status": old}, new={"status": assignment.status})
    uow.commit()
    return out(assignment)


def pause(uow: UnitOfWork, assignment_id: int) -> AssignmentOut:
    assignment = _mine(uow, assignment_id)
    if assignment.status is not AssignmentStatus.IN_PROGRESS or assignment.active_since is None:
        raise Conflict(f"assignment {assignment.id} is not being worked on, so it cannot pause")
    close_active_time(assignment)
    assignment.pause_count += 1
    _audit(
        uow,
        assignment,
        "ASSIGNMENT_PAUSED",
        new={
            "pause_count": assignment.pause_count,
            "total_time_spent_minutes": assignment.total_time_spent_minutes,
        },
    )
    uow.commit()
    return out(assignment)


def resume(uow: UnitOfWork, assignment_id: int) -> AssignmentOut:
    assignment = _mine(uow, assignment_id)
    if assignment.active_since is not None:
        raise Conflict(f"assignment {assignment.id} is not paused")
    if assignment.status is AssignmentStatus.OVERDUE:
        change_status(uow, assignment, AssignmentStatus.IN_PROGRESS)
    if assignment.status is not AssignmentStatus.IN_PROGRESS:
        raise Conflict(f"assignment {assignment.id} is {assignment.status.value}; start it first")
    assignment.active_since = _now()
    _audit(uow, assignment, "ASSIGNMENT_RESUMED", new={"status": assignment.status})
    uow.commit()
    return out(assignment)


def report(uow: UnitOfWork, assignment_id: int, command: Finishing) -> AssignmentOut:
    assignment = _mine(uow, assignment_id)
    values = command.model_dump(exclude_unset=True)
    if not values:
        raise ValidationFailed.single("(body)", "nothing to record")
    if "completion_confidence" in values and values["completion_confidence"] is not None:
        values["completion_confidence"] = Decimal(str(round(values["completion_confidence"], 2)))
    for name, value in values.items():
        setattr(assignment, name, value)
    _audit(uow, assignment, "ASSIGNMENT_SELF_ASSESSED", new=values)
    uow.commit()
    return out(assignment)


# ------------------------------------------------------------------ reading


def list_assignments(
    uow: UnitOfWork, filters: AssignmentFilters, cursor: str | None, limit: int
) -> Page[AssignmentOut]:
    actor = access.require_worker(uow.actor)
    query = sa.select(BatchAssignment)
    if actor.role is not Role.ADMIN:
        query = query.where(BatchAssignment.annotator_id == actor.user_id)
    elif filters.annotator_id is not None:
        query = query.where(BatchAssignment.annotator_id == filters.annotator_id)
    if filters.status is not None:
        query = query.where(BatchAssignment.status == filters.status)
    if filters.assignment_type is not None:
        query = query.where(BatchAssignment.assignment_type == filters.assignment_type)
    if filters.batch_id is not None:
        query = query.where(BatchAssignment.batch_id == filters.batch_id)
    pool = uow.system_user_id()
    if filters.in_pool is not None and actor.role is Role.ADMIN:
        holder = BatchAssignment.annotator_id == (pool or 0)
        query = query.where(holder if filters.in_pool else ~holder)
    return keyset_page(
        uow.session,
        query,
        order_by=[BatchAssignment.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=lambda a: out(a, pool),
    )


def get_assignment(uow: UnitOfWork, assignment_id: int) -> AssignmentOut:
    actor = access.require_worker(uow.actor)
    assignment = uow.assignments.get(assignment_id)
    if assignment is None or (actor.role is not Role.ADMIN and assignment.annotator_id != actor.user_id):
        raise NotFound("BatchAssignment", assignment_id)
    return out(assignment, uow.system_user_id())


def out(assignment: BatchAssignment, pool_id: int | None = None) -> AssignmentOut:
    return AssignmentOut.model_validate(assignment).model_copy(
        update={
            "is_paused": assignment.status is AssignmentStatus.IN_PROGRESS
            and assignment.active_since is None,
            "in_pool": pool_id is not None and assignment.annotator_id == pool_id,
        }
    )


# ------------------------------------------------------------------ shared with annotations and verifications


def open_assignment_for(
    uow: UnitOfWork,
    actor: Actor,
    batch: ImageBatch,
    annotator: User,
    kind: AssignmentType,
    images: list[Image],
    instructions: str | None,
) -> BatchAssignment:
    """An assignment of `kind` for exactly these images (a revision or a re-annotation).

    An annotator has at most one open REVISION assignment per batch: further images join it.
    """
    assignment = None
    if kind is AssignmentType.REVISION:
        assignment = uow.session.scalar(
            sa.select(BatchAssignment)
            .where(
                BatchAssignment.batch_id == batch.id,
                BatchAssignment.annotator_id == annotator.id,
                BatchAssignment.assignment_type == AssignmentType.REVISION,
                BatchAssignment.status.in_(OPEN),
            )
            .with_for_update()
        )
    if assignment is None:
        assignment = uow.assignments.add(
            BatchAssignment(
                batch_id=batch.id,
                annotator_id=annotator.id,
                assigned_by=actor.user_id or uow.system_user_id(),
                assignment_type=kind,
                priority=batch.processing_priority,
                special_instructions=instructions,
                images_total=0,
            )
        )
        _audit(
            uow,
            assignment,
            f"{kind.value}_ASSIGNMENT_CREATED",
            new={"annotator_id": annotator.id, "batch_id": batch.id},
        )
    elif instructions:
        assignment.special_instructions = "\n\n".join(
            filter(None, [assignment.special_instructions, instructions])
        )
    assignment.images_total += len(images)
    update_progress(assignment)
    for image in images:
        image.current_assignment_id = assignment.id
        image.current_annotator = annotator.id
    return assignment


def update_progress(assignment: BatchAssignment) -> None:
    total = assignment.images_total
    assignment.progress_percentage = (
        Decimal(100 * assignment.images_completed / total).quantize(Decimal("0.01"))
        if total
        else Decimal("0.00")
    )
    if assignment.images_completed:
        average = assignment.total_time_spent_minutes / assignment.images_completed
        assignment.avg_time_per_image_minutes = Decimal(str(round(average, 2)))


def close_active_time(assignment: BatchAssignment) -> None:
    """Add the current stretch of work to the total and stop the clock."""
    if assignment.active_since is not None:
        elapsed = (_now() - assignment.active_since).total_seconds() / 60
        assignment.total_time_spent_minutes += round(elapsed)
        assignment.active_since = None


def mark_batch_in_progress(uow: UnitOfWork, batch: ImageBatch) -> None:
    if batch.status in (BatchStatus.ASSIGNED, BatchStatus.READY_FOR_ANNOTATION, BatchStatus.COMPLETED):
        old = batch.status
        change_status(uow, batch, BatchStatus.IN_PROGRESS)
        batch_audit(uow, batch, "BATCH_IN_PROGRESS", old={"status": old}, new={"status": batch.status})


def batch_audit(uow: UnitOfWork, batch: ImageBatch, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.ANNOTATION, "ImageBatch", batch.id, batch.batch_name, **details)


def _assign(
    uow: UnitOfWork,
    actor: Actor,
    batch: ImageBatch,
    annotator: User,
    command: AssignmentIn,
    *,
    auto: bool = False,
) -> BatchAssignment:
    if batch.status is not BatchStatus.READY_FOR_ANNOTATION:
        raise Conflict(
            f"batch {batch.id} is {batch.status.value}; only READY_FOR_ANNOTATION batches are assigned"
        )
    check_capacity(uow, annotator)
    images = uow.session.scalars(
        sa.select(Image)
        .where(Image.batch_id == batch.id, Image.status.in_(ASSIGNABLE_IMAGE))
        .with_for_update()
    ).all()
    if not images:
        raise Conflict(f"batch {batch.id} has no image to annotate")
    assignment = uow.assignments.add(
        BatchAssignment(
            batch_id=batch.id,
            annotator_id=annotator.id,
            assigned_by=actor.user_id or uow.system_user_id(),
            assignment_type=AssignmentType.INITIAL,
            priority=command.priority,
            special_instructions=command.special_instructions,
            estimated_completion_hours=command.estimated_completion_hours,
            due_date=command.due_date or batch.due_date,
            images_total=len(images),
        )
    )
    for image in images:
        change_status(uow, image, ImageStatus.ASSIGNED)
        image.current_annotator = annotator.id
        image.current_assignment_id = assignment.id
    old = batch.status
    change_status(uow, batch, BatchStatus.ASSIGNED)
    batch.assigned_count = len(images)
    _audit(
        uow,
        assignment,
        "BATCH_AUTO_ASSIGNED" if auto else "BATCH_ASSIGNED",
        new={
            "annotator_id": annotator.id,
            "batch_id": batch.id,
            "images_total": len(images),
            "priority": command.priority,
            "due_date": command.due_date or batch.due_date,
        },
        batch_context={"batch_id": batch.id, "old_status": old.value, "new_status": batch.status.value},
    )
    return assignment


def eligible_annotator(uow: UnitOfWork, user_id: int) -> User:
    annotator = uow.users.get(user_id)
    if annotator is None or annotator.username == "system":
        raise ValidationFailed.single("annotator_id", f"user {user_id} does not exist")
    uow.session.refresh(annotator, with_for_update=True)  # capacity is checked and used atomically
    if annotator.role is not Role.ANNOTATOR:
        raise Conflict(
            f"{annotator.username} is a {annotator.role.value}; only annotators can be assigned batches"
        )
    if not annotator.is_approved:
        raise Conflict(f"{annotator.username} is not approved yet")
    if not annotator.is_active:
        raise Conflict(f"{annotator.username} is deactivated")
    return annotator


def check_capacity(uow: UnitOfWork, annotator: User) -> None:
    open_count = int(
        uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(BatchAssignment)
            .where(BatchAssignment.annotator_id == annotator.id, BatchAssignment.status.in_(OPEN))
        )
        or 0
    )
    if open_count >= annotator.max_concurrent_batches:
        raise Conflict(
            f"{annotator.username} already has {open_count} open assignment(s); "
            f"their limit (max_concurrent_batches) is {annotator.max_concurrent_batches}"
        )


def _mine(uow: UnitOfWork, assignment_id: int) -> BatchAssignment:
    actor = access.require_role(uow.actor, Role.ANNOTATOR)
    assignment = uow.assignments.get(assignment_id)
    if assignment is None or assignment.annotator_id != actor.user_id:
        raise NotFound("BatchAssignment", assignment_id)
    uow.session.refresh(assignment, with_for_update=True)
    return assignment


def specialty_of(batch: ImageBatch) -> str | None:
    value = (batch.upload_metadata or {}).get("specialty")
    return str(value) if value else None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _audit(uow: UnitOfWork, assignment: BatchAssignment, action: str, **details: Any) -> None:
    details.setdefault("batch_context", {"batch_id": assignment.batch_id})
    audit(uow, action, AuditCategory.ANNOTATION, "BatchAssignment", assignment.id, **details)
