"""How good and how productive each person's work is.

`refresh_user` keeps a user's running figures (accuracy_score, totals, average time) current; the
verification service calls it in the same transaction as every decision. `rollup` writes the
PerformanceMetrics row of every active person for one period; running it again for the same
period replaces the rows (the unique key (user, date, period) and ON CONFLICT DO UPDATE).

Definitions (docs/metrics.md explains them for people):
- accuracy: cradlepose.domain.accuracy, over first submissions compared with the final keypoints;
- avg_quality_rating: the mean of the verifiers' overall_quality_score (1–10) divided by 10;
- productivity_score: images annotated / the most any annotator annotated in the period;
- consistency_score: 1 − the coefficient of variation of per-image OKS (1 with one image);
- learning_curve_indicator: mean OKS of the later half of the period's images − the earlier half's;
- improvement_trend: accuracy − the previous period's; improvement_rate: the same in percent;
- peer_comparison_percentile: the share of active annotators whose accuracy is at most theirs;
- data_completeness: the share of finalized images whose final keypoints could be compared.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict
from sqlalchemy.dialects.postgresql import distinct_on, insert

from cradlepose.common.use_cases import DecimalNumber
from cradlepose.db.models import (
    Annotation,
    AuditLog,
    BatchAssignment,
    Image,
    ImageBatch,
    KeypointSchema,
    PerformanceMetrics,
    User,
    Verification,
)
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, keypoint_math, periods
from cradlepose.domain.accuracy import WINDOW, Accuracy, FinalizedWork, accuracy
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import (
    AnnotationStatus,
    AuditCategory,
    AuditStatus,
    ImageStatus,
    PeriodType,
    Role,
    VerificationDecision,
)
from cradlepose.domain.errors import NotFound
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet

CALCULATION_VERSION = "1.0"
APPROVALS = (VerificationDecision.APPROVED, VerificationDecision.APPROVED_WITH_CORRECTIONS)


@dataclass(frozen=True)
class ScoredImage:
    """One image of an annotator's finalized work, compared with its final keypoints."""

    image_id: int
    finalized_at: dt.datetime
    work: FinalizedWork
    similarity_by_keypoint: dict[str, float]
    compared: bool


class PerformanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: int
    metrics_date: dt.date
    period_type: PeriodType
    period_start: dt.datetime
    period_end: dt.datetime
    images_annotated: int
    annotations_created: int
    annotations_revised: int
    avg_time_per_annotation_minutes: DecimalNumber
    total_annotation_time_minutes: int
    annotations_verified: int
    annotations_approved: int
    annotations_rejected: int
    avg_verification_time_minutes: DecimalNumber
    accuracy_score: DecimalNumber
    avg_quality_rating: DecimalNumber
    improvement_trend: DecimalNumber
    productivity_score: DecimalNumber
    consistency_score: DecimalNumber
    learning_curve_indicator: DecimalNumber
    keypoint_accuracy_breakdown: dict[str, Any] | None
    difficulty_distribution: dict[str, Any] | None
    time_distribution: dict[str, Any] | None
    error_patterns: dict[str, Any] | None
    peer_comparison_percentile: int | None
    improvement_rate: DecimalNumber
    system_uptime_percentage: DecimalNumber | None
    avg_processing_time_ms: int | None
    error_rate_percentage: DecimalNumber | None
    calculated_at: dt.datetime
    calculation_version: str
    data_completeness: DecimalNumber


class RollupOut(BaseModel):
    period_type: PeriodType
    period_start: dt.datetime
    period_end: dt.datetime
    users: int


# ------------------------------------------------------------------ a user's running figures


def refresh_user(uow: UnitOfWork, user_id: int) -> None:
    """Recompute the User row's performance fields from the data (part of the caller's transaction)."""
    user = uow.users.get(user_id)
    if user is None:
        return
    uow.flush()
    if user.role is Role.ANNOTATOR:
        scored = scored_images(uow, user.id, limit=WINDOW)
        user.accuracy_score = accuracy([s.work for s in scored]).score
        user.total_annotations_completed = _finalized_count(uow, user.id)
        average = uow.session.scalar(
            sa.select(sa.func.avg(Annotation.time_spent_seconds))
            .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
            .where(BatchAssignment.annotator_id == user.id, Annotation.submitted_at.is_not(None))
        )
        user.avg_annotation_time_minutes = _decimal((average or 0) / 60, 2, 999.99)
    user.total_verifications_completed = int(
        uow.session.scalar(
            sa.select(sa.func.count())
            .select_from(Verification)
            .where(Verification.verifier_id == user.id, Verification.is_final_decision)
        )
        or 0
    )


