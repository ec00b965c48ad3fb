"""Verification: taking submitted work from a queue and deciding on it.

Queues (a verifier claims the next item; claims never collide: SELECT … FOR UPDATE SKIP LOCKED):
- `submitted`: images whose annotation was submitted, by someone else, highest batch priority first;
- `second_opinion`: images whose first verifier asked for a second opinion (not by the caller,
  not the first verifier's own);
- `escalated` (admins): images a verifier escalated or marked as needing specialist input.

Decisions and their effects, each in one transaction with the batch row locked, so counters
stay exact under concurrency:
- APPROVED: annotation and image APPROVED; batch approved_count and completed_count up.
- APPROVED_WITH_CORRECTIONS: the verifier's keypoints become a new APPROVED annotation version
  (is_revision, original_annotation_id); the image APPROVED; counters as for APPROVED.
- MINOR_REVISION_NEEDED / MAJOR_REVISION_NEEDED: annotation REVISION_REQUESTED, image
  REQUIRES_REVISION, a REVISION assignment carrying the feedback. A minor revision goes back to
  the author. A major one goes to another annotator (chosen by the auto-assign policy) when the
  author already had a major revision on this image, or can no longer work; otherwise to the author.
- REJECTED (needs a rejection_reason): if can_be_reannotated, a fresh INITIAL assignment for the
  image (another annotator when one has capacity, else the author); otherwise the image is
  REJECTED for good: rejected_count and completed_count up.
- requires_second_opinion, escalated_to_admin or requires_specialist_input: the decision is
  recorded with is_final_decision = false and nothing else changes until the second opinion (or
  the admin) decides; that final decision takes effect. A second opinion is also required by rule
  (domain.verification_rules.needs_second_opinion: a difficult case decided with low certainty), and
  produces a SECOND_OPINION assignment to another verifier, who gets the image reserved.

Routing (workflow.review_routing): a verifier takes items reserved for them first (their
QUALITY_CHECK and SECOND_OPINION assignments), then those whose needed expertise they have, then
those needing none, then the rest; every verdict raises the image's is_difficult_case and
has_annotation_issues flags by rule and completes the image's open review assignments.
A batch whose every image has a final outcome is COMPLETED, with its assignments.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cradlepose.common.use_cases import audit
from cradlepose.db.models import Annotation, BatchAssignment, Image, ImageBatch, User, Verification
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, assignment_policy, keypoint_math
from cradlepose.domain import verification_rules as rules
from cradlepose.domain.actor import Actor
from cradlepose.domain.bounds import KeypointId, Score1To10
from cradlepose.domain.enums import (
    AnnotationStatus,
    AssignmentStatus,
    AssignmentType,
    AuditCategory,
    BatchStatus,
    ClinicalRelevance,
    DiagnosticQuality,
    ImageStatus,
    RejectionReason,
    Role,
    VerificationDecision,
)
from cradlepose.domain.errors import Conflict, FieldProblem, NotFound, PermissionDenied, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet, validate_keypoints
from cradlepose.domain.status_changes import change_status
from cradlepose.workflow import assignments as assignment_service
from cradlepose.workflow import leases, metrics, review_routing
from cradlepose.workflow.annotations import AnnotationOut, audit_annotation

D = VerificationDecision
REVISIONS = (D.MINOR_REVISION_NEEDED, D.MAJOR_REVISION_NEEDED)


class Queue(StrEnum):
    SUBMITTED = "submitted"
    SECOND_OPINION = "second_opinion"
    ESCALATED = "escalated"


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: VerificationDecision
    corrected_keypoints: dict[str, Any] | None = Field(
        default=None, description="for APPROVED_WITH_CORRECTIONS"
    )
    correction_summary: str | None = Field(default=None, max_length=5000)
    detailed_feedback: str | None = Field(default=None, max_length=10_000)
    feedback_to_annotator: str | None = Field(default=None, max_length=10_000)
    internal_notes: str | None = Field(default=None, max_length=10_000)
    overall_quality_score: int = Field(ge=1, le=10)
    anatomical_accuracy: int | None = Field(default=None, ge=1, le=10)
    technical_precision: int | None = Field(default=None, ge=1, le=10)
    completeness_score: int | None = Field(default=None, ge=1, le=10)
    keypoint_accuracy_scores: dict[str, Score1To10] | None = Field(
        default=None, description="1–10 by keypoint id"
    )
    problematic_keypoints: list[KeypointId] | None = Field(default=None, max_length=512)
    rejection_reason: RejectionReason | None = None
    rejection_details: str | None = Field(default=None, max_length=5000)
    can_be_reannotated: bool = True
    requires_specialist_input: bool = False
    clinical_relevance: ClinicalRelevance | None = None
    diagnostic_quality: DiagnosticQuality | None = None
    research_usability: bool = True
    verification_time_seconds: int = Field(ge=0, le=24 * 3600)
    complexity_rating: int | None = Field(default=None, ge=1, le=5)
    certainty_level: int = Field(ge=1, le=10)
    requires_second_opinion: bool = False
    escalated_to_admin: bool = False

    @model_validator(mode="after")
    def _decision_needs(self) -> VerificationIn:
        if self.decision is D.REJECTED and self.rejection_reason is None:
            raise ValueError("a REJECTED decision needs a rejection_reason")
        if self.decision is D.APPROVED_WITH_CORRECTIONS and self.corrected_keypoints is None:
            raise ValueError("APPROVED_WITH_CORRECTIONS needs the corrected_keypoints")
        if self.decision in REVISIONS and not (self.feedback_to_annotator or "").strip():
            raise ValueError("a revision request needs feedback_to_annotator")
        if self.keypoint_accuracy_scores and any(
            not 1 <= v <= 10 for v in self.keypoint_accuracy_scores.values()
        ):
            raise ValueError("keypoint_accuracy_scores are 1–10")
        return self

    @property
    def is_final(self) -> bool:
        return not (self.requires_second_opinion or self.escalated_to_admin or self.requires_specialist_input)


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    annotation_id: int
    verifier_id: int
    decision: VerificationDecision
    corrected_keypoints: dict[str, Any] | None
    correction_summary: str | None
    detailed_feedback: str | None
    feedback_to_annotator: str | None
    overall_quality_score: int
    anatomical_accuracy: int | None
    technical_precision: int | None
    completeness_score: int | None
    keypoint_accuracy_scores: dict[str, Any] | None
    problematic_keypoints: list[Any] | None
    rejection_reason: RejectionReason | None
    rejection_details: str | None
    can_be_reannotated: bool
    requires_specialist_input: bool
    clinical_relevance: ClinicalRelevance | None
    diagnostic_quality: DiagnosticQuality | None
    research_usability: bool
    verification_time_seconds: int
    complexity_rating: int | None
    certainty_level: int
    is_final_decision: bool
    requires_second_opinion: bool
    escalated_to_admin: bool
    verified_at: dt.datetime


class KeypointDisplacement(BaseModel):
    id: int
    name: str
    pixels: float | None = Field(description="distance from YOLO's suggestion; None if not labelled in both")
    major: bool


class ReviewItem(BaseModel):
    """What a verifier needs to decide on one annotation."""

    image_id: int
    batch_id: int
    width: int
    height: int
    schema_id: int
    queue: Queue
    annotation: AnnotationOut
    yolo_keypoints: dict[str, Any] | None
    displacement: list[KeypointDisplacement]
    major_threshold_px: float
    earlier_verifications: list[VerificationOut]
    is_difficult_case: bool = Field(description="set by rule: see docs/workflow.md, Flags")
    has_annotation_issues: bool = Field(description="set by rule: see docs/workflow.md, Flags")
    requires_specialist_review: bool
    needed_expertise: str | None = Field(
        description="the verification_expertise this item needs ('*': any expertise), or null"
    )
    review_assignment_id: int | None = Field(
        default=None, description="your QUALITY_CHECK or SECOND_OPINION assignment for this image, if any"
    )
    review_assignment_type: AssignmentType | None = None
    review_instructions: str | None = None


class NextReview(BaseModel):
    item: ReviewItem | None = Field(description="null when the queue is empty")


class DecisionOut(BaseModel):
    verification: VerificationOut
    image_status: ImageStatus
    batch_status: BatchStatus
    new_annotation_id: int | None = Field(default=None, description="the corrected version, if any")
    assignment_id: int | None = Field(
        default=None, description="the revision or re-annotation assignment, if any"
    )
    second_opinion_assignment_id: int | None = Field(
        default=None, description="the SECOND_OPINION assignment this verdict waits for, if any"
    )
    second_opinion_by_rule: bool = Field(
        default=False, description="a second opinion the rules required although the verifier did not ask"
    )
    completed_review_assignment_ids: list[int] = Field(
        default_factory=list, description="the QUALITY_CHECK and SECOND_OPINION assignments it completed"
    )


# ------------------------------------------------------------------ claiming


def claim_next(uow: UnitOfWork, queue: Queue) -> ReviewItem | None:
    actor = access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    if queue is Queue.ESCALATED:
        access.require_admin(actor)
    authored_by_me = (
        sa.select(Annotation.image_id)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .where(BatchAssignment.annotator_id == actor.user_id)
    )
    # A claim is a lease (workflow.leases): one whose holder stayed silent past the idle time is
    # free again, and the caller's own claim comes back to them first.
    free = leases.free_for(actor)
    query = (
        sa.select(Image)
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .where(Image.id.not_in(authored_by_me))
        .order_by(
            *review_routing.claim_order(uow, actor),
            ImageBatch.processing_priority.desc(),
            Image.last_status_change,
            Image.id,
        )
        .limit(1)
        .with_for_update(of=Image, skip_locked=True)
    )
    pending = _pending_verification_subquery()
    image: Image | None = None
    if queue is Queue.SUBMITTED:
        # First a claimed image under first review that is the caller's or whose lease lapsed
        # (few rows: the partial index on UNDER_REVIEW images), then the queue itself.
        image = uow.session.scalars(
            query.where(
                Image.status == ImageStatus.UNDER_REVIEW,
                Image.current_verifier.is_not(None),
                free,
                ~_has_pending_decision(),
            )
        ).first()
        # A submitted image reserved for another verifier (their QUALITY_CHECK) still comes, last;
        # an unusable flag waits for its own decision (workflow.unusable), not a review.
        query = query.where(Image.status == ImageStatus.SUBMITTED, Image.unusable_flag.is_(None))
    elif queue is Queue.SECOND_OPINION:
        # Under review, a verifier on the image is its claim: only the one it is reserved for takes
        # it, unless they can no longer work (deactivated or unapproved): then anyone else may.
        gone = sa.select(User.id).where(sa.or_(User.is_active.is_(False), User.is_approved.is_(False)))
        query = query.join(pending, pending.c.image_id == Image.id).where(
            Image.status == ImageStatus.UNDER_REVIEW,
            sa.or_(free, Image.current_verifier.in_(gone)),
            pending.c.requires_second_opinion,
            pending.c.verifier_id != actor.user_id,
        )
    else:
        query = query.join(pending, pending.c.image_id == Image.id).where(
            Image.status == ImageStatus.UNDER_REVIEW,
            free,
            sa.or_(pending.c.escalated_to_admin, pending.c.requires_specialist_input),
        )
    if image is None:
        image = uow.session.scalars(query).first()
    if image is None:
        return None
    annotation = _latest_annotation(uow, image.id)
    if image.status is ImageStatus.SUBMITTED:
        change_status(uow, image, ImageStatus.UNDER_REVIEW)
        change_status(uow, annotation, AnnotationStatus.UNDER_REVIEW)
    lapsed_holder = image.current_verifier if image.current_verifier not in (None, actor.user_id) else None
    image.current_verifier = actor.user_id
    image.verifier_claimed_at = leases.now()
    review_routing.take_over(uow, image, actor.user_id or 0)
    _audit(
        uow,
        annotation,
        "VERIFICATION_CLAIMED",
        new={"queue": queue.value, "image_id": image.id, "expired_claim_of": lapsed_holder},
    )
    uow.commit()
    return review_item(uow, image, annotation, queue)


def release(uow: UnitOfWork, annotation_id: int) -> AnnotationOut:
    """Give a claimed annotation back to its queue without deciding."""
    actor = access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    annotation, image = _claimed(uow, actor, annotation_id)
    give_back(uow, image, annotation)
    _audit(uow, annotation, "VERIFICATION_RELEASED", new={"image_id": image.id})
    uow.commit()
    return AnnotationOut.model_validate(annotation)


def give_back(uow: UnitOfWork, image: Image, annotation: Annotation) -> None:
    """End the claim on an image: back to its queue (SUBMITTED, or the pending second opinion)."""
    image.current_verifier = None
    image.verifier_claimed_at = None
    if _pending_verification(uow, annotation.id) is None:
        change_status(uow, image, ImageStatus.SUBMITTED)
        change_status(uow, annotation, AnnotationStatus.SUBMITTED)


def claimed_annotation(uow: UnitOfWork, image: Image) -> Annotation:
    """The annotation under review on a claimed image."""
    return _latest_annotation(uow, image.id)


def review_item(uow: UnitOfWork, image: Image, annotation: Annotation, queue: Queue) -> ReviewItem:
    batch = uow.batches.require(image.batch_id)
    schema = SchemaDefinition.model_validate(uow.schemas.require(batch.keypoint_schema_id).schema_definition)
    yolo = KeypointSet.model_validate(image.yolo_keypoints) if image.yolo_keypoints else None
    submitted = KeypointSet.model_validate(annotation.refined_keypoints)
    comparison = keypoint_math.compare(yolo, submitted)
    major = set(comparison.modifications.major_changes)
    earlier = uow.session.scalars(
        sa.select(Verification).where(Verification.annotation_id == annotation.id).order_by(Verification.id)
    ).all()
    reviews = review_routing.open_reviews(uow, image.id)
    mine = next((a for a in reviews if a.annotator_id == image.current_verifier), None)
    return ReviewItem(
        image_id=image.id,
        batch_id=image.batch_id,
        width=image.width,
        height=image.height,
        schema_id=batch.keypoint_schema_id,
        queue=queue,
        annotation=AnnotationOut.model_validate(annotation),
        yolo_keypoints=image.yolo_keypoints,
        displacement=[
            KeypointDisplacement(
                id=k.id,
                name=k.name,
                pixels=round(comparison.displacement_by_id[k.id], 2)
                if k.id in comparison.displacement_by_id
                else None,
                major=k.id in major,
            )
            for k in schema.keypoints
        ],
        major_threshold_px=round(comparison.threshold_px, 2),
        earlier_verifications=[VerificationOut.model_validate(v) for v in earlier],
        is_difficult_case=image.is_difficult_case,
        has_annotation_issues=image.has_annotation_issues,
        requires_specialist_review=image.requires_specialist_review,
        needed_expertise=rules.needed_expertise(
            batch.upload_metadata,
            difficult=image.is_difficult_case,
            specialist=image.requires_specialist_review,
        ),
        review_assignment_id=mine.id if mine else None,
        review_assignment_type=mine.assignment_type if mine else None,
        review_instructions=mine.special_instructions if mine else None,
    )


# ------------------------------------------------------------------ deciding


def decide(uow: UnitOfWork, annotation_id: int, command: VerificationIn) -> DecisionOut:
    actor = access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    if command.internal_notes is not None and not actor.is_admin:
        raise PermissionDenied("internal notes are written by admins only: leave internal_notes out")
    annotation, image = _claimed(uow, actor, annotation_id)
    batch = uow.batches.require(image.batch_id, for_update=True)
    schema = SchemaDefinition.model_validate(uow.schemas.require(batch.keypoint_schema_id).schema_definition)
    _check_keypoint_ids(command, schema)
    corrected = None
    if command.corrected_keypoints is not None:
        corrected = validate_keypoints(
            command.corrected_keypoints, schema, image.width, image.height, within="corrected_keypoints"
        )
    pending = _pending_verification(uow, annotation.id)
    if pending is not None and pending.escalated_to_admin and actor.role is not Role.ADMIN:
        raise PermissionDenied("this annotation was escalated: an admin decides it")
    verification = Verification(
        annotation_id=annotation.id,
        verifier_id=actor.user_id,
        **command.model_dump(exclude={"corrected_keypoints"}),
        corrected_keypoints=corrected.model_dump(mode="json") if corrected else None,
        is_final_decision=command.is_final,
    )
    review_routing.flag_verdict(uow, image, verification)
    by_rule = (
        pending is None
        and not command.requires_second_opinion
        and rules.needs_second_opinion(
            asked=False, difficult=image.is_difficult_case, certainty_level=command.certainty_level
        )
    )
    if by_rule:  # a first verdict, unsure, on a difficult case: it waits for a second opinion
        verification.requires_second_opinion, verification.is_final_decision = True, False
    uow.verifications.add(verification)
    is_final = verification.is_final_decision
    image.current_verifier = None
    image.verifier_claimed_at = None
    completed_reviews = review_routing.close_reviews(uow, image, actor.user_id or 0)
    result = DecisionOut(
        verification=VerificationOut.model_validate(verification),
        image_status=image.status,
        batch_status=batch.status,
        second_opinion_by_rule=by_rule,
        completed_review_assignment_ids=completed_reviews,
    )
    if is_final:
        result = _apply(uow, actor, batch, image, annotation, verification, corrected, result)
    else:
        image.requires_specialist_review = command.requires_specialist_input or command.escalated_to_admin
        _audit(
            uow,
            annotation,
            "VERIFICATION_PENDING",
            new={
                "decision": command.decision,
                "second_opinion": verification.requires_second_opinion,
                "second_opinion_by_rule": by_rule,
                "escalated": command.escalated_to_admin,
                "specialist": command.requires_specialist_input,
            },
        )
    author_id = _author_of(uow, annotation)
    if not is_final and verification.requires_second_opinion and not image.requires_specialist_review:
        second = review_routing.open_second_opinion(uow, actor, batch, image, author_id)
        result = result.model_copy(update={"second_opinion_assignment_id": second.id if second else None})
    if actor.user_id is not None:
        metrics.refresh_user(uow, actor.user_id)
    if is_final and author_id is not None:
        metrics.refresh_user(uow, author_id)
    uow.commit()
    return result.model_copy(update={"image_status": image.status, "batch_status": batch.status})


def _apply(
    uow: UnitOfWork,
    actor: Actor,
    batch: ImageBatch,
    image: Image,
    annotation: Annotation,
    verification: Verification,
    corrected: KeypointSet | None,
    result: DecisionOut,
) -> DecisionOut:
    decision = verification.decision
    image.requires_specialist_review = False
    new_annotation_id = assignment_id = None
    if decision in (D.APPROVED, D.APPROVED_WITH_CORRECTIONS):
        change_status(uow, annotation, AnnotationStatus.APPROVED)
        if decision is D.APPROVED_WITH_CORRECTIONS:
            assert corrected is not None
            new_annotation_id = _corrected_version(uow, image, annotation, corrected, verification).id
        change_status(uow, image, ImageStatus.APPROVED)
        batch.approved_count += 1
        batch.completed_count += 1
    elif decision in REVISIONS:
        change_status(uow, annotation, AnnotationStatus.REVISION_REQUESTED)
        change_status(uow, image, ImageStatus.REQUIRES_REVISION)
        annotator = _reviser(uow, image, annotation, decision)
        assignment = assignment_service.open_assignment_for(
            uow, actor, batch, annotator, AssignmentType.REVISION, [image], verification.feedback_to_annotator
        )
        assignment_id = assignment.id
    else:
        change_status(uow, annotation, AnnotationStatus.REJECTED)
        change_status(uow, image, ImageStatus.REJECTED)
        if verification.can_be_reannotated:
            change_status(uow, image, ImageStatus.ASSIGNED)
            annotator = _reannotator(uow, annotation)
            assignment = assignment_service.open_assignment_for(
                uow,
                actor,
                batch,
                annotator,
                AssignmentType.INITIAL,
                [image],
                f"re-annotate: rejected for {verification.rejection_reason}",
            )
            assignment_id = assignment.id
        else:
            batch.rejected_count += 1
            batch.completed_count += 1
    _audit(
        uow,
        annotation,
        f"VERIFICATION_{decision.value}",
        new={
            "decision": decision,
            "image_status": image.status,
            "new_annotation_id": new_annotation_id,
            "assignment_id": assignment_id,
            "overall_quality_score": verification.overall_quality_score,
        },
    )
    settle(uow, batch, annotation.batch_assignment_id)
    return result.model_copy(update={"new_annotation_id": new_annotation_id, "assignment_id": assignment_id})


def _corrected_version(
    uow: UnitOfWork, image: Image, annotation: Annotation, corrected: KeypointSet, verification: Verification
) -> Annotation:
    yolo = KeypointSet.model_validate(image.yolo_keypoints) if image.yolo_keypoints else None
    comparison = keypoint_math.compare(yolo, corrected)
    latest_version = uow.session.scalar(
        sa.select(sa.func.max(Annotation.version)).where(Annotation.image_id == image.id)
    )
    version = Annotation(
        image_id=image.id,
        batch_assignment_id=annotation.batch_assignment_id,
        refined_keypoints=corrected.model_copy(
            update={"modifications_from_yolo": comparison.modifications}
        ).model_dump(mode="json"),
        keypoint_confidence={
            str(k.id): k.confidence for k in corrected.keypoints if k.confidence is not None
        },
        keypoint_visibility={str(k.id): int(k.visible) for k in corrected.keypoints},
        total_keypoints_modified=comparison.total_keypoints_modified,
        major_corrections_made=comparison.major_corrections_made,
        used_ai_suggestions=annotation.used_ai_suggestions,
        version=(latest_version or annotation.version) + 1,
        is_revision=True,
        original_annotation_id=annotation.id,
        revision_reason=verification.correction_summary or "corrected by the verifier",
        time_spent_seconds=verification.verification_time_seconds,
        status=AnnotationStatus.APPROVED,
        submitted_at=dt.datetime.now(dt.UTC),
        annotation_tool_version=annotation.annotation_tool_version,
    )
    uow.session.add(version)
    uow.flush()
    _audit(
        uow,
        version,
        "ANNOTATION_CORRECTED_BY_VERIFIER",
        new={"version": version.version, "original_annotation_id": annotation.id},
    )
    return version


def settle(uow: UnitOfWork, batch: ImageBatch, assignment_id: int) -> None:
    """Close the assignment if its images all have an outcome, and the batch when all of its have."""
    uow.flush()
    assignment = uow.assignments.require(assignment_id, for_update=True)
    if assignment.status is AssignmentStatus.SUBMITTED and _all_final(
        uow, Image.current_assignment_id == assignment.id
    ):
        change_status(uow, assignment, AssignmentStatus.COMPLETED)
        assignment.completed_at = dt.datetime.now(dt.UTC)
    if batch.status is BatchStatus.IN_PROGRESS and _all_final(uow, Image.batch_id == batch.id):
        old = batch.status
        change_status(uow, batch, BatchStatus.COMPLETED)
        assignment_service.batch_audit(
            uow, batch, "BATCH_COMPLETED", old={"status": old}, new={"status": batch.status}
        )


def _all_final(uow: UnitOfWork, condition: sa.ColumnElement[bool]) -> bool:
    unfinished = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Image)
        .where(condition, Image.status.not_in((ImageStatus.APPROVED, ImageStatus.REJECTED)))
    )
    return unfinished == 0


def _reviser(uow: UnitOfWork, image: Image, annotation: Annotation, decision: VerificationDecision) -> User:
    """Who revises: the author, unless a MAJOR revision repeats on this image or the author cannot work."""
    author = uow.users.require(_author_of(uow, annotation) or 0)
    author_can_work = author.is_active and author.is_approved
    if decision is D.MINOR_REVISION_NEEDED and author_can_work:
        return author
    earlier_majors = uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(Verification)
        .join(Annotation, Annotation.id == Verification.annotation_id)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .where(
            Annotation.image_id == image.id,
            Verification.decision == D.MAJOR_REVISION_NEEDED,
            Verification.is_final_decision,
            BatchAssignment.annotator_id == author.id,
            Verification.annotation_id != annotation.id,
        )
    )
    if author_can_work and not earlier_majors:
        return author
    return _someone_else(uow, exclude={author.id}) or author


def _reannotator(uow: UnitOfWork, annotation: Annotation) -> User:
    author_id = _author_of(uow, annotation) or 0
    author = uow.users.require(author_id)
    other = _someone_else(uow, exclude={author_id})
    if other is not None:
        return other
    if author.is_active and author.is_approved:
        return author
    raise Conflict("no annotator can take the re-annotation: approve or free up an annotator first")


def _someone_else(uow: UnitOfWork, exclude: set[int]) -> User | None:
    chosen = assignment_policy.choose(assignment_service.candidates(uow), None, exclude=frozenset(exclude))
    return uow.users.require(chosen.user_id) if chosen else None


# ------------------------------------------------------------------ reading


def list_for_annotation(uow: UnitOfWork, annotation_id: int) -> list[VerificationOut]:
    actor = access.require_worker(uow.actor)
    annotation = uow.annotations.get(annotation_id)
    if annotation is None:
        raise NotFound("Annotation", annotation_id)
    if actor.role is Role.ANNOTATOR and _author_of(uow, annotation) != actor.user_id:
        raise NotFound("Annotation", annotation_id)
    rows = uow.session.scalars(
        sa.select(Verification).where(Verification.annotation_id == annotation_id).order_by(Verification.id)
    ).all()
    # internal_notes is for admins: VerificationOut never carries it (internal_notes() below does).
    return [VerificationOut.model_validate(v) for v in rows]


# ------------------------------------------------------------------ internal notes (admins only)


class InternalNotesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    internal_notes: str | None = Field(max_length=10_000, description="null clears them")


class InternalNotesOut(BaseModel):
    verification_id: int
    internal_notes: str | None


def internal_notes(uow: UnitOfWork, verification_id: int) -> InternalNotesOut:
    """A verification's internal notes (seed 000: "for admin/research use"): admins only; no other
    role's answer ever carries them."""
    access.require_admin(uow.actor)
    verification = uow.verifications.require(verification_id)
    return InternalNotesOut(verification_id=verification.id, internal_notes=verification.internal_notes)


