"""Datasets: verified images with deterministic train / validation / test splits (seed 001).

A dataset is made once, in one transaction: the verified images the filters choose are grouped
(by infant or by batch), split with the seed (domain.splits) and stored with the annotation
version each exports; its three counts are the assignment's own counts, written in the same
transaction. It never changes afterwards (only its catalogue description does), so an evaluation
on its test split can be repeated, and two models compared on exactly the same images.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.paging import keyset_page, keyset_rows
from cradlepose.common.use_cases import (
    Page,
    audit,
    commit_or_conflict,
)
from cradlepose.datasets import catalogue
from cradlepose.datasets.catalogue import CatalogueTerms
from cradlepose.datasets.verified_images import ImageFilters, verified_query
from cradlepose.db.models import Dataset, DatasetImage, Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.bounds import NOT_NULL, DbId, Patch
from cradlepose.domain.enums import (
    AuditCategory,
    DatasetOrigin,
    DatasetSplit,
    DatasetVerification,
    SplitGrouping,
)
from cradlepose.domain.errors import Conflict, NotFound, ValidationFailed
from cradlepose.domain.splits import SplitCandidate, SplitFractions, assign_splits, counts, group_key

INSERT_CHUNK = 5000


class DatasetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    keypoint_schema_id: DbId
    filters: ImageFilters = Field(default_factory=ImageFilters)
    fractions: SplitFractions = Field(default_factory=SplitFractions)
    seed: int = Field(default=0, ge=0, le=2**62)
    group_by: SplitGrouping = Field(
        default=SplitGrouping.SUBJECT, description="what never straddles two splits: an infant, or a batch"
    )
    stratify_by: Literal["institution", "batch"] | None = Field(
        default=None, description="balance the splits within each institution (or batch)"
    )
    source_url: str | None = Field(default=None, max_length=500)
    catalogue: CatalogueTerms = Field(default_factory=CatalogueTerms)


class DatasetEdit(Patch):
    """The catalogue description; the images and their splits never change."""

    description: str | None = Field(default=None, max_length=10_000)
    source_url: str | None = Field(default=None, max_length=500)
    is_active: Annotated[bool | None, NOT_NULL] = None
    catalogue: Annotated[CatalogueTerms | None, NOT_NULL] = None


class DatasetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    origin: DatasetOrigin
    keypoint_schema_id: int
    filters: dict[str, Any]
    split_seed: int
    split_fractions: dict[str, Any]
    group_by: SplitGrouping
    stratify_by: str | None
    train_count: int
    validation_count: int
    test_count: int
    num_images: int
    source_url: str | None
    size_mb: float | None
    is_active: bool
    batch_id: int | None
    created_by: int
    created_at: dt.datetime
    updated_at: dt.datetime
    catalogue: CatalogueTerms = Field(default_factory=CatalogueTerms)
    verified_images: int = Field(
        default=0, description="how many of its images are verified (APPROVED) now; num_images when all are"
    )
    verification: DatasetVerification = Field(
        default=DatasetVerification.UNVERIFIED, description="read from verified_images and num_images"
    )


class DatasetImageOut(BaseModel):
    image_id: int
    split: DatasetSplit
    annotation_id: int | None
    batch_id: int
    width: int
    height: int


# ------------------------------------------------------------------ writing


def create_dataset(uow: UnitOfWork, command: DatasetIn) -> DatasetOut:
    actor = access.require_researcher(uow.actor)
    uow.schemas.require(command.keypoint_schema_id)
    if uow.datasets.by_name(command.name) is not None:
        raise Conflict(f"a dataset named {command.name!r} already exists")
    terms = catalogue.resolve(uow, command.catalogue)
    rows = uow.session.execute(verified_query(command.keypoint_schema_id, command.filters)).all()
    if not rows:
        raise ValidationFailed.single("filters", "no verified image of this schema matches the filters")
    candidates = [
        SplitCandidate(
            image_id=image_id,
            group=group_key(image_id, batch_id, metadata, command.group_by),
            stratum=_stratum(command.stratify_by, batch_id, institution),
        )
        for image_id, batch_id, metadata, institution, _ in rows
    ]
    assignment = assign_splits(candidates, command.fractions, command.seed)
    dataset = _add(
        uow,
        name=command.name,
        description=command.description,
        origin=DatasetOrigin.CURATED,
        schema_id=command.keypoint_schema_id,
        filters=command.filters.model_dump(mode="json", exclude_none=True),
        fractions=command.fractions,
        seed=command.seed,
        group_by=command.group_by,
        stratify_by=command.stratify_by,
        source_url=command.source_url,
        # The learning loop snapshots as the system, which has no user id: its row stands in.
        actor_id=actor.user_id if actor.user_id is not None else uow.system_user_id(),
        members=[
            (image_id, assignment[image_id], annotation_id) for image_id, _, _, _, annotation_id in rows
        ],
    )
    catalogue.set_terms(uow, dataset, terms)
    _audit(uow, dataset, "DATASET_CREATED", new=_summary(dataset))
    _commit(uow, command.name)
    return out(uow, dataset)


def add_imported(
    uow: UnitOfWork,
    *,
    name: str,
    description: str | None,
    schema_id: int,
    source_url: str | None,
    batch_id: int,
    images: Sequence[tuple[int, dict[str, Any] | None]],
    seed: int,
    actor_id: int | None,
    splits: Mapping[int, DatasetSplit] | None = None,
) -> Dataset:
    """The catalogue entry of an imported batch (inside the import's transaction).

    `splits`: the archive's own split of every image, kept as it is (its fractions are what the
    archive holds); None: split by infant like any dataset.
    """
    filters: dict[str, Any] = {"batch_ids": [batch_id]}
    if splits is not None:
        assignment = dict(splits)
        tally = counts(assignment)
        total = max(1, len(assignment))
        fractions = SplitFractions(
            train=tally[DatasetSplit.TRAIN] / total,
            validation=tally[DatasetSplit.VALIDATION] / total,
            test=1 - (tally[DatasetSplit.TRAIN] + tally[DatasetSplit.VALIDATION]) / total,
        )
        filters["splits_from"] = "archive"
    else:
        fractions = SplitFractions()
        candidates = [
            SplitCandidate(image_id, group_key(image_id, batch_id, metadata, SplitGrouping.SUBJECT))
            for image_id, metadata in images
        ]
        assignment = assign_splits(candidates, fractions, seed)
    dataset = _add(
        uow,
        name=name,
        description=description,
        origin=DatasetOrigin.IMPORTED,
        schema_id=schema_id,
        filters=filters,
        fractions=fractions,
        seed=seed,
        group_by=SplitGrouping.SUBJECT,
        stratify_by=None,
        source_url=source_url,
        actor_id=actor_id,
        members=[(image_id, assignment[image_id], None) for image_id, _ in images],
        batch_id=batch_id,
    )
    _audit(uow, dataset, "DATASET_IMPORTED", new=_summary(dataset))
    return dataset


def edit_dataset(uow: UnitOfWork, dataset_id: int, command: DatasetEdit) -> DatasetOut:
    access.require_admin(uow.actor)
    dataset = uow.datasets.require(dataset_id, for_update=True)
    values = command.model_dump(exclude_unset=True, exclude={"catalogue"})
    if not values and command.catalogue is None:
        raise ValidationFailed.single("(body)", "nothing to change")
    before = {k: getattr(dataset, k) for k in values}
    for name, value in values.items():
        setattr(dataset, name, value)
    new: dict[str, Any] = dict(values)
    if command.catalogue is not None:
        catalogue.set_terms(uow, dataset, catalogue.resolve(uow, command.catalogue))
        new["catalogue"] = command.catalogue.model_dump()
    _audit(uow, dataset, "DATASET_DESCRIBED", old=before, new=new)
    uow.commit()
    return out(uow, dataset)


# ------------------------------------------------------------------ reading


def get_dataset(uow: UnitOfWork, dataset_id: int) -> DatasetOut:
    access.require_researcher(uow.actor)
    return out(uow, uow.datasets.require(dataset_id))


def list_datasets(
    uow: UnitOfWork, query: catalogue.CatalogueQuery, cursor: str | None, limit: int
) -> Page[DatasetOut]:
    """The catalogue, newest first."""
    access.require_researcher(uow.actor)
    statement = sa.select(Dataset).where(Dataset.id.in_(catalogue.matching(query)))
    rows, next_cursor = keyset_rows(
        uow.session, statement, order_by=[Dataset.id.desc()], cursor=cursor, limit=limit
    )
    ids = [r.id for r in rows]
    terms = catalogue.terms_of(uow, ids)
    verified = catalogue.verified_counts(uow, ids)
    return Page[DatasetOut](
        items=[out(uow, r, terms[r.id], verified[r.id]) for r in rows], next_cursor=next_cursor
    )


def list_images(
    uow: UnitOfWork, dataset_id: int, split: DatasetSplit | None, cursor: str | None, limit: int
) -> Page[DatasetImageOut]:
    """A dataset's images with their split, in image order."""
    access.require_researcher(uow.actor)
    uow.datasets.require(dataset_id)
    query = (
        sa.select(DatasetImage, Image.batch_id, Image.width, Image.height)
        .join(Image, Image.id == DatasetImage.image_id)
        .where(DatasetImage.dataset_id == dataset_id)
    )
    if split is not None:
        query = query.where(DatasetImage.split == split)
    return keyset_page(
        uow.session,
        query,
        order_by=[DatasetImage.image_id.asc()],
        cursor=cursor,
        limit=limit,
        to_model=lambda row: _image_out(*row),
    )


