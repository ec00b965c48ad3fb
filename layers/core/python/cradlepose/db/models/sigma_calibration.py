"""Per-keypoint OKS sigmas measured on a schema's repeatedly annotated images (domain.sigma_calibration).

`estimates` lists, per keypoint: id, name, the estimated sigma (or null), the number of samples
behind it, and the sigma the schema uses now (COCO's for the default schema). A schema adopts a
calibration by a new version whose keypoint definitions carry the estimates
(`adopted_schema_id`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, non_negative


class SigmaCalibration(Base):
    __tablename__ = "sigma_calibrations"

    id: Mapped[BigIntPK]
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    method: Mapped[str] = mapped_column(sa.String(50))
    estimates: Mapped[list[Any]]
    images: Mapped[int]
    annotations: Mapped[int]
    min_samples: Mapped[int]
    adopted_schema_id: Mapped[int | None] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.Index("idx_sigma_calibration_schema", "keypoint_schema_id", "id"),
        sa.CheckConstraint("jsonb_typeof(estimates) = 'array'", name="estimates_array"),
        *non_negative("images", "annotations", "min_samples"),
    )
