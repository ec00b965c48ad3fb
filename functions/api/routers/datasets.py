"""Datasets: verified images with fixed train/validation/test splits, the catalogue, and exports.

Researchers (ADMIN or VERIFIER) make, find and export datasets; only an admin edits a dataset's
catalogue description.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query

from api.dependencies import Admin, Researcher
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.datasets import collections, datasets, statistics
from cradlepose.datasets.catalogue import AgeBandCode, CatalogueQuery
from cradlepose.domain.enums import DatasetOrigin, DatasetSplit, DatasetVerification

router = Router()
TAGS = ["datasets"]
Term = Annotated[str | None, Query(max_length=50, description="a vocabulary term's code")]


@router.post(
    "/datasets",
    tags=TAGS,
    status_code=201,
    summary="Make a dataset of verified images with seeded splits that never split an infant (researchers)",
    responses=documented(201, 401, 403, 404, 409, 422),
)
def create_dataset(me: Researcher, body: Annotated[datasets.DatasetIn, Body()]) -> datasets.DatasetOut:
    with me.uow() as uow:
        return datasets.create_dataset(uow, body)


@router.get(
    "/datasets",
    tags=TAGS,
    summary="Search the catalogue of datasets, newest first (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_datasets(
    me: Researcher,
    text: Annotated[str | None, Query(max_length=200, description="free text over the catalogue")] = None,
    anatomical_area: Term = None,
    modality: Term = None,
    task_type: Term = None,
    tag: Term = None,
    origin: Annotated[DatasetOrigin | None, Query()] = None,
    schema_id: IdFilter = None,
    include_inactive: Annotated[bool, Query()] = False,
    institution: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="datasets holding images from this institution"),
    ] = None,
    age_band: Annotated[
        AgeBandCode | None,
        Query(
            description="datasets holding images of infants this old, in months ('2-3': from 2 to under 3)"
        ),
    ] = None,
    min_quality: Annotated[
        float | None,
        Query(ge=1, le=10, description="datasets holding images of at least this quality score (1–10)"),
    ] = None,
    verification: Annotated[
        DatasetVerification | None,
        Query(description="how far the dataset's images are verified now"),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[datasets.DatasetOut]:
    """The image filters (institution, age band, quality) hold together on one image of the dataset."""
    query = CatalogueQuery(
        text=text,
        anatomical_area=anatomical_area,
        modality=modality,
        task_type=task_type,
        tag=tag,
        origin=origin,
        schema_id=schema_id,
        include_inactive=include_inactive,
        institution=institution,
        age_band=age_band,
        min_quality=min_quality,
        verification=verification,
    )
    with me.uow() as uow:
        return datasets.list_datasets(uow, query, cursor, limit)


@router.get(
    "/datasets/<dataset_id>",
    tags=TAGS,
    summary="One dataset with its split counts and catalogue terms (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_dataset(me: Researcher, dataset_id: ResourceId) -> datasets.DatasetOut:
    with me.uow() as uow:
        return datasets.get_dataset(uow, dataset_id)


@router.patch(
    "/datasets/<dataset_id>",
    tags=TAGS,
    summary="Change a dataset's catalogue description (admin; its images and splits never change)",
    responses=documented(200, 401, 403, 404, 422),
)
def edit_dataset(
    me: Admin, dataset_id: ResourceId, body: Annotated[datasets.DatasetEdit, Body()]
) -> datasets.DatasetOut:
    with me.uow() as uow:
        return datasets.edit_dataset(uow, dataset_id, body)


@router.get(
    "/datasets/<dataset_id>/images",
    tags=TAGS,
    summary="A dataset's images with their split (researchers)",
    responses=documented(200, 401, 403, 404, 422),
)
def list_images(
    me: Researcher,
    dataset_id: ResourceId,
    split: Annotated[DatasetSplit | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[datasets.DatasetImageOut]:
    with me.uow() as uow:
        return datasets.list_images(uow, dataset_id, split, cursor, limit)


@router.get(
    "/datasets/<dataset_id>/statistics",
    tags=TAGS,
    summary="What a dataset holds: images per split, visibility per joint, ages (researchers)",
    responses=documented(200, 401, 403, 404),
)
def dataset_statistics(me: Researcher, dataset_id: ResourceId) -> statistics.DatasetStatistics:
    with me.uow() as uow:
        return statistics.dataset_statistics(uow, dataset_id)


@router.post(
    "/datasets/<dataset_id>/exports",
    tags=TAGS,
    status_code=202,
    summary="Export a dataset as COCO keypoints or YOLO pose: a collection packed in the background",
    responses=documented(202, 401, 403, 404, 409, 422),
)
def export_dataset(
    me: Researcher, dataset_id: ResourceId, body: Annotated[collections.ExportIn, Body()]
) -> collections.CollectionOut:
    with me.uow() as uow:
        return collections.export_dataset(uow, dataset_id, body)
