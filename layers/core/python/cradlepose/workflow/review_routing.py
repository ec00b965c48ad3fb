"""Verification's routing and flags, applied: the rules of domain.verification_rules on the database.

- `claim_order`: the order a verifier takes items in (reserved for them, then expertise rank);
- `flag_submitted` / `flag_verdict`: is_difficult_case and has_annotation_issues, set (never
  cleared) when an annotation is submitted and when a verifier records a verdict;
- `check_gold`: a gold image's submitted annotation against its reference; the batch's
  `quality_check_passed` from all its gold checks, and a QUALITY_CHECK assignment that asks a
  verifier to confirm the check;
- `open_second_opinion`: the SECOND_OPINION assignment a waiting first verdict produces;
- `take_over` / `close_reviews`: a review assignment follows whoever claims its image, and is
  COMPLETED by the verdict it asked for.

A review assignment (QUALITY_CHECK or SECOND_OPINION) names its verifier in `annotator_id` (the
seed's one person column of an assignment) and its image in `image_id`; the image is reserved for
that verifier (`images.current_verifier`), who gets it first from the queue. Reserved means
preferred, never locked away: another verifier takes it when nothing else waits, and the assignment
moves to them.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from cradlepose.common.use_cases import audit
from cradlepose.db.models import Annotation, BatchAssignment, Image, ImageBatch, User, Verification
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import keypoint_math
from cradlepose.domain import verification_rules as rules
from cradlepose.domain.actor import Actor
from cradlepose.domain.enums import (
    AssignmentStatus,
    AssignmentType,
    AuditCategory,
    Role,
    VerificationDecision,
)
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.status_changes import change_status
from cradlepose.workflow import leases

REVIEW_KINDS = (AssignmentType.QUALITY_CHECK, AssignmentType.SECOND_OPINION)
OPEN_REVIEW = (AssignmentStatus.ASSIGNED, AssignmentStatus.IN_PROGRESS)
REVISIONS = (VerificationDecision.MINOR_REVISION_NEEDED, VerificationDecision.MAJOR_REVISION_NEEDED)


# ------------------------------------------------------------------ claiming order


def needed_expertise_sql() -> sa.ColumnElement[Any]:
    """SQL form of `rules.needed_expertise` over ImageBatch and Image."""
    value = ImageBatch.upload_metadata[rules.EXPERTISE_KEY]
    named = sa.func.nullif(
        sa.func.btrim(sa.case((sa.func.jsonb_typeof(value) == "string", value.astext), else_=None)), ""
    )
    any_needed = sa.case(
        (sa.or_(Image.is_difficult_case, Image.requires_specialist_review), sa.literal(rules.ANY_EXPERTISE)),
        else_=None,
    )
    return sa.func.coalesce(named, any_needed)


def routing_rank_sql(expertise: str | None) -> sa.ColumnElement[Any]:
    """SQL form of `rules.routing_rank` for a verifier with this expertise."""
    needed = needed_expertise_sql()
    whens: list[tuple[Any, int]] = [(needed.is_(None), rules.NO_NEED)]
    if expertise:
        whens.append((needed.in_((rules.ANY_EXPERTISE, expertise)), rules.MATCH))
    return sa.case(*whens, else_=rules.MISMATCH)


def claim_order(uow: UnitOfWork, actor: Actor) -> list[sa.ColumnElement[Any]]:
    """Reserved for the caller first, unreserved next, others' reservations last; then expertise."""
    me = uow.users.require(actor.user_id or 0)
    reserved = sa.case((Image.current_verifier == me.id, 0), (Image.current_verifier.is_(None), 1), else_=2)
    return [reserved, routing_rank_sql(me.verification_expertise)]


# ------------------------------------------------------------------ flags


def revisions_of(uow: UnitOfWork, image_id: int) -> int:
    """How often the image was sent back for revision (final verdicts only)."""
    return int(
        uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Verification)
            .join(Annotation, Annotation.id == Verification.annotation_id)
            .where(
                Annotation.image_id == image_id,
                Verification.is_final_decision,
                Verification.decision.in_(REVISIONS),
            )
        )
        or 0
    )


def _raise_flags(uow: UnitOfWork, image: Image, signals: rules.CaseSignals, why: str) -> None:
    difficult = image.is_difficult_case or rules.is_difficult_case(signals)
    issues = image.has_annotation_issues or rules.has_annotation_issues(signals)
    if (difficult, issues) == (image.is_difficult_case, image.has_annotation_issues):
        return
    old = {"is_difficult_case": image.is_difficult_case, "has_annotation_issues": image.has_annotation_issues}
    image.is_difficult_case, image.has_annotation_issues = difficult, issues
    audit(
        uow,
        "IMAGE_FLAGS_RAISED",
        AuditCategory.ANNOTATION,
        "Image",
        image.id,
        old=old,
        new={"is_difficult_case": difficult, "has_annotation_issues": issues, "by": why},
        batch_context={"batch_id": image.batch_id},
    )


