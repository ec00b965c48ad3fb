"""The local ECS runner (processes of a stand-in script) and the scheduler (threads with work handed in)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cradle_workstation.devstack.local_ecs import LocalEcsRunner
from cradle_workstation.devstack.scheduler import Job, Scheduler
from cradlepose.adapters.inference import InferenceTask
from cradlepose.preannotation.inference_stops import StoppedTaskDetail

pytestmark = pytest.mark.unit


STAND_IN = """
import json, os, sys, time
print(json.dumps({"event": "started", "manifest": os.environ["CRADLE_MANIFEST"],
                  "stage": os.environ.get("CRADLE_STAGE"), "database": os.environ.get("CRADLE_DATABASE_URL")}))
sys.stdout.flush()
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT", "0")))
"""
ENVIRONMENT = {"CRADLE_STAGE": "local", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}


def _task(chunk: int) -> InferenceTask:
    return InferenceTask(7, chunk, f"s3://results/manifests/7/run-1/chunk-{chunk}.json", f"token-{chunk}")


def _wait_until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _detail(event: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = event["detail"]
    return detail


def test_tasks_run_one_at_a_time_as_processes_and_their_stops_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a runner whose "container" is a stand-in script, and the stack's own CRADLE_* settings
    monkeypatch.setenv("CRADLE_DATABASE_URL", "postgresql://the-stack-only")
    stops: list[dict[str, Any]] = []
    runner = LocalEcsRunner(
        ENVIRONMENT, stops.append, log_file=tmp_path / "inference.log", entry_point=["-c", STAND_IN]
    ).start_worker()
    try:
        # When three chunks are dispatched, the second one twice, and the third one's process fails
        first = runner.start(_task(0))
        assert runner.start(_task(1)) == runner.start(_task(1))
        runner.override_next_task({})
        runner.start(_task(2))
        _wait_until(lambda: len(stops) == 2)
        runner.override_next_task({"EXIT": "3"})
        runner.start(_task(3))
        _wait_until(lambda: len(stops) == 4)
    finally:
        runner.close()

    # Then each ran once, in order, with the task definition's environment and its overrides only
    assert [t.task.chunk_index for t in runner.tasks] == [0, 1, 2, 3]
    started = json.loads(runner.tasks[0].log_lines[0])
    assert started == {
        "event": "started",
        "manifest": _task(0).manifest_uri,
        "stage": "local",
        "database": None,
    }
    assert (tmp_path / "inference.log").read_text().count('"event": "started"') == 4
    # And each stop was reported as ECS's Task State Change, with the token where the trigger reads it
    assert _detail(stops[0])["taskArn"] == first
    assert [(_detail(e)["stopCode"], _detail(e)["containers"][0]["exitCode"]) for e in stops] == [
        ("EssentialContainerExited", 0), ("EssentialContainerExited", 0),
        ("EssentialContainerExited", 0), ("EssentialContainerExited", 3),
    ]  # fmt: skip
    assert StoppedTaskDetail.model_validate(_detail(stops[3])).task_token("inference") == "token-3"
    assert stops[0]["detail-type"] == "ECS Task State Change"


def test_stopping_kills_the_running_process_and_stops_the_pending_ones(tmp_path: Path) -> None:
    stops: list[dict[str, Any]] = []
    runner = LocalEcsRunner(
        {**ENVIRONMENT, "SLEEP": "60"}, stops.append, entry_point=["-c", STAND_IN], stop_timeout_s=1
    ).start_worker()
    running = runner.start(_task(0))
    runner.start(_task(1))
    _wait_until(lambda: runner.running is not None and bool(runner.running.log_lines))

    # When the running task is stopped (ecs:StopTask), then the stack stops with one still pending
    assert runner.stop_task(running)
    _wait_until(lambda: runner.running is not None and runner.running.arn != running)
    runner.set_capacity(0)
    runner.start(_task(2))
    runner.close()

    # Then the killed one reports a signal's exit code; each reports its stop and its token once
    killed = _detail(stops[0])
    assert (killed["stopCode"], killed["containers"][0]["exitCode"]) == ("UserInitiated", 143)
    assert sorted(
        StoppedTaskDetail.model_validate(_detail(e)).task_token("inference") or "" for e in stops
    ) == ["token-0", "token-1", "token-2"]
    assert "exitCode" not in _detail(stops[-1])["containers"][0]  # never started
    assert [t.task.chunk_index for t in runner.tasks] == [0, 1]


# A "container" that starts a helper process of its own, as an inference engine may (loaders, workers)
WITH_HELPER = """
import json, os, subprocess, sys, time
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(json.dumps({"pgid": os.getpgid(0), "helper": helper.pid}))
sys.stdout.flush()
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie left for a non-reaping init counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_task_is_a_process_group_of_its_own_and_stopping_it_signals_that_group_only(
    tmp_path: Path,
) -> None:
    stops: list[dict[str, Any]] = []
    runner = LocalEcsRunner(ENVIRONMENT, stops.append, entry_point=["-c", WITH_HELPER], stop_timeout_s=5)
    runner.start_worker()
    try:
        arn = runner.start(_task(0))
        _wait_until(lambda: runner.running is not None and bool(runner.running.log_lines))
        assert runner.running is not None
        started = json.loads(runner.running.log_lines[0])
        # Then the task leads a group that is not this process's: a signal for it cannot land here
        process = runner.running.process
        assert process is not None
        assert started["pgid"] == process.pid != os.getpgid(0)
        assert _alive(started["helper"])

        # When it is stopped (ecs:StopTask), then its helper gets the SIGTERM too, and this process lives on
        assert runner.stop_task(arn)
        _wait_until(lambda: not _alive(started["helper"]))
    finally:
        runner.close()
    assert (_detail(stops[0])["stopCode"], _detail(stops[0])["containers"][0]["exitCode"]) == (
        "UserInitiated",
        143,
    )


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
