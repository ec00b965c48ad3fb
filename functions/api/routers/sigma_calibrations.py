"""Keypoint sigmas calibrated on infants: measured from repeated annotations, adopted by a schema version."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body

from api.dependencies import Admin, Researcher
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.keypoint_schemas import schemas, sigma_calibrations

router = Router()
TAGS = ["schemas"]


@router.post(
    "/schemas/<schema_id>/sigma-calibrations",
    tags=TAGS,
    status_code=201,
    summary="Estimate each keypoint's OKS sigma from images annotated more than once (researchers)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def calibrate(
    me: Researcher, schema_id: ResourceId, body: Annotated[sigma_calibrations.CalibrationIn, Body()]
) -> sigma_calibrations.CalibrationOut:
    with me.uow() as uow:
        return sigma_calibrations.calibrate(uow, schema_id, body)


@router.get(
    "/schemas/<schema_id>/sigma-calibrations",
    tags=TAGS,
    summary="A schema's calibrations, newest first, each keypoint's estimate beside COCO's (researchers)",
    responses=documented(200, 401, 403, 404, 422),
)
def list_calibrations(
    me: Researcher, schema_id: ResourceId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[sigma_calibrations.CalibrationOut]:
    with me.uow() as uow:
        return sigma_calibrations.list_calibrations(uow, schema_id, cursor, limit)


@router.get(
    "/sigma-calibrations/<calibration_id>",
    tags=TAGS,
    summary="A calibration: each keypoint's estimate beside COCO's sigma, with its sample count",
    responses=documented(200, 401, 403, 404),
)
def get_calibration(me: Researcher, calibration_id: ResourceId) -> sigma_calibrations.CalibrationOut:
    with me.uow() as uow:
        return sigma_calibrations.get_calibration(uow, calibration_id)


@router.post(
    "/sigma-calibrations/<calibration_id>/adopt",
    tags=TAGS,
    status_code=201,
    summary="A new, inactive schema version with the calibrated sigmas; activate it to use them (admin)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def adopt(
    me: Admin, calibration_id: ResourceId, body: Annotated[sigma_calibrations.AdoptIn, Body()]
) -> schemas.SchemaOut:
    with me.uow() as uow:
        return sigma_calibrations.adopt(uow, calibration_id, body)