def flag_submitted(uow: UnitOfWork, image: Image, annotation: Annotation, gold_failed: bool) -> None:
    _raise_flags(
        uow,
        image,
        rules.CaseSignals(
            yolo_confidence=image.yolo_confidence,
            has_quality_issues=image.has_quality_issues,
            annotator_difficulty=annotation.difficulty_rating,
            revisions=revisions_of(uow, image.id),
            gold_check_failed=gold_failed,
        ),
        "submission",
    )


def flag_verdict(uow: UnitOfWork, image: Image, verification: Verification) -> None:
    _raise_flags(
        uow,
        image,
        rules.CaseSignals(
            complexity_rating=verification.complexity_rating,
            requires_specialist_input=verification.requires_specialist_input,
            problematic_keypoints=len(verification.problematic_keypoints or []),
            overall_quality_score=verification.overall_quality_score,
            decision=verification.decision,
            revisions=revisions_of(uow, image.id),
        ),
        "verification",
    )


# ------------------------------------------------------------------ choosing a verifier


def verifier_candidates(uow: UnitOfWork) -> list[rules.VerifierCandidate]:
    """Approved, active verifiers, with their open review assignments as load."""
    load = (
        sa.select(BatchAssignment.annotator_id, sa.func.count().label("n"))
        .where(BatchAssignment.assignment_type.in_(REVIEW_KINDS), BatchAssignment.status.in_(OPEN_REVIEW))
        .group_by(BatchAssignment.annotator_id)
        .subquery()
    )
    rows = uow.session.execute(
        sa.select(User.id, User.verification_expertise, sa.func.coalesce(load.c.n, 0))
        .outerjoin(load, load.c.annotator_id == User.id)
        .where(User.role == Role.VERIFIER, User.is_approved, User.is_active)
    ).all()
    return [rules.VerifierCandidate(user_id, expertise, int(n)) for user_id, expertise, n in rows]


def _choose(uow: UnitOfWork, batch: ImageBatch, image: Image, exclude: set[int]) -> int | None:
    needed = rules.needed_expertise(
        batch.upload_metadata, difficult=image.is_difficult_case, specialist=image.requires_specialist_review
    )
    chosen = rules.choose_verifier(verifier_candidates(uow), needed, frozenset(exclude))
    return chosen.user_id if chosen else None


def _open_review(
    uow: UnitOfWork,
    actor: Actor | None,
    batch: ImageBatch,
    image: Image,
    kind: AssignmentType,
    verifier_id: int,
    instructions: str,
) -> BatchAssignment:
    assignment = uow.assignments.add(
        BatchAssignment(
            batch_id=batch.id,
            annotator_id=verifier_id,
            assigned_by=(actor.user_id if actor else None) or uow.system_user_id(),
            assignment_type=kind,
            priority=batch.processing_priority,
            special_instructions=instructions,
            images_total=1,
            image_id=image.id,
        )
    )
    # A reservation is a claim's lease (workflow.leases): if its verifier stays silent past the idle
    # time, another verifier may take it over.
    image.current_verifier, image.verifier_claimed_at = verifier_id, leases.now()
    audit(
        uow,
        f"{kind.value}_ASSIGNMENT_CREATED",
        AuditCategory.VERIFICATION,
        "BatchAssignment",
        assignment.id,
        new={"verifier_id": verifier_id, "image_id": image.id, "batch_id": batch.id},
        batch_context={"batch_id": batch.id},
    )
    return assignment


def open_second_opinion(
    uow: UnitOfWork, actor: Actor, batch: ImageBatch, image: Image, author_id: int | None
) -> BatchAssignment | None:
    """A SECOND_OPINION assignment to another verifier; None (the queue serves it) when there is none."""
    exclude = {actor.user_id or 0, author_id or 0}
    verifier_id = _choose(uow, batch, image, exclude)
    if verifier_id is None:
        return None
    return _open_review(
        uow, actor, batch, image, AssignmentType.SECOND_OPINION, verifier_id, "a first verdict waits for you"
    )


# ------------------------------------------------------------------ gold


def check_gold(uow: UnitOfWork, image: Image, annotation: Annotation) -> float | None:
    """Check a gold image's submission (its OKS; None when the image is not gold) and set the batch's
    `quality_check_passed` from all its gold checks. Locks the batch row, so checks of one batch
    running at once see each other."""
    if image.gold_keypoints is None:
        return None
    batch = uow.batches.require(image.batch_id, for_update=True)
    schema = SchemaDefinition.model_validate(uow.schemas.require(batch.keypoint_schema_id).schema_definition)
    value = _oks(schema, image.gold_keypoints, annotation.refined_keypoints)
    passed = rules.gold_check_passed(value)
    old = batch.quality_check_passed
    batch.quality_check_passed = all(_gold_results(uow, batch, schema, image.id, passed))
    audit(
        uow,
        "QUALITY_CHECK_" + ("PASSED" if passed else "FAILED"),
        AuditCategory.ANNOTATION,
        "Image",
        image.id,
        old={"quality_check_passed": old},
        new={"oks": round(value, 4), "passed": passed, "quality_check_passed": batch.quality_check_passed},
        batch_context={"batch_id": batch.id},
    )
    return value