def _image_out(member: DatasetImage, batch_id: int, width: int, height: int) -> DatasetImageOut:
    return DatasetImageOut(
        image_id=member.image_id,
        split=member.split,
        annotation_id=member.annotation_id,
        batch_id=batch_id,
        width=width,
        height=height,
    )


def out(
    uow: UnitOfWork, dataset: Dataset, terms: CatalogueTerms | None = None, verified: int | None = None
) -> DatasetOut:
    if terms is None:
        terms = catalogue.terms_of(uow, [dataset.id])[dataset.id]
    if verified is None:
        verified = catalogue.verified_counts(uow, [dataset.id])[dataset.id]
    state = catalogue.verification_of(verified, dataset.num_images)
    return DatasetOut.model_validate(dataset).model_copy(
        update={"catalogue": terms, "verified_images": verified, "verification": state}
    )


def members(uow: UnitOfWork, dataset_id: int, split: DatasetSplit | None = None) -> list[DatasetImage]:
    query = sa.select(DatasetImage).where(DatasetImage.dataset_id == dataset_id)
    if split is not None:
        query = query.where(DatasetImage.split == split)
    return list(uow.session.scalars(query.order_by(DatasetImage.image_id)))


def require_dataset(uow: UnitOfWork, dataset_id: int) -> Dataset:
    dataset = uow.datasets.get(dataset_id)
    if dataset is None:
        raise NotFound("Dataset", dataset_id)
    return dataset


