"""Starting a training or inference job: an ECS task on a GPU in the cloud, a thread on a laptop.

The jobs worker hands the runner a job's spec location and returns at once; the job itself
reports through S3 (domain.jobs). In the cloud the job runs in the inference container's task
definition (same image, same GPU capacity provider) with the command

    python -m cradle_inference job --spec s3://<results bucket>/jobs/<kind>/<id>/spec.json

(the image's entry point is `python -m cradle_inference`; ECS overrides only its arguments).
The local runner lives in `cradle_workstation.devstack.local_jobs`; the local stack (and tests) install
it with `install_local_runner`, so the worker's import path never loads torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

from cradlepose.adapters import gpu_tasks
from cradlepose.settings import Settings, get_settings

STARTED_BY = "cradle-ml-jobs"


@dataclass(frozen=True)
class JobLaunch:
    kind: Literal["training", "inference"]
    job_id: int
    spec_uri: str

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.job_id}"

    @property
    def idempotency_token(self) -> str:
        """The same for every start of the same job: ECS starts it once (clientToken, <= 64 characters)."""
        return hashlib.sha256(f"cradle-{self.name}-{self.spec_uri}".encode()).hexdigest()[:64]


class JobRunner(Protocol):
    name: str

    def start(self, launch: JobLaunch) -> str:
        """Start the job (idempotently) and return what identifies its run."""
        ...


class JobNotStarted(Exception):
    """The runner could not start the job now (no capacity yet): the worker tries again next time."""


class JobRunnerUnavailable(RuntimeError):
    """No runner is configured for this process."""


class EcsJobRunner(gpu_tasks.EcsTaskStarter):
    name = "ecs"

    def start(self, launch: JobLaunch) -> str:
        if not gpu_tasks.configured(self.settings):
            raise JobRunnerUnavailable(gpu_tasks.NOT_CONFIGURED)
        arn, reasons = gpu_tasks.run_task(
            self.ecs,
            self.settings,
            {"command": ["job", "--spec", launch.spec_uri]},
            started_by=STARTED_BY,
            client_token=launch.idempotency_token,
        )
        if arn is None:
            raise JobNotStarted(f"ECS started no task for {launch.name}: {reasons}")
        return arn


_local_runner: gpu_tasks.LocalRunnerSlot[JobRunner] = gpu_tasks.LocalRunnerSlot()
# The local stack's runner for `inference_runner=local` (None removes it).
install_local_runner = _local_runner.install


def runner_from_settings(settings: Settings | None = None) -> JobRunner:
    settings = settings or get_settings()
    if settings.inference_runner == "ecs":
        return EcsJobRunner(settings=settings)
    runner = _local_runner.get()
    if runner is None:
        raise JobRunnerUnavailable(
            "CRADLE_INFERENCE_RUNNER=local, but no local job runner runs in this process (start `cradle dev`)"
        )
    return runner
