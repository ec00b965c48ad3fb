"""An annotator's keypoints for one image: drafts and submission, with optimistic concurrency.

Writes carry `If-Match: "<row_version>"`; answers carry `ETag`. A write based on an older
version gets 412 and changes nothing.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body

from api.dependencies import Annotator, Researcher, Worker, if_match
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import unusable

router = Router()
TAGS = ["annotations"]
IfMatch = Annotated[int | None, Depends(if_match)]


def _with_etag(
    annotation: annotation_service.AnnotationOut, status: int = 200
) -> Response[annotation_service.AnnotationOut]:
    return Response(
        status_code=status,
        body=annotation,
        content_type="application/json",
        headers={"ETag": f'"{annotation.row_version}"'},
    )


@router.get(
    "/images/<image_id>/work",
    tags=TAGS,
    summary="Your work item for one image of your assignment",
    responses=documented(200, 401, 403, 404, 409),
)
def work_item(me: Annotator, image_id: ResourceId) -> annotation_service.WorkItem:
    with me.uow() as uow:
        return annotation_service.work_item(uow, image_id)


@router.put(
    "/images/<image_id>/annotation",
    tags=TAGS,
    summary="Save your draft (If-Match: the ETag of the draft you edited; none for the first save)",
    responses=documented(200, 401, 403, 404, 409, 412, 422),
)
def save_draft(
    me: Annotator,
    image_id: ResourceId,
    body: Annotated[annotation_service.AnnotationIn, Body()],
    version: IfMatch,
) -> Response[annotation_service.AnnotationOut]:
    with me.uow() as uow:
        return _with_etag(annotation_service.save_draft(uow, image_id, body, version))


@router.post(
    "/images/<image_id>/annotation/submit",
    tags=TAGS,
    summary="Submit your draft for verification (If-Match required)",
    responses=documented(200, 401, 403, 404, 409, 412, 422),
)
def submit(
    me: Annotator, image_id: ResourceId, version: IfMatch
) -> Response[annotation_service.AnnotationOut]:
    with me.uow() as uow:
        return _with_etag(annotation_service.submit(uow, image_id, version))


@router.get(
    "/images/<image_id>/annotations",
    tags=TAGS,
    summary="Every annotation version of an image",
    responses=documented(200, 401, 403, 404),
)
def versions(me: Worker, image_id: ResourceId) -> list[annotation_service.AnnotationOut]:
    with me.uow() as uow:
        return annotation_service.versions(uow, image_id)


@router.post(
    "/images/<image_id>/flag-unusable",
    tags=TAGS,
    summary="Flag an image you cannot annotate honestly; a verifier or an admin decides",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def flag_unusable(
    me: Annotator, image_id: ResourceId, body: Annotated[unusable.FlagIn, Body()]
) -> unusable.FlaggedImage:
    with me.uow() as uow:
        return unusable.flag(uow, image_id, body)


@router.get(
    "/flags",
    tags=TAGS,
    summary="Images flagged as unusable, waiting for a decision (verifiers and admins)",
    responses=documented(200, 401, 403, 422),
)
def list_flags(
    me: Researcher, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[unusable.FlaggedImage]:
    with me.uow() as uow:
        return unusable.list_flags(uow, cursor, limit)


@router.post(
    "/images/<image_id>/flag-decision",
    tags=TAGS,
    summary="Accept an unusable flag (the image is excluded) or send the image back (verifiers and admins)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def decide_flag(
    me: Researcher, image_id: ResourceId, body: Annotated[unusable.FlagDecisionIn, Body()]
) -> unusable.FlaggedImage:
    with me.uow() as uow:
        return unusable.decide(uow, image_id, body)
