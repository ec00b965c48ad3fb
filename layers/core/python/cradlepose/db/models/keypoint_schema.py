from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between


class KeypointSchema(Base):
    """A versioned keypoint schema.

    The seed makes `name` unique on its own; Cradle versions schemas (a schema in use is
    immutable, editing makes a new version), so (name, version) is unique instead, and a
    partial unique index keeps at most one active version per name.
    """

    __tablename__ = "keypoint_schemas"

    id: Mapped[BigIntPK]
    name: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[str] = mapped_column(sa.String(10))
    description: Mapped[str | None] = mapped_column(sa.Text)

    schema_definition: Mapped[dict[str, Any]]
    total_keypoints: Mapped[int]
    required_keypoints: Mapped[list[Any] | None]

    min_visibility_threshold: Mapped[Decimal] = mapped_column(
        sa.Numeric(2, 1), server_default=sa.text("0.5"), default=Decimal("0.5")
    )
    max_missing_keypoints: Mapped[int] = mapped_column(server_default=sa.text("3"), default=3)

    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]
    last_modified: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.UniqueConstraint("name", "version", name="uq_keypoint_schema_name_version"),
        sa.Index("idx_keypoint_schema_active", "is_active"),
        sa.Index("idx_keypoint_schema_name", "name"),
        sa.Index(
            "uq_keypoint_schema_one_active_version",
            "name",
            unique=True,
            postgresql_where=sa.text("is_active"),
        ),
        sa.CheckConstraint("total_keypoints > 0", name="total_keypoints_positive"),
        between("min_visibility_threshold", 0, 1),
        sa.CheckConstraint(
            "max_missing_keypoints BETWEEN 0 AND total_keypoints", name="max_missing_keypoints_range"
        ),
        sa.CheckConstraint("jsonb_typeof(schema_definition) = 'object'", name="schema_definition_object"),
        sa.CheckConstraint(
            "required_keypoints IS NULL OR jsonb_typeof(required_keypoints) = 'array'",
            name="required_keypoints_array",
        ),
    )
