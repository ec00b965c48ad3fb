"""The annotator's work on one image: the next image, drafts, submission.

One Annotation row is one version of an image's keypoints. An annotator edits the DRAFT of the
image's current assignment as often as they like, then submits it; a revision request makes the
next draft version n+1 (`is_revision`, `original_annotation_id`). Every write names the version
it was based on (the ETag, `row_version`): a stale write gets 412 and changes nothing.

What the annotator changed is computed here from YOLO's suggestion (domain.keypoint_math), never
taken from the client.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm.exc import StaleDataError

from cradlepose.common.image_access import audit_phi_read, visible_image
from cradlepose.common.use_cases import DecimalNumber, audit
from cradlepose.db.models import Annotation, BatchAssignment, Image, KeypointSchema, Verification
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, keypoint_math
from cradlepose.domain.enums import (
    AnnotationStatus,
    AssignmentStatus,
    AssignmentType,
    AuditCategory,
    DifficultyRating,
    ImageStatus,
    Role,
)
from cradlepose.domain.errors import Conflict, NotFound, StaleVersion, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet, completeness_problems, validate_keypoints
from cradlepose.domain.status_changes import change_status
from cradlepose.domain.verification_rules import gold_check_passed
from cradlepose.workflow import assignments as assignment_service
from cradlepose.workflow import review_routing

WORKABLE = (
    ImageStatus.ASSIGNED,
    ImageStatus.IN_PROGRESS,
    ImageStatus.ANNOTATED,
    ImageStatus.REQUIRES_REVISION,
)
EDITABLE = (AnnotationStatus.DRAFT, AnnotationStatus.COMPLETED)
TOOL_VERSION = "cradle-web-1"


class AnnotationIn(BaseModel):
    """A draft or a submission. `keypoints` is the seed's keypoint structure ({"keypoints": [...]});
    `modifications_from_yolo` in it is ignored: the server computes it."""

    model_config = ConfigDict(extra="forbid")

    keypoints: dict[str, Any]
    keypoint_notes: dict[str, str] | None = Field(default=None, description="notes by keypoint id")
    annotation_quality_score: float | None = Field(
        default=None, ge=0, le=1, description="self-assessment 0–1"
    )
    difficulty_rating: DifficultyRating | None = None
    difficulty_reasons: list[str] | None = Field(default=None, max_length=20)
    general_notes: str | None = Field(default=None, max_length=5000)
    image_quality_feedback: str | None = Field(default=None, max_length=5000)
    suggested_improvements: str | None = Field(default=None, max_length=5000)
    time_spent_seconds: int = Field(
        default=0, ge=0, le=24 * 3600, description="time spent on this version so far"
    )
    pause_count: int = Field(default=0, ge=0, le=10_000)
    zoom_level_used: float | None = Field(default=None, gt=0, le=99)
    annotation_tool_version: str | None = Field(default=None, max_length=20)
    mark_annotated: bool = Field(
        default=False,
        description="the annotator is done with this image but submits later: checked like a submission "
        "(422 naming what is missing), then the draft is COMPLETED and the image ANNOTATED; a later save "
        "without it makes them DRAFT and IN_PROGRESS again",
    )


class AnnotationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    image_id: int
    batch_assignment_id: int
    refined_keypoints: dict[str, Any]
    keypoint_confidence: dict[str, Any] | None
    keypoint_visibility: dict[str, Any] | None
    keypoint_notes: dict[str, Any] | None
    annotation_quality_score: DecimalNumber | None
    difficulty_rating: DifficultyRating | None
    difficulty_reasons: list[Any] | None
    annotation_tool_version: str | None
    total_keypoints_modified: int
    major_corrections_made: bool
    used_ai_suggestions: bool
    general_notes: str | None
    image_quality_feedback: str | None
    suggested_improvements: str | None
    version: int
    is_revision: bool
    original_annotation_id: int | None
    revision_reason: str | None
    time_spent_seconds: int
    pause_count: int
    zoom_level_used: DecimalNumber | None
    status: AnnotationStatus
    created_at: dt.datetime
    updated_at: dt.datetime
    submitted_at: dt.datetime | None
    row_version: int = Field(description="send it back as If-Match to change this annotation")


class RevisionRequest(BaseModel):
    decision: str
    feedback_to_annotator: str | None
    problematic_keypoints: list[int]
    previous_annotation_id: int


class WorkItem(BaseModel):
    """Everything the workbench needs for one image."""

    image_id: int
    batch_id: int
    assignment_id: int
    width: int
    height: int
    status: ImageStatus
    schema_id: int
    yolo_keypoints: dict[str, Any] | None
    annotation: AnnotationOut | None = Field(description="the draft to continue, if any")
    revision: RevisionRequest | None = Field(description="what the verifier asked for, on a revision")
    remaining: int = Field(description="images of the assignment still to do, this one included")


class NextImage(BaseModel):
    item: WorkItem | None = Field(description="null when every image of the assignment is done")


# ------------------------------------------------------------------ reading


def next_image(uow: UnitOfWork, assignment_id: int) -> WorkItem | None:
    """The assignment's next image: one already started first, then in upload order."""
    assignment = _my_assignment(uow, assignment_id)
    rows = uow.session.scalars(
        sa.select(Image)
        .where(Image.current_assignment_id == assignment.id, Image.status.in_(WORKABLE))
        .order_by(sa.case((Image.status == ImageStatus.IN_PROGRESS, 0), else_=1), Image.id)
        .limit(1)
    ).all()
    if not rows:
        return None
    remaining = int(
        uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Image)
            .where(Image.current_assignment_id == assignment.id, Image.status.in_(WORKABLE))
        )
        or 0
    )
    return _work_item(uow, rows[0], assignment, remaining)


