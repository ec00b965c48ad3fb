"""Training jobs (seed 001): fine-tune a registered YOLO pose model on a dataset's YOLO pose export."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Researcher
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import JobStatus
from cradlepose.models import ml_jobs

router = Router()
TAGS = ["models"]


@router.post(
    "/training-jobs",
    tags=TAGS,
    status_code=202,
    summary="Queue a fine-tune; the result is registered as a new DEVELOPMENT model (researchers)",
    responses=documented(202, 401, 403, 404, 409, 422),
)
def create_training_job(
    me: Researcher, body: Annotated[ml_jobs.TrainingJobIn, Body()]
) -> ml_jobs.TrainingJobOut:
    with me.uow() as uow:
        return ml_jobs.create_training_job(uow, body)


@router.get(
    "/training-jobs",
    tags=TAGS,
    summary="Training jobs, newest first (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_training_jobs(
    me: Researcher,
    status: Annotated[JobStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ml_jobs.TrainingJobOut]:
    with me.uow() as uow:
        return ml_jobs.list_training_jobs(uow, status, cursor, limit)


@router.get(
    "/training-jobs/<job_id>",
    tags=TAGS,
    summary="A training job: status, progress, the tail of its log, its result model (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_training_job(me: Researcher, job_id: ResourceId) -> ml_jobs.TrainingJobOut:
    with me.uow() as uow:
        job = ml_jobs.get_job(uow, "training", job_id)
    assert isinstance(job, ml_jobs.TrainingJobOut)
    return job


@router.post(
    "/training-jobs/<job_id>/cancel",
    tags=TAGS,
    summary="Cancel a queued job, or ask a running one to stop (whoever asked for it, or an admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def cancel_training_job(me: Researcher, job_id: ResourceId) -> ml_jobs.TrainingJobOut:
    with me.uow() as uow:
        job = ml_jobs.cancel(uow, "training", job_id)
    assert isinstance(job, ml_jobs.TrainingJobOut)
    return job
