"""Seed 001's PerformanceMetric rows: what an evaluation measured, per model, dataset and split.

An evaluation (an inference job over a dataset split) stores COCO's keypoint figures computed by
pycocotools with the sigmas it used (AP over OKS .50:.95, AP50, AP75, AP_M, AP_L, AR, AR50,
AR75, with OKS's area the keypoint box: `metadata.oks_area` "keypoint box", `gates_promotion`),
the COCO-comparable ones beside them (COCO_AP, COCO_AP50, COCO_AP75, COCO_AP_M, COCO_AP_L,
COCO_AR: OKS's area the person box, `metadata.oks_area` "person box"; never gating), the mean
pixel error and PCK over all keypoints, and both per keypoint (`class_name` = the keypoint), with
each keypoint's mean OKS term (`OKS`, the learning loop's per-keypoint gate).
Figures pycocotools reports as -1 (no ground truth of that size) are not stored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.postgresql import JSONB

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page
from cradlepose.db.models import InferenceJob, ModelMetric
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import DatasetSplit
from cradlepose.domain.jobs import EvaluationMetrics

AP = "AP"
OKS = "OKS"  # per keypoint (class_name): the mean OKS term, which the learning loop's gate compares
OKS_THRESHOLDS = ".50:.05:.95"


class MetricOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    model_id: int
    dataset_id: int | None
    split: DatasetSplit | None
    inference_job_id: int | None
    metric_type: str
    metric_value: float
    threshold: float | None
    class_name: str | None
    evaluation_timestamp: dt.datetime
    metadata: dict[str, Any] | None = Field(validation_alias="metric_metadata")


def list_metrics(
    uow: UnitOfWork,
    model_id: int,
    *,
    dataset_id: int | None,
    split: DatasetSplit | None,
    metric_type: str | None,
    cursor: str | None,
    limit: int,
) -> Page[MetricOut]:
    access.require_researcher(uow.actor)
    uow.model_configs.require(model_id)
    query = sa.select(ModelMetric).where(ModelMetric.model_id == model_id)
    if dataset_id is not None:
        query = query.where(ModelMetric.dataset_id == dataset_id)
    if split is not None:
        query = query.where(ModelMetric.split == split)
    if metric_type is not None:
        query = query.where(ModelMetric.metric_type == metric_type)
    return keyset_page(
        uow.session,
        query,
        order_by=[ModelMetric.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=MetricOut.model_validate,
    )


def store_evaluation(uow: UnitOfWork, job: InferenceJob, metrics: EvaluationMetrics) -> int:
    """One row per figure (part of the caller's transaction); returns how many."""
    base = {
        "model_id": job.model_id,
        "dataset_id": job.dataset_id,
        "split": job.split,
        "inference_job_id": job.id,
    }
    context = {"sigmas": metrics.sigmas, "images": metrics.images, "sigma_schema_id": job.sigma_schema_id}
    # The figures the promotion gate compares, labelled with the OKS area they used.
    gating: dict[str, Any] = {"oks_area": metrics.oks_area, "gates_promotion": True}
    figures: list[tuple[str, float | None, float | None, str | None, dict[str, Any]]] = [
        (AP, metrics.ap, None, None, {"oks_thresholds": OKS_THRESHOLDS, **gating}),
        ("AP50", metrics.ap50, 0.5, None, gating),
        ("AP75", metrics.ap75, 0.75, None, gating),
        ("AP_M", metrics.ap_medium, None, None, {"area": "medium", **gating}),
        ("AP_L", metrics.ap_large, None, None, {"area": "large", **gating}),
        ("AR", metrics.ar, None, None, {"oks_thresholds": OKS_THRESHOLDS, **gating}),
        ("AR50", metrics.ar50, 0.5, None, gating),
        ("AR75", metrics.ar75, 0.75, None, gating),
        ("MEAN_ERROR_PX", metrics.mean_error_px, None, None, {}),
        ("PCK", metrics.pck, metrics.pck_alpha, None, {}),
    ]
    comparable = metrics.coco_comparable
    if comparable is not None:
        label = {"oks_area": comparable.oks_area}
        figures += [
            ("COCO_AP", comparable.ap, None, None, {"oks_thresholds": OKS_THRESHOLDS, **label}),
            ("COCO_AP50", comparable.ap50, 0.5, None, label),
            ("COCO_AP75", comparable.ap75, 0.75, None, label),
            ("COCO_AP_M", comparable.ap_medium, None, None, {"area": "medium", **label}),
            ("COCO_AP_L", comparable.ap_large, None, None, {"area": "large", **label}),
            ("COCO_AR", comparable.ar, None, None, {"oks_thresholds": OKS_THRESHOLDS, **label}),
        ]
    for keypoint in metrics.per_keypoint:
        extra = {
            "keypoint_id": keypoint.keypoint_id,
            "labelled": keypoint.labelled,
            "detected": keypoint.detected,
        }
        figures.append(("MEAN_ERROR_PX", keypoint.mean_error_px, None, keypoint.name, extra))
        figures.append(("PCK", keypoint.pck, metrics.pck_alpha, keypoint.name, extra))
        figures.append((OKS, keypoint.oks, None, keypoint.name, extra))
    rows = [
        ModelMetric(
            **base,
            metric_type=metric_type,
            metric_value=value,
            threshold=threshold,
            class_name=class_name,
            metric_metadata={**context, **extra},
        )
        for metric_type, value, threshold, class_name, extra in figures
        if value is not None and value >= 0
    ]
    uow.session.add_all(rows)
    return len(rows)


def latest_ap(
    uow: UnitOfWork, model_id: int, dataset_id: int, split: DatasetSplit, sigmas: list[float] | None = None
) -> ModelMetric | None:
    """The model's most recent overall AP on this split (with these sigmas, when given)."""
    query = sa.select(ModelMetric).where(
        ModelMetric.model_id == model_id,
        ModelMetric.dataset_id == dataset_id,
        ModelMetric.split == split,
        ModelMetric.metric_type == AP,
        ModelMetric.class_name.is_(None),
    )
    if sigmas is not None:
        # The list itself as a JSONB parameter (a cast of its JSON text would bind a JSON string).
        query = query.where(ModelMetric.metric_metadata["sigmas"] == sa.type_coerce(sigmas, JSONB))
    return uow.session.scalar(
        query.order_by(ModelMetric.evaluation_timestamp.desc(), ModelMetric.id.desc()).limit(1)
    )


def keypoint_oks(uow: UnitOfWork, inference_job_id: int) -> dict[str, float]:
    """Keypoint name → mean OKS that one evaluation (inference job) stored."""
    rows = uow.session.execute(
        sa.select(ModelMetric.class_name, ModelMetric.metric_value).where(
            ModelMetric.inference_job_id == inference_job_id,
            ModelMetric.metric_type == OKS,
            ModelMetric.class_name.is_not(None),
        )
    ).all()
    return {str(name): float(value) for name, value in rows}


def evaluation_ap(uow: UnitOfWork, inference_job_id: int) -> ModelMetric | None:
    """The overall AP one evaluation (inference job) stored."""
    return uow.session.scalar(
        sa.select(ModelMetric).where(
            ModelMetric.inference_job_id == inference_job_id,
            ModelMetric.metric_type == AP,
            ModelMetric.class_name.is_(None),
        )
    )
