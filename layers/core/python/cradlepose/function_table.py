"""The table of Lambda functions (`infra/functions.toml`), read by the CDK app and the local stack."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PATH = Path(__file__).resolve().parents[4] / "infra" / "functions.toml"

# One of: "db", "db:owner", "s3:<bucket>:<read|write|delete>", "states:start", "states:start_analysis",
# "states:release", "states:fail_task", "ecs:run_inference", "cognito:admin", "cognito:create_users",
# "bedrock:invoke".
Grant = str


class ApiEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["api"]


class S3ObjectCreated(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["s3_object_created"]
    bucket: Literal["uploads", "derived", "results", "exports"]


class StateMachineTask(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["state_machine"]
    machine: str
    # The ${...} substitution in the state machine definition that receives this function's ARN.
    substitution: str


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["schedule"]
    expression: str  # rate(...) or cron(...), EventBridge Scheduler syntax
    # How often the local stack runs it, in seconds.
    local_every_s: int = Field(default=60, ge=1)


class EcsTaskStopped(BaseModel):
    """ECS "Task State Change" to STOPPED of the inference cluster's tasks started by `started_by`
    (an EventBridge rule in the cloud; the local ECS runner reports its processes' ends the same way)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["ecs_task_stopped"]
    started_by: str


class Deploy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["deploy"]


class Invoke(BaseModel):
    """Invoked directly by an operator (the `cradle` CLI, with the operator's AWS credentials)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["invoke"]


Event = ApiEvent | S3ObjectCreated | StateMachineTask | Schedule | EcsTaskStopped | Deploy | Invoke


class FunctionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    handler: str = Field(pattern=r"^[a-z_][a-z0-9_.]*\.[a-z_][a-z0-9_]*$")
    code: str = "functions"
    memory_mb: int = Field(default=512, ge=128, le=10240)
    timeout_s: int = Field(default=30, ge=1, le=900)
    reserved_concurrency: int | None = Field(default=None, ge=0)
    is_async: bool = Field(default=False, alias="async")
    events: list[Annotated[Event, Field(discriminator="type")]] = Field(min_length=1)
    grants: list[Grant] = Field(default_factory=list)

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def function(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def events_of(self, kind: type[BaseModel]) -> list[BaseModel]:
        return [e for e in self.events if isinstance(e, kind)]


class FunctionTable(BaseModel):
    functions: list[FunctionSpec]

    def get(self, name: str) -> FunctionSpec:
        for spec in self.functions:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def with_event(self, kind: type[BaseModel]) -> list[FunctionSpec]:
        return [f for f in self.functions if f.events_of(kind)]


def load(path: Path = DEFAULT_PATH) -> FunctionTable:
    raw = tomllib.loads(path.read_text())
    return FunctionTable(
        functions=[
            FunctionSpec.model_validate({"name": name, **spec}) for name, spec in raw["functions"].items()
        ]
    )
