"""The learning loop (docs/learning-loop.md): each schema's retraining policy, its runs, "run now"
and rollback. Admins set and start; researchers read."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body

from api.dependencies import Admin, Researcher, workflow
from api.observability import metrics
from api.params import Cursor, IdFilter, Limit, ResourceId
from api.problems import documented
from cradlepose.adapters.workflow import Workflow
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.models import learning_loop, model_configs

router = Router()
TAGS = ["learning loop"]


@router.get(
    "/schemas/<schema_id>/learning-loop",
    tags=TAGS,
    summary="A schema's retraining policy (its defaults, disabled, when none was set) (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_policy(me: Researcher, schema_id: ResourceId) -> learning_loop.LearningLoopPolicyOut:
    with me.uow() as uow:
        return learning_loop.get_policy(uow, schema_id)


@router.put(
    "/schemas/<schema_id>/learning-loop",
    tags=TAGS,
    summary="Set a schema's retraining policy: trigger, base model, training, held-out split, gate (admin)",
    responses=documented(200, 401, 403, 404, 422),
)
def put_policy(
    me: Admin, schema_id: ResourceId, body: Annotated[learning_loop.LearningLoopPolicyIn, Body()]
) -> learning_loop.LearningLoopPolicyOut:
    with me.uow() as uow:
        return learning_loop.put_policy(uow, schema_id, body)


@router.post(
    "/schemas/<schema_id>/learning-loop/runs",
    tags=TAGS,
    status_code=202,
    summary="Start a learning-loop run now; it runs in the background (admin)",
    responses=documented(202, 401, 403, 404, 409),
)
def start_run(
    me: Admin, schema_id: ResourceId, flow: Annotated[Workflow, Depends(workflow)]
) -> learning_loop.LearningLoopRunOut:
    with me.uow() as uow:
        run = learning_loop.request_run(uow, schema_id)
    learning_loop.start(me.uow_factory, flow, run.id, me.context)
    metrics.add_metric(name="LearningLoopRunsStarted", unit="Count", value=1)
    with me.uow() as uow:
        return learning_loop.get_run(uow, run.id)


@router.post(
    "/schemas/<schema_id>/learning-loop/rollback",
    tags=TAGS,
    summary="Make the model the current default replaced the default again (admin); 409 when there is none",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def rollback(
    me: Admin, schema_id: ResourceId, body: Annotated[learning_loop.RollbackIn, Body()]
) -> model_configs.ModelConfigOut:
    with me.uow() as uow:
        return learning_loop.rollback(uow, schema_id, body)


@router.get(
    "/learning-loop/runs",
    tags=TAGS,
    summary="Learning-loop runs, newest first (researchers)",
    responses=documented(200, 401, 403, 422),
)
def list_runs(
    me: Researcher, schema_id: IdFilter = None, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[learning_loop.LearningLoopRunOut]:
    with me.uow() as uow:
        return learning_loop.list_runs(uow, schema_id=schema_id, cursor=cursor, limit=limit)


@router.get(
    "/learning-loop/runs/<run_id>",
    tags=TAGS,
    summary="One learning-loop run: its step, what it made, the gate's verdict (researchers)",
    responses=documented(200, 401, 403, 404),
)
def get_run(me: Researcher, run_id: ResourceId) -> learning_loop.LearningLoopRunOut:
    with me.uow() as uow:
        return learning_loop.get_run(uow, run_id)
