"""Starting the inference task of one chunk: an ECS task on a GPU in the cloud, the CPU engine locally.

The dispatcher hands the runner the chunk's manifest and the Step Functions task token; the
runner returns as soon as the task is started. The container process itself answers the token
(cradle_inference.task_protocol: SendTaskSuccess with the chunk's summary, SendTaskFailure,
SendTaskHeartbeat); a task that stops without answering has it failed by the task-stopped
trigger (cradlepose.preannotation.inference_stops).

The ECS task's container gets the task definition's environment (`task_environment`, the same
names in infra/constructs/inference.py and the local stack) and, per task, where its work is
(`container_overrides`):

    CRADLE_MANIFEST     s3://<results bucket>/manifests/<batch>/run-<n>/chunk-<i>.json
    CRADLE_TASK_TOKEN   the Step Functions task token to answer

The local stack plays ECS with `cradle_workstation.devstack.local_ecs` (the same entry point as a process
on the CPU) and installs it here with `install_local_runner`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from cradlepose.adapters import gpu_tasks
from cradlepose.settings import Settings, get_settings

MANIFEST_ENV = "CRADLE_MANIFEST"
TASK_TOKEN_ENV = "CRADLE_TASK_TOKEN"  # noqa: S105 - the name of a variable, not a secret
STARTED_BY = "cradle-pipeline"
HEARTBEAT_ENV = "CRADLE_HEARTBEAT_EVERY_S"
HEARTBEAT_EVERY_S = 60  # well inside the RunInference state's HeartbeatSeconds (900)


def task_environment(
    *, stage: str, region: str, buckets: dict[str, str], heartbeat_every_s: float = HEARTBEAT_EVERY_S
) -> dict[str, str]:
    """The inference container's environment in its task definition (buckets by name: uploads,
    results, models). The CDK passes its tokens, the local stack its settings."""
    return {
        "CRADLE_STAGE": stage,
        "CRADLE_AWS_REGION": region,
        "CRADLE_UPLOADS_BUCKET": buckets["uploads"],
        "CRADLE_RESULTS_BUCKET": buckets["results"],
        "CRADLE_MODELS_BUCKET": buckets["models"],
        HEARTBEAT_ENV: f"{heartbeat_every_s:g}",
    }


@dataclass(frozen=True)
class InferenceTask:
    batch_id: int
    chunk_index: int
    manifest_uri: str  # s3://bucket/key of the ChunkManifest
    task_token: str
    attempt: int = 0  # the state's retry count: a retried chunk must start a new task

    @property
    def idempotency_token(self) -> str:
        """The same for every dispatch of the same attempt (a Lambda retry of the dispatcher), another
        for the next attempt: RunTask returns the earlier task for a clientToken it has seen, and a
        retry after a stopped task must not get the stopped task back, whether or not Step
        Functions issues a new token per attempt. (ECS's clientToken takes at most 64 characters.)"""
        return hashlib.sha256(f"{self.task_token}#{self.attempt}".encode()).hexdigest()[:64]


def container_overrides(task: InferenceTask) -> dict[str, Any]:
    """The inference container's RunTask override for one chunk (the container's name is added)."""
    return {
        "environment": [
            {"name": MANIFEST_ENV, "value": task.manifest_uri},
            {"name": TASK_TOKEN_ENV, "value": task.task_token},
        ]
    }


class InferenceRunner(Protocol):
    def start(self, task: InferenceTask) -> str:
        """Start the task (idempotently) and return at once; the result is what identifies the run."""
        ...


class InferenceNotStarted(Exception):
    """ECS could not place the task (no capacity yet, an agent busy): worth retrying."""


class InferenceUnavailable(RuntimeError):
    """No runner is configured for this process."""


class EcsInferenceRunner(gpu_tasks.EcsTaskStarter):
    """`ecs:RunTask` on the GPU capacity provider. No tags: the dispatcher's role has no ecs:TagResource."""

    def start(self, task: InferenceTask) -> str:
        if not gpu_tasks.configured(self.settings):
            raise InferenceUnavailable(gpu_tasks.NOT_CONFIGURED)
        arn, reasons = gpu_tasks.run_task(
            self.ecs,
            self.settings,
            container_overrides(task),
            started_by=STARTED_BY,
            client_token=task.idempotency_token,
        )
        if arn is None:
            raise InferenceNotStarted(f"ECS started no task for chunk {task.chunk_index}: {reasons}")
        return arn


_local_runner: gpu_tasks.LocalRunnerSlot[InferenceRunner] = gpu_tasks.LocalRunnerSlot()
# The local stack's runner for `inference_runner=local` (None removes it).
install_local_runner = _local_runner.install


def runner_from_settings(settings: Settings | None = None) -> InferenceRunner:
    settings = settings or get_settings()
    if settings.inference_runner == "ecs":
        return EcsInferenceRunner(settings=settings)
    runner = _local_runner.get()
    if runner is None:
        raise InferenceUnavailable(
            "CRADLE_INFERENCE_RUNNER=local, but no local stack runs in this process (start `cradle dev`)"
        )
    return runner
