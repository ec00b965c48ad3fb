"""Restarting pipeline runs whose execution is gone (the local stack's Step Functions is moto,
whose state is lost when `cradle dev` stops; PostgreSQL's is not).

A run that is REQUESTED or RUNNING but has no live execution is started again under its own
execution name: every step replays idempotently from the database (the plan, loaded chunks,
statuses and waits are all there), so nothing is lost or done twice. A batch left in
YOLO_PROCESSING without an open run gets a new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from cradlepose.adapters.workflow import Workflow
from cradlepose.common.system import SYSTEM
from cradlepose.db.models import ImageBatch, PipelineRun
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, BatchStatus, PipelineRunStatus
from cradlepose.domain.status_changes import change_status
from cradlepose.preannotation import pipeline

ExecutionExists = Callable[[str], bool]  # execution ARN -> does Step Functions know it?


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"


def resume_interrupted(
    uow_factory: UnitOfWorkFactory,
    workflow: Workflow,
    state_machine_arn: str,
    exists: ExecutionExists,
    context: RequestContext,
) -> list[int]:
    """Start again every open run whose execution is gone, highest batch priority first.
    Returns the ids of the runs started, in the order they were started."""
    _request_runs_for_stranded_batches(uow_factory, context)
    with uow_factory(SYSTEM, context) as uow:
        runs = list(
            uow.session.execute(
                sa.select(PipelineRun.id, PipelineRun.execution_name)
                .join(ImageBatch, ImageBatch.id == PipelineRun.batch_id)
                .where(PipelineRun.status.in_(pipeline.OPEN))
                # Several runs waiting: the batch with the highest processing_priority starts
                # first, then the longest waiting (issue 19).
                .order_by(ImageBatch.processing_priority.desc(), PipelineRun.requested_at, PipelineRun.id)
            ).all()
        )
    resumed = []
    for run_id, name in runs:
        if not exists(execution_arn(state_machine_arn, name)):
            resume_run(uow_factory, workflow, state_machine_arn, run_id, context)
            resumed.append(run_id)
    return resumed


def resume_run(
    uow_factory: UnitOfWorkFactory,
    workflow: Workflow,
    state_machine_arn: str,
    run_id: int,
    context: RequestContext,
) -> str | None:
    with uow_factory(SYSTEM, context) as uow:
        run = uow.pipeline_runs.require(run_id)
        if run.status not in pipeline.OPEN:
            return None
        payload, name = pipeline.execution_input(run), run.execution_name
    arn = workflow.start(state_machine_arn, name, payload)
    with uow_factory(SYSTEM, context) as uow:
        run = uow.pipeline_runs.require(run_id, for_update=True)
        if run.status not in pipeline.OPEN:
            return arn
        old = run.status
        if (
            run.status is not PipelineRunStatus.RUNNING
        ):  # a RUNNING run whose execution was gone stays RUNNING
            change_status(uow, run, PipelineRunStatus.RUNNING, reason="resumed")
        run.execution_arn = arn
        run.started_at = run.started_at or dt.datetime.now(dt.UTC)
        uow.audit(
            AuditEntry(
                action="PIPELINE_RESUMED",
                category=AuditCategory.IMAGE_PROCESSING,
                resource_type="ImageBatch",
                resource_id=run.batch_id,
                old_values={"status": old},
                new_values={"status": run.status, "attempt": run.attempt, "execution_arn": arn},
                summary="its execution was gone; started again under the same name",
            )
        )
        uow.commit()
    return arn


def _request_runs_for_stranded_batches(uow_factory: UnitOfWorkFactory, context: RequestContext) -> None:
    with uow_factory(SYSTEM, context) as uow:
        stranded = list(
            uow.session.scalars(
                sa.select(ImageBatch.id)
                .where(ImageBatch.status == BatchStatus.YOLO_PROCESSING)
                .where(
                    ~sa.exists().where(
                        PipelineRun.batch_id == ImageBatch.id, PipelineRun.status.in_(pipeline.OPEN)
                    )
                )
            )
        )
    for batch_id in stranded:
        with uow_factory(SYSTEM, context) as uow:
            batch = uow.batches.require(batch_id, for_update=True)
            if batch.status is BatchStatus.YOLO_PROCESSING and uow.pipeline_runs.open_for(batch.id) is None:
                pipeline.request_run(uow, batch, "the batch was processing without an open run")
                uow.commit()
