"""Promoting a model through DEVELOPMENT → TESTING → PRODUCTION (seed 000's deployment_status).

Each step follows domain.lifecycles.DEPLOYMENT and is recorded (ModelDeployment). Reaching
PRODUCTION makes the model the one the pipeline pre-annotates its schema's batches with, and
deprecates the one it replaces (model_configs.promote_to_production). A promotion to PRODUCTION
starts from TESTING and names a gate, a dataset split: the candidate's AP there must beat the
current PRODUCTION model's AP on the same split with the same sigmas (domain.promotion), and both
figures are kept with the deployment as its evidence. There is no other way to PRODUCTION:
POST /models/{id}/default is the same promotion (`make_default`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.common.use_cases import audit
from cradlepose.db.models import MLModelConfig, ModelDeployment
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import AuditCategory, DatasetSplit, DeploymentStatus
from cradlepose.domain.errors import Conflict, ValidationFailed
from cradlepose.domain.lifecycles import DEPLOYMENT
from cradlepose.domain.promotion import GateEvidence, check_gate
from cradlepose.domain.status_changes import change_status
from cradlepose.models import model_configs, model_metrics


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: DbId
    split: DatasetSplit = DatasetSplit.TEST


class PromotionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: DeploymentStatus = Field(description="TESTING or PRODUCTION (DEVELOPMENT to send it back)")
    gate: Gate | None = Field(
        default=None,
        description="required for PRODUCTION: the split on which it must beat the current model's AP",
    )
    reason: str | None = Field(default=None, max_length=2000)


class DefaultIn(BaseModel):
    """Make a TESTING model its schema's default: a promotion to PRODUCTION through the gate."""

    model_config = ConfigDict(extra="forbid")

    gate: Gate = Field(description="the split on which it must beat the current model's AP")
    reason: str | None = Field(default=None, max_length=2000)


class DeploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    model_id: int
    keypoint_schema_id: int
    from_status: DeploymentStatus
    to_status: DeploymentStatus
    replaced_model_id: int | None
    evidence: dict[str, Any] | None
    reason: str | None
    decided_by: int
    created_at: dt.datetime


def promote(uow: UnitOfWork, model_id: int, command: PromotionIn) -> DeploymentOut:
    access.require_admin(uow.actor)
    row = uow.model_configs.require(model_id, for_update=True)
    if not row.is_active:
        raise Conflict(f"model {row.model_name} {row.version} is retired")
    if command.gate is not None and command.target is not DeploymentStatus.PRODUCTION:
        raise Conflict("a gate applies to a promotion to PRODUCTION only")
    DEPLOYMENT.check(row.deployment_status, command.target)
    if command.target is DeploymentStatus.PRODUCTION:
        if command.gate is None:
            raise ValidationFailed.single(
                "gate", "a promotion to PRODUCTION names the dataset split on which its AP is compared"
            )
        gate_evidence = _evidence(uow, row, command.gate)
        check_gate(gate_evidence)
        model_configs.promote_to_production(uow, row, reason=command.reason, evidence=gate_evidence.as_dict())
    else:
        old = row.deployment_status
        change_status(uow, row, command.target, reason=command.reason)
        model_configs.record_deployment(uow, row, old, reason=command.reason)
        audit(
            uow,
            "MODEL_PROMOTED",
            AuditCategory.SYSTEM,
            "MLModelConfig",
            row.id,
            f"{row.model_name} {row.version}",
            old={"deployment_status": old.value},
            new={"deployment_status": command.target.value},
            summary=command.reason,
        )
    uow.flush()
    deployment = uow.session.scalar(
        sa.select(ModelDeployment)
        .where(ModelDeployment.model_id == row.id)
        .order_by(ModelDeployment.id.desc())
        .limit(1)
    )
    assert deployment is not None
    uow.commit()
    return DeploymentOut.model_validate(deployment)


def make_default(uow: UnitOfWork, model_id: int, command: DefaultIn) -> model_configs.ModelConfigOut:
    """POST /models/{id}/default: the gated promotion to PRODUCTION, answered with the model."""
    promote(
        uow,
        model_id,
        PromotionIn(target=DeploymentStatus.PRODUCTION, gate=command.gate, reason=command.reason),
    )
    return model_configs.get_model(uow, model_id)


class GateCheckOut(BaseModel):
    """The AP gate's verdict on a candidate, computed without promoting it (a dry run)."""

    model_id: int
    dataset_id: int
    split: DatasetSplit
    status: DeploymentStatus
    allowed: bool = Field(description="whether POST /models/{id}/default would pass the gate now")
    reason: str | None = Field(description="why not: the gate's refusal or the lifecycle's")
    evidence: dict[str, Any]


def check_promotion(uow: UnitOfWork, model_id: int, gate: Gate) -> GateCheckOut:
    """The verdict `promote` to PRODUCTION would reach, with its evidence; writes nothing."""
    access.require_researcher(uow.actor)
    row = uow.model_configs.require(model_id)
    evidence = _evidence(uow, row, gate)
    reason: str | None = None
    try:
        if not row.is_active:
            raise Conflict(f"model {row.model_name} {row.version} is retired")
        DEPLOYMENT.check(row.deployment_status, DeploymentStatus.PRODUCTION)
        check_gate(evidence)
    except Conflict as refused:
        reason = str(refused)
    return GateCheckOut(
        model_id=row.id,
        dataset_id=evidence.dataset_id,
        split=gate.split,
        status=row.deployment_status,
        allowed=reason is None,
        reason=reason,
        evidence=evidence.as_dict(),
    )


def history(uow: UnitOfWork, model_id: int) -> list[DeploymentOut]:
    access.require_researcher(uow.actor)
    uow.model_configs.require(model_id)
    rows = uow.session.scalars(
        sa.select(ModelDeployment).where(ModelDeployment.model_id == model_id).order_by(ModelDeployment.id)
    )
    return [DeploymentOut.model_validate(r) for r in rows]


def _evidence(uow: UnitOfWork, candidate: MLModelConfig, gate: Gate) -> GateEvidence:
    dataset = uow.datasets.require(gate.dataset_id)
    if dataset.keypoint_schema_id != candidate.keypoint_schema_id:
        raise Conflict(f"dataset {dataset.id} is of another keypoint schema than model {candidate.id}")
    measured = model_metrics.latest_ap(uow, candidate.id, dataset.id, gate.split)
    incumbent = model_configs.default_for_schema(uow, candidate.keypoint_schema_id)
    incumbent_ap = None
    if incumbent is not None and measured is not None:
        sigmas = (measured.metric_metadata or {}).get("sigmas")
        theirs = model_metrics.latest_ap(uow, incumbent.id, dataset.id, gate.split, sigmas)
        incumbent_ap = theirs.metric_value if theirs else None
    return GateEvidence(
        dataset_id=dataset.id,
        split=gate.split,
        candidate_id=candidate.id,
        candidate_ap=measured.metric_value if measured else None,
        incumbent_id=incumbent.id if incumbent else None,
        incumbent_ap=incumbent_ap,
    )