def work_item(uow: UnitOfWork, image_id: int) -> WorkItem:
    image, assignment = _my_image(uow, image_id)
    return _work_item(uow, image, assignment, remaining=1)


def versions(uow: UnitOfWork, image_id: int) -> list[AnnotationOut]:
    """Every annotation version of an image, oldest first: admins, and the annotator or verifier
    whose open work covers the image."""
    actor = access.require_worker(uow.actor)
    image = visible_image(uow, actor, image_id)
    rows = uow.session.scalars(
        sa.select(Annotation)
        .where(Annotation.image_id == image_id)
        .order_by(Annotation.version, Annotation.id)
    ).all()
    result = [AnnotationOut.model_validate(a) for a in rows]
    audit_phi_read(
        uow, "ANNOTATIONS_VIEWED", "Image", image.id, category=AuditCategory.ANNOTATION,
        details={"annotations": [a.id for a in result]},
    )  # fmt: skip
    return result


# ------------------------------------------------------------------ writing


def save_draft(uow: UnitOfWork, image_id: int, command: AnnotationIn, if_match: int | None) -> AnnotationOut:
    image, assignment = _my_image(uow, image_id, for_update=True)
    schema = _schema_of(uow, image)
    payload = validate_keypoints(command.keypoints, schema, image.width, image.height)
    if command.mark_annotated:
        schema_row = _schema_row(uow, image)
        problems = completeness_problems(
            payload, schema, list(schema_row.required_keypoints or []), schema_row.max_missing_keypoints
        )
        if problems:
            raise ValidationFailed(problems)
    annotation = _current_draft(uow, image, assignment)
    if annotation is None:
        if if_match is not None:
            raise StaleVersion("Annotation", if_match, "none (no draft yet)")
        annotation = _new_version(uow, image, assignment, payload, command)
        action = "ANNOTATION_DRAFT_CREATED"
    else:
        _check_version(annotation, if_match)
        _fill(annotation, image, payload, command)
        action = "ANNOTATION_DRAFT_SAVED"
    _mark(uow, image, annotation, annotated=command.mark_annotated)
    _flush_versioned(uow, annotation, if_match)
    audit_annotation(
        uow,
        annotation,
        action,
        new={
            "version": annotation.version,
            "row_version": annotation.row_version,
            "keypoints": len(payload.keypoints),
        },
    )
    uow.commit()
    return AnnotationOut.model_validate(annotation)


