"""Handing open work over: admins unassign and reassign assignments, and a deactivated
annotator's open assignments go on without them.

The pool is the system account: an assignment it holds waits for an admin's reassign or for
`POST /auto-assignments`, and nobody can open its images meanwhile.

What moves, and why:
- an assignment with nothing handed in yet moves whole: the new holder (or the pool) takes the
  same row, with its drafts, and goes on from where the last person stopped;
- an assignment with images already handed in is split: those images (and the annotations
  submitted for them) stay with the person who did them, so authorship, metrics and the "no one
  verifies their own work" rule stay true; the images still to do, with their drafts, go to a new
  assignment of the same type for the new holder (or the pool), and the old one is SUBMITTED
  (COMPLETED once its images all have an outcome).
The old holder loses access at once: image access follows the assignment's holder
(common.image_access).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from cradlepose.common.use_cases import audit
from cradlepose.db.models import Annotation, BatchAssignment, Image, User
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, assignment_policy
from cradlepose.domain.actor import Actor
from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import AnnotationStatus, AssignmentStatus, AuditCategory, ImageStatus
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.status_changes import change_status
from cradlepose.workflow import assignments as assignment_service
from cradlepose.workflow.assignments import HandedOver

WORKABLE = (
    ImageStatus.ASSIGNED,
    ImageStatus.IN_PROGRESS,
    ImageStatus.ANNOTATED,
    ImageStatus.REQUIRES_REVISION,
)
FINAL = (ImageStatus.APPROVED, ImageStatus.REJECTED)
EDITABLE = (AnnotationStatus.DRAFT, AnnotationStatus.COMPLETED)


class Reassignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotator_id: DbId


# ------------------------------------------------------------------ admin actions


def unassign(uow: UnitOfWork, assignment_id: int) -> HandedOver:
    """Take an open assignment from its annotator and put its remaining work in the pool."""
    actor = access.require_admin(uow.actor)
    assignment = _open_assignment(uow, assignment_id)
    if _pool_id(uow) == assignment.annotator_id:
        raise Conflict(f"assignment {assignment.id} is already in the pool")
    result = hand_over(uow, actor, assignment, None, reason="unassigned by an admin")
    uow.commit()
    return result


def reassign(uow: UnitOfWork, assignment_id: int, command: Reassignment) -> HandedOver:
    """Give an open assignment's remaining work (from a person or the pool) to another annotator."""
    actor = access.require_admin(uow.actor)
    assignment = _open_assignment(uow, assignment_id)
    if command.annotator_id == assignment.annotator_id:
        raise Conflict(f"assignment {assignment.id} is already held by user {command.annotator_id}")
    annotator = assignment_service.eligible_annotator(uow, command.annotator_id)
    assignment_service.check_capacity(uow, annotator)
    result = hand_over(uow, actor, assignment, annotator, reason="reassigned by an admin")
    uow.commit()
    return result


def return_open_work(uow: UnitOfWork, user_id: int) -> list[HandedOver]:
    """Every open assignment of a person who can no longer work, highest priority first, to
    whoever the auto-assign policy picks (never them), or to the pool when nobody has capacity.

    Does not commit: deactivation calls it inside its own transaction, so the account and its
    work change together."""
    actor = access.require_admin(uow.actor)
    held = uow.session.scalars(
        sa.select(BatchAssignment)
        .where(
            BatchAssignment.annotator_id == user_id,
            BatchAssignment.status.in_(assignment_service.OPEN),
        )
        .order_by(BatchAssignment.priority.desc(), BatchAssignment.id)
        .with_for_update()
    ).all()
    results = []
    for assignment in held:
        if not _remaining_images(uow, assignment):
            continue  # everything handed in: nothing waits on this person
        batch = uow.batches.require(assignment.batch_id)
        uow.flush()  # the candidates below count the assignments moved so far
        chosen = assignment_policy.choose(
            assignment_service.candidates(uow),
            assignment_service.specialty_of(batch),
            exclude=frozenset({user_id}),
        )
        annotator = uow.users.require(chosen.user_id, for_update=True) if chosen else None
        results.append(hand_over(uow, actor, assignment, annotator, reason="its annotator was deactivated"))
    return results


def assign_pool(uow: UnitOfWork) -> list[HandedOver]:
    """Hand every pooled assignment, highest priority first, to whoever the auto-assign policy
    picks while capacity lasts; the rest stay in the pool."""
    actor = access.require_admin(uow.actor)
    pool = _pool_id(uow)
    if pool is None:
        return []
    pooled = uow.session.scalars(
        sa.select(BatchAssignment)
        .where(BatchAssignment.annotator_id == pool, BatchAssignment.status.in_(assignment_service.OPEN))
        .order_by(BatchAssignment.priority.desc(), BatchAssignment.id)
        .with_for_update()
    ).all()
    results = []
    for assignment in pooled:
        if not _remaining_images(uow, assignment):
            continue
        uow.flush()
        chosen = assignment_policy.choose(
            assignment_service.candidates(uow),
            assignment_service.specialty_of(uow.batches.require(assignment.batch_id)),
        )
        if chosen is None:
            break
        annotator = uow.users.require(chosen.user_id, for_update=True)
        results.append(hand_over(uow, actor, assignment, annotator, reason="handed out from the pool"))
    uow.commit()
    return results


