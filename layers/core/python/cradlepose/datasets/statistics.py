"""What a dataset holds, for the researcher deciding whether to train on it: images per split,
how often each joint is visible, occluded or absent in the exported keypoints, and the infants'
ages. Read-only and computed in the database, so a large dataset costs one grouped query each."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import JSONB

from cradlepose.datasets.verified_images import age_months
from cradlepose.db.models import Annotation, DatasetImage, Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import DatasetSplit, Visibility
from cradlepose.domain.keypoint_schema import SchemaDefinition

# Lower bounds of the age bands in months (the last is open): finer where infants change fastest.
AGE_BANDS: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 9, 12, 18, 24)


class DatasetSplitCount(BaseModel):
    split: DatasetSplit
    images: int


class DatasetJointVisibility(BaseModel):
    """One schema keypoint over the dataset's images: COCO's v = 2, 1 and 0."""

    name: str
    images: int = Field(description="images whose exported keypoints name this joint")
    visible: int
    occluded: int
    absent: int


class DatasetAgeBand(BaseModel):
    band: str = Field(description="months, e.g. '2–3' (from 2 up to, not including, 3) or '24+'")
    images: int


class DatasetStatistics(BaseModel):
    dataset_id: int
    images: int
    splits: list[DatasetSplitCount]
    keypoint_visibility: list[DatasetJointVisibility] = Field(
        description="in the order of the schema's keypoints"
    )
    age_months: list[DatasetAgeBand] = Field(description="bands with at least one image, youngest first")
    age_unknown: int = Field(description="images without a numeric infant_metadata.age_months")


def dataset_statistics(uow: UnitOfWork, dataset_id: int) -> DatasetStatistics:
    access.require_researcher(uow.actor)
    dataset = uow.datasets.require(dataset_id)
    session = uow.session
    in_dataset = DatasetImage.dataset_id == dataset_id
    split_rows = session.execute(
        sa.select(DatasetImage.split, sa.func.count()).where(in_dataset).group_by(DatasetImage.split)
    ).all()
    per_split = {split: int(n) for split, n in split_rows}
    splits = [DatasetSplitCount(split=s, images=per_split.get(s, 0)) for s in DatasetSplit]

    schema = SchemaDefinition.model_validate(
        uow.schemas.require(dataset.keypoint_schema_id).schema_definition
    )
    point = sa.func.jsonb_array_elements(Annotation.refined_keypoints["keypoints"]).table_valued(
        sa.column("value", JSONB)
    )
    joint_id = point.c.value["id"].astext.cast(sa.Integer)
    # A keypoint without its flag is visible (domain.keypoints.Keypoint's default).
    flag = sa.func.coalesce(point.c.value["visible"].astext.cast(sa.Integer), int(Visibility.VISIBLE))
    # Grouped over a subquery: the driver binds each literal apart, so GROUP BY on the expressions
    # themselves would not match the SELECT list.
    flagged = (
        sa.select(joint_id.label("joint"), flag.label("flag"))
        .select_from(DatasetImage)
        .join(Annotation, Annotation.id == DatasetImage.annotation_id)
        .join(point, sa.true())
        .where(in_dataset)
        .subquery()
    )
    visibility_rows = session.execute(
        sa.select(flagged.c.joint, flagged.c.flag, sa.func.count()).group_by(flagged.c.joint, flagged.c.flag)
    ).all()
    flags: dict[tuple[int, int], int] = {(int(k), int(v)): int(n) for k, v, n in visibility_rows}
    keypoint_visibility = []
    for joint in schema.keypoints:
        visible, occluded, absent = (
            flags.get((joint.id, int(v)), 0)
            for v in (Visibility.VISIBLE, Visibility.OCCLUDED, Visibility.ABSENT)
        )
        keypoint_visibility.append(
            DatasetJointVisibility(
                name=joint.name,
                images=visible + occluded + absent,
                visible=visible,
                occluded=occluded,
                absent=absent,
            )
        )

    aged = (
        sa.select(age_months().label("age"))
        .select_from(DatasetImage)
        .join(Image, Image.id == DatasetImage.image_id)
        .where(in_dataset)
        .subquery()
    )
    age_rows = session.execute(sa.select(aged.c.age, sa.func.count()).group_by(aged.c.age)).all()
    bands, unknown = band_ages((value, int(n)) for value, n in age_rows)
    return DatasetStatistics(
        dataset_id=dataset_id,
        images=sum(per_split.values()),
        splits=splits,
        keypoint_visibility=keypoint_visibility,
        age_months=bands,
        age_unknown=unknown,
    )


def band_ages(counted: Iterable[tuple[Decimal | float | None, int]]) -> tuple[list[DatasetAgeBand], int]:
    """(age in months or None, images) pairs → the non-empty bands, youngest first, and the unknown."""
    totals = [0] * len(AGE_BANDS)
    unknown = 0
    for value, n in counted:
        if value is None:
            unknown += n
            continue
        months = Decimal(value)
        index = max(i for i, low in enumerate(AGE_BANDS) if months >= low) if months >= 0 else 0
        totals[index] += n
    bands = [DatasetAgeBand(band=_label(i), images=total) for i, total in enumerate(totals) if total]
    return bands, unknown


def _label(index: int) -> str:
    low = AGE_BANDS[index]
    if index + 1 == len(AGE_BANDS):
        return f"{low}+"
    return f"{low}–{AGE_BANDS[index + 1]}"
