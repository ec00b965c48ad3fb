"""Pose model configurations (MLModelConfig): registered by admins, one default per schema; their
evaluation metrics and their promotions DEVELOPMENT → TESTING → PRODUCTION."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher, Worker
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.bounds import BIGINT_MAX
from cradlepose.domain.enums import DatasetSplit, DeploymentStatus
from cradlepose.models import model_configs, model_metrics, promotions

router = Router()
TAGS = ["models"]


@router.get(
    "/models",
    tags=TAGS,
    summary="List active model configurations",
    responses=documented(200, 401, 403, 422),
)
def list_models(
    me: Worker,
    schema_id: IdFilter = None,
    status: Annotated[DeploymentStatus | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[model_configs.ModelConfigOut]:
    with me.uow() as uow:
        return model_configs.list_models(uow, schema_id=schema_id, status=status, cursor=cursor, limit=limit)


@router.get(
    "/models/<model_id>",
    tags=TAGS,
    summary="One model configuration",
    responses=documented(200, 401, 403, 404),
)
def get_model(me: Worker, model_id: ResourceId) -> model_configs.ModelConfigOut:
    with me.uow() as uow:
        return model_configs.get_model(uow, model_id)


@router.post(
    "/models",
    tags=TAGS,
    status_code=201,
    summary="Register a model (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def create_model(
    me: Admin, body: Annotated[model_configs.ModelConfigIn, Body()]
) -> model_configs.ModelConfigOut:
    with me.uow() as uow:
        return model_configs.create_model(uow, body)


@router.patch(
    "/models/<model_id>",
    tags=TAGS,
    summary="Change a model configuration (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def edit_model(
    me: Admin, model_id: ResourceId, body: Annotated[model_configs.ModelConfigEdit, Body()]
) -> model_configs.ModelConfigOut:
    with me.uow() as uow:
        return model_configs.edit_model(uow, model_id, body)


@router.delete(
    "/models/<model_id>",
    tags=TAGS,
    status_code=204,
    summary="Retire a model (admin; the record stays)",
    responses=documented(204, 401, 403, 404, 409),
)
def retire_model(me: Admin, model_id: ResourceId) -> Response[None]:
    with me.uow() as uow:
        model_configs.retire_model(uow, model_id)
    return Response(status_code=204)


@router.post(
    "/models/<model_id>/default",
    tags=TAGS,
    summary="Make a TESTING model the default (PRODUCTION) of its schema through the AP gate (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def make_default(
    me: Admin, model_id: ResourceId, body: Annotated[promotions.DefaultIn, Body()]
) -> model_configs.ModelConfigOut:
    with me.uow() as uow:
        return promotions.make_default(uow, model_id, body)


@router.get(
    "/models/<model_id>/metrics",
    tags=TAGS,
    summary="What evaluations measured: COCO keypoint AP/AR, pixel error, PCK per split (researchers)",
    responses=documented(200, 401, 403, 404, 422),
)
def list_metrics(
    me: Researcher,
    model_id: ResourceId,
    dataset_id: IdFilter = None,
    split: Annotated[DatasetSplit | None, Query()] = None,
    metric_type: Annotated[str | None, Query(max_length=30, description="AP, AP50, PCK, …")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[model_metrics.MetricOut]:
    with me.uow() as uow:
        return model_metrics.list_metrics(
            uow,
            model_id,
            dataset_id=dataset_id,
            split=split,
            metric_type=metric_type,
            cursor=cursor,
            limit=limit,
        )


@router.post(
    "/models/<model_id>/promotions",
    tags=TAGS,
    status_code=201,
    summary="Promote a model DEVELOPMENT → TESTING → PRODUCTION, optionally gated on AP (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def promote(
    me: Admin, model_id: ResourceId, body: Annotated[promotions.PromotionIn, Body()]
) -> promotions.DeploymentOut:
    with me.uow() as uow:
        return promotions.promote(uow, model_id, body)


@router.get(
    "/models/<model_id>/promotion-check",
    tags=TAGS,
    summary="Dry-run the AP gate: would a promotion to PRODUCTION pass now, and why not (researchers)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def promotion_check(
    me: Researcher,
    model_id: ResourceId,
    dataset_id: Annotated[int, Query(ge=1, le=BIGINT_MAX, description="the dataset whose split is the gate")],
    split: Annotated[DatasetSplit, Query()] = DatasetSplit.TEST,
) -> promotions.GateCheckOut:
    with me.uow() as uow:
        return promotions.check_promotion(uow, model_id, promotions.Gate(dataset_id=dataset_id, split=split))


@router.get(
    "/models/<model_id>/deployments",
    tags=TAGS,
    summary="Every change of a model's deployment status, with the evidence of gated promotions",
    responses=documented(200, 401, 403, 404),
)
def deployments(me: Researcher, model_id: ResourceId) -> list[promotions.DeploymentOut]:
    with me.uow() as uow:
        return promotions.history(uow, model_id)