def set_internal_notes(uow: UnitOfWork, verification_id: int, command: InternalNotesIn) -> InternalNotesOut:
    """Write (or clear) a verification's internal notes; audited with the text before and after."""
    access.require_admin(uow.actor)
    verification = uow.verifications.require(verification_id, for_update=True)
    notes = command.internal_notes.strip() if command.internal_notes is not None else None
    notes = notes or None
    before = verification.internal_notes
    if notes != before:
        verification.internal_notes = notes
        audit(
            uow,
            "VERIFICATION_INTERNAL_NOTES_UPDATED",
            AuditCategory.VERIFICATION,
            "Verification",
            verification.id,
            old={"internal_notes": before},
            new={"internal_notes": notes},
            annotation_context={"annotation_id": verification.annotation_id},
        )
        uow.commit()
    return InternalNotesOut(verification_id=verification.id, internal_notes=notes)


# ------------------------------------------------------------------ helpers


def _claimed(uow: UnitOfWork, actor: Actor, annotation_id: int) -> tuple[Annotation, Image]:
    annotation = uow.annotations.get(annotation_id)
    if annotation is None:
        raise NotFound("Annotation", annotation_id)
    image = uow.images.require(annotation.image_id, for_update=True)
    uow.session.refresh(annotation, with_for_update=True)
    if _author_of(uow, annotation) == actor.user_id:
        raise PermissionDenied("you cannot verify your own annotation")
    if image.current_verifier != actor.user_id:
        raise Conflict(f"claim image {image.id} first (POST /verifications/next); it is not claimed by you")
    if annotation.status is not AnnotationStatus.UNDER_REVIEW:
        raise Conflict(f"annotation {annotation.id} is {annotation.status.value}, not UNDER_REVIEW")
    return annotation, image


