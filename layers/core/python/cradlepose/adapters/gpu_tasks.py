"""One task of the inference container on the GPU capacity provider (`ecs:RunTask`).

The batch pipeline's chunks and the ML jobs (training, evaluation, inference jobs) run the same
task definition with different container overrides; this is the call they share.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from cradlepose.adapters.aws import client
from cradlepose.settings import Settings, get_settings

R = TypeVar("R")

NOT_CONFIGURED = "CRADLE_INFERENCE_CLUSTER_ARN, _TASK_DEFINITION_ARN and _CAPACITY_PROVIDER must be set"


class EcsTaskStarter:
    """What both ECS runners hold: their settings, and an ECS client made on first use."""

    def __init__(self, ecs: Any | None = None, settings: Settings | None = None) -> None:
        self._ecs = ecs
        self.settings = settings or get_settings()

    @property
    def ecs(self) -> Any:
        if self._ecs is None:
            self._ecs = client("ecs")
        return self._ecs


class LocalRunnerSlot(Generic[R]):
    """Where the local stack installs its in-process runner for `inference_runner=local`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runner: R | None = None

    def install(self, runner: R | None) -> None:
        """One local stack per process; None removes its runner."""
        with self._lock:
            self._runner = runner

    def get(self) -> R | None:
        with self._lock:
            return self._runner


def configured(settings: Settings) -> bool:
    s = settings
    return bool(s.inference_cluster_arn and s.inference_task_definition_arn and s.inference_capacity_provider)


def run_task(
    ecs: Any, settings: Settings, container: dict[str, Any], *, started_by: str, client_token: str
) -> tuple[str | None, str]:
    """Start one task with `container` as the inference container's override (its name is added).

    Returns the task's ARN, or None with ECS's reasons. No tags: the callers' roles have no
    ecs:TagResource. `client_token` makes a repeated start the same task.
    """
    s = settings
    response = ecs.run_task(
        cluster=s.inference_cluster_arn,
        taskDefinition=s.inference_task_definition_arn,
        capacityProviderStrategy=[{"capacityProvider": s.inference_capacity_provider, "weight": 1}],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": s.inference_subnet_ids,
                "securityGroups": s.inference_security_group_ids,
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": s.inference_container_name, **container}]},
        count=1,
        startedBy=started_by,
        clientToken=client_token,
    )
    tasks = response.get("tasks") or []
    if tasks:
        return str(tasks[0]["taskArn"]), ""
    reasons = "; ".join(
        f"{f.get('arn', '')}: {f.get('reason', 'unknown')}" for f in response.get("failures") or []
    )
    return None, reasons or "no reason"