def open_quality_check(uow: UnitOfWork, image: Image, oks: float, author_id: int | None) -> None:
    """A QUALITY_CHECK assignment: a verifier (never the author) confirms the gold image's check."""
    batch = uow.batches.require(image.batch_id)
    verifier_id = _choose(uow, batch, image, {author_id or 0})
    if verifier_id is None:
        return
    verdict = "passed" if rules.gold_check_passed(oks) else "failed"
    _open_review(
        uow,
        None,
        batch,
        image,
        AssignmentType.QUALITY_CHECK,
        verifier_id,
        f"quality check: OKS {oks:.2f} against the reference keypoints ({verdict})",
    )


def _oks(schema: SchemaDefinition, gold: dict[str, Any], submitted: dict[str, Any]) -> float:
    sigmas = dict(zip(schema.ids, schema.sigmas(), strict=True))
    truth = KeypointSet.model_validate(gold).keypoints
    candidate = KeypointSet.model_validate(submitted).keypoints
    return keypoint_math.oks(truth, candidate, sigmas, keypoint_math.area_of(truth))


def _gold_results(
    uow: UnitOfWork, batch: ImageBatch, schema: SchemaDefinition, image_id: int, passed: bool
) -> list[bool]:
    """Every gold image's check in the batch: its first submitted annotation against its reference."""
    firsts = uow.session.execute(
        sa.select(Image.id, Image.gold_keypoints, Annotation.refined_keypoints)
        .join(Annotation, Annotation.image_id == Image.id)
        .where(
            Image.batch_id == batch.id,
            Image.gold_keypoints.is_not(None),
            Image.id != image_id,
            Annotation.submitted_at.is_not(None),
        )
        .ext(distinct_on(Image.id))
        .order_by(Image.id, Annotation.version)
    ).all()
    others = [rules.gold_check_passed(_oks(schema, gold, submitted)) for _, gold, submitted in firsts]
    return [passed, *others]


# ------------------------------------------------------------------ following and closing


def open_reviews(uow: UnitOfWork, image_id: int) -> list[BatchAssignment]:
    return list(
        uow.session.scalars(
            sa.select(BatchAssignment)
            .where(
                BatchAssignment.image_id == image_id,
                BatchAssignment.assignment_type.in_(REVIEW_KINDS),
                BatchAssignment.status.in_(OPEN_REVIEW),
            )
            .order_by(BatchAssignment.id)
            .with_for_update()
        )
    )


def take_over(uow: UnitOfWork, image: Image, verifier_id: int) -> None:
    """The claimer of an image works its open review assignments: they move to them, IN_PROGRESS."""
    for assignment in open_reviews(uow, image.id):
        if assignment.annotator_id != verifier_id:
            old = assignment.annotator_id
            assignment.annotator_id = verifier_id
            audit(
                uow,
                "REVIEW_ASSIGNMENT_TAKEN_OVER",
                AuditCategory.VERIFICATION,
                "BatchAssignment",
                assignment.id,
                old={"verifier_id": old},
                new={"verifier_id": verifier_id},
                batch_context={"batch_id": assignment.batch_id},
            )
        if assignment.status is AssignmentStatus.ASSIGNED:
            change_status(uow, assignment, AssignmentStatus.IN_PROGRESS)
            assignment.started_at = dt.datetime.now(dt.UTC)


def close_reviews(uow: UnitOfWork, image: Image, verifier_id: int) -> list[int]:
    """The verdict the open review assignments asked for is in: SUBMITTED, then COMPLETED."""
    closed = []
    now = dt.datetime.now(dt.UTC)
    take_over(uow, image, verifier_id)
    for assignment in open_reviews(uow, image.id):
        change_status(uow, assignment, AssignmentStatus.SUBMITTED)
        change_status(uow, assignment, AssignmentStatus.COMPLETED)
        assignment.images_completed = assignment.images_total
        assignment.progress_percentage = Decimal("100.00")
        assignment.completed_at = now
        audit(
            uow,
            f"{assignment.assignment_type.value}_ASSIGNMENT_COMPLETED",
            AuditCategory.VERIFICATION,
            "BatchAssignment",
            assignment.id,
            new={"verifier_id": verifier_id, "image_id": image.id},
            batch_context={"batch_id": assignment.batch_id},
        )
        closed.append(assignment.id)
    return closed
