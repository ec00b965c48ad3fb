"""Analysing verified poses against the age-group models: score, joint shares, sentence, overlay.

A research aid, not a diagnosis (every answer carries RESEARCH_NOTICE). For each verified pose:
the infant's age picks the active model of its band; the pose's embedding (stored if new) is
scored; each joint's share of the score, a sentence naming the joints that deviate most and an
overlay image (stored in the derived bucket) explain it. One AnomalyAnalysis per (annotation,
model): analysing again returns the same row and writes nothing, so a batch step may run twice.

Refusals, never guesses: no age in the image's metadata, no active model covering the age, a band
whose model refuses (too few samples), or a pose without both shoulders and hips. Analysing one
annotation answers them with 409; a batch lists them, and is refused (409) only when nothing in it
could be analysed.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.storage import ObjectMissing, Storage
from cradlepose.anomaly import pose_embeddings
from cradlepose.anomaly.pose_embeddings import VerifiedPose
from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page, audit
from cradlepose.db.models import AgeGroupModel, AnomalyAnalysis, InterpretabilityResult
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, age_band_model, anomaly_text, pose_embedding
from cradlepose.domain.age_band_model import BandModel
from cradlepose.domain.anomaly_text import RESEARCH_NOTICE, AngleContext
from cradlepose.domain.bounds import BIGINT_MAX
from cradlepose.domain.enums import AuditCategory
from cradlepose.domain.errors import Conflict
from cradlepose.domain.keypoint_schema import COCO17_NAMES, COCO17_SKELETON
from cradlepose.imaging import joint_overlay as overlay
from cradlepose.settings import get_settings

RECIPE, VERSION = pose_embedding.RECIPE_NAME, pose_embedding.RECIPE_VERSION
BONES = tuple((COCO17_NAMES[a], COCO17_NAMES[b]) for a, b in COCO17_SKELETON)
_JOINTS = pose_embedding.model_feature_joints()
_ANGLE_FEATURE = {  # joint -> position among the model features of the angle at it
    pose_embedding.FEATURES[i].joint: position
    for position, i in enumerate(pose_embedding.MODEL_FEATURES)
    if pose_embedding.FEATURES[i].kind == "angle"
}


class AnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotation_id: int = Field(ge=1, le=BIGINT_MAX, description="a verified annotation (its image APPROVED)")


class BatchAnalysisRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: int = Field(ge=1, le=BIGINT_MAX)


class JointImportance(BaseModel):
    joint: str
    share: float = Field(description="the joint's share of the anomaly score, 0–1")


class AgeGroupModelOut(BaseModel):
    id: int
    training_job_id: int
    keypoint_schema_id: int
    age_min_months: float
    age_max_months: float
    label: str
    model_type: str
    embedding_model: str
    embedding_version: str
    sample_count: int
    threshold: float | None
    threshold_percentile: float
    refusal: str | None = Field(description="why the band refuses to score; None when it scores")
    sample_confidence: float = Field(description="how much the sample count supports the model, 0–1")
    is_active: bool
    created_at: dt.datetime
    notice: str = RESEARCH_NOTICE


class AnalysisOut(BaseModel):
    id: int
    annotation_id: int
    image_id: int
    batch_id: int
    age_group_model_id: int
    age_months: float
    age_band: str
    anomaly_score: float = Field(description="Mahalanobis distance as a standard-normal-like value")
    normalized_score: float = Field(description="rank among the band's typical training poses, 0–1")
    threshold: float
    is_anomaly: bool
    confidence: float = Field(description="the band's sample support × the share of features observed")
    observed_features: int
    analysed_at: dt.datetime
    explanation: str
    joint_importances: list[JointImportance]
    top_joints: list[str]
    overlay_image_path: str
    overlay_url: str | None = None
    notice: str = RESEARCH_NOTICE


class Refusal(BaseModel):
    annotation_id: int
    image_id: int
    reason: str


class BatchAnalysisOut(BaseModel):
    batch_id: int
    verified_poses: int
    analysed: int = Field(description="new analyses written by this call")
    unchanged: int = Field(description="poses already analysed by the same model: left as they were")
    anomalies: int = Field(description="atypical poses among the batch's analyses")
    refused: list[Refusal]
    analysis_ids: list[int]
    notice: str = RESEARCH_NOTICE


# ------------------------------------------------------------------ the age bands in force


class _Bands:
    """The active models of a schema, parsed once per unit of work."""

    def __init__(self, uow: UnitOfWork, schema_id: int) -> None:
        self.rows = uow.age_group_models.active(schema_id, RECIPE, VERSION)
        self._parsed: dict[int, BandModel] = {}

    def for_age(self, age: float) -> AgeGroupModel | None:
        for row in self.rows:
            if float(row.age_min_months) <= age < float(row.age_max_months):
                return row
        return None

    def model(self, row: AgeGroupModel) -> BandModel:
        if row.id not in self._parsed:
            assert row.parameters is not None
            self._parsed[row.id] = BandModel.from_parameters(row.parameters)
        return self._parsed[row.id]

    def covered(self) -> str:
        return ", ".join(_label(r) for r in self.rows) or "none"


def _label(row: AgeGroupModel) -> str:
    return anomaly_text.band_label(float(row.age_min_months), float(row.age_max_months))


def _model_for(pose: VerifiedPose, bands: _Bands) -> AgeGroupModel | str:
    age = pose.age_months
    if age is None:
        return (
            f"image {pose.image_id} has no usable infant_metadata.{pose_embeddings.AGE_KEY}: "
            "the age decides which typical poses it is compared with"
        )
    row = bands.for_age(age)
    if row is None:
        return (
            f"no trained age-group model covers {age:g} months (bands in force: {bands.covered()}); "
            "train the age-group models (POST /anomaly/training-jobs)"
        )
    return row.refusal if row.refusal is not None else row


# ------------------------------------------------------------------ one pose


@dataclass
class _Outcome:
    analysis: AnomalyAnalysis | None = None
    new: bool = False
    refusal: str | None = None


def _analyse(
    uow: UnitOfWork,
    storage: Storage,
    pose: VerifiedPose,
    bands: _Bands,
    embedding_ids: dict[int, int],
    vectors: dict[int, np.ndarray],
) -> _Outcome:
    found = _model_for(pose, bands)
    if isinstance(found, str):
        return _Outcome(refusal=found)
    existing = uow.anomaly_analyses.of(pose.annotation_id, found.id)
    if existing is not None:
        return _Outcome(analysis=existing)
    if pose.annotation_id not in embedding_ids:
        return _Outcome(
            refusal=f"annotation {pose.annotation_id} cannot be embedded: both shoulders and both hips "
            "must be labelled to set the pose's frame"
        )
    model = bands.model(found)
    x = pose_embedding.model_view(vectors[pose.annotation_id])[0]
    score = model.score(x)
    shares = model.explain(x, _JOINTS)
    band = _label(found)
    text = anomaly_text.describe(
        is_anomaly=score.is_anomaly,
        normalized=score.normalized,
        band=band,
        shares=shares,
        angle=_angle_context(model, x, anomaly_text.named_joints(shares)),
    )
    overlay_key = f"anomaly/overlays/annotation-{pose.annotation_id}/model-{found.id}.png"
    _store_overlay(
        storage, pose, shares, overlay_key, f"{band}: " + ", ".join(anomaly_text.named_joints(shares))
    )
    analysis = uow.anomaly_analyses.add(
        AnomalyAnalysis(
            annotation_id=pose.annotation_id,
            image_id=pose.image_id,
            batch_id=pose.batch_id,
            age_group_model_id=found.id,
            embedding_id=embedding_ids[pose.annotation_id],
            age_months=Decimal(str(round(pose.age_months or 0.0, 2))),
            anomaly_score=round(score.anomaly_score, 6),
            mahalanobis_sq=round(score.mahalanobis_sq, 6),
            observed_features=score.observed,
            normalized_score=round(score.normalized, 6),
            is_anomaly=score.is_anomaly,
            confidence=age_band_model.confidence(model.sample_count, score.observed, model.features),
        )
    )
    uow.interpretations.add(
        InterpretabilityResult(
            analysis_id=analysis.id,
            joint_importances={j: round(s, 4) for j, s in shares.items()},
            top_joints=anomaly_text.named_joints(shares),
            explanation_text=text,
            overlay_image_path=overlay_key,
        )
    )
    return _Outcome(analysis=analysis, new=True)


def _angle_context(model: BandModel, x: np.ndarray, named: list[str]) -> AngleContext | None:
    """The angle at the first named joint that has one, against the band's typical angle."""
    for joint in named:
        position = _ANGLE_FEATURE.get(joint)
        if position is not None and np.isfinite(x[position]):
            return AngleContext(
                joint=joint,
                observed=float(x[position]) * 180.0,
                typical_mean=float(model.mean[position]) * 180.0,
                typical_sd=float(model.std[position]) * 180.0,
            )
    return None


