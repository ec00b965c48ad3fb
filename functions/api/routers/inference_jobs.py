"""Inference jobs (seed 001): run a model over chosen images, or evaluate it on a dataset split."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher, storage
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import JobStatus
from cradlepose.models import ml_jobs, review_batches

router = Router()
TAGS = ["models"]


@router.post(
    "/inference-jobs",
    tags=TAGS,
    status_code=202,
    summary="Queue a model run over images, or an evaluation on a dataset split (researchers)",
    responses=documented(202, 401, 403, 404, 409, 422),
)
def create_inference_job(
    me: Researcher, body: Annotated[ml_jobs.InferenceJobIn, Body()]
) -> ml_jobs.InferenceJobOut:
    with me.uow() as uow:
        return ml_jobs.create_inference_job(uow, body)


@router.get(
    "/inference-jobs",
    tags=TAGS,
    summary="Inference jobs, newest first (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_inference_jobs(
    me: Researcher,
    status: Annotated[JobStatus | None, Query()] = None,
    model_id: IdFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ml_jobs.InferenceJobOut]:
    with me.uow() as uow:
        return ml_jobs.list_inference_jobs(uow, status, model_id, cursor, limit)


@router.get(
    "/inference-jobs/<job_id>",
    tags=TAGS,
    summary="An inference job: status, progress, results and (for an evaluation) its metrics (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_inference_job(me: Researcher, job_id: ResourceId) -> ml_jobs.InferenceJobOut:
    with me.uow() as uow:
        job = ml_jobs.get_job(uow, "inference", job_id)
    assert isinstance(job, ml_jobs.InferenceJobOut)
    return job


@router.post(
    "/inference-jobs/<job_id>/cancel",
    tags=TAGS,
    summary="Cancel a queued job, or ask a running one to stop (whoever asked for it, or an admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def cancel_inference_job(me: Researcher, job_id: ResourceId) -> ml_jobs.InferenceJobOut:
    with me.uow() as uow:
        job = ml_jobs.cancel(uow, "inference", job_id)
    assert isinstance(job, ml_jobs.InferenceJobOut)
    return job


@router.post(
    "/inference-jobs/<job_id>/review-batch",
    tags=TAGS,
    status_code=201,
    summary="Turn a completed job's predictions into a batch to review, pre-annotated by its model (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def create_review_batch(
    me: Admin,
    job_id: ResourceId,
    files: Annotated[Storage, Depends(storage)],
    body: Annotated[review_batches.ReviewBatchIn, Body()],
) -> review_batches.ReviewBatchOut:
    with me.uow() as uow:
        return review_batches.create_review_batch(uow, files, job_id, body)
