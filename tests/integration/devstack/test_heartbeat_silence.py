"""Contract test of the real ASL: an inference task that goes silent fails its chunk at the
heartbeat, is retried, and the run is recorded FAILED with the reason the API shows.

The stack's chunks must heartbeat every few seconds (RunInference's HeartbeatSecondsPath reads the
chunk item's `heartbeat_seconds`, CRADLE_INFERENCE_HEARTBEAT_SECONDS), so the path that takes
15 minutes in AWS takes about a minute here. The container is frozen (SIGSTOP), as a hung process
or a wedged GPU would leave it: alive, answering nothing.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, running_stack, upload, wait_for

pytestmark = pytest.mark.integration

HEARTBEAT_S = 6


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("stack"),
        schedules=False, pipeline_chunk_size=2, inference_heartbeat_seconds=HEARTBEAT_S,
    ) as running:  # fmt: skip
        yield running


def test_a_silent_inference_task_fails_its_chunk_at_the_heartbeat_and_the_run_says_why(
    stack: LocalStack,
) -> None:
    runner = stack.runner
    assert runner is not None
    api = ApiSession.sign_in(stack)

    # Given a batch whose inference container hangs once it has started its chunk
    created = api.create_batch(["silent.jpg"])
    batch_id = created["batch"]["id"]
    upload(created["uploads"][0], jpeg_with_metadata(seed=3), "silent.jpg")
    frozen = wait_for(
        lambda: (
            (task := runner.running) is not None
            and task.process is not None
            and any('"chunk_started"' in line for line in task.log_lines)
            and task
        ),
        timeout_s=120,
        every_s=0.05,
    )
    assert frozen.process is not None
    os.kill(frozen.process.pid, signal.SIGSTOP)
    try:
        # When no heartbeat comes (the retries' tasks wait behind it for the one "GPU": silent too)
        def failed() -> dict[str, Any] | None:
            batch: dict[str, Any] = api.batch(batch_id)
            run = batch.get("pipeline_run") or {}
            return batch if run.get("status") == "FAILED" else None

        batch = wait_for(failed, timeout_s=240, every_s=0.5)
    finally:
        os.kill(frozen.process.pid, signal.SIGCONT)
        runner.stop_task(frozen.arn, "the test is over")

    # Then the API shows the run FAILED at the chunk's inference, because of the heartbeat
    run = batch["pipeline_run"]
    # (AWS names it States.HeartbeatTimeout; moto 5.2.5's interpreter raises its heartbeat timeout as
    # a TimeoutError, States.Timeout. RunInference retries both alike; docs/local.md lists it.)
    assert run["error"].startswith(("States.HeartbeatTimeout", "States.Timeout")), run
    assert "RunInference" in run["failed_step"], run
    assert batch["status"] == "UPLOADED"  # resumable: completing the batch again starts a new run
    # And Step Functions retried the chunk in new tasks (each silent behind the frozen one) first
    tasks = [t for t in runner.tasks if t.task.batch_id == batch_id]
    assert len(tasks) >= 2
    assert len({t.task.attempt for t in tasks}) == len(tasks)
    assert not any("task_success_sent" in line for t in tasks for line in t.log_lines)
