"""Datasets (seed 001) that are also the catalogue's entries (seed 002), and the vocabularies.

A dataset is a frozen set of images with their split: created once from filters (CURATED: verified
images) or from an imported COCO file (IMPORTED), never re-split, so an evaluation on its test
split can be repeated and compared. Its three counts are written in the same transaction as its
`dataset_images` rows and never change afterwards, so they always match the assignments.

Seed 002's four vocabulary tables (AnatomicalArea, Modality, TaskType, Tag: code, name,
description, is_active) are one table with a `kind`, and one link table joins terms to datasets.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative, pg_enum
from cradlepose.domain.enums import DatasetOrigin, DatasetSplit, SplitGrouping, VocabularyKind


class Dataset(Base):
    __tablename__ = "datasets"

    id: Mapped[BigIntPK]
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    origin: Mapped[DatasetOrigin] = mapped_column(pg_enum(DatasetOrigin, "dataset_origin"))
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))

    # How the split was made: enough to make it again.
    filters: Mapped[dict[str, Any]]
    split_seed: Mapped[int] = mapped_column(sa.BigInteger)
    split_fractions: Mapped[dict[str, Any]]
    group_by: Mapped[SplitGrouping] = mapped_column(pg_enum(SplitGrouping, "split_grouping"))
    stratify_by: Mapped[str | None] = mapped_column(sa.String(30))

    train_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    validation_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)
    test_count: Mapped[int] = mapped_column(server_default=sa.text("0"), default=0)

    # The catalogue (seed 002): where it came from, how big it is, whether search shows it.
    source_url: Mapped[str | None] = mapped_column(sa.String(500))
    size_mb: Mapped[float | None] = mapped_column(sa.Float)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("image_batches.id"))  # IMPORTED: its batch

    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.Index("idx_dataset_schema", "keypoint_schema_id"),
        sa.Index("idx_dataset_created", "created_at"),
        sa.CheckConstraint("train_count + validation_count + test_count > 0", name="has_images"),
        sa.CheckConstraint("size_mb >= 0", name="size_mb_non_negative"),
        *non_negative("train_count", "validation_count", "test_count"),
    )

    @property
    def num_images(self) -> int:
        return self.train_count + self.validation_count + self.test_count


class DatasetImage(Base):
    """One image of a dataset, its split, and the annotation version whose keypoints it holds."""

    __tablename__ = "dataset_images"

    dataset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    image_id: Mapped[int] = mapped_column(sa.ForeignKey("images.id"), primary_key=True)
    split: Mapped[DatasetSplit] = mapped_column(pg_enum(DatasetSplit, "dataset_split"))
    # The verified version (CURATED); None for an IMPORTED image, whose keypoints are its pre-annotation.
    annotation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("annotations.id"))

    __table_args__ = (
        sa.Index("idx_dataset_image_split", "dataset_id", "split", "image_id"),
        sa.Index("idx_dataset_image_image", "image_id"),
    )


class VocabularyTerm(Base):
    __tablename__ = "vocabulary_terms"

    id: Mapped[BigIntPK]
    kind: Mapped[VocabularyKind] = mapped_column(pg_enum(VocabularyKind, "vocabulary_kind"))
    code: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(100))
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)

    __table_args__ = (
        sa.UniqueConstraint("kind", "code", name="uq_vocabulary_term_kind_code"),
        sa.CheckConstraint("code ~ '^[a-z0-9][a-z0-9_-]*$'", name="code_format"),
    )


class DatasetTerm(Base):
    __tablename__ = "dataset_terms"

    dataset_id: Mapped[int] = mapped_column(
        sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    term_id: Mapped[int] = mapped_column(sa.ForeignKey("vocabulary_terms.id"), primary_key=True)

    __table_args__ = (sa.Index("idx_dataset_term_term", "term_id"),)
