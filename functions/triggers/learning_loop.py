"""The learning loop's two functions (docs/learning-loop.md).

- `run_step`: every Task state of infra/statemachines/learning_loop.asl.json, dispatching on the
  state's `step` field (one function keeps the stack's template small; each step is its own use
  case in models.learning_loop, idempotent, audited).
- `run_trigger`: on a schedule, every enabled policy whose trigger is due (N newly verified images,
  or its schedule) gets a run, started as an execution; first, a run RUNNING for longer than the
  state machine may run (its execution timed out or was stopped) is ended FAILED.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from cradlepose.adapters.workflow import StepFunctionsWorkflow, Workflow
from cradlepose.bootstrap import default_uow_factory
from cradlepose.common.system import SYSTEM
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.errors import Conflict
from cradlepose.domain.step_errors import describe_error
from cradlepose.models import learning_loop
from triggers.observability import logger
from triggers.steps import Event, step

Step = Literal["Snapshot", "Train", "CheckTraining", "Evaluate", "CheckEvaluation", "Gate", "RecordFailure"]
StepWork = Callable[[UnitOfWorkFactory, int, RequestContext], learning_loop.StepOutput]

STEPS: dict[str, StepWork] = {
    learning_loop.SNAPSHOT: learning_loop.snapshot,
    learning_loop.TRAIN: learning_loop.train,
    learning_loop.CHECK_TRAINING: learning_loop.check_training,
    learning_loop.EVALUATE: learning_loop.evaluate,
    learning_loop.CHECK_EVALUATION: learning_loop.check_evaluation,
    learning_loop.GATE: learning_loop.gate,
}


class _StepInput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    step: Step
    run_id: int
    error: dict[str, Any] | None = None


def run_step(
    event: Event, context: RequestContext, uow_factory: UnitOfWorkFactory | None = None
) -> dict[str, Any]:
    data = _StepInput.model_validate(event)
    factory = uow_factory or default_uow_factory()
    step_context = dataclasses.replace(context, endpoint=f"states:LearningLoop{data.step}")
    if data.step == "RecordFailure":
        output = learning_loop.record_failure(
            factory, data.run_id, describe_error(data.error), "", step_context
        )
        logger.warning("learning loop run failed", extra={"run_id": data.run_id})
    else:
        output = STEPS[data.step](factory, data.run_id, step_context)
    logger.info("learning loop step", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")


def run_trigger(
    event: Event,
    context: RequestContext,
    uow_factory: UnitOfWorkFactory | None = None,
    workflow: Workflow | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Start a run for every schema whose trigger is due; a schema that cannot start one (no base
    model, a run already under way) is logged and left for the next pass."""
    factory = uow_factory or default_uow_factory()
    flow = workflow or StepFunctionsWorkflow()
    now = now or dt.datetime.now(dt.UTC)
    # First end the runs whose execution can no longer be running (it timed out, or was stopped)
    ended = learning_loop.end_overdue_runs(factory, now, context)
    with factory(SYSTEM, context) as uow:
        due = learning_loop.due_schemas(uow, now)
    started: list[int] = []
    for schema_id, trigger in due:
        try:
            with factory(SYSTEM, context) as uow:
                run = learning_loop.request_run(uow, schema_id, trigger)
        except Conflict as refused:
            logger.warning(
                "learning loop not started", extra={"schema_id": schema_id, "reason": str(refused)}
            )
            continue
        learning_loop.start(factory, flow, run.id, context)
        started.append(run.id)
    return {"started": started, "overdue_failed": ended}


step_handler = step("LearningLoop", run_step)
trigger_handler = step("learning_loop_trigger", run_trigger, endpoint="schedule", kind="SCHEDULE")
