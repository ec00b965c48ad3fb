"""Images: per batch, one with short-lived links to its pixels and thumbnail, metadata corrections."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Worker, storage
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import ImageStatus
from cradlepose.intake import image_metadata, images

router = Router()
TAGS = ["images"]


@router.get(
    "/batches/<batch_id>/images",
    tags=TAGS,
    summary="Images of a batch you may see",
    responses=documented(200, 401, 403, 404, 422),
)
def list_images(
    me: Worker,
    batch_id: ResourceId,
    status: Annotated[ImageStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[images.ImageOut]:
    with me.uow() as uow:
        return images.list_images(uow, batch_id, status, cursor, limit)


@router.get(
    "/images/<image_id>",
    tags=TAGS,
    summary="One image, its YOLO keypoints and presigned links",
    responses=documented(200, 401, 403, 404),
)
def get_image(
    me: Worker, image_id: ResourceId, files: Annotated[Storage, Depends(storage)]
) -> images.ImageDetail:
    with me.uow() as uow:
        return images.get_image(uow, files, image_id)


@router.patch(
    "/images/<image_id>",
    tags=TAGS,
    summary="Correct an image's infant metadata, acquisition date or institution (admin; the batch's "
    "uploader until it is annotated)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def correct_image_metadata(
    me: Worker, image_id: ResourceId, body: Annotated[image_metadata.MetadataCorrection, Body()]
) -> image_metadata.MetadataOut:
    with me.uow() as uow:
        return image_metadata.correct_metadata(uow, image_id, body)