def _store_overlay(
    storage: Storage, pose: VerifiedPose, shares: dict[str, float], key: str, caption: str
) -> None:
    settings = get_settings()
    background = None
    if pose.thumbnail_path:
        try:
            background = storage.get(settings.derived_bucket, pose.thumbnail_path)
        except (ObjectMissing, ClientError, BotoCoreError):
            background = None  # drawn on a plain canvas instead
    png = overlay.render(pose.keypoints, shares, BONES, (pose.width, pose.height), caption, background)
    storage.put(settings.derived_bucket, key, png, content_type="image/png")


def _prepare(uow: UnitOfWork, poses: list[VerifiedPose]) -> tuple[dict[int, int], dict[int, np.ndarray]]:
    """Embed the poses (storing new embeddings): {annotation: embedding id}, {annotation: vector}."""
    if not poses:
        return {}, {}
    vectors, ok = pose_embeddings.embed(poses)
    embeddable = [p for p, good in zip(poses, ok, strict=True) if good]
    ids = pose_embeddings.store(uow, embeddable, vectors[ok])
    by_annotation = {p.annotation_id: v for p, v in zip(embeddable, vectors[ok], strict=True)}
    return ids, by_annotation


def analyse_annotation(uow: UnitOfWork, storage: Storage, annotation_id: int) -> AnalysisOut:
    """Score one verified annotation (idempotent); 409 with the reason when it cannot be scored."""
    access.require_researcher(uow.actor)
    pose = pose_embeddings.require_verified(uow, annotation_id)
    bands = _Bands(uow, pose.schema_id)
    found = _model_for(pose, bands)
    if isinstance(found, str):
        raise Conflict(found)
    existing = uow.anomaly_analyses.of(annotation_id, found.id)
    if existing is None:
        ids, vectors = _prepare(uow, [pose])
        outcome = _analyse(uow, storage, pose, bands, ids, vectors)
        if outcome.refusal is not None:
            raise Conflict(outcome.refusal)
        assert outcome.analysis is not None
        existing = outcome.analysis
        _audit_analysis(uow, existing)
        uow.commit()
    return _out(uow, storage, existing)