def scored_images(
    uow: UnitOfWork,
    annotator_id: int,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int | None = None,
) -> list[ScoredImage]:
    """The annotator's finalized images (and gold images), most recent first, each compared with its truth."""
    firsts = (
        sa.select(Annotation)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .where(BatchAssignment.annotator_id == annotator_id, Annotation.submitted_at.is_not(None))
        .ext(distinct_on(Annotation.image_id))
        .order_by(Annotation.image_id, Annotation.version)
        .subquery()
    )
    first = sa.orm.aliased(Annotation, firsts)
    final_decision = (
        sa.select(Verification.annotation_id, sa.func.min(Verification.verified_at).label("at"))
        .where(Verification.is_final_decision)
        .group_by(Verification.annotation_id)
        .subquery()
    )
    finalized_at = sa.func.coalesce(
        sa.case((Image.gold_keypoints.is_not(None), first.submitted_at)),
        sa.func.greatest(Image.last_status_change, first.submitted_at),
    )
    query = (
        sa.select(first, Image, finalized_at.label("finalized_at"))
        .join(Image, Image.id == first.image_id)
        .outerjoin(final_decision, final_decision.c.annotation_id == first.id)
        .where(
            sa.or_(
                Image.gold_keypoints.is_not(None),
                Image.status.in_((ImageStatus.APPROVED, ImageStatus.REJECTED)),
            )
        )
        .order_by(finalized_at.desc())
    )
    if since is not None:
        query = query.where(finalized_at >= since)
    if until is not None:
        query = query.where(finalized_at < until)
    if limit is not None:
        query = query.limit(limit)
    rows = uow.session.execute(query).all()
    return _score(uow, annotator_id, rows)


def _score(uow: UnitOfWork, annotator_id: int, rows: Sequence[Any]) -> list[ScoredImage]:
    if not rows:
        return []
    image_ids = [image.id for _, image, _ in rows]
    finals = {
        a.image_id: a
        for a in uow.session.scalars(
            sa.select(Annotation)
            .where(Annotation.image_id.in_(image_ids), Annotation.status == AnnotationStatus.APPROVED)
            .ext(distinct_on(Annotation.image_id))
            .order_by(Annotation.image_id, Annotation.version.desc())
        )
    }
    first_verdicts = dict(
        uow.session.execute(
            sa.select(Verification.annotation_id, Verification.decision)
            .where(Verification.annotation_id.in_([a.id for a, _, _ in rows]), Verification.is_final_decision)
            .ext(distinct_on(Verification.annotation_id))
            .order_by(Verification.annotation_id, Verification.id)
        ).all()
    )
    schemas = _schemas_of(uow, image_ids)
    result = []
    for first, image, finalized_at in rows:
        schema = schemas[image.id]
        sigmas = dict(zip(schema.ids, schema.sigmas(), strict=True))
        names = {k.id: k.name for k in schema.keypoints}
        submitted = KeypointSet.model_validate(first.refined_keypoints).keypoints
        truth_payload = image.gold_keypoints or (
            finals[image.id].refined_keypoints if image.id in finals else None
        )
        if truth_payload is None:  # rejected for good: no keypoints to compare with
            work, similarity, compared = FinalizedWork(0.0, False), {}, image.status is ImageStatus.REJECTED
        else:
            truth = KeypointSet.model_validate(truth_payload).keypoints
            area = keypoint_math.area_of(truth)
            value = keypoint_math.oks(truth, submitted, sigmas, area)
            verdict = first_verdicts.get(first.id)
            first_pass = None if verdict is None else verdict is VerificationDecision.APPROVED
            work = FinalizedWork(value, first_pass)
            similarity = {
                names[k]: v
                for k, v in keypoint_math.per_keypoint_similarity(truth, submitted, sigmas, area).items()
            }
            compared = True
        result.append(ScoredImage(image.id, finalized_at, work, similarity, compared))
    return result


