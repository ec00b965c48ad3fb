"""Seed 001's Deployment, as Cradle deploys a model: one step of its deployment_status (seed 000).

Every promotion writes a row: the model, the step (DEVELOPMENT → TESTING → PRODUCTION), the model
it replaced in PRODUCTION, and the evidence the promotion rule weighed (the AP of both models on
the gate split). The pipeline pre-annotates each schema's batches with its PRODUCTION model; that
is the "endpoint" of a Cradle deployment, so there is no URL to record.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, pg_enum
from cradlepose.domain.enums import DeploymentStatus


class ModelDeployment(Base):
    __tablename__ = "model_deployments"

    id: Mapped[BigIntPK]
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    from_status: Mapped[DeploymentStatus] = mapped_column(pg_enum(DeploymentStatus, "deployment_status"))
    to_status: Mapped[DeploymentStatus] = mapped_column(pg_enum(DeploymentStatus, "deployment_status"))
    replaced_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))
    evidence: Mapped[dict[str, Any] | None]
    reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        sa.Index("idx_model_deployment_model", "model_id", "id"),
        sa.CheckConstraint("from_status <> to_status", name="is_a_change"),
    )
