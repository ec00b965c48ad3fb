"""The batch pipeline's task steps (infra/statemachines/batch_pipeline.asl.json).

Each handler parses its state's Payload, calls one service and returns what the state's
ResultSelector reads. The `run_*` functions are the work itself, with the adapters as optional
parameters (Lambda passes none; tests pass their own). Every step may run twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from cradlepose import metric_names
from cradlepose.adapters.inference import InferenceRunner, InferenceTask, runner_from_settings
from cradlepose.adapters.storage import S3Storage, Storage
from cradlepose.adapters.workflow import StepFunctionsWorkflow, Workflow
from cradlepose.bootstrap import bootstrap, default_uow_factory
from cradlepose.common.system import SYSTEM
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.pipeline import ChunkItem
from cradlepose.preannotation import chunk_ingest, inference_stops, pipeline_waits
from cradlepose.preannotation import steps as preannotation
from cradlepose.settings import get_settings
from cradlepose.workflow import assignments, overdue
from triggers.observability import logger, metrics
from triggers.steps import Event, step


class _BatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    batch_id: int


class _ExecutionInput(_BatchInput):
    execution_id: str


class _FailureInput(_ExecutionInput):
    error: dict[str, Any] | None = None


class _TokenInput(_BatchInput):
    task_token: str


class _DispatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    chunk: ChunkItem
    task_token: str
    attempt: int = 0  # $$.State.RetryCount: a retry is a new task even if its token is the same


def _uow(uow_factory: UnitOfWorkFactory | None) -> UnitOfWorkFactory:
    return uow_factory or default_uow_factory()


def run_mark_processing(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    data = _ExecutionInput.model_validate(event)
    result = preannotation.mark_processing(_uow(uow_factory), data.batch_id, data.execution_id, context)
    return result.model_dump(mode="json")


def run_plan_chunks(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    data = _ExecutionInput.model_validate(event)
    plan = preannotation.plan_chunks(
        _uow(uow_factory), storage or S3Storage(), data.batch_id, data.execution_id, context
    )
    logger.info("planned", extra={"chunks": len(plan.chunks), "images": plan.image_count})
    return plan.output.model_dump(mode="json")  # the chunks themselves are in S3, for the Map to read


def run_dispatch_inference(
    event: Event, context: RequestContext, runner: InferenceRunner | None = None
) -> dict[str, Any]:
    data = _DispatchInput.model_validate(event)
    chunk = data.chunk
    task = InferenceTask(chunk.batch_id, chunk.chunk_index, chunk.manifest_uri, data.task_token, data.attempt)
    started = (runner or runner_from_settings()).start(task)
    logger.info("inference started", extra={"chunk_index": chunk.chunk_index, "task": started})
    return {"batch_id": chunk.batch_id, "chunk_index": chunk.chunk_index, "started": started}


def run_ingest_chunk(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    request = chunk_ingest.ChunkRequest.model_validate(event)
    result = chunk_ingest.ingest_chunk(_uow(uow_factory), storage or S3Storage(), request, context)
    if not result.already_loaded and result.loaded:
        metrics.add_metric(name=metric_names.IMAGES_PRE_ANNOTATED, unit="Count", value=result.loaded)
        metrics.add_metric(
            name=metric_names.INFERENCE_MS_PER_IMAGE,
            unit="Milliseconds",
            value=result.inference_ms / result.loaded,
        )
    return {"loaded": result.loaded, "failed": result.failed}


def run_summarize(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    data = _BatchInput.model_validate(event)
    return preannotation.summarize(_uow(uow_factory), data.batch_id, context).model_dump(mode="json")


def run_auto_assign(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    workflow: Workflow | None = None,
) -> dict[str, Any]:
    """The assignment rules are the workflow's (workflow.assignments); None: nobody had capacity."""
    data = _BatchInput.model_validate(event)
    cradle = bootstrap(uow_factory, workflow)
    with cradle.uow_factory(SYSTEM, context) as uow:
        assignment = assignments.auto_assign_batch(uow, data.batch_id)
    cradle.bus.publish(uow.committed_events)
    return {"batch_id": data.batch_id, "assignment_id": assignment.id if assignment else None}


def run_await_stage(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    workflow: Workflow | None = None,
) -> dict[str, Any]:
    data = _TokenInput.model_validate(event)
    parked = pipeline_waits.await_stage(
        _uow(uow_factory), workflow or StepFunctionsWorkflow(), data.batch_id, data.task_token, context
    )
    return parked.model_dump(mode="json")


def run_mark_overdue(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    data = _BatchInput.model_validate(event)
    marked = overdue.mark_overdue(_uow(uow_factory), context, batch_id=data.batch_id)
    return {"batch_id": data.batch_id, "overdue": marked}


def run_record_failure(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    data = _FailureInput.model_validate(event)
    record = preannotation.record_failure(
        _uow(uow_factory), data.batch_id, data.execution_id, data.error, context
    )
    logger.warning(
        "pipeline run failed", extra={"failed_step": record.failed_step, "recorded": record.recorded}
    )
    return record.model_dump(mode="json")


def run_inference_task_stopped(
    event: Event, context: RequestContext, workflow: Workflow | None = None
) -> dict[str, Any]:
    """An ECS Task State Change (STOPPED) of an inference task: fail its token unless it was answered."""
    detail = inference_stops.StoppedTaskDetail.model_validate(event.get("detail") or {})
    outcome = inference_stops.answer_stopped_task(
        workflow or StepFunctionsWorkflow(), detail, get_settings().inference_container_name
    )
    logger.info(
        "inference task stopped",
        extra={"task_arn": detail.task_arn, "stop_code": detail.stop_code, "outcome": outcome},
    )
    return {"task_arn": detail.task_arn, "outcome": outcome}


mark_processing = step("MarkProcessing", run_mark_processing)
plan_chunks = step("PlanChunks", run_plan_chunks)
dispatch_inference = step("RunInference", run_dispatch_inference)
ingest_chunk = step("IngestChunk", run_ingest_chunk)
summarize = step("Summarize", run_summarize)
auto_assign = step("AutoAssign", run_auto_assign)
await_stage = step("WaitForPeople", run_await_stage)
mark_overdue = step("MarkOverdue", run_mark_overdue)
record_failure = step("RecordFailure", run_record_failure)
inference_task_stopped = step(
    "InferenceTaskStopped", run_inference_task_stopped, endpoint="events", kind="EVENT"
)
