"""Image batches and their uploads."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Worker, storage, workflow
from api.observability import metrics
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.adapters.workflow import Workflow
from cradlepose.common.upload_forms import UploadForm
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import BatchStatus
from cradlepose.intake import batches
from cradlepose.preannotation import pipeline

router = Router()
TAGS = ["batches"]
StorageDep = Annotated[Storage, Depends(storage)]
WorkflowDep = Annotated[Workflow, Depends(workflow)]


@router.post(
    "/batches",
    tags=TAGS,
    status_code=201,
    summary="Create a batch and get one presigned upload form per image (admin)",
    responses=documented(201, 401, 403, 409, 413, 422),
)
def create_batch(
    me: Admin, files: StorageDep, body: Annotated[batches.BatchIn, Body()]
) -> batches.BatchCreated:
    with me.uow() as uow:
        created = batches.create_batch(uow, files, body)
    metrics.add_metric(name="BatchesCreated", unit="Count", value=1)
    return created


@router.get(
    "/batches",
    tags=TAGS,
    summary="List the batches you may see, newest first",
    responses=documented(200, 401, 403, 422),
)
def list_batches(
    me: Worker,
    status: Annotated[BatchStatus | None, Query()] = None,
    min_priority: Annotated[int | None, Query(ge=1, le=10)] = None,
    uploaded_by: IdFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[batches.BatchOut]:
    filters = batches.BatchFilters(status=status, min_priority=min_priority, uploaded_by=uploaded_by)
    with me.uow() as uow:
        return batches.list_batches(uow, filters, cursor, limit)


@router.get(
    "/batches/<batch_id>",
    tags=TAGS,
    summary="A batch with its progress",
    responses=documented(200, 401, 403, 404),
)
def get_batch(me: Worker, batch_id: ResourceId) -> batches.BatchDetail:
    with me.uow() as uow:
        return batches.get_batch(uow, batch_id)


@router.patch(
    "/batches/<batch_id>",
    tags=TAGS,
    summary="Rename, describe, reprioritise or set the due date of a batch (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def update_batch(
    me: Admin, batch_id: ResourceId, body: Annotated[batches.BatchUpdate, Body()]
) -> batches.BatchOut:
    with me.uow() as uow:
        return batches.update_batch(uow, batch_id, body)


@router.post(
    "/batches/<batch_id>/uploads",
    tags=TAGS,
    summary="More upload forms for a batch still uploading (admin)",
    responses=documented(200, 401, 403, 404, 409, 413, 422),
)
def more_uploads(
    me: Admin, batch_id: ResourceId, files: StorageDep, body: Annotated[batches.MoreUploads, Body()]
) -> list[UploadForm]:
    with me.uow() as uow:
        return batches.more_uploads(uow, files, batch_id, body)


@router.get(
    "/batches/<batch_id>/uploads",
    tags=TAGS,
    summary="What happened to each uploaded file (admin)",
    responses=documented(200, 401, 403, 404),
)
def upload_report(me: Admin, batch_id: ResourceId) -> batches.UploadReport:
    with me.uow() as uow:
        return batches.upload_report(uow, batch_id)


@router.post(
    "/batches/<batch_id>/complete",
    tags=TAGS,
    summary="Every file is in: expect what arrived and start pre-annotation (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def complete(me: Admin, batch_id: ResourceId, runs: WorkflowDep) -> batches.BatchDetail:
    with me.uow() as uow:
        detail, run_id = batches.complete_uploads(uow, batch_id)
    if run_id is not None:
        pipeline.start_run(me.uow_factory, runs, run_id, me.actor)
        with me.uow() as uow:
            detail = batches.get_batch(uow, batch_id)
    return detail


@router.post(
    "/batches/<batch_id>/pipeline/restart",
    tags=TAGS,
    summary="Start a failed pipeline again: a new run pre-annotates the images left without a result (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def restart_pipeline(me: Admin, batch_id: ResourceId, runs: WorkflowDep) -> batches.BatchDetail:
    with me.uow() as uow:
        run_id = pipeline.restart_failed(uow, batch_id)
    # Started after the commit through the same adapter as the upload trigger's and `complete`'s runs.
    pipeline.start_run(me.uow_factory, runs, run_id, me.actor)
    with me.uow() as uow:
        return batches.get_batch(uow, batch_id)


@router.post(
    "/batches/<batch_id>/archive",
    tags=TAGS,
    summary="Archive a batch (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def archive(me: Admin, batch_id: ResourceId) -> batches.BatchOut:
    with me.uow() as uow:
        return batches.archive(uow, batch_id)
