"""The jobs worker: starts queued training and inference jobs, and follows the running ones.

Run on a schedule (`ml_jobs` in infra/functions.toml; the local stack runs it too), it:
1. writes each startable QUEUED job's spec to S3 (`s3://<results>/jobs/<kind>/<id>/spec.json`)
   and starts it with the job runner (an ECS GPU task, or a local thread), then marks it RUNNING.
   A training job waits while its dataset's YOLO export is being packed, and fails if the export
   failed;
2. reads each RUNNING job's latest report (`…/status.json`) and copies progress and log into the
   row; a finished report finishes the job: a trained model is registered (DEVELOPMENT, the
   dataset's schema, `base_model_id` = the model it started from), an evaluation's metrics are
   stored; a job silent for `job_stale_after_s` has failed. A job asked to stop gets its cancel
   marker (`…/cancel`), which it checks between batches.
Every step is idempotent: the runner starts a job once (ECS clientToken), and a report is
applied only when it is newer than the last one applied.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ValidationError

from cradlepose.adapters.job_runner import JobLaunch, JobNotStarted, JobRunner
from cradlepose.adapters.storage import ObjectMissing, Storage
from cradlepose.common.system import SYSTEM
from cradlepose.common.use_cases import audit
from cradlepose.db.models import (
    Annotation,
    Collection,
    DatasetImage,
    Image,
    InferenceJob,
    TrainingJob,
)
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import AuditCategory, AuditStatus, CollectionStatus, JobStatus
from cradlepose.domain.inference import ChunkImage
from cradlepose.domain.jobs import (
    EvaluationSpec,
    InferenceJobSpec,
    JobReport,
    TrainingHyperparameters,
    TrainingSpec,
    TruthImage,
)
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import KeypointSet
from cradlepose.domain.status_changes import change_status
from cradlepose.models import model_configs, model_metrics, run_statistics
from cradlepose.models.model_specs import spec_from_config
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

WORKER_CONTEXT = RequestContext(user_agent="cradle-jobs-worker", endpoint="schedule", method="EVENT")
Kind = Literal["training", "inference"]
TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass
class WorkerRun:
    started: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)


def job_key(kind: Kind, job_id: int, name: str) -> str:
    return f"jobs/{kind}/{job_id}/{name}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def run(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    runner: JobRunner,
    limit: int = 10,
    context: RequestContext = WORKER_CONTEXT,
) -> WorkerRun:
    """One pass: start what can start, follow what runs (each job in its own transaction)."""
    result = WorkerRun()
    kinds: tuple[Kind, ...] = ("training", "inference")
    for kind in kinds:
        for job_id in _ids(uow_factory, kind, JobStatus.QUEUED, limit, context):
            if _dispatch(uow_factory, storage, runner, kind, job_id, context):
                result.started.append(f"{kind}-{job_id}")
        for job_id in _ids(uow_factory, kind, JobStatus.RUNNING, limit, context):
            outcome = _follow(uow_factory, storage, kind, job_id, context)
            if outcome == "finished":
                result.finished.append(f"{kind}-{job_id}")
            elif outcome == "updated":
                result.updated.append(f"{kind}-{job_id}")
    return result


def _ids(
    uow_factory: UnitOfWorkFactory, kind: Kind, status: JobStatus, limit: int, context: RequestContext
) -> list[int]:
    model = TrainingJob if kind == "training" else InferenceJob
    with uow_factory(SYSTEM, context) as uow:
        return list(
            uow.session.scalars(
                sa.select(model.id).where(model.status == status).order_by(model.id).limit(limit)
            )
        )


# ------------------------------------------------------------------ starting


def _dispatch(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    runner: JobRunner,
    kind: Kind,
    job_id: int,
    context: RequestContext,
) -> bool:
    settings = get_settings()
    with uow_factory(SYSTEM, context) as uow:
        job = _locked(uow, kind, job_id)
        if job is None or job.status is not JobStatus.QUEUED:
            return False
        if isinstance(job, TrainingJob):
            spec: TrainingSpec | InferenceJobSpec | str | None = _training_spec(uow, storage, job)
        else:
            spec = _inference_spec(uow, job)
        if spec is None:
            return False  # its export is still being packed
        if isinstance(spec, str):
            _finish(uow, job, JobStatus.FAILED, error=spec)
            uow.commit()
            return False
        key = job_key(kind, job.id, "spec.json")
        storage.put(
            settings.results_bucket, key, spec.model_dump_json().encode(), content_type="application/json"
        )
        launch = JobLaunch(kind, job.id, s3_uri(settings.results_bucket, key))
        try:
            handle = runner.start(launch)
        except JobNotStarted as error:
            log.warning("job %s not started yet: %s", launch.name, error)
            return False
        change_status(uow, job, JobStatus.RUNNING)
        job.start_time = dt.datetime.now(dt.UTC)
        job.runner, job.runner_handle, job.spec_uri = runner.name, handle, launch.spec_uri
        _audit(
            uow, job, "JOB_STARTED", new={"runner": runner.name, "handle": handle, "spec": launch.spec_uri}
        )
        uow.commit()
        return True


def _missing(storage: Storage, bucket: str, key: str) -> str | None:
    try:
        storage.head(bucket, key)
    except ObjectMissing:
        return f"s3://{bucket}/{key}"
    return None


def _training_spec(uow: UnitOfWork, storage: Storage, job: TrainingJob) -> TrainingSpec | str | None:
    settings = get_settings()
    export = uow.session.get(Collection, job.export_id)
    assert export is not None
    if export.status is CollectionStatus.PENDING:
        return None
    if export.status is not CollectionStatus.READY or not export.archive_path:
        reason = f": {export.error_message}" if export.error_message else ""
        return f"the dataset's YOLO pose export {export.id} is {export.status.value}{reason}"
    base = uow.model_configs.require(job.base_model_id)
    if not base.model_path:
        return f"model {base.id} has no weights"
    # What the GPU task will read must be there before one is started for it.
    missing = _missing(storage, settings.exports_bucket, export.archive_path)
    if missing:
        return f"the dataset's YOLO pose export {export.id} is gone from S3 ({missing}); export it again"
    if base.model_path.startswith(f"s3://{settings.models_bucket}/"):
        missing = _missing(storage, settings.models_bucket, base.model_path.split("/", 3)[3])
        if missing:
            return f"the weights of model {base.id} are missing ({missing})"
    return TrainingSpec(
        job_id=job.id,
        base_weights=base.model_path,
        dataset_archive=s3_uri(settings.exports_bucket, export.archive_path),
        hyperparameters=TrainingHyperparameters.model_validate(job.hyperparameters),
        output_weights=s3_uri(settings.models_bucket, f"trained/job-{job.id}/best.pt"),
        status_uri=s3_uri(settings.results_bucket, job_key("training", job.id, "status.json")),
        cancel_uri=s3_uri(settings.results_bucket, job_key("training", job.id, "cancel")),
    )


def _inference_spec(uow: UnitOfWork, job: InferenceJob) -> InferenceJobSpec | str:
    settings = get_settings()
    config = uow.model_configs.require(job.model_id)
    schema_row = uow.schemas.require(config.keypoint_schema_id)
    try:
        model = spec_from_config(config, schema_row)
    except Exception as error:  # a misconfigured model fails its job, with the reason
        return str(getattr(error, "detail", error))
    images = uow.session.execute(
        sa.select(Image.id, Image.storage_path).where(Image.id.in_(job.target_images)).order_by(Image.id)
    ).all()
    if not images:
        return "none of the job's images exists any more"
    evaluation = None
    if job.dataset_id is not None and job.split is not None:
        evaluation = _evaluation_spec(uow, job)
    return InferenceJobSpec(
        job_id=job.id,
        model=model,
        bucket=settings.uploads_bucket,
        images=[ChunkImage(image_id=i, key=key) for i, key in images],
        predictions_uri=s3_uri(settings.results_bucket, job_key("inference", job.id, "predictions.jsonl")),
        status_uri=s3_uri(settings.results_bucket, job_key("inference", job.id, "status.json")),
        cancel_uri=s3_uri(settings.results_bucket, job_key("inference", job.id, "cancel")),
        evaluation=evaluation,
    )


def _evaluation_spec(uow: UnitOfWork, job: InferenceJob) -> EvaluationSpec:
    assert job.dataset_id is not None
    assert job.split is not None
    dataset = uow.datasets.require(job.dataset_id)
    schema = SchemaDefinition.model_validate(
        uow.schemas.require(dataset.keypoint_schema_id).schema_definition
    )
    sigma_source = schema
    if job.sigma_schema_id is not None:
        sigma_source = SchemaDefinition.model_validate(
            uow.schemas.require(job.sigma_schema_id).schema_definition
        )
    rows = uow.session.execute(
        sa.select(
            Image.id,
            Image.width,
            Image.height,
            Image.yolo_keypoints,
            DatasetImage.annotation_id,
            Annotation.refined_keypoints,
        )
        .join(DatasetImage, DatasetImage.image_id == Image.id)
        .outerjoin(Annotation, Annotation.id == DatasetImage.annotation_id)
        .where(DatasetImage.dataset_id == dataset.id, DatasetImage.split == job.split)
        .order_by(Image.id)
    ).all()
    truth = []
    for image_id, width, height, imported, annotation_id, refined in rows:
        payload = refined if annotation_id is not None else imported
        if payload is None:
            continue  # an imported image without keypoints has nothing to be scored against
        keypoints = KeypointSet.model_validate(payload).model_copy(update={"modifications_from_yolo": None})
        truth.append(TruthImage(image_id=image_id, width=width, height=height, keypoints=keypoints))
    return EvaluationSpec(
        dataset_id=dataset.id,
        split=job.split,
        keypoint_ids=list(schema.ids),
        keypoint_names=[k.name for k in schema.keypoints],
        sigmas=sigma_source.sigmas(),
        truth=truth,
    )


# ------------------------------------------------------------------ following


def _follow(
    uow_factory: UnitOfWorkFactory, storage: Storage, kind: Kind, job_id: int, context: RequestContext
) -> str | None:
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    with uow_factory(SYSTEM, context) as uow:
        job = _locked(uow, kind, job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return None
        if job.cancel_requested:
            storage.put(
                settings.results_bucket, job_key(kind, job.id, "cancel"), b"cancel", content_type="text/plain"
            )
        report = _report(storage, kind, job.id)
        last_heard = (report.updated_at if report else None) or job.start_time or now
        if report is None or (job.last_report_at is not None and report.updated_at <= job.last_report_at):
            if (now - last_heard).total_seconds() > settings.job_stale_after_s:
                _finish(
                    uow,
                    job,
                    JobStatus.FAILED,
                    error=f"no report from the job for {settings.job_stale_after_s} s",
                )
                uow.commit()
                return "finished"
            return None
        job.progress_percentage = Decimal(str(round(report.progress, 2)))
        job.execution_logs = report.log_tail or job.execution_logs
        job.last_report_at = report.updated_at
        if report.state not in TERMINAL:
            _audit(uow, job, "JOB_PROGRESS", new={"progress": report.progress, "message": report.message})
            uow.commit()
            return "updated"
        _apply_outcome(uow, job, report)
        uow.commit()
        return "finished"


def _report(storage: Storage, kind: Kind, job_id: int) -> JobReport | None:
    try:
        data = storage.get(get_settings().results_bucket, job_key(kind, job_id, "status.json"))
    except ObjectMissing:
        return None
    try:
        return JobReport.model_validate_json(data)
    except ValidationError:
        log.warning("the report of %s job %s is not readable", kind, job_id)
        return None


def _apply_outcome(uow: UnitOfWork, job: TrainingJob | InferenceJob, report: JobReport) -> None:
    if report.state is JobStatus.COMPLETED:
        try:
            with uow.session.begin_nested():  # a refused result leaves nothing of itself behind
                if isinstance(job, TrainingJob):
                    _register_trained_model(uow, job, report)
                else:
                    _store_inference(uow, job, report)
        except Exception as error:  # a result Cradle cannot take in fails the job, said plainly
            log.exception("the outcome of job %s could not be taken in", job.id)
            _finish(
                uow,
                job,
                JobStatus.FAILED,
                error=f"the job finished, but its result was refused: {error}",
                report=report,
            )
            return
        _finish(uow, job, JobStatus.COMPLETED, report=report)
    else:
        _finish(
            uow,
            job,
            report.state,
            error=report.error or (None if report.state is JobStatus.CANCELLED else "failed"),
            report=report,
        )


def _register_trained_model(uow: UnitOfWork, job: TrainingJob, report: JobReport) -> None:
    outcome = report.training
    if outcome is None:
        raise ValueError("the report of a completed training job carries no outcome")
    base = uow.model_configs.require(job.base_model_id)
    dataset = uow.datasets.require(job.dataset_id)
    schema = SchemaDefinition.model_validate(
        uow.schemas.require(dataset.keypoint_schema_id).schema_definition
    )
    if outcome.keypoint_count != schema.total_keypoints:
        raise ValueError(
            f"the model predicts {outcome.keypoint_count} keypoints, the schema has {schema.total_keypoints}"
        )
    hyper = TrainingHyperparameters.model_validate(job.hyperparameters)
    parameters = {**(base.model_parameters or {}), "keypoint_map": list(schema.ids)}
    figures = ", ".join(f"{k} {v:.4f}" for k, v in sorted(outcome.metrics.items()))
    model = model_configs.register(
        uow,
        model_name=job.result_model_name,
        version=job.result_model_version,
        framework=base.framework,
        variant=base.variant,
        base_model_id=base.id,
        keypoint_schema_id=dataset.keypoint_schema_id,
        model_parameters=parameters,
        input_resolution={"width": hyper.imgsz, "height": hyper.imgsz},
        model_path=outcome.weights_uri,
        description=f"fine-tuned from {base.model_name} {base.version} by training job {job.id}",
        training_dataset_info=(
            f"dataset {dataset.id} ({dataset.name}), export {job.export_id}, "
            f"{outcome.epochs_completed} epochs; final validation: {figures or 'none'}"
        ),
        created_by=job.created_by,
    )
    job.result_model_id = model.id
    job.job_metadata = {
        **(job.job_metadata or {}),
        "metrics": outcome.metrics,
        "epochs": outcome.epochs_completed,
    }


def _store_inference(uow: UnitOfWork, job: InferenceJob, report: JobReport) -> None:
    outcome = report.inference
    if outcome is None:
        raise ValueError("the report of a completed inference job carries no outcome")
    job.results = outcome.model_dump(mode="json", exclude={"evaluation"})
    if outcome.evaluation is not None:
        if job.dataset_id is None:
            raise ValueError("an evaluation came back for a job that asked for none")
        stored = model_metrics.store_evaluation(uow, job, outcome.evaluation)
        job.results["metrics_stored"] = stored
        job.results["evaluation"] = outcome.evaluation.model_dump(mode="json", exclude={"per_keypoint"})
    # Last: the roll-up flushes, and `results` (plain JSON, not change-tracked) is complete by then.
    if outcome.tally is not None:
        run_statistics.record_run(uow, job.model_id, outcome.tally, inference_job_id=job.id)


def _finish(
    uow: UnitOfWork,
    job: TrainingJob | InferenceJob,
    status: JobStatus,
    error: str | None = None,
    report: JobReport | None = None,
) -> None:
    """`report`: the job's last report, whose measure of the work becomes processing_time_ms (a
    job that went silent, or was never started, has none)."""
    change_status(uow, job, status)
    job.end_time = dt.datetime.now(dt.UTC)
    job.processing_time_ms = report.processing_time_ms if report is not None else None
    if status is JobStatus.COMPLETED:
        job.progress_percentage = Decimal("100.00")
    if error is not None:
        job.error_message = error[:5000]
    _audit(
        uow,
        job,
        f"JOB_{status.value}",
        new={"status": status, "result_model_id": getattr(job, "result_model_id", None)},
        failed=status is JobStatus.FAILED,
        error=error,
        processing_time_ms=job.processing_time_ms,
    )


def _locked(uow: UnitOfWork, kind: Kind, job_id: int) -> TrainingJob | InferenceJob | None:
    if kind == "training":
        return uow.session.scalar(
            sa.select(TrainingJob).where(TrainingJob.id == job_id).with_for_update(skip_locked=True)
        )
    return uow.session.scalar(
        sa.select(InferenceJob).where(InferenceJob.id == job_id).with_for_update(skip_locked=True)
    )


def _audit(
    uow: UnitOfWork,
    job: TrainingJob | InferenceJob,
    action: str,
    *,
    new: dict[str, Any],
    failed: bool = False,
    error: str | None = None,
    processing_time_ms: int | None = None,
) -> None:
    audit(
        uow,
        action,
        AuditCategory.SYSTEM,
        type(job).__name__,
        job.id,
        new=new,
        status=AuditStatus.FAILED if failed else AuditStatus.SUCCESS,
        error=error,
        processing_time_ms=processing_time_ms,
    )