def _latest_annotation(uow: UnitOfWork, image_id: int) -> Annotation:
    annotation = uow.session.scalar(
        sa.select(Annotation)
        .where(
            Annotation.image_id == image_id,
            Annotation.status.in_((AnnotationStatus.SUBMITTED, AnnotationStatus.UNDER_REVIEW)),
        )
        .order_by(Annotation.version.desc())
        .limit(1)
        .with_for_update()
    )
    if annotation is None:
        raise Conflict(f"image {image_id} has no submitted annotation")
    return annotation


def _pending_verification_subquery() -> Any:
    """Per image, the latest verification of its latest annotation, when that one is not final."""
    latest = (
        sa.select(
            Annotation.image_id,
            Verification.verifier_id,
            Verification.requires_second_opinion,
            Verification.escalated_to_admin,
            Verification.requires_specialist_input,
            Verification.is_final_decision,
            sa.func.row_number()
            .over(
                partition_by=Annotation.image_id, order_by=(Annotation.version.desc(), Verification.id.desc())
            )
            .label("rank"),
        )
        .join(Annotation, Annotation.id == Verification.annotation_id)
        .subquery()
    )
    return sa.select(latest).where(latest.c.rank == 1, latest.c.is_final_decision.is_(False)).subquery()


def _has_pending_decision() -> sa.ColumnElement[bool]:
    """SQL condition on Image: its annotation under review has a decision that is not final yet
    (a final one would have moved the annotation out of UNDER_REVIEW)."""
    return sa.exists().where(
        Annotation.image_id == Image.id,
        Annotation.status == AnnotationStatus.UNDER_REVIEW,
        Verification.annotation_id == Annotation.id,
        Verification.is_final_decision.is_(False),
    )