def submit(uow: UnitOfWork, image_id: int, if_match: int | None) -> AnnotationOut:
    """Hand the draft in for verification: complete against the schema, or a 422 naming what is missing."""
    image, assignment = _my_image(uow, image_id, for_update=True)
    annotation = _current_draft(uow, image, assignment)
    if annotation is None:
        raise Conflict(f"image {image_id} has no draft to submit; save one first")
    _check_version(annotation, if_match, required=True)
    schema_row = _schema_row(uow, image)
    schema = SchemaDefinition.model_validate(schema_row.schema_definition)
    payload = KeypointSet.model_validate(annotation.refined_keypoints)
    problems = completeness_problems(
        payload, schema, list(schema_row.required_keypoints or []), schema_row.max_missing_keypoints
    )
    if problems:
        raise ValidationFailed(problems)
    change_status(uow, annotation, AnnotationStatus.SUBMITTED)
    annotation.submitted_at = dt.datetime.now(dt.UTC)
    change_status(uow, image, ImageStatus.SUBMITTED)
    hand_in(uow, assignment)
    _flush_versioned(uow, annotation, if_match)
    gold_oks = review_routing.check_gold(uow, image, annotation)
    gold_failed = gold_oks is not None and not gold_check_passed(gold_oks)
    review_routing.flag_submitted(uow, image, annotation, gold_failed=gold_failed)
    if gold_oks is not None:
        review_routing.open_quality_check(uow, image, gold_oks, assignment.annotator_id)
    audit_annotation(
        uow,
        annotation,
        "ANNOTATION_SUBMITTED",
        new={
            "version": annotation.version,
            "total_keypoints_modified": annotation.total_keypoints_modified,
            "major_corrections_made": annotation.major_corrections_made,
            "modifications_from_yolo": annotation.refined_keypoints.get("modifications_from_yolo"),
        },
    )
    uow.commit()
    return AnnotationOut.model_validate(annotation)


def hand_in(uow: UnitOfWork, assignment: BatchAssignment) -> BatchAssignment:
    """Count one more image handed in (submitted, or flagged unusable); the last one submits the
    assignment."""
    assignment = uow.assignments.require(assignment.id, for_update=True)
    assignment.images_completed += 1
    if assignment.images_completed >= assignment.images_total:
        assignment_service.close_active_time(assignment)
        if assignment.status is AssignmentStatus.ASSIGNED:
            change_status(uow, assignment, AssignmentStatus.IN_PROGRESS)
        change_status(uow, assignment, AssignmentStatus.SUBMITTED)
    assignment_service.update_progress(assignment)
    return assignment


def workable_image(uow: UnitOfWork, image_id: int) -> tuple[Image, BatchAssignment]:
    """The caller's image, locked, that their started, open assignment covers; 404/409 otherwise."""
    return _my_image(uow, image_id, for_update=True)


# ------------------------------------------------------------------ helpers


def _mark(uow: UnitOfWork, image: Image, annotation: Annotation, *, annotated: bool) -> None:
    """A saved draft's statuses: DRAFT / IN_PROGRESS while worked on, COMPLETED / ANNOTATED when
    the annotator marked it done (to submit later)."""
    if image.status in (ImageStatus.ASSIGNED, ImageStatus.REQUIRES_REVISION):
        change_status(uow, image, ImageStatus.IN_PROGRESS)
    if annotated:
        if image.status is ImageStatus.IN_PROGRESS:
            change_status(uow, image, ImageStatus.ANNOTATED)
        if annotation.status is AnnotationStatus.DRAFT:
            change_status(uow, annotation, AnnotationStatus.COMPLETED)
    else:
        if image.status is ImageStatus.ANNOTATED:
            change_status(uow, image, ImageStatus.IN_PROGRESS)
        if annotation.status is AnnotationStatus.COMPLETED:
            change_status(uow, annotation, AnnotationStatus.DRAFT)


