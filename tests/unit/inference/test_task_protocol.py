"""The container answers its own task token: heartbeats, success with the summary, failure with
the error, and nothing at all without a token (a manual run)."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cradle_inference.logs import JsonLog
from cradle_inference.task_protocol import MAX_CAUSE_CHARS, TaskReporter

pytestmark = pytest.mark.unit

TOKEN = "token-of-chunk-3"


def _client() -> Any:
    return boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_success_sends_the_summary_with_the_token_and_logs_it() -> None:
    # Given a reporter for a task token
    client, stream = _client(), io.StringIO()
    reporter = TaskReporter(TOKEN, JsonLog(stream), client_factory=lambda: client)
    summary = {"batch_id": 12, "chunk_index": 3, "ok": 2, "failed_image_ids": [7]}
    with Stubber(client) as stub:
        stub.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": json.dumps(summary)})

        # When the chunk succeeds
        reporter.succeed(summary)
        reporter.succeed(summary)  # a second answer is never sent

        # Then exactly one SendTaskSuccess went out, and the log says so
        stub.assert_no_pending_responses()
    assert [e["event"] for e in _events(stream)] == ["task_success_sent"]


def test_an_exception_is_sent_as_a_failure_with_its_type_and_a_bounded_message() -> None:
    client, stream = _client(), io.StringIO()
    reporter = TaskReporter(TOKEN, JsonLog(stream), client_factory=lambda: client)
    error = RuntimeError("x" * (MAX_CAUSE_CHARS + 10))
    with Stubber(client) as stub:
        stub.add_response(
            "send_task_failure",
            {},
            {"taskToken": TOKEN, "error": "RuntimeError", "cause": "x" * MAX_CAUSE_CHARS},
        )
        reporter.fail(error)
        stub.assert_no_pending_responses()
    assert _events(stream)[-1] | {"timestamp": None} == {
        "timestamp": None, "level": "INFO", "service": "cradle-inference",
        "event": "task_failure_sent", "error": "RuntimeError",
    }  # fmt: skip


def test_a_refused_failure_is_logged_not_raised() -> None:
    # (the exit status still fails the task, and the task-stopped trigger answers for it)
    client, stream = _client(), io.StringIO()
    reporter = TaskReporter(TOKEN, JsonLog(stream), client_factory=lambda: client)
    with Stubber(client) as stub:
        stub.add_client_error("send_task_failure", "TaskTimedOut", "the task timed out")
        reporter.fail(ValueError("bad manifest"))
    assert _events(stream)[-1]["event"] == "task_failure_not_sent"


def test_heartbeats_are_sent_while_the_work_runs_and_stop_after_it() -> None:
    client = _client()
    reporter = TaskReporter(
        TOKEN, JsonLog(io.StringIO()), heartbeat_every_s=0.02, client_factory=lambda: client
    )
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_response("send_task_heartbeat", {}, {"taskToken": TOKEN})
        # When the work runs long enough for three beats
        with reporter.heartbeats():
            deadline = time.monotonic() + 10
            while stub._queue and time.monotonic() < deadline:
                time.sleep(0.01)
        # Then three heartbeats went out with the token
        stub.assert_no_pending_responses()


def test_without_a_token_nothing_is_sent() -> None:
    def no_client() -> Any:
        raise AssertionError("no AWS client may be made without a task token")

    stream = io.StringIO()
    reporter = TaskReporter.from_environment(
        JsonLog(stream), environ={"CRADLE_HEARTBEAT_EVERY_S": "0.01"}, client_factory=no_client
    )
    assert not reporter.reporting
    with reporter.heartbeats():
        time.sleep(0.05)
    reporter.succeed({"ok": 1})
    reporter.fail(RuntimeError("no"))
    assert stream.getvalue() == ""


def test_the_token_and_the_heartbeat_come_from_the_task_environment() -> None:
    reporter = TaskReporter.from_environment(
        JsonLog(io.StringIO()), environ={"CRADLE_TASK_TOKEN": TOKEN, "CRADLE_HEARTBEAT_EVERY_S": "15"}
    )
    assert (reporter.token, reporter.heartbeat_every_s) == (TOKEN, 15.0)
    assert TaskReporter.from_environment(JsonLog(io.StringIO()), environ={}).heartbeat_every_s == 60.0
