"""Pose anomaly screening's Lambdas: the batch pipeline's last step, and the training worker.

- `analyse_batch` (state `AnalysePoses` of infra/statemachines/batch_pipeline.asl.json, after the
  batch is COMPLETED): scores the batch's verified poses against the age-group models in force. It
  is a research aid that must never fail a batch: a batch it cannot analyse (no models yet, no ages,
  bands that refuse) returns `skipped` with the reason, and the state's Catch ends the run anyway.
  Running it twice writes nothing new.
- `train_models` (scheduled): runs the oldest queued training job to its end, committing progress.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from cradlepose.adapters.storage import S3Storage, Storage
from cradlepose.anomaly import analysis as anomaly_analysis
from cradlepose.anomaly import training as anomaly_training
from cradlepose.bootstrap import default_uow_factory
from cradlepose.common.system import SYSTEM
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.errors import Conflict
from triggers.observability import logger, metrics
from triggers.steps import Event, step


class _BatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    batch_id: int


def _factory(uow_factory: UnitOfWorkFactory | None) -> UnitOfWorkFactory:
    return uow_factory or default_uow_factory()


def run_analyse_batch(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    data = _BatchInput.model_validate(event)
    try:
        with _factory(uow_factory)(SYSTEM, context) as uow:
            result = anomaly_analysis.analyse_batch(uow, storage or S3Storage(), data.batch_id)
    except Conflict as refusal:
        logger.info("pose analysis skipped", extra={"reason": refusal.detail})
        return {"batch_id": data.batch_id, "skipped": refusal.detail}
    metrics.add_metric(name="PosesAnalysed", unit="Count", value=result.analysed)
    metrics.add_metric(name="AtypicalPoses", unit="Count", value=result.anomalies)
    return {
        "batch_id": data.batch_id,
        "analysed": result.analysed,
        "unchanged": result.unchanged,
        "anomalies": result.anomalies,
        "refused": len(result.refused),
    }


def run_training_worker(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    job = anomaly_training.run_next(_factory(uow_factory), storage or S3Storage(), context)
    if job is None:
        return {"job_id": None}
    logger.info("anomaly training job ran", extra={"job_id": job.id, "status": job.status.value})
    return {"job_id": job.id, "status": job.status.value, "error": job.error_message}


analyse_batch = step("AnalysePoses", run_analyse_batch)
train_models = step("anomaly_training", run_training_worker, endpoint="schedule", kind="SCHEDULE")
