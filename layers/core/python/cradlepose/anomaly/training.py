"""Training the age-group models of typical poses: a job with progress and a validation report.

An administrator requests a job (QUEUED; at most one waits at a time). The training worker (a
scheduled Lambda, `anomaly_training` in infra/functions.toml; every 15 s in the local stack) takes
the oldest queued job and runs it, committing its progress as it goes:

1. load every verified pose of the keypoint schema (anomaly.pose_embeddings) and embed it; the
   embeddings are stored (the HNSW index answers "poses like this one" from them);
2. for each age band of the configuration, split by infant, fit the band's model, validate it
   (domain.band_training); a band with too few samples gets a model row that refuses to score;
3. in one transaction: the schema's previous models retired, the new ones active, the report
   (also written as JSON to the derived bucket), the job COMPLETED.

A job that fails is FAILED with its reason and changes no model. A RUNNING job silent for
STALE_AFTER (the worker was stopped) is marked FAILED by the next worker run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cradlepose.adapters.storage import Storage
from cradlepose.anomaly import pose_embeddings
from cradlepose.common.paging import keyset_page
from cradlepose.common.system import SYSTEM
from cradlepose.common.use_cases import Page, audit, commit_or_conflict
from cradlepose.db.models import AgeGroupModel, AnomalyTrainingJob, AnomalyTrainingReport
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access, age_band_model, band_training, pose_embedding
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.anomaly_text import RESEARCH_NOTICE
from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import AnomalyTrainingStatus, AuditCategory
from cradlepose.domain.errors import Conflict, DomainError, NotFound
from cradlepose.domain.keypoint_schema import DEFAULT_SCHEMA_NAME
from cradlepose.domain.status_changes import change_status
from cradlepose.settings import get_settings

STALE_AFTER = dt.timedelta(minutes=20)
DEFAULT_BANDS = ((0.0, 3.0), (3.0, 6.0), (6.0, 12.0), (12.0, 24.0))
S = AnomalyTrainingStatus


class AgeBand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    age_min: float = Field(ge=0, le=240, description="months, inclusive")
    age_max: float = Field(gt=0, le=240, description="months, exclusive")

    @model_validator(mode="after")
    def _ordered(self) -> AgeBand:
        if self.age_min >= self.age_max:
            raise ValueError("age_min must be below age_max")
        return self


class TrainingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keypoint_schema_id: DbId | None = Field(
        default=None, ge=1, description="default: the active infant-pose-17 schema"
    )
    bands: list[AgeBand] = Field(
        default_factory=lambda: [AgeBand(age_min=a, age_max=b) for a, b in DEFAULT_BANDS],
        min_length=1,
        max_length=24,
    )
    batch_ids: list[DbId] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="learn only from these batches' verified poses (a reference cohort); default: all",
    )
    percentile: float = Field(
        default=age_band_model.DEFAULT_PERCENTILE,
        ge=50,
        le=99.9,
        description="the threshold: this percentile of the band's (out-of-fold) training scores",
    )
    min_samples: int = Field(
        default=40, ge=10, le=1_000_000, description="fewer typical poses in a band: it refuses to score"
    )
    validation_fraction: float = Field(default=0.2, ge=0, le=0.5, description="share of infants held out")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _bands_do_not_overlap(self) -> TrainingConfig:
        ordered = sorted(self.bands, key=lambda b: b.age_min)
        for before, after in itertools.pairwise(ordered):
            if after.age_min < before.age_max:
                raise ValueError(
                    f"age bands {before.age_min}–{before.age_max} and {after.age_min}–{after.age_max} overlap"
                )
        return self


class AnomalyTrainingJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_name: str | None = Field(default=None, min_length=1, max_length=100)
    config: TrainingConfig = Field(default_factory=TrainingConfig)


class BandReport(BaseModel):
    age_min: float
    age_max: float
    label: str
    status: str = Field(description="trained, or refused (too few samples)")
    refusal: str | None = None
    model_id: int | None = None
    training_samples: int
    trimmed: int = Field(default=0, description="training poses the robust step set aside")
    validation_samples: int
    labelled: int
    threshold: float | None = None
    shrinkage: float | None = None
    validation_false_positive_rate: float | None = None
    roc_auc: float | None = None


class TrainingReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    training_job_id: int
    bands: list[BandReport]
    validation_false_positive_rate: float | None
    roc_auc: float | None = Field(description="over every band, where expert labels exist")
    labelled_count: int
    training_time_seconds: float
    report_file_path: str | None
    created_at: dt.datetime


class AnomalyTrainingJobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    job_name: str
    status: AnomalyTrainingStatus
    config: dict[str, Any]
    dataset: dict[str, Any] | None
    progress: float
    progress_message: str | None
    requested_by: int | None
    error_message: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    report: TrainingReportOut | None = None
    notice: str = RESEARCH_NOTICE


def _out(uow: UnitOfWork, job: AnomalyTrainingJob) -> AnomalyTrainingJobOut:
    report = uow.anomaly_reports.of_job(job.id)
    out = AnomalyTrainingJobOut.model_validate(job)
    if report is not None:
        out.report = TrainingReportOut.model_validate(report)
    return out


# ------------------------------------------------------------------ requests and reads


def request_training(uow: UnitOfWork, command: AnomalyTrainingJobIn) -> AnomalyTrainingJobOut:
    actor = access.require_admin(uow.actor)
    schema_id = _schema_id(uow, command.config.keypoint_schema_id)
    waiting = uow.session.scalar(
        sa.select(AnomalyTrainingJob.id).where(AnomalyTrainingJob.status == S.QUEUED).limit(1)
    )
    if waiting is not None:
        raise Conflict(f"a training job is already queued (job {waiting}): wait until it has started")
    config = command.config.model_copy(update={"keypoint_schema_id": schema_id})
    job = uow.anomaly_jobs.add(
        AnomalyTrainingJob(
            job_name=command.job_name or f"age-group models {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
            config=config.model_dump(mode="json"),
            requested_by=actor.user_id,
            progress_message="queued",
        )
    )
    _audit(uow, job, "ANOMALY_TRAINING_REQUESTED", new={"config": job.config})
    commit_or_conflict(uow, "a training job is already queued: wait until it has started")
    return _out(uow, job)


def list_jobs(uow: UnitOfWork, *, cursor: str | None, limit: int) -> Page[AnomalyTrainingJobOut]:
    access.require_researcher(uow.actor)
    return keyset_page(
        uow.session,
        sa.select(AnomalyTrainingJob),
        order_by=[AnomalyTrainingJob.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=lambda r: _out(uow, r),
    )


def get_job(uow: UnitOfWork, job_id: int) -> AnomalyTrainingJobOut:
    access.require_researcher(uow.actor)
    return _out(uow, uow.anomaly_jobs.require(job_id))


def _schema_id(uow: UnitOfWork, requested: int | None) -> int:
    if requested is not None:
        return uow.schemas.require(requested).id
    default = uow.schemas.active(DEFAULT_SCHEMA_NAME)
    if default is None:
        raise NotFound("KeypointSchema", DEFAULT_SCHEMA_NAME)
    return default.id


# ------------------------------------------------------------------ the worker


def run_next(
    factory: UnitOfWorkFactory, storage: Storage, context: RequestContext
) -> AnomalyTrainingJobOut | None:
    """Fail stale jobs, then run the oldest queued job to its end; None when none is queued."""
    fail_stale(factory, context)
    with factory(SYSTEM, context) as uow:
        job = uow.anomaly_jobs.next_queued()
        if job is None:
            return None
        change_status(uow, job, S.RUNNING)
        job.started_at = job.updated_at = dt.datetime.now(dt.UTC)
        job.progress, job.progress_message = Decimal("0.02"), "loading verified poses"
        _audit(uow, job, "ANOMALY_TRAINING_STARTED", new={"status": S.RUNNING.value})
        try:
            commit_or_conflict(uow, "another training job is running")
        except DomainError:
            return None  # one runs at a time: this one waits for the next worker run
        job_id = job.id
    try:
        _train(factory, storage, context, job_id)
    except Exception as error:  # the job records why; the worker itself carries on
        _fail(factory, context, job_id, _reason(error))
    with factory(SYSTEM, context) as uow:
        return _out(uow, uow.anomaly_jobs.require(job_id))


def fail_stale(factory: UnitOfWorkFactory, context: RequestContext) -> list[int]:
    with factory(SYSTEM, context) as uow:
        stale = uow.anomaly_jobs.stale_running(dt.datetime.now(dt.UTC) - STALE_AFTER)
        for job in stale:
            _finish_failed(uow, job, f"no progress for {STALE_AFTER}: the worker stopped; request a new job")
        uow.commit()
        return [job.id for job in stale]


def _reason(error: Exception) -> str:
    if isinstance(error, DomainError):
        return error.detail
    return f"{type(error).__name__}: {error}"[:2000]


def _fail(factory: UnitOfWorkFactory, context: RequestContext, job_id: int, reason: str) -> None:
    with factory(SYSTEM, context) as uow:
        job = uow.anomaly_jobs.require(job_id, for_update=True)
        if job.status is S.RUNNING:
            _finish_failed(uow, job, reason)
            uow.commit()


def _finish_failed(uow: UnitOfWork, job: AnomalyTrainingJob, reason: str) -> None:
    change_status(uow, job, S.FAILED, reason=reason)
    job.error_message = reason
    job.finished_at = job.updated_at = dt.datetime.now(dt.UTC)
    job.progress_message = "failed"
    _audit(uow, job, "ANOMALY_TRAINING_FAILED", new={"status": S.FAILED.value, "error": reason})


def _progress(
    factory: UnitOfWorkFactory,
    context: RequestContext,
    job_id: int,
    fraction: float,
    message: str,
    **values: Any,
) -> None:
    with factory(SYSTEM, context) as uow:
        job = uow.anomaly_jobs.require(job_id, for_update=True)
        job.progress = Decimal(str(round(fraction, 3)))
        job.progress_message = message[:200]
        job.updated_at = dt.datetime.now(dt.UTC)
        for name, value in values.items():
            setattr(job, name, value)
        _audit(uow, job, "ANOMALY_TRAINING_PROGRESS", new={"progress": fraction, "message": message})
        uow.commit()


def _train(factory: UnitOfWorkFactory, storage: Storage, context: RequestContext, job_id: int) -> None:
    started = time.monotonic()
    with factory(SYSTEM, context) as uow:
        job = uow.anomaly_jobs.require(job_id)
        config = TrainingConfig.model_validate(job.config)
        schema_id = _schema_id(uow, config.keypoint_schema_id)
        poses = pose_embeddings.verified_poses(uow.session, schema_id=schema_id, batch_ids=config.batch_ids)
    vectors, ok = pose_embeddings.embed(poses)
    embeddable = [p for p, good in zip(poses, ok, strict=True) if good]
    with factory(SYSTEM, context) as uow:
        pose_embeddings.store(uow, embeddable, vectors[ok])
        dataset = {
            "keypoint_schema_id": schema_id,
            "embedding_model": pose_embedding.RECIPE_NAME,
            "embedding_version": pose_embedding.RECIPE_VERSION,
            "dimension": pose_embedding.DIMENSION,
            "batch_ids": config.batch_ids,
            "verified_poses": len(poses),
            "embedded": len(embeddable),
            "not_embeddable": [p.annotation_id for p, good in zip(poses, ok, strict=True) if not good][:100],
            "without_age": sum(1 for p in embeddable if p.age_months is None),
            "expert_labelled": sum(1 for p in embeddable if p.expert_label is not None),
        }
        job = uow.anomaly_jobs.require(job_id, for_update=True)
        job.dataset = dataset
        job.progress, job.progress_message = Decimal("0.3"), f"embedded {len(embeddable)} verified poses"
        job.updated_at = dt.datetime.now(dt.UTC)
        _audit(uow, job, "ANOMALY_TRAINING_PROGRESS", new={"progress": 0.3, "dataset": dataset})
        uow.commit()

    features = pose_embedding.model_view(vectors[ok]) if embeddable else np.zeros((0, 0))
    ages = np.array([p.age_months if p.age_months is not None else np.nan for p in embeddable])
    outcomes = []
    for index, band in enumerate(config.bands):
        members = np.flatnonzero((ages >= band.age_min) & (ages < band.age_max))
        outcomes.append(
            band_training.train_band(
                features[members] if members.size else np.zeros((0, len(pose_embedding.MODEL_FEATURES))),
                [embeddable[i].group for i in members],
                [embeddable[i].expert_label for i in members],
                age_min=band.age_min,
                age_max=band.age_max,
                percentile=config.percentile,
                min_samples=config.min_samples,
                validation_fraction=config.validation_fraction,
                seed=config.seed,
            )
        )
        _progress(
            factory,
            context,
            job_id,
            0.3 + 0.6 * (index + 1) / len(config.bands),
            f"band {index + 1} of {len(config.bands)} ({outcomes[-1].label}): "
            + ("trained" if outcomes[-1].model is not None else "too few samples"),
        )
    _publish(factory, storage, context, job_id, schema_id, config, outcomes, time.monotonic() - started)


def _publish(
    factory: UnitOfWorkFactory,
    storage: Storage,
    context: RequestContext,
    job_id: int,
    schema_id: int,
    config: TrainingConfig,
    outcomes: list[band_training.BandOutcome],
    elapsed: float,
) -> None:
    recipe, version = pose_embedding.RECIPE_NAME, pose_embedding.RECIPE_VERSION
    with factory(SYSTEM, context) as uow:
        job = uow.anomaly_jobs.require(job_id, for_update=True)
        retired = uow.age_group_models.deactivate(schema_id, recipe, version)
        bands = []
        for outcome in outcomes:
            row = uow.age_group_models.add(
                AgeGroupModel(
                    training_job_id=job_id,
                    keypoint_schema_id=schema_id,
                    age_min_months=Decimal(str(outcome.age_min)),
                    age_max_months=Decimal(str(outcome.age_max)),
                    model_type=age_band_model.MODEL_TYPE,
                    embedding_model=recipe,
                    embedding_version=version,
                    parameters=outcome.model.to_parameters() if outcome.model else None,
                    sample_count=outcome.model.sample_count if outcome.model else outcome.training_samples,
                    threshold=outcome.model.threshold if outcome.model else None,
                    threshold_percentile=Decimal(str(round(config.percentile, 1))),
                    refusal=outcome.refusal,
                )
            )
            bands.append(_band_report(outcome, row.id))
        fpr, auc = band_training.pooled(outcomes)
        report_key = f"anomaly/training/{job_id}/report.json"
        report = uow.anomaly_reports.add(
            AnomalyTrainingReport(
                training_job_id=job_id,
                bands=[b.model_dump(mode="json") for b in bands],
                validation_false_positive_rate=fpr,
                roc_auc=auc,
                labelled_count=sum(o.labelled for o in outcomes),
                training_time_seconds=round(elapsed, 3),
                report_file_path=report_key,
            )
        )
        change_status(uow, job, S.COMPLETED)
        job.progress, job.progress_message = Decimal(1), "completed"
        job.finished_at = job.updated_at = dt.datetime.now(dt.UTC)
        document = {
            "notice": RESEARCH_NOTICE,
            "job": {"id": job_id, "name": job.job_name, "config": job.config, "dataset": job.dataset},
            "model_type": age_band_model.MODEL_TYPE,
            "validation_false_positive_rate": fpr,
            "roc_auc": auc,
            "bands": report.bands,
        }
        storage.put(
            get_settings().derived_bucket,
            report_key,
            json.dumps(document, indent=2).encode(),
            content_type="application/json",
        )
        _audit(
            uow,
            job,
            "ANOMALY_MODELS_TRAINED",
            new={
                "status": S.COMPLETED.value,
                "models": [b.model_id for b in bands],
                "retired_models": retired,
                "roc_auc": auc,
                "validation_false_positive_rate": fpr,
            },
        )
        commit_or_conflict(uow, "another training job published its models at the same time")


def _band_report(outcome: band_training.BandOutcome, model_id: int) -> BandReport:
    model = outcome.model
    return BandReport(
        age_min=outcome.age_min,
        age_max=outcome.age_max,
        label=outcome.label,
        status="trained" if model else "refused",
        refusal=outcome.refusal,
        model_id=model_id,
        training_samples=outcome.training_samples,
        trimmed=model.trimmed if model else 0,
        validation_samples=outcome.validation_samples,
        labelled=outcome.labelled,
        threshold=round(model.threshold, 6) if model else None,
        shrinkage=round(model.shrinkage, 6) if model else None,
        validation_false_positive_rate=outcome.false_positive_rate,
        roc_auc=outcome.roc_auc,
    )


def _audit(uow: UnitOfWork, job: AnomalyTrainingJob, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.SYSTEM, "AnomalyTrainingJob", job.id, job.job_name, **details)
