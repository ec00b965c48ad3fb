"""The container's side of the Step Functions callback: it answers the task token itself.

The pipeline's `RunInference` state waits for a task token (`.waitForTaskToken`, HeartbeatSeconds
900). The dispatcher hands the token to the ECS task as `CRADLE_TASK_TOKEN`; this module is what
answers it, from the container process:

- SendTaskHeartbeat every `CRADLE_HEARTBEAT_EVERY_S` seconds (60 by default) from a background
  thread, while the model loads and the chunk runs;
- SendTaskSuccess with the chunk's summary when the chunk is done;
- SendTaskFailure (error: the exception's type, cause: its message) when anything stops the chunk,
  the manifest or the output included.

Without a token (a manual run of the command) nothing is reported. A task that dies before it can
answer (killed, out of memory, Spot) is answered by the `pipeline_task_stopped` trigger from ECS's
"Task State Change" event. boto3 finds its endpoint as usual (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_SFN): the local stack points it at moto.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cradle_inference.logs import JsonLog

TASK_TOKEN_ENV = "CRADLE_TASK_TOKEN"  # noqa: S105 - the name of a variable, not a secret
HEARTBEAT_ENV = "CRADLE_HEARTBEAT_EVERY_S"
DEFAULT_HEARTBEAT_S = 60.0
# Step Functions' limits on SendTaskFailure (characters).
MAX_ERROR_CHARS = 256
MAX_CAUSE_CHARS = 32_768

ClientFactory = Callable[[], Any]


def _stepfunctions_client() -> Any:
    import boto3  # noqa: PLC0415 - a manual run without a token needs no AWS library

    return boto3.client("stepfunctions", region_name=os.environ.get("CRADLE_AWS_REGION") or None)


class TaskReporter:
    """Answers one task token: heartbeats while the work runs, then success or failure, once."""

    def __init__(
        self,
        token: str | None,
        log: JsonLog,
        *,
        heartbeat_every_s: float = DEFAULT_HEARTBEAT_S,
        client_factory: ClientFactory | None = None,
    ) -> None:
        self.token = token or None
        self.log = log
        self.heartbeat_every_s = heartbeat_every_s
        self._client_factory = client_factory or _stepfunctions_client
        self._client: Any | None = None
        self._client_lock = threading.Lock()
        self._answered = False

    @classmethod
    def from_environment(
        cls,
        log: JsonLog,
        environ: Mapping[str, str] | None = None,
        client_factory: ClientFactory | None = None,
    ) -> TaskReporter:
        env = os.environ if environ is None else environ
        every = env.get(HEARTBEAT_ENV)
        return cls(
            env.get(TASK_TOKEN_ENV),
            log,
            heartbeat_every_s=float(every) if every else DEFAULT_HEARTBEAT_S,
            client_factory=client_factory,
        )

    @property
    def reporting(self) -> bool:
        return self.token is not None

    @property
    def client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    @contextmanager
    def heartbeats(self) -> Iterator[None]:
        """Heartbeats from a background thread for as long as the block runs."""
        if not self.reporting:
            yield
            return
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(stop,), name="cradle-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5)

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_every_s):
            try:
                self.client.send_task_heartbeat(taskToken=self.token)
            except Exception as error:  # a missed beat is retried at the next; the answer decides
                self.log.warning("task_heartbeat_failed", error=f"{type(error).__name__}: {error}")

    def succeed(self, output: Mapping[str, Any]) -> None:
        """SendTaskSuccess with `output` (JSON). Raises if Step Functions refuses it."""
        if not self.reporting or self._answered:
            return
        self.client.send_task_success(taskToken=self.token, output=json.dumps(output, default=str))
        self._answered = True
        self.log.info("task_success_sent")

    def fail(self, error: BaseException) -> None:
        """SendTaskFailure with the exception's type and message; never raises (the exit status
        still says the chunk failed, and the task-stopped trigger answers if this could not)."""
        if not self.reporting or self._answered:
            return
        name = type(error).__name__[:MAX_ERROR_CHARS]
        cause = (str(error) or name)[:MAX_CAUSE_CHARS]
        try:
            self.client.send_task_failure(taskToken=self.token, error=name, cause=cause)
        except Exception as send_error:
            self.log.error("task_failure_not_sent", error=f"{type(send_error).__name__}: {send_error}")
            return
        self._answered = True
        self.log.info("task_failure_sent", error=name)