def analyse_batch(uow: UnitOfWork, storage: Storage, batch_id: int) -> BatchAnalysisOut:
    """Score every verified pose of a batch; running it again writes nothing new."""
    access.require_researcher(uow.actor)
    batch = uow.batches.require(batch_id)
    poses = pose_embeddings.verified_poses(uow.session, batch_ids=[batch_id])
    if not poses:
        raise Conflict(f"batch {batch_id} has no verified poses to analyse (no APPROVED image yet)")
    bands = _Bands(uow, batch.keypoint_schema_id)
    scorable = [p for p in poses if not isinstance(_model_for(p, bands), str)]
    ids, vectors = _prepare(uow, scorable)
    refused: list[Refusal] = []
    analyses: list[AnomalyAnalysis] = []
    new = 0
    for pose in poses:
        outcome = _analyse(uow, storage, pose, bands, ids, vectors)
        if outcome.refusal is not None:
            refused.append(
                Refusal(annotation_id=pose.annotation_id, image_id=pose.image_id, reason=outcome.refusal)
            )
        elif outcome.analysis is not None:
            analyses.append(outcome.analysis)
            new += outcome.new
    if not analyses:
        raise Conflict(f"no verified pose of batch {batch_id} could be analysed: " + _summary(refused))
    result = BatchAnalysisOut(
        batch_id=batch_id,
        verified_poses=len(poses),
        analysed=new,
        unchanged=len(analyses) - new,
        anomalies=sum(1 for a in analyses if a.is_anomaly),
        refused=refused,
        analysis_ids=sorted(a.id for a in analyses),
    )
    if new:
        audit(
            uow,
            "ANOMALY_BATCH_ANALYSED",
            AuditCategory.ANNOTATION,
            "ImageBatch",
            batch_id,
            batch.batch_name,
            new={"analysed": new, "anomalies": result.anomalies, "refused": len(refused)},
            batch_context={"batch_id": batch_id},
        )
        uow.commit()
    return result


def _summary(refused: list[Refusal], shown: int = 3) -> str:
    counts = Counter(r.reason for r in refused).most_common()
    text = "; ".join(f"{n} × {reason}" if n > 1 else reason for reason, n in counts[:shown])
    rest = sum(n for _, n in counts[shown:])
    return text + (f"; and {rest} more" if rest else "")


def _audit_analysis(uow: UnitOfWork, analysis: AnomalyAnalysis) -> None:
    audit(
        uow,
        "ANOMALY_ANALYSED",
        AuditCategory.ANNOTATION,
        "AnomalyAnalysis",
        analysis.id,
        new={
            "annotation_id": analysis.annotation_id,
            "age_group_model_id": analysis.age_group_model_id,
            "is_anomaly": analysis.is_anomaly,
            "normalized_score": analysis.normalized_score,
        },
        annotation_context={"annotation_id": analysis.annotation_id, "image_id": analysis.image_id},
    )


# ------------------------------------------------------------------ reads