def _schemas_of(uow: UnitOfWork, image_ids: list[int]) -> dict[int, SchemaDefinition]:
    rows = uow.session.execute(
        sa.select(Image.id, KeypointSchema.id, KeypointSchema.schema_definition)
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .join(KeypointSchema, KeypointSchema.id == ImageBatch.keypoint_schema_id)
        .where(Image.id.in_(image_ids))
    ).all()
    parsed: dict[int, SchemaDefinition] = {}
    result = {}
    for image_id, schema_id, definition in rows:
        if schema_id not in parsed:
            parsed[schema_id] = SchemaDefinition.model_validate(definition)
        result[image_id] = parsed[schema_id]
    return result


def _finalized_count(uow: UnitOfWork, annotator_id: int) -> int:
    return int(
        uow.session.scalar(
            sa.select(sa.func.count(sa.distinct(Annotation.image_id)))
            .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
            .join(Image, Image.id == Annotation.image_id)
            .where(
                BatchAssignment.annotator_id == annotator_id,
                Annotation.submitted_at.is_not(None),
                Image.status.in_((ImageStatus.APPROVED, ImageStatus.REJECTED)),
            )
        )
        or 0
    )


# ------------------------------------------------------------------ the roll-up


def rollup(uow: UnitOfWork, period: PeriodType, day: dt.date) -> RollupOut:
    """Write (or rewrite) every active person's PerformanceMetrics row for the period containing `day`."""
    access.require_admin(uow.actor)
    start, end = periods.bounds(period, day)
    annotators = _active_annotators(uow, start, end)
    verifiers = _active_verifiers(uow, start, end)
    admins = list(uow.session.scalars(sa.select(User.id).where(User.role == Role.ADMIN, User.is_active)))
    rows: dict[int, dict[str, Any]] = {}
    accuracies: dict[int, float] = {}
    for user_id in annotators:
        rows[user_id], accuracies[user_id] = _annotator_figures(uow, user_id, start, end)
    for user_id in verifiers:
        rows.setdefault(user_id, {}).update(_verifier_figures(uow, user_id, start, end))
    for user_id in admins:
        rows.setdefault(user_id, {}).update(_system_figures(uow, start, end))
    most = max((r.get("images_annotated", 0) for r in rows.values()), default=0)
    previous_start, _ = periods.previous(period, start)
    previous = _previous_accuracy(uow, period, previous_start.date())
    for user_id, row in rows.items():
        if user_id in accuracies:
            mine = accuracies[user_id]
            row["productivity_score"] = _decimal(row["images_annotated"] / most if most else 0, 2, 1)
            row["peer_comparison_percentile"] = max(
                1, math.ceil(100 * sum(1 for v in accuracies.values() if v <= mine) / len(accuracies))
            )
            if user_id in previous:
                change = mine - previous[user_id]
                row["improvement_trend"] = _decimal(change, 2, 9.99)
                row["improvement_rate"] = _decimal(
                    100 * change / previous[user_id] if previous[user_id] else 0, 2, 999.99
                )
        _upsert(uow, user_id, period, start, end, row)
    uow.audit(
        AuditEntry(
            action="METRICS_ROLLED_UP",
            category=AuditCategory.SYSTEM,
            resource_type="PerformanceMetrics",
            resource_id=0,
            new_values={"period_type": period, "period_start": start, "users": len(rows)},
        )
    )
    uow.mark_written()
    uow.commit()
    return RollupOut(period_type=period, period_start=start, period_end=end, users=len(rows))


def list_metrics(
    uow: UnitOfWork, user_id: int, period: PeriodType | None, since: dt.date | None, limit: int
) -> list[PerformanceOut]:
    actor = access.require_worker(uow.actor)
    if actor.user_id != user_id:
        access.require_admin(actor)
    if uow.users.get(user_id) is None:
        raise NotFound("User", user_id)
    query = sa.select(PerformanceMetrics).where(PerformanceMetrics.user_id == user_id)
    if period is not None:
        query = query.where(PerformanceMetrics.period_type == period)
    if since is not None:
        query = query.where(PerformanceMetrics.metrics_date >= since)
    rows = uow.session.scalars(query.order_by(PerformanceMetrics.metrics_date.desc()).limit(limit)).all()
    return [PerformanceOut.model_validate(r) for r in rows]