def _work_item(uow: UnitOfWork, image: Image, assignment: BatchAssignment, remaining: int) -> WorkItem:
    draft = _current_draft(uow, image, assignment)
    revision = (
        _revision_request(uow, image) if assignment.assignment_type is AssignmentType.REVISION else None
    )
    batch = uow.batches.require(image.batch_id)
    return WorkItem(
        image_id=image.id,
        batch_id=image.batch_id,
        assignment_id=assignment.id,
        width=image.width,
        height=image.height,
        status=image.status,
        schema_id=batch.keypoint_schema_id,
        yolo_keypoints=image.yolo_keypoints,
        annotation=AnnotationOut.model_validate(draft) if draft else None,
        revision=revision,
        remaining=remaining,
    )


def _revision_request(uow: UnitOfWork, image: Image) -> RevisionRequest | None:
    row = uow.session.execute(
        sa.select(Verification, Annotation)
        .join(Annotation, Annotation.id == Verification.annotation_id)
        .where(Annotation.image_id == image.id, Verification.is_final_decision)
        .order_by(Verification.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    verification, annotation = row
    return RevisionRequest(
        decision=verification.decision.value,
        feedback_to_annotator=verification.feedback_to_annotator,
        problematic_keypoints=[int(k) for k in verification.problematic_keypoints or []],
        previous_annotation_id=annotation.id,
    )


def _my_assignment(uow: UnitOfWork, assignment_id: int) -> BatchAssignment:
    actor = access.require_role(uow.actor, Role.ANNOTATOR)
    assignment = uow.assignments.get(assignment_id)
    if assignment is None or assignment.annotator_id != actor.user_id:
        raise NotFound("BatchAssignment", assignment_id)
    return assignment


def _my_image(uow: UnitOfWork, image_id: int, *, for_update: bool = False) -> tuple[Image, BatchAssignment]:
    actor = access.require_role(uow.actor, Role.ANNOTATOR)
    image = uow.images.get(image_id)
    if image is None or image.current_annotator != actor.user_id or image.current_assignment_id is None:
        raise NotFound("Image", image_id)
    if for_update:
        uow.session.refresh(image, with_for_update=True)
    assignment = uow.assignments.require(image.current_assignment_id)
    # Access ends with the assignment: a handed-in, completed or reassigned image is not found.
    if assignment.annotator_id != actor.user_id or assignment.status not in access.OPEN_ASSIGNMENT_STATUSES:
        raise NotFound("Image", image_id)
    if image.status not in WORKABLE:
        raise Conflict(f"image {image.id} is {image.status.value}: it is not waiting for your annotation")
    if assignment.status in (AssignmentStatus.ASSIGNED, AssignmentStatus.ACKNOWLEDGED) and for_update:
        raise Conflict(f"start assignment {assignment.id} before annotating its images")
    return image, assignment


def _current_draft(uow: UnitOfWork, image: Image, assignment: BatchAssignment) -> Annotation | None:
    return uow.session.scalar(
        sa.select(Annotation)
        .where(
            Annotation.image_id == image.id,
            Annotation.batch_assignment_id == assignment.id,
            Annotation.status.in_(EDITABLE),
        )
        .order_by(Annotation.version.desc())
        .limit(1)
    )


def _new_version(
    uow: UnitOfWork, image: Image, assignment: BatchAssignment, payload: KeypointSet, command: AnnotationIn
) -> Annotation:
    previous = uow.session.scalar(
        sa.select(Annotation)
        .where(Annotation.image_id == image.id)
        .order_by(Annotation.version.desc())
        .limit(1)
    )
    annotation = Annotation(
        image_id=image.id,
        batch_assignment_id=assignment.id,
        version=previous.version + 1 if previous else 1,
        is_revision=previous is not None,
        original_annotation_id=previous.id if previous else None,
        revision_reason=_latest_feedback(uow, image) if previous else None,
        used_ai_suggestions=image.yolo_keypoints is not None,
        refined_keypoints={},
        time_spent_seconds=0,
        status=AnnotationStatus.DRAFT,
    )
    _fill(annotation, image, payload, command)
    uow.session.add(annotation)
    return annotation


def _fill(annotation: Annotation, image: Image, payload: KeypointSet, command: AnnotationIn) -> None:
    yolo = KeypointSet.model_validate(image.yolo_keypoints) if image.yolo_keypoints else None
    comparison = keypoint_math.compare(yolo, payload)
    stored = payload.model_copy(update={"modifications_from_yolo": comparison.modifications})
    annotation.refined_keypoints = stored.model_dump(mode="json")
    annotation.keypoint_confidence = {
        str(k.id): k.confidence for k in payload.keypoints if k.confidence is not None
    }
    annotation.keypoint_visibility = {str(k.id): int(k.visible) for k in payload.keypoints}
    annotation.keypoint_notes = command.keypoint_notes
    annotation.total_keypoints_modified = comparison.total_keypoints_modified
    annotation.major_corrections_made = comparison.major_corrections_made
    annotation.annotation_quality_score = (
        Decimal(str(round(command.annotation_quality_score, 2)))
        if command.annotation_quality_score is not None
        else None
    )
    annotation.difficulty_rating = command.difficulty_rating
    annotation.difficulty_reasons = command.difficulty_reasons
    annotation.general_notes = command.general_notes
    annotation.image_quality_feedback = command.image_quality_feedback
    annotation.suggested_improvements = command.suggested_improvements
    annotation.time_spent_seconds = command.time_spent_seconds
    annotation.pause_count = command.pause_count
    annotation.zoom_level_used = (
        Decimal(str(round(command.zoom_level_used, 1))) if command.zoom_level_used else None
    )
    annotation.annotation_tool_version = command.annotation_tool_version or TOOL_VERSION


def _latest_feedback(uow: UnitOfWork, image: Image) -> str | None:
    request = _revision_request(uow, image)
    return request.feedback_to_annotator if request else None


def _check_version(annotation: Annotation, if_match: int | None, *, required: bool = False) -> None:
    if if_match is None:
        if required:
            raise StaleVersion("Annotation", "none (send If-Match)", annotation.row_version)
        return
    if if_match != annotation.row_version:
        raise StaleVersion("Annotation", if_match, annotation.row_version)


def _flush_versioned(uow: UnitOfWork, annotation: Annotation, if_match: int | None) -> None:
    """Write now: a concurrent writer that read the same version loses here (412), not at commit."""
    try:
        uow.flush()
    except StaleDataError:
        raise StaleVersion("Annotation", if_match, "newer") from None


def _schema_row(uow: UnitOfWork, image: Image) -> KeypointSchema:
    batch = uow.batches.require(image.batch_id)
    return uow.schemas.require(batch.keypoint_schema_id)


def _schema_of(uow: UnitOfWork, image: Image) -> SchemaDefinition:
    return SchemaDefinition.model_validate(_schema_row(uow, image).schema_definition)


def audit_annotation(
    uow: UnitOfWork,
    annotation: Annotation,
    action: str,
    *,
    new: dict[str, Any],
    category: AuditCategory = AuditCategory.ANNOTATION,
) -> None:
    """An audit row about the annotation, with its image, version and assignment as context
    (verification audits its decisions on annotations the same way)."""
    context = {
        "image_id": annotation.image_id,
        "version": annotation.version,
        "assignment_id": annotation.batch_assignment_id,
    }
    audit(
        uow,
        action,
        category,
        "Annotation",
        annotation.id,
        new=new,
        annotation_context=context,
    )
