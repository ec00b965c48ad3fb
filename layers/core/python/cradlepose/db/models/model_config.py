from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from cradlepose.db.base import Base, BigIntPK, CreatedAt, between, numeric, pg_enum
from cradlepose.domain.enums import DeploymentStatus, ModelFramework, ModelType


class MLModelConfig(Base):
    """A registered pose model. At most one PRODUCTION model per keypoint schema."""

    __tablename__ = "ml_model_configs"

    id: Mapped[BigIntPK]
    model_name: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[str] = mapped_column(sa.String(20))
    model_type: Mapped[ModelType] = mapped_column(pg_enum(ModelType, "model_type"))
    # Seed 001's framework and size variant (nano … xl), and the model a fine-tune started from.
    framework: Mapped[ModelFramework] = mapped_column(
        pg_enum(ModelFramework, "model_framework"),
        server_default=ModelFramework.YOLO11.value,
        default=ModelFramework.YOLO11,
    )
    variant: Mapped[str | None] = mapped_column(sa.String(10))
    base_model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ml_model_configs.id"))

    keypoint_schema_id: Mapped[int] = mapped_column(sa.ForeignKey("keypoint_schemas.id"))
    supports_confidence_scores: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    supports_visibility_flags: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)

    model_parameters: Mapped[dict[str, Any]]
    input_resolution: Mapped[dict[str, Any]]
    preprocessing_config: Mapped[dict[str, Any] | None]

    avg_processing_time_ms: Mapped[int | None]
    avg_confidence_score: Mapped[Decimal | None] = mapped_column(numeric(3, 2))
    success_rate: Mapped[Decimal | None] = mapped_column(numeric(3, 2))

    model_path: Mapped[str | None] = mapped_column(sa.String(500))
    api_endpoint: Mapped[str | None] = mapped_column(sa.String(500))
    deployment_status: Mapped[DeploymentStatus] = mapped_column(
        pg_enum(DeploymentStatus, "deployment_status"),
        server_default=DeploymentStatus.DEVELOPMENT.value,
        default=DeploymentStatus.DEVELOPMENT,
    )

    is_active: Mapped[bool] = mapped_column(server_default=sa.true(), default=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    training_dataset_info: Mapped[str | None] = mapped_column(sa.Text)

    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[CreatedAt]
    last_updated: Mapped[dt.datetime] = mapped_column(server_default=sa.func.now())

    __table_args__ = (
        sa.Index("idx_ml_model_active", "is_active"),
        sa.Index("idx_ml_model_type", "model_type"),
        sa.Index("idx_ml_model_schema", "keypoint_schema_id"),
        sa.UniqueConstraint("model_name", "version", name="uq_ml_model_name_version"),
        sa.Index(
            "uq_ml_model_one_production_per_schema",
            "keypoint_schema_id",
            unique=True,
            postgresql_where=sa.text("deployment_status = 'PRODUCTION' AND is_active"),
        ),
        sa.CheckConstraint("variant IN ('nano', 'small', 'medium', 'large', 'xl')", name="variant_known"),
        between("avg_confidence_score", 0, 1),
        between("success_rate", 0, 1),
        sa.CheckConstraint("avg_processing_time_ms >= 0", name="avg_processing_time_ms_non_negative"),
    )
