"""MLModelConfig: the pose models Cradle can run, and which one is each schema's default.

The default of a schema is its active PRODUCTION model (at most one: a partial unique index);
a model becomes it only from TESTING through the AP gate (models.promotions), and that moves the
previous one to DEPRECATED in the same transaction. A config is checked on registration (and when
PATCH changes it) against what the engine can run (domain.model_rules): a 422 names each problem.
PATCH moves the status one step of the promotion rules at a time (domain.lifecycles.DEPLOYMENT).
Every change of a model's deployment_status is also recorded as a ModelDeployment row (seed 001's
Deployment), with the evidence a gated promotion weighed (models.promotions).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import DecimalNumber, Page, audit, commit_or_conflict, snapshot
from cradlepose.db.models import MLModelConfig, ModelDeployment
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, model_rules
from cradlepose.domain.audit import changes
from cradlepose.domain.bounds import NOT_NULL, DbId, Patch
from cradlepose.domain.enums import AuditCategory, DeploymentStatus, ModelFramework, ModelType
from cradlepose.domain.errors import Conflict, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.lifecycles import DEPLOYMENT
from cradlepose.domain.status_changes import change_status

Variant = Literal["nano", "small", "medium", "large", "xl"]


class InputResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(ge=model_rules.MIN_INPUT, le=model_rules.MAX_INPUT)
    height: int = Field(ge=model_rules.MIN_INPUT, le=model_rules.MAX_INPUT)


class ModelConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    model_name: str
    version: str
    model_type: ModelType
    framework: ModelFramework
    variant: str | None
    base_model_id: int | None
    keypoint_schema_id: int
    supports_confidence_scores: bool
    supports_visibility_flags: bool
    model_parameters: dict[str, Any]
    input_resolution: dict[str, Any]
    preprocessing_config: dict[str, Any] | None
    avg_processing_time_ms: int | None
    avg_confidence_score: DecimalNumber | None
    success_rate: DecimalNumber | None
    model_path: str | None
    api_endpoint: str | None
    deployment_status: DeploymentStatus
    is_active: bool
    description: str | None
    training_dataset_info: str | None
    created_by: int
    created_at: dt.datetime
    last_updated: dt.datetime


class ModelConfigIn(BaseModel):
    """A model to register. `model_parameters` holds thresholds (conf, iou, max_det) and the
    `keypoint_map` from the model's keypoints to the schema's ids."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=20)
    model_type: ModelType = ModelType.YOLO
    framework: ModelFramework = ModelFramework.YOLO11
    variant: Variant | None = Field(default=None, description="model size: nano, small, medium, large, xl")
    base_model_id: DbId | None = Field(default=None, description="the model this one was fine-tuned from")
    keypoint_schema_id: DbId
    supports_confidence_scores: bool = True
    supports_visibility_flags: bool = True
    model_parameters: dict[str, Any] = Field(default_factory=dict)
    input_resolution: InputResolution = Field(default_factory=lambda: InputResolution(width=640, height=640))
    preprocessing_config: dict[str, Any] | None = None
    model_path: str = Field(
        min_length=1, max_length=500, description="the weights: s3://…, a local path, or package:<pkg>/<file>"
    )
    api_endpoint: str | None = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    training_dataset_info: str | None = Field(default=None, max_length=5000)


class ModelConfigEdit(Patch):
    model_config = ConfigDict(protected_namespaces=())

    model_parameters: Annotated[dict[str, Any] | None, NOT_NULL] = None
    input_resolution: Annotated[InputResolution | None, NOT_NULL] = None
    preprocessing_config: dict[str, Any] | None = None
    model_path: str | None = Field(default=None, max_length=500)
    api_endpoint: str | None = Field(default=None, max_length=500)
    deployment_status: Annotated[DeploymentStatus | None, NOT_NULL] = None
    description: str | None = Field(default=None, max_length=5000)
    training_dataset_info: str | None = Field(default=None, max_length=5000)


_FIELDS = (
    "model_name",
    "version",
    "model_type",
    "framework",
    "variant",
    "base_model_id",
    "keypoint_schema_id",
    "model_parameters",
    "input_resolution",
    "preprocessing_config",
    "model_path",
    "api_endpoint",
    "deployment_status",
    "is_active",
    "description",
)