def _annotator_figures(
    uow: UnitOfWork, user_id: int, start: dt.datetime, end: dt.datetime
) -> tuple[dict[str, Any], float]:
    authored = (
        sa.select(Annotation)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .where(BatchAssignment.annotator_id == user_id)
    )
    created = uow.session.scalars(
        authored.where(Annotation.created_at >= start, Annotation.created_at < end)
    ).all()
    submitted = uow.session.scalars(
        authored.where(Annotation.submitted_at >= start, Annotation.submitted_at < end)
    ).all()
    times = sorted(a.time_spent_seconds for a in submitted)
    total_minutes = sum(times) / 60
    scored = scored_images(uow, user_id, since=start, until=end)
    result = accuracy([s.work for s in scored])
    chronological = [s.work.oks for s in sorted(scored, key=lambda s: s.finalized_at)]
    quality = uow.session.scalar(
        sa.select(sa.func.avg(Verification.overall_quality_score))
        .join(Annotation, Annotation.id == Verification.annotation_id)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .where(
            BatchAssignment.annotator_id == user_id,
            Verification.is_final_decision,
            Verification.verified_at >= start,
            Verification.verified_at < end,
        )
    )
    figures: dict[str, Any] = {
        "images_annotated": len({a.image_id for a in submitted}),
        "annotations_created": len(created),
        "annotations_revised": sum(1 for a in created if a.is_revision),
        "total_annotation_time_minutes": round(total_minutes),
        "avg_time_per_annotation_minutes": _decimal(total_minutes / len(times) if times else 0, 2, 999.99),
        "accuracy_score": result.score,
        "avg_quality_rating": _decimal(float(quality) / 10 if quality is not None else 0, 2, 1),
        "consistency_score": _decimal(_consistency(chronological), 2, 1),
        "learning_curve_indicator": _decimal(_learning_curve(chronological), 2, 9.99),
        "keypoint_accuracy_breakdown": _keypoint_breakdown(scored),
        "difficulty_distribution": dict(
            Counter(a.difficulty_rating.value for a in submitted if a.difficulty_rating)
        ),
        "time_distribution": _time_distribution(times, [a.submitted_at for a in submitted if a.submitted_at]),
        "error_patterns": _error_patterns(uow, user_id, start, end),
        "data_completeness": _decimal(sum(s.compared for s in scored) / len(scored) if scored else 1, 2, 1),
    }
    return figures, float(result.score)


def _verifier_figures(uow: UnitOfWork, user_id: int, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    decisions = uow.session.execute(
        sa.select(Verification.decision, Verification.verification_time_seconds).where(
            Verification.verifier_id == user_id,
            Verification.verified_at >= start,
            Verification.verified_at < end,
        )
    ).all()
    seconds = [s for _, s in decisions]
    return {
        "annotations_verified": len(decisions),
        "annotations_approved": sum(1 for d, _ in decisions if d in APPROVALS),
        "annotations_rejected": sum(1 for d, _ in decisions if d is VerificationDecision.REJECTED),
        "avg_verification_time_minutes": _decimal(
            statistics.fmean(seconds) / 60 if seconds else 0, 2, 999.99
        ),
    }


def _system_figures(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    processing = uow.session.scalar(
        sa.select(sa.func.avg(Image.yolo_processing_time_ms))
        .join(ImageBatch, ImageBatch.id == Image.batch_id)
        .where(ImageBatch.yolo_processing_completed >= start, ImageBatch.yolo_processing_completed < end)
    )
    total, failed = uow.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(AuditLog.status == AuditStatus.FAILED)).where(
            AuditLog.created_at >= start, AuditLog.created_at < end
        )
    ).one()
    return {
        "avg_processing_time_ms": round(float(processing)) if processing is not None else None,
        "error_rate_percentage": _decimal(100 * failed / total, 2, 100) if total else None,
    }