def _out(uow: UnitOfWork, storage: Storage | None, analysis: AnomalyAnalysis) -> AnalysisOut:
    model = uow.age_group_models.require(analysis.age_group_model_id)
    interpretation = uow.interpretations.of_analysis(analysis.id)
    assert interpretation is not None
    return _compose(storage, analysis, model, interpretation)


def _compose(
    storage: Storage | None,
    analysis: AnomalyAnalysis,
    model: AgeGroupModel,
    interpretation: InterpretabilityResult,
) -> AnalysisOut:
    settings = get_settings()
    url = (
        storage.presigned_get(
            settings.derived_bucket,
            interpretation.overlay_image_path,
            expires_in=settings.download_url_ttl_seconds,
        )
        if storage is not None
        else None
    )
    importances = sorted(interpretation.joint_importances.items(), key=lambda kv: (-float(kv[1]), kv[0]))
    return AnalysisOut(
        id=analysis.id,
        annotation_id=analysis.annotation_id,
        image_id=analysis.image_id,
        batch_id=analysis.batch_id,
        age_group_model_id=analysis.age_group_model_id,
        age_months=float(analysis.age_months),
        age_band=_label(model),
        anomaly_score=analysis.anomaly_score,
        normalized_score=analysis.normalized_score,
        threshold=float(model.threshold or 0.0),
        is_anomaly=analysis.is_anomaly,
        confidence=analysis.confidence,
        observed_features=analysis.observed_features,
        analysed_at=analysis.analysed_at,
        explanation=interpretation.explanation_text,
        joint_importances=[JointImportance(joint=j, share=float(s)) for j, s in importances],
        top_joints=list(interpretation.top_joints),
        overlay_image_path=interpretation.overlay_image_path,
        overlay_url=url,
    )


def get_analysis(uow: UnitOfWork, storage: Storage, analysis_id: int) -> AnalysisOut:
    access.require_researcher(uow.actor)
    return _out(uow, storage, uow.anomaly_analyses.require(analysis_id))


def list_analyses(
    uow: UnitOfWork,
    storage: Storage,
    *,
    batch_id: int | None = None,
    annotation_id: int | None = None,
    anomalous: bool | None = None,
    model_id: int | None = None,
    current_only: bool = True,
    min_normalized_score: float | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AnalysisOut]:
    """Analyses, newest first, with filters; by default only those of the models in force."""
    access.require_researcher(uow.actor)
    query = (
        sa.select(AnomalyAnalysis, AgeGroupModel, InterpretabilityResult)
        .join(AgeGroupModel, AgeGroupModel.id == AnomalyAnalysis.age_group_model_id)
        .join(InterpretabilityResult, InterpretabilityResult.analysis_id == AnomalyAnalysis.id)
    )
    filters: list[Any] = []
    if batch_id is not None:
        filters.append(AnomalyAnalysis.batch_id == batch_id)
    if annotation_id is not None:
        filters.append(AnomalyAnalysis.annotation_id == annotation_id)
    if anomalous is not None:
        filters.append(AnomalyAnalysis.is_anomaly.is_(anomalous))
    if model_id is not None:
        filters.append(AnomalyAnalysis.age_group_model_id == model_id)
    if current_only:
        filters.append(AgeGroupModel.is_active)
    if min_normalized_score is not None:
        filters.append(AnomalyAnalysis.normalized_score >= min_normalized_score)
    return keyset_page(
        uow.session,
        query.where(*filters),
        order_by=[AnomalyAnalysis.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=lambda row: _compose(storage, *row),
    )


def list_models(
    uow: UnitOfWork, *, active_only: bool = True, schema_id: int | None = None
) -> list[AgeGroupModelOut]:
    access.require_researcher(uow.actor)
    query = sa.select(AgeGroupModel)
    if active_only:
        query = query.where(AgeGroupModel.is_active)
    if schema_id is not None:
        query = query.where(AgeGroupModel.keypoint_schema_id == schema_id)
    rows = uow.session.scalars(query.order_by(AgeGroupModel.id.desc()).limit(500))
    return [
        AgeGroupModelOut(
            id=r.id,
            training_job_id=r.training_job_id,
            keypoint_schema_id=r.keypoint_schema_id,
            age_min_months=float(r.age_min_months),
            age_max_months=float(r.age_max_months),
            label=_label(r),
            model_type=r.model_type,
            embedding_model=r.embedding_model,
            embedding_version=r.embedding_version,
            sample_count=r.sample_count,
            threshold=r.threshold,
            threshold_percentile=float(r.threshold_percentile),
            refusal=r.refusal,
            sample_confidence=round(age_band_model.sample_confidence(r.sample_count), 3)
            if r.refusal is None
            else 0.0,
            is_active=r.is_active,
            created_at=r.created_at,
        )
        for r in rows
    ]
