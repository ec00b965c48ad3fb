"""A stopped inference task whose container could not answer its task token.

The container answers the token itself (SendTaskSuccess / SendTaskFailure). When the task dies
first (killed, out of memory, an image that could not be pulled, a Spot interruption), ECS still
emits a "Task State Change" event with `lastStatus: STOPPED`; an EventBridge rule hands it to the
`pipeline_task_stopped` trigger, which fails the token with `InferenceTaskStopped` so Step Functions
retries the chunk at once instead of waiting out the heartbeat. The token is found where the
dispatcher put it: the inference container's environment overrides.

A container that exited 0 answered success already; for any other exit, a token the container did
answer is refused by Step Functions (TaskTimedOut, InvalidToken) and nothing changes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.inference import STARTED_BY, TASK_TOKEN_ENV
from cradlepose.adapters.workflow import Workflow

STOPPED_ERROR = "InferenceTaskStopped"

Outcome = Literal["failed", "already_answered", "exited_cleanly", "not_an_inference_task", "not_stopped"]


class _Variable(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    value: str = ""


class _ContainerOverride(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    environment: list[_Variable] = Field(default_factory=list)


class _Overrides(BaseModel):
    model_config = ConfigDict(extra="ignore")
    container_overrides: list[_ContainerOverride] = Field(default_factory=list, alias="containerOverrides")


class _Container(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: str | None = None


class StoppedTaskDetail(BaseModel):
    """The `detail` of an ECS Task State Change event (the fields this needs)."""

    model_config = ConfigDict(extra="ignore")
    task_arn: str = Field(alias="taskArn")
    last_status: str = Field(alias="lastStatus")
    started_by: str | None = Field(default=None, alias="startedBy")
    stop_code: str | None = Field(default=None, alias="stopCode")
    stopped_reason: str | None = Field(default=None, alias="stoppedReason")
    containers: list[_Container] = Field(default_factory=list)
    overrides: _Overrides = Field(default_factory=_Overrides)

    def task_token(self, container_name: str) -> str | None:
        for override in self.overrides.container_overrides:
            if override.name not in (None, container_name):
                continue
            for variable in override.environment:
                if variable.name == TASK_TOKEN_ENV and variable.value:
                    return variable.value
        return None

    def container(self, container_name: str) -> _Container | None:
        return next((c for c in self.containers if c.name == container_name), None)

    def cause(self, container_name: str) -> str:
        container = self.container(container_name)
        parts = [
            f"task {self.task_arn} stopped",
            f"stopCode {self.stop_code}" if self.stop_code else "",
            f"reason: {self.stopped_reason}" if self.stopped_reason else "",
            f"container exit code {container.exit_code}"
            if container and container.exit_code is not None
            else "",
            f"container reason: {container.reason}" if container and container.reason else "",
        ]
        return "; ".join(part for part in parts if part)


def answer_stopped_task(workflow: Workflow, detail: StoppedTaskDetail, container_name: str) -> Outcome:
    """Fail the task token of a stopped inference task unless its container answered it."""
    if detail.last_status != "STOPPED":
        return "not_stopped"
    token = detail.task_token(container_name)
    if detail.started_by != STARTED_BY or token is None:
        return "not_an_inference_task"
    container = detail.container(container_name)
    if container is not None and container.exit_code == 0:
        return "exited_cleanly"  # it sent SendTaskSuccess before exiting 0
    if workflow.fail(token, STOPPED_ERROR, detail.cause(container_name)):
        return "failed"
    return "already_answered"
