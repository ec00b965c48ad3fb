"""Training and inference jobs (seed 001): asked for here, run by the jobs worker (models.job_worker).

A training job fine-tunes a registered YOLO pose model on a dataset's YOLO pose export (made
for it if the dataset has none ready or under way) and registers the result as a new model,
DEVELOPMENT, for the dataset's schema. An inference job runs a model over chosen images; an
evaluation is an inference job over one split of a dataset whose predictions are scored against
the split's keypoints (COCO keypoint AP with the schema's sigmas, pixel error, PCK) and stored as
the model's metrics. Both start QUEUED; cancelling a queued job ends it at once, a running one is
asked to stop (it stops between batches).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cradlepose.common import image_access
from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import DecimalNumber, Page, audit
from cradlepose.datasets import collections
from cradlepose.db.models import DatasetImage, Image, InferenceJob, MLModelConfig, TrainingJob
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.actor import Actor
from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import AuditCategory, DatasetSplit, ExportFormat, JobStatus
from cradlepose.domain.errors import Conflict, FieldProblem, NotFound, PermissionDenied, ValidationFailed
from cradlepose.domain.jobs import TrainingHyperparameters
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.status_changes import change_status

MAX_TARGET_IMAGES = 100_000
Kind = Literal["training", "inference"]


class TrainingJobIn(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    base_model_id: DbId
    dataset_id: DbId
    hyperparameters: TrainingHyperparameters = Field(default_factory=TrainingHyperparameters)
    result_model_name: str | None = Field(
        default=None, min_length=1, max_length=100, description="default: the base model's name + '-ft'"
    )
    result_model_version: str | None = Field(
        default=None, min_length=1, max_length=20, description="default: job-<id>"
    )


class EvaluationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: DbId
    split: DatasetSplit = DatasetSplit.TEST
    sigma_schema_id: DbId | None = Field(
        default=None, description="score with this schema version's sigmas (default: the dataset's schema)"
    )


class InferenceJobIn(BaseModel):
    """Either images to run the model over, or an evaluation on a dataset split."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: DbId
    image_ids: list[DbId] | None = Field(default=None, min_length=1, max_length=MAX_TARGET_IMAGES)
    evaluation: EvaluationIn | None = None

    @model_validator(mode="after")
    def _one_target(self) -> InferenceJobIn:
        if (self.image_ids is None) == (self.evaluation is None):
            raise ValueError("give either image_ids or an evaluation")
        return self


class _JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: JobStatus
    progress_percentage: DecimalNumber
    execution_logs: str | None
    error_message: str | None
    runner: str | None
    runner_handle: str | None
    cancel_requested: bool
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    processing_time_ms: int | None = Field(
        default=None, description="the runner's measure of the work, once the job has ended"
    )
    last_report_at: dt.datetime | None
    metadata: dict[str, Any] | None = Field(validation_alias="job_metadata")
    created_by: int
    created_at: dt.datetime
    updated_at: dt.datetime


class TrainingJobOut(_JobOut):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    base_model_id: int
    dataset_id: int
    export_id: int
    hyperparameters: dict[str, Any]
    result_model_name: str
    result_model_version: str
    result_model_id: int | None


class InferenceJobOut(_JobOut):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    model_id: int
    target_image_count: int = 0
    dataset_id: int | None
    split: DatasetSplit | None
    sigma_schema_id: int | None
    results: dict[str, Any] | None


# ------------------------------------------------------------------ asking