def _pending_verification(uow: UnitOfWork, annotation_id: int) -> Verification | None:
    latest = uow.session.scalar(
        sa.select(Verification)
        .where(Verification.annotation_id == annotation_id)
        .order_by(Verification.id.desc())
        .limit(1)
    )
    return latest if latest is not None and not latest.is_final_decision else None


def _author_of(uow: UnitOfWork, annotation: Annotation) -> int | None:
    return uow.session.scalar(
        sa.select(BatchAssignment.annotator_id).where(BatchAssignment.id == annotation.batch_assignment_id)
    )


def _check_keypoint_ids(command: VerificationIn, schema: SchemaDefinition) -> None:
    known = set(schema.ids)
    problems = [
        FieldProblem(f"problematic_keypoints[{i}]", f"keypoint id {k} is not in the schema")
        for i, k in enumerate(command.problematic_keypoints or [])
        if k not in known
    ]
    problems += [
        FieldProblem(f"keypoint_accuracy_scores.{k}", f"keypoint id {k} is not in the schema")
        for k in (command.keypoint_accuracy_scores or {})
        if not k.isdigit() or int(k) not in known
    ]
    if problems:
        raise ValidationFailed(problems)


def _audit(uow: UnitOfWork, annotation: Annotation, action: str, *, new: dict[str, Any]) -> None:
    audit_annotation(uow, annotation, action, new=new, category=AuditCategory.VERIFICATION)