# ------------------------------------------------------------------ helpers


def _add(
    uow: UnitOfWork,
    *,
    name: str,
    description: str | None,
    origin: DatasetOrigin,
    schema_id: int,
    filters: dict[str, Any],
    fractions: SplitFractions,
    seed: int,
    group_by: SplitGrouping,
    stratify_by: str | None,
    source_url: str | None,
    actor_id: int | None,
    members: Iterable[tuple[int, DatasetSplit, int | None]],
    batch_id: int | None = None,
) -> Dataset:
    listed = list(members)
    tally = counts({image_id: split for image_id, split, _ in listed})
    dataset = uow.datasets.add(
        Dataset(
            name=name,
            description=description,
            origin=origin,
            keypoint_schema_id=schema_id,
            filters=filters,
            split_seed=seed,
            split_fractions=fractions.model_dump(),
            group_by=group_by,
            stratify_by=stratify_by,
            train_count=tally[DatasetSplit.TRAIN],
            validation_count=tally[DatasetSplit.VALIDATION],
            test_count=tally[DatasetSplit.TEST],
            source_url=source_url,
            batch_id=batch_id,
            created_by=actor_id or uow.system_user_id(),
        )
    )
    rows = [
        {"dataset_id": dataset.id, "image_id": image_id, "split": split, "annotation_id": annotation_id}
        for image_id, split, annotation_id in listed
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        uow.session.execute(sa.insert(DatasetImage), rows[start : start + INSERT_CHUNK])
    return dataset


def _stratum(stratify_by: str | None, batch_id: int, institution: str | None) -> str:
    if stratify_by == "institution":
        return institution or ""
    if stratify_by == "batch":
        return f"batch:{batch_id}"
    return ""


def _summary(dataset: Dataset) -> dict[str, Any]:
    return {
        "origin": dataset.origin,
        "keypoint_schema_id": dataset.keypoint_schema_id,
        "filters": dataset.filters,
        "seed": dataset.split_seed,
        "fractions": dataset.split_fractions,
        "group_by": dataset.group_by,
        "train_count": dataset.train_count,
        "validation_count": dataset.validation_count,
        "test_count": dataset.test_count,
    }


def _commit(uow: UnitOfWork, name: str) -> None:
    commit_or_conflict(uow, f"a dataset named {name!r} was created at the same time")


def _audit(
    uow: UnitOfWork,
    dataset: Dataset,
    action: str,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
) -> None:
    audit(uow, action, AuditCategory.SYSTEM, "Dataset", dataset.id, dataset.name, old=old, new=new)
