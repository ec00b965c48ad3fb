"""Imports of COCO keypoints archives: each becomes a batch pre-annotated with its keypoints (admin)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body

from api.dependencies import Admin, streaming_storage
from api.params import ResourceId
from api.problems import documented
from cradlepose.adapters.storage import StreamingStorage
from cradlepose.datasets import dataset_imports

router = Router()
TAGS = ["datasets"]
StorageDep = Annotated[StreamingStorage, Depends(streaming_storage)]


@router.post(
    "/dataset-imports",
    tags=TAGS,
    status_code=201,
    summary="Start an import: get the presigned form to upload one COCO keypoints ZIP (admin)",
    responses=documented(201, 401, 403, 409, 413, 422),
)
def create_import(
    me: Admin, files: StorageDep, body: Annotated[dataset_imports.ImportIn, Body()]
) -> dataset_imports.ImportOut:
    with me.uow() as uow:
        return dataset_imports.create_import(uow, files, body)


@router.get(
    "/dataset-imports/<import_id>",
    tags=TAGS,
    summary="An import's state: its batch and dataset when COMPLETED, the first broken record when FAILED",
    responses=documented(200, 401, 403, 404),
)
def get_import(me: Admin, import_id: ResourceId) -> dataset_imports.ImportOut:
    with me.uow() as uow:
        return dataset_imports.get_import(uow, import_id)


@router.post(
    "/dataset-imports/<import_id>/start",
    tags=TAGS,
    status_code=202,
    summary="The ZIP is uploaded: check every record now (422 names the first broken one), then import it",
    responses=documented(202, 401, 403, 404, 409, 413, 422),
)
def start_import(me: Admin, import_id: ResourceId, files: StorageDep) -> dataset_imports.ImportOut:
    with me.uow() as uow:
        return dataset_imports.start_import(uow, files, import_id)
