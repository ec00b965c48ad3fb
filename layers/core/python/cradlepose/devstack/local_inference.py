"""The local stack's inference runner: chunks run on this machine's CPU, in a background thread.

It implements the dispatcher's `InferenceRunner`: `start` queues the chunk and returns at once,
as ecs:RunTask does; the worker reads the manifest, runs the chunk, and answers Step Functions
with the task token (SendTaskSuccess with the chunk's summary, SendTaskFailure with the error),
sending heartbeats for every queued or running chunk meanwhile, as the container would. One
chunk at a time: the CPU engine already keeps every core busy.

`ChunkRunner` is the work of one chunk (write the results, return a summary); the real one is
`cpu_inference.engine_chunk_runner`, tests pass their own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, Protocol

from cradlepose.adapters.aws_call_log import acting_as
from cradlepose.adapters.inference import InferenceTask
from cradlepose.adapters.workflow import Workflow
from cradlepose.domain.inference import ChunkManifest

log = logging.getLogger(__name__)

ChunkRunner = Callable[[ChunkManifest], dict[str, Any]]
# The GPU task's calls are made with its task role (infra/constructs/inference.py), not a function's.
TASK_PRINCIPAL = "inference_task"


class ObjectReader(Protocol):
    """Where manifests are read from (the Storage adapter is one)."""

    def get(self, bucket: str, key: str) -> bytes: ...


_STOP = None


class LocalInferenceRunner:
    def __init__(
        self,
        chunk_runner: ChunkRunner,
        storage: ObjectReader,
        workflow: Workflow,
        *,
        heartbeat_every_s: float = 60.0,
    ) -> None:
        self.chunk_runner = chunk_runner
        self.storage = storage
        self.workflow = workflow
        self.heartbeat_every_s = heartbeat_every_s
        self._queue: queue.Queue[InferenceTask | None] = queue.Queue()
        self._lock = threading.Lock()
        self._open: dict[str, InferenceTask] = {}  # task token -> queued or running task
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="cradle-local-inference", daemon=True)
        self._beats = threading.Thread(target=self._heartbeats, name="cradle-local-heartbeats", daemon=True)
        self.finished: list[InferenceTask] = []

    def start_threads(self) -> LocalInferenceRunner:
        self._worker.start()
        self._beats.start()
        return self

    # ------------------------------------------------------------------ InferenceRunner
    def start(self, task: InferenceTask) -> str:
        handle = f"local:{task.batch_id}/{task.chunk_index}"
        with self._lock:
            if task.task_token in self._open:  # the dispatcher ran twice for the same task
                return handle
            self._open[task.task_token] = task
        self._queue.put(task)
        return handle

    @property
    def open_tokens(self) -> list[str]:
        with self._lock:
            return list(self._open)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking work; a chunk being run is given `timeout_s` to finish."""
        self._stop.set()
        self._queue.put(_STOP)
        self._worker.join(timeout_s)
        self._beats.join(timeout_s)

    # ------------------------------------------------------------------ the worker
    def _work(self) -> None:
        with acting_as(TASK_PRINCIPAL):
            self._take_tasks()

    def _take_tasks(self) -> None:
        while True:
            task = self._queue.get()
            if task is _STOP or self._stop.is_set():
                return
            self._run(task)

    def _run(self, task: InferenceTask) -> None:
        try:
            bucket, key = task.manifest_uri.removeprefix("s3://").split("/", 1)
            manifest = ChunkManifest.model_validate_json(self.storage.get(bucket, key))
            summary = self.chunk_runner(manifest)
        except Exception as error:
            if self._stop.is_set():
                return  # stopping: the execution is resumed, and the chunk run again, after a restart
            log.exception("chunk %s of batch %s failed", task.chunk_index, task.batch_id)
            self.workflow.fail(task.task_token, type(error).__name__, str(error) or type(error).__name__)
        else:
            if self._stop.is_set():
                return
            self.workflow.succeed(task.task_token, summary)
        finally:
            with self._lock:
                self._open.pop(task.task_token, None)
        self.finished.append(task)

    def _heartbeats(self) -> None:
        with acting_as(TASK_PRINCIPAL):
            self._beat()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_every_s):
            for token in self.open_tokens:
                try:
                    self.workflow.heartbeat(token)
                except Exception:
                    log.warning("heartbeat failed", exc_info=True)