def _active_annotators(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> list[int]:
    return list(
        uow.session.scalars(
            sa.select(BatchAssignment.annotator_id)
            .join(Annotation, Annotation.batch_assignment_id == BatchAssignment.id)
            .join(User, User.id == BatchAssignment.annotator_id)
            .where(
                User.role == Role.ANNOTATOR,
                sa.or_(
                    sa.and_(Annotation.created_at >= start, Annotation.created_at < end),
                    sa.and_(Annotation.submitted_at >= start, Annotation.submitted_at < end),
                ),
            )
            .distinct()
        )
    )


def _active_verifiers(uow: UnitOfWork, start: dt.datetime, end: dt.datetime) -> list[int]:
    return list(
        uow.session.scalars(
            sa.select(Verification.verifier_id)
            .where(Verification.verified_at >= start, Verification.verified_at < end)
            .distinct()
        )
    )


def _previous_accuracy(uow: UnitOfWork, period: PeriodType, metrics_date: dt.date) -> dict[int, float]:
    rows = uow.session.execute(
        sa.select(PerformanceMetrics.user_id, PerformanceMetrics.accuracy_score).where(
            PerformanceMetrics.period_type == period, PerformanceMetrics.metrics_date == metrics_date
        )
    ).all()
    return {user_id: float(score) for user_id, score in rows}


def _upsert(
    uow: UnitOfWork,
    user_id: int,
    period: PeriodType,
    start: dt.datetime,
    end: dt.datetime,
    figures: dict[str, Any],
) -> None:
    values = {
        "user_id": user_id,
        "metrics_date": start.date(),
        "period_type": period,
        "period_start": start,
        "period_end": end,
        "calculated_at": dt.datetime.now(dt.UTC),
        "calculation_version": CALCULATION_VERSION,
        **figures,
    }
    statement = insert(PerformanceMetrics).values(**values)
    replace: dict[str, Any] = {
        k: statement.excluded[k] for k in values if k not in ("user_id", "metrics_date", "period_type")
    }
    # Columns this run did not compute go back to their defaults, so a re-run replaces the row whole.
    for column in PerformanceMetrics.__table__.columns:
        if column.name in values or column.name == "id":
            continue
        if column.server_default is not None:
            replace[column.name] = getattr(column.server_default, "arg", None)
        elif column.nullable:
            replace[column.name] = None
    uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "metrics_date", "period_type"], set_=replace
        )
    )


# ------------------------------------------------------------------ figures


def _consistency(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 1.0
    mean = statistics.fmean(values)
    if mean == 0:
        return 0.0
    return max(0.0, min(1.0, 1 - statistics.pstdev(values) / mean))


def _learning_curve(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    half = len(values) // 2
    return statistics.fmean(values[half:]) - statistics.fmean(values[:half])


def _keypoint_breakdown(scored: Iterable[ScoredImage]) -> dict[str, Any] | None:
    by_name: dict[str, list[float]] = {}
    for item in scored:
        for name, value in item.similarity_by_keypoint.items():
            by_name.setdefault(name, []).append(value)
    if not by_name:
        return None
    return {
        name: {"mean_similarity": round(statistics.fmean(v), 4), "samples": len(v)}
        for name, v in by_name.items()
    }


def _time_distribution(seconds: Sequence[int], moments: Sequence[dt.datetime]) -> dict[str, Any] | None:
    if not seconds:
        return None
    ordered = sorted(seconds)
    return {
        "p50_seconds": ordered[len(ordered) // 2],
        "p90_seconds": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "by_hour_utc": dict(sorted(Counter(m.astimezone(dt.UTC).hour for m in moments).items())),
    }


def _error_patterns(
    uow: UnitOfWork, user_id: int, start: dt.datetime, end: dt.datetime
) -> dict[str, Any] | None:
    rows = uow.session.execute(
        sa.select(
            Verification.decision,
            Verification.rejection_reason,
            Verification.problematic_keypoints,
            KeypointSchema.schema_definition,
        )
        .join(Annotation, Annotation.id == Verification.annotation_id)
        .join(BatchAssignment, BatchAssignment.id == Annotation.batch_assignment_id)
        .join(ImageBatch, ImageBatch.id == BatchAssignment.batch_id)
        .join(KeypointSchema, KeypointSchema.id == ImageBatch.keypoint_schema_id)
        .where(
            BatchAssignment.annotator_id == user_id,
            Verification.verified_at >= start,
            Verification.verified_at < end,
        )
    ).all()
    if not rows:
        return None
    decisions = Counter(d.value for d, _, _, _ in rows if d not in APPROVALS)
    reasons = Counter(r.value for _, r, _, _ in rows if r is not None)
    keypoints: Counter[str] = Counter()
    for _, _, problematic, definition in rows:
        names = {k["id"]: k["name"] for k in definition["keypoints"]}
        keypoints.update(names.get(int(k), str(k)) for k in problematic or [])
    return {
        "decisions": dict(decisions),
        "rejection_reasons": dict(reasons),
        "problematic_keypoints": dict(keypoints.most_common()),
    }


def _decimal(value: float, places: int, bound: float) -> Decimal:
    clamped = max(-bound, min(bound, value))
    return Decimal(str(round(clamped, places)))


def accuracy_of(uow: UnitOfWork, user_id: int) -> Accuracy:
    return accuracy([s.work for s in scored_images(uow, user_id, limit=WINDOW)])
