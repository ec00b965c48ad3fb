"""The local inference runner and the scheduler: threads with work handed in, no I/O."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cradlepose.adapters.inference import InferenceTask
from cradlepose.adapters.storage import ObjectMissing
from cradlepose.devstack.local_inference import LocalInferenceRunner
from cradlepose.devstack.scheduler import Job, Scheduler
from cradlepose.domain.inference import ChunkImage, ChunkManifest
from tests.pipeline_support import RecordingWorkflow

pytestmark = pytest.mark.unit


class DictStorage:
    """Objects in a dict: what the runner reads manifests from."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise ObjectMissing(f"s3://{bucket}/{key}") from None

    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.objects[(bucket, key)] = data


def _task(storage: DictStorage, chunk: int, token: str) -> InferenceTask:
    manifest = ChunkManifest(
        batch_id=7, chunk_index=chunk, bucket="uploads", images=[ChunkImage(image_id=chunk, key=f"images/7/{chunk}")],
        output_bucket="results", output_key=f"results/7/run-1/chunk-{chunk}.jsonl",
    )  # fmt: skip
    key = f"manifests/7/run-1/chunk-{chunk}.json"
    storage.put("results", key, manifest.model_dump_json().encode(), content_type="application/json")
    return InferenceTask(7, chunk, f"s3://results/{key}", token)


def _wait_until(condition: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_chunks_run_in_order_and_answer_their_tokens() -> None:
    storage, workflow = DictStorage(), RecordingWorkflow()
    seen: list[int] = []

    def run(manifest: ChunkManifest) -> dict[str, Any]:
        if manifest.chunk_index == 1:
            raise RuntimeError("cannot load the weights")
        seen.append(manifest.chunk_index)
        return {"chunk_index": manifest.chunk_index, "ok": len(manifest.images)}

    runner = LocalInferenceRunner(run, storage, workflow, heartbeat_every_s=60).start_threads()
    try:
        handles = [runner.start(_task(storage, i, f"token-{i}")) for i in range(3)]
        assert runner.start(_task(storage, 0, "token-0")) == handles[0]  # the same task dispatched twice
        _wait_until(lambda: len(runner.finished) == 3)
    finally:
        runner.close()
    assert handles == ["local:7/0", "local:7/1", "local:7/2"]
    assert seen == [0, 2]
    assert workflow.succeeded == [
        ("token-0", {"chunk_index": 0, "ok": 1}),
        ("token-2", {"chunk_index": 2, "ok": 1}),
    ]
    assert workflow.failed == [("token-1", "RuntimeError", "cannot load the weights")]
    assert runner.open_tokens == []


def test_a_running_chunk_gets_heartbeats_and_is_not_answered_after_close() -> None:
    storage, workflow = DictStorage(), RecordingWorkflow()
    release = threading.Event()

    def run(manifest: ChunkManifest) -> dict[str, Any]:
        release.wait(5)
        return {}

    runner = LocalInferenceRunner(run, storage, workflow, heartbeat_every_s=0.05).start_threads()
    runner.start(_task(storage, 0, "slow"))
    _wait_until(lambda: workflow.heartbeats.count("slow") >= 2)
    runner.close(timeout_s=0.1)
    release.set()
    time.sleep(0.1)
    assert workflow.succeeded == []  # the stack is stopping: the execution is resumed after a restart


def test_jobs_run_on_their_timers_until_stopped() -> None:
    calls: dict[str, int] = {"often": 0, "rarely": 0, "broken": 0}

    def count(name: str) -> Any:
        def run() -> None:
            calls[name] += 1
            if name == "broken":
                raise RuntimeError("a failing job does not stop the others")

        return run

    scheduler = Scheduler([Job("often", 0.05, count("often")), Job("rarely", 10, count("rarely")),
                           Job("broken", 0.05, count("broken"))]).start()  # fmt: skip
    _wait_until(lambda: calls["often"] >= 3 and calls["broken"] >= 3)
    scheduler.stop()
    after = dict(calls)
    time.sleep(0.15)
    assert calls == after
    assert calls["rarely"] == 0
    assert scheduler.runs["often"] == calls["often"]
