"""The local stack's ECS: the inference task as a process of the container's own entry point.

It implements the dispatcher's `InferenceRunner`: `start` queues the task and returns at once, as
ecs:RunTask does. A worker starts `python -m cradle_inference` (cwd `containers/inference`) with
the environment the ECS task definition gives the container (`adapters.inference.task_environment`),
the dispatcher's container overrides (CRADLE_MANIFEST, CRADLE_TASK_TOKEN), and what points it at
this machine instead of AWS (AWS_ENDPOINT_URL = moto, local credentials, CRADLE_DEVICE=cpu).

The process answers its task token itself; nothing here does. When a process ends, the runner
reports the stop as ECS and EventBridge would: an ECS "Task State Change" event (STOPPED, the exit
code, the stop reason) handed to the functions whose `ecs_task_stopped` event matches, so a task
that died without answering has its token failed by the same trigger as in the cloud.

One task at a time: the CPU is this machine's one GPU, and the engine keeps every core busy.
`stop_task` is ecs:StopTask (SIGTERM, then SIGKILL). A task is a process group of its own, as a
container is: its signals go to that group only, never to the process that started it, and Ctrl-C at
`cradle dev`'s terminal stops the stack, which stops its tasks. `capacity` plays the GPU capacity
ECS can place tasks on (None: always; a number: that many more tasks, the rest stay PENDING).
The processes' JSON log lines go to `<state-dir>/logs/inference.log` and this module's logger.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cradlepose import function_table
from cradlepose.adapters import aws_call_log
from cradlepose.adapters.aws_call_log import TASK_PRINCIPAL
from cradlepose.adapters.inference import STARTED_BY, InferenceTask, container_overrides

log = logging.getLogger(__name__)

REPO = function_table.DEFAULT_PATH.parents[1]
CONTAINER_CODE = REPO / "containers" / "inference"
CORE_CODE = REPO / "layers" / "core" / "python"
ENTRY_POINT = ["-m", "cradle_inference"]  # the image's ENTRYPOINT, after `python`
# Not inherited from the stack's own process: the container gets the task definition's values.
PRIVATE_PREFIXES = ("CRADLE_", "AWS_", "MOTO_", "POWERTOOLS_", "YOLO_")
ACCOUNT = "123456789012"  # moto's account

StopReporter = Callable[[dict[str, Any]], Any]


@dataclass
class LocalTask:
    task: InferenceTask
    arn: str
    environment: dict[str, str]
    process: subprocess.Popen[str] | None = None
    stop_code: str | None = None
    stopped_reason: str | None = None
    exit_code: int | None = None
    log_lines: list[str] = field(default_factory=list)
    stop_answers: Any = None  # what the functions the stop event went to answered
    started: threading.Event = field(default_factory=threading.Event)
    stopped: threading.Event = field(default_factory=threading.Event)


class LocalEcsRunner:
    def __init__(
        self,
        environment: Mapping[str, str],
        report_stop: StopReporter,
        *,
        region: str = "us-east-1",
        container_name: str = "inference",
        log_file: Path | None = None,
        stop_timeout_s: float = 5.0,
        entry_point: Sequence[str] = ENTRY_POINT,  # the unit tests give a stand-in script
    ) -> None:
        self.entry_point = list(entry_point)
        self.environment = dict(environment)  # task definition + local endpoints
        self.report_stop = report_stop
        self.region = region
        self.container_name = container_name
        self.log_file = log_file
        self.stop_timeout_s = stop_timeout_s
        self.cluster_arn = f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/cradle-local-inference"
        self.capacity: int | None = None
        self._next_overrides: dict[str, str] = {}
        self._changed = threading.Condition()
        self._queue: deque[LocalTask] = deque()
        self._by_client_token: dict[str, LocalTask] = {}  # RunTask's clientToken -> its task
        self._running: LocalTask | None = None
        self._closed = False
        self._log_lock = threading.Lock()
        self.tasks: list[LocalTask] = []  # every task started, in order
        self._worker = threading.Thread(target=self._work, name="cradle-local-ecs", daemon=True)

    def start_worker(self) -> LocalEcsRunner:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._worker.start()
        return self

    # ------------------------------------------------------------------ InferenceRunner (ecs:RunTask)
    def start(self, task: InferenceTask) -> str:
        with self._changed:
            # As ECS does with RunTask's clientToken: a repeated dispatch of the same attempt (a Lambda
            # retry) gets the task it already started; the state's next attempt is a new task.
            existing = self._by_client_token.get(task.idempotency_token)
            if existing is not None:
                return existing.arn
            arn = f"arn:aws:ecs:{self.region}:{ACCOUNT}:task/cradle-local-inference/{uuid.uuid4().hex}"
            local = LocalTask(task, arn, self._task_environment(task))
            self._by_client_token[task.idempotency_token] = local
            if self._closed:  # no ECS any more: the task stops before it starts
                local.stop_code, local.stopped_reason = "UserInitiated", "the local stack stopped"
                local.stopped.set()
                return arn
            self._queue.append(local)
            self._changed.notify_all()
        return arn

    def override_next_task(self, variables: Mapping[str, str]) -> None:
        """Extra container environment for the next task started (as a RunTask override would)."""
        with self._changed:
            self._next_overrides.update(variables)

    def _task_environment(self, task: InferenceTask) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(PRIVATE_PREFIXES)}
        overrides = {v["name"]: v["value"] for v in container_overrides(task)["environment"]}
        environment = {**inherited, **self.environment, **overrides, **self._next_overrides}
        self._next_overrides = {}
        environment["PYTHONPATH"] = os.pathsep.join([str(CONTAINER_CODE), str(CORE_CODE)])
        if recording := os.environ.get(aws_call_log.RECORD_ENV):  # the IAM test records every call
            environment |= {aws_call_log.RECORD_ENV: recording, aws_call_log.PRINCIPAL_ENV: TASK_PRINCIPAL}
        return environment

    # ------------------------------------------------------------------ ecs:StopTask and friends
    @property
    def running(self) -> LocalTask | None:
        with self._changed:
            return self._running

    @property
    def pending(self) -> list[LocalTask]:
        with self._changed:
            return list(self._queue)

    def set_capacity(self, tasks: int | None) -> None:
        with self._changed:
            self.capacity = tasks
            self._changed.notify_all()

    def stop_task(self, arn: str, reason: str = "Task stopped by user") -> bool:
        """Stop a pending or running task: a running one gets SIGTERM, then SIGKILL after the timeout."""
        with self._changed:
            pending = next((t for t in self._queue if t.arn == arn), None)
            if pending is not None:
                self._queue.remove(pending)
                pending.stop_code, pending.stopped_reason = "UserInitiated", reason
            running = self._running if self._running is not None and self._running.arn == arn else None
            if running is not None:
                running.stop_code, running.stopped_reason = "UserInitiated", reason
        if pending is not None:
            self._stopped(pending)
            return True
        if running is None:
            return False
        running.started.wait(self.stop_timeout_s)  # placed, its process about to start
        if running.process is not None:
            signal_task(running.process, signal.SIGTERM)
            try:
                running.process.wait(self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                signal_task(running.process, signal.SIGKILL)
        running.stopped.wait(self.stop_timeout_s + 5)
        return True

    def close(self) -> None:
        """Stop taking tasks; stop the running one and the pending ones (each reported as stopped)."""
        with self._changed:
            self._closed = True
            pending = list(self._queue)
            running = self._running
            self._changed.notify_all()
        if running is not None:
            self.stop_task(running.arn, "the local stack stopped")
        for task in pending:
            self.stop_task(task.arn, "the local stack stopped")
        self._worker.join(self.stop_timeout_s + 10)

    # ------------------------------------------------------------------ the worker
    def _next(self) -> LocalTask | None:
        with self._changed:
            while not self._closed and (not self._queue or self.capacity == 0):
                self._changed.wait()
            if self._closed:
                return None
            task = self._queue.popleft()
            if self.capacity is not None:
                self.capacity -= 1
            self._running = task
            return task

    def _work(self) -> None:
        while (task := self._next()) is not None:
            try:
                self._run(task)
            except Exception:
                log.exception("local inference task %s could not run", task.arn)
                task.stop_code = task.stop_code or "TaskFailedToStart"
                task.stopped_reason = task.stopped_reason or "the process could not be started"
            finally:
                with self._changed:
                    self._running = None
            self._stopped(task)

    def _run(self, task: LocalTask) -> None:
        self.tasks.append(task)
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and entry point
            [sys.executable, *self.entry_point],
            cwd=CONTAINER_CODE,
            env=task.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,  # its own process group, as a container is (see signal_task)
        )
        task.process = process
        task.started.set()
        if task.stop_code is not None:  # stopped between its placement and its start
            signal_task(process, signal.SIGTERM)
        assert process.stdout is not None
        for line in process.stdout:
            self._forward(task, line.rstrip("\n"))
        code = process.wait()
        # Docker reports a signal's death as 128 + the signal, as ECS shows it.
        task.exit_code = 128 - code if code < 0 else code
        if task.stop_code is None:
            task.stop_code, task.stopped_reason = (
                "EssentialContainerExited",
                "Essential container in task exited",
            )

    def _forward(self, task: LocalTask, line: str) -> None:
        if not line:
            return
        task.log_lines.append(line)
        log.info("%s", line)
        if self.log_file is not None:
            with self._log_lock, self.log_file.open("a", encoding="utf-8") as out:
                out.write(line + "\n")

    def _stopped(self, task: LocalTask) -> None:
        try:
            task.stop_answers = self.report_stop(self.task_state_change(task))
        except Exception:
            log.exception("the stop of %s could not be reported", task.arn)
        finally:
            task.stopped.set()

    def task_state_change(self, task: LocalTask) -> dict[str, Any]:
        """EventBridge's ECS "Task State Change" event for the task's stop."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        container: dict[str, Any] = {
            "name": self.container_name,
            "lastStatus": "STOPPED",
            "taskArn": task.arn,
        }
        if task.exit_code is not None:
            container["exitCode"] = task.exit_code
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "ECS Task State Change",
            "source": "aws.ecs",
            "account": ACCOUNT,
            "time": now,
            "region": self.region,
            "resources": [task.arn],
            "detail": {
                "clusterArn": self.cluster_arn,
                "containers": [container],
                "desiredStatus": "STOPPED",
                "lastStatus": "STOPPED",
                "overrides": {
                    "containerOverrides": [{"name": self.container_name, **container_overrides(task.task)}]
                },
                "startedBy": STARTED_BY,
                "stopCode": task.stop_code,
                "stoppedReason": task.stopped_reason,
                "stoppedAt": now,
                "taskArn": task.arn,
                "taskDefinitionArn": self.cluster_arn.replace(
                    ":cluster/cradle-local-inference", ":task-definition/cradle-local-inference:1"
                ),
            },
        }


def signal_task(process: subprocess.Popen[str], number: int) -> None:
    """Send a signal to a task's process group (the task leads it: start_new_session), never wider."""
    if process.poll() is not None:  # ended and reaped: its group id may belong to another by now
        return
    with contextlib.suppress(ProcessLookupError):  # ended between the poll and the signal
        os.killpg(process.pid, number)
