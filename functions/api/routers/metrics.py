"""Performance metrics, correction metrics and quality-check images."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher, Worker
from api.params import IdFilter, ResourceId
from api.problems import documented
from cradlepose.domain.enums import PeriodType
from cradlepose.models import correction_metrics
from cradlepose.workflow import metrics, quality_checks

router = Router()


@router.get(
    "/users/<user_id>/metrics",
    tags=["metrics"],
    summary="A person's PerformanceMetrics, newest first",
    responses=documented(200, 401, 403, 404, 422),
)
def list_metrics(
    me: Worker,
    user_id: ResourceId,
    period: Annotated[PeriodType | None, Query()] = None,
    since: Annotated[dt.date | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=400)] = 60,
) -> list[metrics.PerformanceOut]:
    with me.uow() as uow:
        return metrics.list_metrics(uow, user_id, period, since, limit)


@router.post(
    "/metrics/rollup",
    tags=["metrics"],
    summary="Recompute one period's metrics for everyone (admin)",
    responses=documented(200, 401, 403, 422),
)
def rollup(
    me: Admin,
    period: Annotated[PeriodType, Query()] = PeriodType.DAILY,
    day: Annotated[dt.date | None, Query(description="a day inside the period; default today (UTC)")] = None,
) -> metrics.RollupOut:
    with me.uow() as uow:
        return metrics.rollup(uow, period, day or dt.datetime.now(dt.UTC).date())


@router.get(
    "/metrics/corrections",
    tags=["metrics"],
    summary="How far annotators corrected each model's pre-annotation, per batch or per model, oldest first",
    responses=documented(200, 401, 403, 404, 422),
)
def corrections(
    me: Researcher,
    schema_id: IdFilter = None,
    group_by: Annotated[
        correction_metrics.CorrectionGrouping, Query()
    ] = correction_metrics.CorrectionGrouping.BATCH,
) -> correction_metrics.CorrectionMetricsOut:
    with me.uow() as uow:
        return correction_metrics.correction_metrics(uow, schema_id, group_by)


@router.put(
    "/batches/<batch_id>/images/<image_id>/gold",
    tags=["quality checks"],
    summary="Make an image a quality check: its verified keypoints (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def set_gold(
    me: Admin, batch_id: ResourceId, image_id: ResourceId, body: Annotated[quality_checks.GoldIn, Body()]
) -> quality_checks.GoldOut:
    with me.uow() as uow:
        return quality_checks.set_gold(uow, batch_id, image_id, body)


@router.delete(
    "/batches/<batch_id>/images/<image_id>/gold",
    tags=["quality checks"],
    summary="The image is no quality check any more (admin; refused once its annotation is in)",
    responses=documented(200, 401, 403, 404, 409),
)
def clear_gold(me: Admin, batch_id: ResourceId, image_id: ResourceId) -> quality_checks.GoldOut:
    with me.uow() as uow:
        return quality_checks.clear_gold(uow, batch_id, image_id)
