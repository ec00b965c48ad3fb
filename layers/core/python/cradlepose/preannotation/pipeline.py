"""Starting the batch pipeline: requested inside the triggering transaction, started after it.

`request_run` records a REQUESTED PipelineRun with a deterministic execution name in the same
transaction as the event that warrants it; `start_run` (after commit) starts that execution.
Step Functions refuses a second execution with the same name, so a repeated request, a
redelivered event or a retry after a crash starts the pipeline once.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from cradlepose.adapters.workflow import Workflow
from cradlepose.db.models import ImageBatch, PipelineRun
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access
from cradlepose.domain.actor import SYSTEM_CONTEXT, Actor
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, BatchStatus, PipelineRunStatus
from cradlepose.domain.errors import Conflict
from cradlepose.domain.status_changes import change_status
from cradlepose.settings import get_settings


class PipelineRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    attempt: int
    execution_name: str
    execution_arn: str | None
    status: PipelineRunStatus
    requested_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    failed_step: str | None
    error: str | None


OPEN = (PipelineRunStatus.REQUESTED, PipelineRunStatus.RUNNING)


def request_run(uow: UnitOfWork, batch: ImageBatch, reason: str) -> PipelineRun:
    """The batch's open run, or a new REQUESTED one. Call with the batch row locked."""
    latest = uow.pipeline_runs.latest(batch.id)
    if latest is not None and latest.status in OPEN:
        return latest
    attempt = 1 if latest is None else latest.attempt + 1
    run = uow.pipeline_runs.add(
        PipelineRun(
            batch_id=batch.id,
            attempt=attempt,
            execution_name=f"cradle-batch-{batch.id}-run-{attempt}",
            requested_by=uow.actor.user_id if uow.actor else None,
        )
    )
    uow.audit(
        AuditEntry(
            action="PIPELINE_REQUESTED",
            category=AuditCategory.IMAGE_PROCESSING,
            resource_type="ImageBatch",
            resource_id=batch.id,
            resource_name=batch.batch_name,
            new_values={"attempt": attempt, "execution_name": run.execution_name},
            summary=reason,
        )
    )
    return run


def restart_failed(uow: UnitOfWork, batch_id: int) -> int:
    """An admin starts a batch's failed pipeline again: a new REQUESTED run (the next attempt)
    whose steps replay from the database, so only the images still without a result are
    pre-annotated. Returns the run's id; the caller starts it after commit (`start_run`).
    Refused (409) unless the batch's latest run FAILED."""
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    latest = uow.pipeline_runs.latest(batch.id)
    if latest is None or latest.status is not PipelineRunStatus.FAILED:
        state = (
            "has no pipeline run"
            if latest is None
            else f"pipeline run {latest.attempt} is {latest.status.value}"
        )
        raise Conflict(f"batch {batch.id} {state}: only a failed pipeline is restarted")
    if batch.status is BatchStatus.ARCHIVED:
        raise Conflict(f"batch {batch.id} is ARCHIVED; an archived batch's pipeline is not restarted")
    run = request_run(
        uow, batch, f"restarted by an admin after run {latest.attempt} failed at {latest.failed_step}"
    )
    uow.commit()
    return run.id


def execution_input(run: PipelineRun) -> dict[str, int]:
    """The input of a run's execution. WaitForPeople's TimeoutSecondsPath reads the wait's length
    from it, so a deploy (or a test) sets it without changing the state machine."""
    return {
        "batch_id": run.batch_id,
        "attempt": run.attempt,
        "wait_timeout_seconds": get_settings().pipeline_wait_timeout_s,
    }


def start_run(
    uow_factory: UnitOfWorkFactory, workflow: Workflow, run_id: int, actor: Actor | None = None
) -> str | None:
    """Start a REQUESTED run's execution (idempotent) and mark it RUNNING. Returns its ARN."""
    settings = get_settings()
    if settings.state_machine_arn is None:
        return None  # no state machine configured (unit-level use): the run stays REQUESTED
    with uow_factory(actor, SYSTEM_CONTEXT) as uow:
        run = uow.pipeline_runs.require(run_id)
        if run.status is not PipelineRunStatus.REQUESTED:
            return run.execution_arn
        payload = execution_input(run)
        name = run.execution_name
    arn = workflow.start(settings.state_machine_arn, name, payload)
    with uow_factory(actor, SYSTEM_CONTEXT) as uow:
        run = uow.pipeline_runs.require(run_id, for_update=True)
        if run.status is PipelineRunStatus.REQUESTED:
            change_status(uow, run, PipelineRunStatus.RUNNING)
            run.execution_arn = arn
            run.started_at = dt.datetime.now(dt.UTC)
            uow.audit(
                AuditEntry(
                    action="PIPELINE_STARTED",
                    category=AuditCategory.IMAGE_PROCESSING,
                    resource_type="ImageBatch",
                    resource_id=run.batch_id,
                    new_values={"execution_arn": arn, "attempt": run.attempt},
                )
            )
            uow.commit()
    return arn
