"""Keypoint schemas: read by everyone at work, written by admins."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Worker
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.keypoint_schemas import schemas

router = Router()
TAGS = ["keypoint schemas"]


@router.get("/schemas", tags=TAGS, summary="List keypoint schemas", responses=documented(200, 401, 403, 422))
def list_schemas(
    me: Worker,
    name: Annotated[str | None, Query(max_length=100)] = None,
    active: Annotated[bool | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[schemas.SchemaOut]:
    with me.uow() as uow:
        return schemas.list_schemas(uow, name=name, active=active, cursor=cursor, limit=limit)


@router.get(
    "/schemas/<schema_id>",
    tags=TAGS,
    summary="One keypoint schema",
    responses=documented(200, 401, 403, 404),
)
def get_schema(me: Worker, schema_id: ResourceId) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.get_schema(uow, schema_id)


@router.post(
    "/schemas",
    tags=TAGS,
    status_code=201,
    summary="Create a keypoint schema (admin)",
    responses=documented(201, 401, 403, 409, 422),
)
def create_schema(me: Admin, body: Annotated[schemas.SchemaIn, Body()]) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.create_schema(uow, body)


@router.patch(
    "/schemas/<schema_id>",
    tags=TAGS,
    summary="Edit a schema no batch uses yet (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def edit_schema(
    me: Admin, schema_id: ResourceId, body: Annotated[schemas.SchemaEdit, Body()]
) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.edit_schema(uow, schema_id, body)


@router.post(
    "/schemas/<schema_id>/versions",
    tags=TAGS,
    status_code=201,
    summary="Create a new (inactive) version with changes (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def new_version(
    me: Admin, schema_id: ResourceId, body: Annotated[schemas.NewVersion, Body()]
) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.new_version(uow, schema_id, body)


@router.post(
    "/schemas/<schema_id>/activate",
    tags=TAGS,
    summary="Activate a version; others of its name deactivate (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def activate(me: Admin, schema_id: ResourceId) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.set_active(uow, schema_id, True)


@router.post(
    "/schemas/<schema_id>/deactivate",
    tags=TAGS,
    summary="Deactivate a version (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def deactivate(me: Admin, schema_id: ResourceId) -> schemas.SchemaOut:
    with me.uow() as uow:
        return schemas.set_active(uow, schema_id, False)
