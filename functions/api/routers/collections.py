"""Collections (seed 002): a query's verified images packed as a ZIP in the background, then downloaded."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Researcher, storage
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.storage import Storage
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.datasets import collections
from cradlepose.domain.enums import CollectionStatus

router = Router()
TAGS = ["collections"]
StorageDep = Annotated[Storage, Depends(storage)]


@router.post(
    "/collections",
    tags=TAGS,
    status_code=202,
    summary="Build a collection from a query; it is PENDING until its ZIP is packed (researchers)",
    responses=documented(202, 401, 403, 404, 409, 422),
)
def create_collection(
    me: Researcher, body: Annotated[collections.CollectionIn, Body()]
) -> collections.CollectionOut:
    with me.uow() as uow:
        return collections.create_collection(uow, body)


@router.get(
    "/collections",
    tags=TAGS,
    summary="Your collections (an admin sees everyone's), newest first (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_collections(
    me: Researcher,
    dataset_id: IdFilter = None,
    status: Annotated[CollectionStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[collections.CollectionOut]:
    with me.uow() as uow:
        return collections.list_collections(
            uow, dataset_id=dataset_id, status=status, cursor=cursor, limit=limit
        )


@router.get(
    "/collections/<collection_id>",
    tags=TAGS,
    summary="A collection; once READY, with a short-lived download URL of its ZIP (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_collection(me: Researcher, collection_id: ResourceId, files: StorageDep) -> collections.CollectionOut:
    with me.uow() as uow:
        return collections.get_collection(uow, files, collection_id)