# ------------------------------------------------------------------ the move itself


def hand_over(
    uow: UnitOfWork, actor: Actor, assignment: BatchAssignment, annotator: User | None, *, reason: str
) -> HandedOver:
    images = _remaining_images(uow, assignment)
    if not images:
        raise Conflict(f"assignment {assignment.id} has no image left to annotate; nothing to hand over")
    holder_id = annotator.id if annotator is not None else _require_pool_id(uow)
    previous = assignment.annotator_id
    assignment_service.close_active_time(assignment)
    if assignment.images_completed == 0:
        target = assignment
        assignment.annotator_id = holder_id
    else:
        target = _split(uow, actor, assignment, holder_id, images)
    for image in images:
        image.current_assignment_id = target.id
        image.current_annotator = annotator.id if annotator is not None else None
    drafts = _drafts_of(uow, images, assignment.id)
    for draft in drafts:
        draft.batch_assignment_id = target.id
    result = HandedOver(
        assignment_id=assignment.id,
        from_annotator_id=previous,
        to="annotator" if annotator is not None else "pool",
        annotator_id=annotator.id if annotator is not None else None,
        now_in_assignment_id=target.id,
        images_moved=len(images),
        drafts_kept=len(drafts),
    )
    _audit(
        uow,
        assignment,
        "ASSIGNMENT_REASSIGNED" if annotator is not None else "ASSIGNMENT_UNASSIGNED",
        old={"annotator_id": previous},
        new=result.model_dump(mode="json"),
        summary=reason,
    )
    return result


def _split(
    uow: UnitOfWork, actor: Actor, assignment: BatchAssignment, holder_id: int, images: list[Image]
) -> BatchAssignment:
    """A new assignment for the images still to do; the old one keeps what was handed in."""
    new = uow.assignments.add(
        BatchAssignment(
            batch_id=assignment.batch_id,
            annotator_id=holder_id,
            assigned_by=actor.user_id or uow.system_user_id(),
            assignment_type=assignment.assignment_type,
            priority=assignment.priority,
            special_instructions=assignment.special_instructions,
            estimated_completion_hours=assignment.estimated_completion_hours,
            due_date=assignment.due_date,
            images_total=len(images),
        )
    )
    assignment.images_total = assignment.images_completed
    assignment_service.update_progress(assignment)
    if assignment.status in (AssignmentStatus.ASSIGNED, AssignmentStatus.ACKNOWLEDGED):
        change_status(uow, assignment, AssignmentStatus.IN_PROGRESS)
    change_status(uow, assignment, AssignmentStatus.SUBMITTED)
    uow.flush()
    if _all_final(uow, assignment.id, moving=[i.id for i in images]):
        change_status(uow, assignment, AssignmentStatus.COMPLETED)
        assignment.completed_at = dt.datetime.now(dt.UTC)
    _audit(
        uow,
        new,
        f"{new.assignment_type.value}_ASSIGNMENT_CREATED",
        new={"annotator_id": holder_id, "batch_id": new.batch_id, "split_from": assignment.id},
    )
    return new


# ------------------------------------------------------------------ helpers


def _open_assignment(uow: UnitOfWork, assignment_id: int) -> BatchAssignment:
    assignment = uow.assignments.get(assignment_id)
    if assignment is None:
        raise NotFound("BatchAssignment", assignment_id)
    uow.session.refresh(assignment, with_for_update=True)
    if assignment.status not in access.OPEN_ASSIGNMENT_STATUSES:
        raise Conflict(
            f"assignment {assignment.id} is {assignment.status.value}; only open assignments are handed over"
        )
    return assignment


def _remaining_images(uow: UnitOfWork, assignment: BatchAssignment) -> list[Image]:
    return list(
        uow.session.scalars(
            sa.select(Image)
            .where(Image.current_assignment_id == assignment.id, Image.status.in_(WORKABLE))
            .order_by(Image.id)
            .with_for_update()
        ).all()
    )


def _drafts_of(uow: UnitOfWork, images: list[Image], assignment_id: int) -> list[Annotation]:
    return list(
        uow.session.scalars(
            sa.select(Annotation)
            .where(
                Annotation.image_id.in_([i.id for i in images]),
                Annotation.batch_assignment_id == assignment_id,
                Annotation.status.in_(EDITABLE),
            )
            .with_for_update()
        ).all()
    )


def _all_final(uow: UnitOfWork, assignment_id: int, moving: list[int]) -> bool:
    unfinished = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Image)
        .where(
            Image.current_assignment_id == assignment_id,
            Image.id.not_in(moving),
            Image.status.not_in(FINAL),
        )
    )
    return unfinished == 0


def _pool_id(uow: UnitOfWork) -> int | None:
    return uow.system_user_id()


def _require_pool_id(uow: UnitOfWork) -> int:
    pool = _pool_id(uow)
    if pool is None:
        raise Conflict("this database has no system account to hold pooled assignments")
    return pool


def _audit(uow: UnitOfWork, assignment: BatchAssignment, action: str, **details: Any) -> None:
    details.setdefault("batch_context", {"batch_id": assignment.batch_id})
    audit(uow, action, AuditCategory.ANNOTATION, "BatchAssignment", assignment.id, **details)