def create_training_job(uow: UnitOfWork, command: TrainingJobIn) -> TrainingJobOut:
    actor = access.require_researcher(uow.actor)
    base = uow.model_configs.get(command.base_model_id)
    if base is None or not base.is_active:
        raise ValidationFailed.single("base_model_id", f"no active model {command.base_model_id}")
    if not base.model_path:
        raise Conflict(f"model {base.id} has no weights (model_path) to start from")
    dataset = uow.datasets.get(command.dataset_id)
    if dataset is None:
        raise ValidationFailed.single("dataset_id", f"dataset {command.dataset_id} does not exist")
    if base.keypoint_schema_id != dataset.keypoint_schema_id:
        raise Conflict(
            f"model {base.id} predicts schema {base.keypoint_schema_id}'s keypoints, the dataset holds "
            f"schema {dataset.keypoint_schema_id}'s; register the weights for the dataset's schema first"
        )
    if dataset.train_count == 0:
        raise Conflict(f"dataset {dataset.id} has no training images")
    export = collections.usable_export(uow, dataset.id, ExportFormat.YOLO_POSE)
    if export is None:
        export = collections.start_export(uow, dataset.id, ExportFormat.YOLO_POSE)
    job = uow.training_jobs.add(
        TrainingJob(
            base_model_id=base.id,
            dataset_id=dataset.id,
            export_id=export.id,
            hyperparameters=command.hyperparameters.model_dump(mode="json"),
            result_model_name=command.result_model_name or f"{base.model_name}-ft"[:100],
            result_model_version=command.result_model_version or "pending",
            created_by=_creator(uow, actor),
        )
    )
    if command.result_model_version is None:
        job.result_model_version = f"job-{job.id}"
    _check_name_free(uow, job.result_model_name, job.result_model_version)
    _audit(uow, "TrainingJob", job.id, "TRAINING_JOB_QUEUED", new={
        "base_model_id": base.id, "dataset_id": dataset.id, "export_id": export.id,
        "hyperparameters": job.hyperparameters,
    })  # fmt: skip
    uow.commit()
    return TrainingJobOut.model_validate(job)


def create_inference_job(uow: UnitOfWork, command: InferenceJobIn) -> InferenceJobOut:
    actor = access.require_researcher(uow.actor)
    model = uow.model_configs.get(command.model_id)
    if model is None or not model.is_active:
        raise ValidationFailed.single("model_id", f"no active model {command.model_id}")
    dataset_id = split = sigma_schema_id = None
    if command.evaluation is not None:
        evaluation = command.evaluation
        dataset = uow.datasets.get(evaluation.dataset_id)
        if dataset is None:
            raise ValidationFailed.single(
                "evaluation.dataset_id", f"dataset {evaluation.dataset_id} does not exist"
            )
        if dataset.keypoint_schema_id != model.keypoint_schema_id:
            raise Conflict(f"model {model.id} and dataset {dataset.id} are of different keypoint schemas")
        if evaluation.sigma_schema_id is not None:
            _check_sigma_schema(uow, dataset.keypoint_schema_id, evaluation.sigma_schema_id)
        targets = list(
            uow.session.scalars(
                sa.select(DatasetImage.image_id)
                .where(DatasetImage.dataset_id == dataset.id, DatasetImage.split == evaluation.split)
                .order_by(DatasetImage.image_id)
            )
        )
        if not targets:
            raise Conflict(f"dataset {dataset.id} has no {evaluation.split.value} images to evaluate on")
        dataset_id, split, sigma_schema_id = dataset.id, evaluation.split, evaluation.sigma_schema_id
    else:
        assert command.image_ids is not None
        targets = _targetable_images(uow, actor, command.image_ids)
    job = uow.inference_jobs.add(
        InferenceJob(
            model_id=model.id,
            target_images=targets,
            dataset_id=dataset_id,
            split=split,
            sigma_schema_id=sigma_schema_id,
            created_by=_creator(uow, actor),
        )
    )
    _audit(uow, "InferenceJob", job.id, "INFERENCE_JOB_QUEUED", new={
        "model_id": model.id, "images": len(targets), "dataset_id": dataset_id, "split": split,
    })  # fmt: skip
    uow.commit()
    return inference_out(job)


def cancel(uow: UnitOfWork, kind: Kind, job_id: int) -> TrainingJobOut | InferenceJobOut:
    """Whoever asked for the job, or an admin."""
    actor = access.require_researcher(uow.actor)
    job = _require(uow, kind, job_id, for_update=True)
    if not access.owns_or_admin(actor, job.created_by):
        raise PermissionDenied(f"only whoever asked for {kind} job {job.id}, or an admin, may cancel it")
    if job.status is JobStatus.QUEUED:
        change_status(uow, job, JobStatus.CANCELLED)
        job.end_time = dt.datetime.now(dt.UTC)
        action = "JOB_CANCELLED"
    elif job.status is JobStatus.RUNNING:
        if job.cancel_requested:
            raise Conflict(f"{kind} job {job.id} was already asked to stop")
        job.cancel_requested = True
        action = "JOB_CANCEL_REQUESTED"
    else:
        raise Conflict(f"{kind} job {job.id} is {job.status.value}: there is nothing to cancel")
    _audit(uow, _resource(kind), job.id, action, new={"status": job.status})
    uow.commit()
    return _out(kind, job)


# ------------------------------------------------------------------ reading


