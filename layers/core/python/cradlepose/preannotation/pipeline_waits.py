"""Parking the pipeline's WaitForPeople task tokens, and releasing them when the batch moves on.

`await_stage` (the state machine's WaitForPeople task) parks the token with the status its
execution last knew: the status it was last answered with, or READY_FOR_ANNOTATION the first
time. `release_waits` answers every parked token of a batch whose status now differs with
`{"status": <status>, "completed": <status is COMPLETED or ARCHIVED>}` and marks it released;
the execution loops back to wait again until `completed`. It runs after every committed change
of a batch's status: `subscribe` puts it on a message bus for the BatchStatusChanged events the
workflow services emit.

No wake-up is lost: `await_stage` takes the batch's row lock (as status changes do) and releases
at once when the status already differs; it also waits for a release of the same run that is
still committing, so it never mistakes a status it was just told about for a new one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from cradlepose.adapters.workflow import Workflow
from cradlepose.common.bus import MessageBus
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.common.use_cases import audit
from cradlepose.db.models import ImageBatch, PipelineWait
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import AuditCategory, BatchStatus, PipelineRunStatus
from cradlepose.domain.events import BatchStatusChanged, Event
from cradlepose.domain.pipeline import StageReport
from cradlepose.domain.status_changes import change_status
from cradlepose.preannotation.steps import NotThisRun

log = logging.getLogger(__name__)

FIRST_SEEN = BatchStatus.READY_FOR_ANNOTATION  # where Summarize leaves a batch
RELEASE_CONTEXT = step_context("pipeline:release_waits", kind="SYSTEM")


class Parked(BaseModel):
    wait_id: int
    seen_status: BatchStatus
    released: int  # tokens of the batch answered during this call (this one included)


def await_stage(
    uow_factory: UnitOfWorkFactory,
    workflow: Workflow,
    batch_id: int,
    task_token: str,
    context: RequestContext,
) -> Parked:
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        run = uow.pipeline_runs.open_for(batch.id)
        if run is None:
            raise NotThisRun(f"batch {batch.id} has no open pipeline run to wait in")
        wait = uow.pipeline_waits.by_token(task_token)
        if wait is None:
            seen, superseded = _last_known_status(uow, run.id)
            wait = uow.pipeline_waits.add(
                PipelineWait(batch_id=batch.id, run_id=run.id, task_token=task_token, seen_status=seen)
            )
            _audit(
                uow,
                batch,
                "PIPELINE_WAITING",
                {"seen_status": seen, "wait_id": wait.id, "run_id": run.id, "superseded": superseded},
            )
            uow.commit()
        parked = Parked(wait_id=wait.id, seen_status=wait.seen_status, released=0)
    released = release_waits(uow_factory, workflow, batch_id, context)
    return parked.model_copy(update={"released": released})


def _last_known_status(uow: UnitOfWork, run_id: int) -> tuple[BatchStatus, list[int]]:
    """What the run's execution was last told, and the ids of its earlier tokens still parked,
    now marked released: one execution waits on one token at a time, so they are dead."""
    latest = uow.session.scalar(
        sa.select(PipelineWait)
        .where(PipelineWait.run_id == run_id)
        .order_by(PipelineWait.id.desc())
        .limit(1)
        .with_for_update()  # waits for a release of this run that has not committed yet
    )
    if latest is None:
        return FIRST_SEEN, []
    if latest.released_status is not None:
        return latest.released_status, []
    superseded = []
    for stale in uow.session.scalars(
        sa.select(PipelineWait)
        .where(PipelineWait.run_id == run_id, PipelineWait.released_at.is_(None))
        .with_for_update()
    ):
        stale.released_at, stale.released_status = _now(), stale.seen_status
        superseded.append(stale.id)
    return latest.seen_status, superseded


def release_waits(
    uow_factory: UnitOfWorkFactory,
    workflow: Workflow,
    batch_id: int,
    context: RequestContext = RELEASE_CONTEXT,
) -> int:
    """Answer the batch's parked tokens that saw another status than the current one. Idempotent;
    a token Step Functions no longer waits on is just marked released; one that could not be
    answered (Step Functions unreachable) stays parked. Returns how many were answered."""
    with uow_factory(SYSTEM, context) as uow:
        batch = uow.batches.require(batch_id)
        due = [
            w for w in uow.pipeline_waits.parked(batch.id, for_update=True) if w.seen_status != batch.status
        ]
        if not due:
            return 0
        report = StageReport.of(batch.status)
        answered = 0
        for wait in due:
            try:
                delivered = workflow.succeed(wait.task_token, report.model_dump(mode="json"))
            except Exception:  # the status change already committed; the token stays parked for the next try
                log.warning("could not answer pipeline wait %s of batch %s", wait.id, batch.id, exc_info=True)
                continue
            answered += 1
            wait.released_at, wait.released_status = _now(), batch.status
            _audit(
                uow,
                batch,
                "PIPELINE_RELEASED",
                {
                    "wait_id": wait.id,
                    "status": batch.status,
                    "completed": report.completed,
                    "delivered": delivered,
                },
            )
            if report.completed and delivered:
                _finish_run(uow, batch, wait.run_id)
        uow.commit()
        return answered


def subscribe(bus: MessageBus, uow_factory: UnitOfWorkFactory, workflow: Workflow) -> None:
    """Release the batch's parked tokens after each committed BatchStatusChanged on `bus`."""

    def release(event: Event) -> None:
        if isinstance(event, BatchStatusChanged):
            release_waits(uow_factory, workflow, event.batch_id)

    bus.subscribe(BatchStatusChanged, release)


def _finish_run(uow: UnitOfWork, batch: ImageBatch, run_id: int) -> None:
    run = uow.pipeline_runs.require(run_id, for_update=True)
    if run.status is PipelineRunStatus.RUNNING:
        change_status(uow, run, PipelineRunStatus.SUCCEEDED)
        run.finished_at = _now()
        _audit(uow, batch, "PIPELINE_SUCCEEDED", {"attempt": run.attempt, "status": batch.status})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _audit(uow: UnitOfWork, batch: ImageBatch, action: str, new: dict[str, Any]) -> None:
    context = {"batch_id": batch.id, "batch_name": batch.batch_name}
    audit(
        uow,
        action,
        AuditCategory.SYSTEM,
        "ImageBatch",
        batch.id,
        batch.batch_name,
        new=new,
        batch_context=context,
    )