def list_models(
    uow: UnitOfWork, *, schema_id: int | None, status: DeploymentStatus | None, cursor: str | None, limit: int
) -> Page[ModelConfigOut]:
    access.require_worker(uow.actor)
    query = sa.select(MLModelConfig).where(MLModelConfig.is_active)
    if schema_id is not None:
        query = query.where(MLModelConfig.keypoint_schema_id == schema_id)
    if status is not None:
        query = query.where(MLModelConfig.deployment_status == status)
    return keyset_page(
        uow.session,
        query,
        order_by=[MLModelConfig.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=ModelConfigOut.model_validate,
    )


def get_model(uow: UnitOfWork, model_id: int) -> ModelConfigOut:
    access.require_worker(uow.actor)
    return ModelConfigOut.model_validate(uow.model_configs.require(model_id))


def create_model(uow: UnitOfWork, command: ModelConfigIn) -> ModelConfigOut:
    actor = access.require_admin(uow.actor)
    schema = uow.schemas.require(command.keypoint_schema_id)
    if command.base_model_id is not None:
        uow.model_configs.require(command.base_model_id)
    _check_runnable(
        SchemaDefinition.model_validate(schema.schema_definition),
        model_type=command.model_type,
        framework=command.framework,
        model_path=command.model_path,
        input_resolution=command.input_resolution.model_dump(),
        model_parameters=command.model_parameters,
    )
    row = uow.model_configs.add(
        MLModelConfig(
            **command.model_dump(exclude={"input_resolution"}),
            input_resolution=command.input_resolution.model_dump(),
            created_by=actor.user_id,
        )
    )
    _audit(uow, row, "MODEL_REGISTERED", new=snapshot(row, _FIELDS))
    _commit(uow, command.model_name, command.version)
    return ModelConfigOut.model_validate(row)


def edit_model(uow: UnitOfWork, model_id: int, command: ModelConfigEdit) -> ModelConfigOut:
    access.require_admin(uow.actor)
    row = uow.model_configs.require(model_id, for_update=True)
    values = command.model_dump(exclude_unset=True)
    if not values:
        raise ValidationFailed.single("(body)", "nothing to change")
    if values.get("deployment_status") is DeploymentStatus.PRODUCTION:
        raise Conflict(
            "a model becomes the default only from TESTING through the AP gate: "
            "POST /models/{id}/promotions with a gate (or POST /models/{id}/default)"
        )
    before = snapshot(row, _FIELDS)
    old_status = row.deployment_status
    target = values.pop("deployment_status", old_status)
    if target is None:
        raise ValidationFailed.single("deployment_status", "a model always has a deployment status")
    if target is not old_status:
        # PATCH moves one step of the promotion rules at a time (DEVELOPMENT ⇄ TESTING, PRODUCTION →
        # DEPRECATED, DEPRECATED → TESTING); retiring is DELETE. Checked before anything is set.
        DEPLOYMENT.check(old_status, target)
    for name, value in values.items():
        setattr(row, name, value.model_dump() if isinstance(value, BaseModel) else value)
    if {"model_parameters", "input_resolution", "model_path"} & set(values):
        schema = uow.schemas.require(row.keypoint_schema_id)
        _check_runnable(
            SchemaDefinition.model_validate(schema.schema_definition),
            model_type=row.model_type,
            framework=row.framework,
            model_path=row.model_path,
            input_resolution=row.input_resolution or {},
            model_parameters=row.model_parameters or {},
        )
    if target is not old_status:  # the same status again is no change, as before
        change_status(uow, row, target, reason="set by an administrator")
        record_deployment(uow, row, old_status, reason="set by an administrator")
    old, new = changes(before, snapshot(row, _FIELDS))
    _audit(uow, row, "MODEL_UPDATED", old=old, new=new)
    uow.commit()
    return ModelConfigOut.model_validate(row)


def retire_model(uow: UnitOfWork, model_id: int) -> None:
    """Delete as far as the record allows: the model is deactivated and DEPRECATED, never erased."""
    access.require_admin(uow.actor)
    row = uow.model_configs.require(model_id, for_update=True)
    if not row.is_active:
        raise Conflict(f"model {row.model_name} {row.version} is already retired")
    before = snapshot(row, _FIELDS)
    old_status = row.deployment_status
    row.is_active = False
    if old_status is not DeploymentStatus.DEPRECATED:
        change_status(uow, row, DeploymentStatus.DEPRECATED, reason="retired")
        record_deployment(uow, row, old_status, reason="retired")
    old, new = changes(before, snapshot(row, _FIELDS))
    _audit(uow, row, "MODEL_RETIRED", old=old, new=new)
    uow.commit()


def promote_to_production(
    uow: UnitOfWork,
    row: MLModelConfig,
    *,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> MLModelConfig | None:
    """Make `row` (locked) its schema's PRODUCTION model, the previous one DEPRECATED; returns that one.

    Part of the caller's transaction: both changes are audited and recorded as deployments.
    """
    if not row.is_active:
        raise Conflict(f"model {row.model_name} {row.version} is retired")
    if row.deployment_status is DeploymentStatus.PRODUCTION:
        raise Conflict(f"model {row.model_name} {row.version} is already the default of its schema")
    previous = uow.session.scalars(
        sa.select(MLModelConfig)
        .where(
            MLModelConfig.keypoint_schema_id == row.keypoint_schema_id,
            MLModelConfig.deployment_status == DeploymentStatus.PRODUCTION,
            MLModelConfig.is_active,
        )
        .with_for_update()
    ).all()
    for old_default in previous:
        change_status(uow, old_default, DeploymentStatus.DEPRECATED, reason=f"replaced by model {row.id}")
        record_deployment(uow, old_default, DeploymentStatus.PRODUCTION, reason=f"replaced by model {row.id}")
        _audit(
            uow,
            old_default,
            "MODEL_DEMOTED",
            old={"deployment_status": "PRODUCTION"},
            new={"deployment_status": "DEPRECATED"},
            summary=f"replaced by model {row.id}",
        )
    uow.flush()
    old_status = row.deployment_status
    change_status(uow, row, DeploymentStatus.PRODUCTION, reason=reason)
    replaced = previous[0] if previous else None
    record_deployment(uow, row, old_status, replaced=replaced, evidence=evidence, reason=reason)
    _audit(
        uow,
        row,
        "MODEL_MADE_DEFAULT",
        old={"deployment_status": old_status.value},
        new={"deployment_status": "PRODUCTION"},
        summary=reason,
    )
    return replaced


def record_deployment(
    uow: UnitOfWork,
    row: MLModelConfig,
    from_status: DeploymentStatus,
    *,
    replaced: MLModelConfig | None = None,
    evidence: dict[str, Any] | None = None,
    reason: str | None = None,
) -> ModelDeployment:
    actor_id = uow.actor.user_id if uow.actor and uow.actor.user_id else uow.system_user_id()
    deployment = ModelDeployment(
        model_id=row.id,
        keypoint_schema_id=row.keypoint_schema_id,
        from_status=from_status,
        to_status=row.deployment_status,
        replaced_model_id=replaced.id if replaced else None,
        evidence=evidence,
        reason=reason,
        decided_by=actor_id,
    )
    uow.session.add(deployment)
    return deployment


def register(
    uow: UnitOfWork,
    *,
    model_name: str,
    version: str,
    framework: ModelFramework,
    variant: str | None,
    base_model_id: int | None,
    keypoint_schema_id: int,
    model_parameters: dict[str, Any],
    input_resolution: dict[str, Any],
    model_path: str,
    description: str | None,
    training_dataset_info: str | None,
    created_by: int,
) -> MLModelConfig:
    """Register a model from inside another use case (a finished training job); the caller commits."""
    row = uow.model_configs.add(
        MLModelConfig(
            model_name=model_name,
            version=version,
            model_type=ModelType.YOLO,
            framework=framework,
            variant=variant,
            base_model_id=base_model_id,
            keypoint_schema_id=keypoint_schema_id,
            model_parameters=model_parameters,
            input_resolution=input_resolution,
            model_path=model_path,
            description=description,
            training_dataset_info=training_dataset_info,
            created_by=created_by,
        )
    )
    _audit(uow, row, "MODEL_REGISTERED", new=snapshot(row, _FIELDS))
    return row


def default_for_schema(uow: UnitOfWork, schema_id: int) -> MLModelConfig | None:
    return uow.session.scalar(
        sa.select(MLModelConfig).where(
            MLModelConfig.keypoint_schema_id == schema_id,
            MLModelConfig.deployment_status == DeploymentStatus.PRODUCTION,
            MLModelConfig.is_active,
        )
    )


def _check_runnable(
    schema: SchemaDefinition,
    *,
    model_type: ModelType,
    framework: ModelFramework,
    model_path: str | None,
    input_resolution: dict[str, Any],
    model_parameters: dict[str, Any],
) -> None:
    """422 naming every way the engine could not run this config (domain.model_rules)."""
    found = model_rules.problems(
        model_type=model_type,
        framework=framework,
        model_path=model_path,
        input_resolution=input_resolution,
        model_parameters=model_parameters,
        schema=schema,
    )
    if found:
        raise ValidationFailed(found)


def _commit(uow: UnitOfWork, name: str, version: str) -> None:
    commit_or_conflict(
        uow, f"model {name} {version} already exists, or another default was set at the same time"
    )


def _audit(uow: UnitOfWork, row: MLModelConfig, action: str, **details: Any) -> None:
    audit(
        uow,
        action,
        AuditCategory.SYSTEM,
        "MLModelConfig",
        row.id,
        f"{row.model_name} {row.version}",
        **details,
    )