def get_job(uow: UnitOfWork, kind: Kind, job_id: int) -> TrainingJobOut | InferenceJobOut:
    access.require_researcher(uow.actor)
    job = uow.training_jobs.get(job_id) if kind == "training" else uow.inference_jobs.get(job_id)
    if job is None:
        raise NotFound(_resource(kind), job_id)
    return _out(kind, job)


def list_training_jobs(
    uow: UnitOfWork, status: JobStatus | None, cursor: str | None, limit: int
) -> Page[TrainingJobOut]:
    access.require_researcher(uow.actor)
    query = sa.select(TrainingJob)
    if status is not None:
        query = query.where(TrainingJob.status == status)
    return keyset_page(
        uow.session,
        query,
        order_by=[TrainingJob.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=TrainingJobOut.model_validate,
    )


def list_inference_jobs(
    uow: UnitOfWork, status: JobStatus | None, model_id: int | None, cursor: str | None, limit: int
) -> Page[InferenceJobOut]:
    access.require_researcher(uow.actor)
    query = sa.select(InferenceJob)
    if status is not None:
        query = query.where(InferenceJob.status == status)
    if model_id is not None:
        query = query.where(InferenceJob.model_id == model_id)
    return keyset_page(
        uow.session,
        query,
        order_by=[InferenceJob.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=inference_out,
    )


def inference_out(job: InferenceJob) -> InferenceJobOut:
    return InferenceJobOut.model_validate(job).model_copy(
        update={"target_image_count": len(job.target_images)}
    )


# ------------------------------------------------------------------ helpers


def _out(kind: Kind, job: TrainingJob | InferenceJob) -> TrainingJobOut | InferenceJobOut:
    if isinstance(job, TrainingJob):
        return TrainingJobOut.model_validate(job)
    return inference_out(job)


def _require(uow: UnitOfWork, kind: Kind, job_id: int, *, for_update: bool) -> TrainingJob | InferenceJob:
    if kind == "training":
        return uow.training_jobs.require(job_id, for_update=for_update)
    return uow.inference_jobs.require(job_id, for_update=for_update)


def _resource(kind: Kind) -> str:
    return "TrainingJob" if kind == "training" else "InferenceJob"


def _targetable_images(uow: UnitOfWork, actor: Actor, image_ids: list[int]) -> list[int]:
    """The named images, if the actor may run a model on each. An image they may not use is
    refused in exactly the words of one that does not exist: no existence oracle."""
    rows = uow.session.scalars(sa.select(Image).where(Image.id.in_(image_ids))).all()
    usable = {
        image.id
        for image in rows
        if access.can_target_image(
            actor, image.status, holds_open_work=image_access.holds_open_work(uow, actor, image)
        )
    }
    problems = [
        FieldProblem(f"image_ids[{i}]", f"image {image_id} does not exist")
        for i, image_id in enumerate(image_ids)
        if image_id not in usable
    ]
    if problems:
        raise ValidationFailed(problems[:20])
    return list(dict.fromkeys(image_ids))


def _check_sigma_schema(uow: UnitOfWork, dataset_schema_id: int, sigma_schema_id: int) -> None:
    theirs = uow.schemas.get(sigma_schema_id)
    if theirs is None:
        raise ValidationFailed.single(
            "evaluation.sigma_schema_id", f"schema {sigma_schema_id} does not exist"
        )
    ours = SchemaDefinition.model_validate(uow.schemas.require(dataset_schema_id).schema_definition)
    if SchemaDefinition.model_validate(theirs.schema_definition).ids != ours.ids:
        raise Conflict(f"schema {sigma_schema_id} has other keypoints than the dataset's schema")


def _check_name_free(uow: UnitOfWork, name: str, version: str) -> None:
    taken = uow.session.scalar(
        sa.select(MLModelConfig.id).where(MLModelConfig.model_name == name, MLModelConfig.version == version)
    )
    if taken:
        raise Conflict(f"a model {name} {version} is registered already; choose another result_model_version")


def _creator(uow: UnitOfWork, actor: Actor) -> int:
    """Who asked: the person, or the system's row when the learning loop asks as the system."""
    user_id = actor.user_id if actor.user_id is not None else uow.system_user_id()
    if user_id is None:
        raise Conflict("the system user is missing: run the migrations")
    return user_id


def _audit(uow: UnitOfWork, resource: str, resource_id: int, action: str, *, new: dict[str, Any]) -> None:
    audit(uow, action, AuditCategory.SYSTEM, resource, resource_id, new=new)
