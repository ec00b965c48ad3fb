"""What the local stack changes or adds around moto: in-process Lambdas, S3 kept on disk, queued events."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from moto.awslambda import models as lambda_models

from cradle_workstation.devstack.aws import LocalAws
from cradle_workstation.devstack.event_queues import QueuePoller
from cradle_workstation.devstack.moto_distributed_map import DistributedMapFixes
from cradle_workstation.devstack.moto_lambda import InProcessLambdas
from cradle_workstation.devstack.s3_mirror import S3Mirror

pytestmark = pytest.mark.integration


class TransientError(Exception):
    """Named as the state machine's Retry names it."""


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws().start()
    yield aws
    aws.stop()


@pytest.fixture
def moto_port(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("MOTO_PORT", str(local_aws.port))  # where the ASL interpreter calls Lambda
    return local_aws.port


def _function(aws: LocalAws, name: str) -> str:
    iam = aws.client("iam")
    try:
        role = iam.get_role(RoleName="test-fn")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="test-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "")
    arn: str = aws.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.main",
        Code={"ZipFile": buffer.getvalue()},
    )["FunctionArn"]
    return arn


def _wait_for(aws: LocalAws, execution: str, timeout_s: float = 20.0) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def test_an_invocation_runs_the_handler_in_process_and_errors_come_back_as_lambdas_do(
    local_aws: LocalAws,
) -> None:
    _function(local_aws, "echo")
    _function(local_aws, "broken")
    original = lambda_models.LambdaFunction.invoke

    def broken(event: Any) -> Any:
        raise TransientError(f"try again, {event['who']}")

    with InProcessLambdas({"echo": lambda event: {"hello": event["who"]}, "broken": broken}):
        lam = local_aws.client("lambda")
        good = lam.invoke(FunctionName="echo", Payload=json.dumps({"who": "ada"}).encode())
        bad = lam.invoke(FunctionName="broken", Payload=json.dumps({"who": "bob"}).encode())
        with pytest.raises(RuntimeError, match="already adapted"), InProcessLambdas({}):
            pass

    assert json.loads(good["Payload"].read()) == {"hello": "ada"}
    assert "FunctionError" not in good
    assert bad["FunctionError"] == "Unhandled"
    error = json.loads(bad["Payload"].read())
    assert (error["errorType"], error["errorMessage"]) == ("TransientError", "try again, bob")
    assert lambda_models.LambdaFunction.invoke is original  # undone on exit


def test_the_asl_interpreter_retries_and_catches_by_the_handlers_error_names(
    local_aws: LocalAws, moto_port: int
) -> None:
    flaky, always = _function(local_aws, "flaky"), _function(local_aws, "always-fails")
    attempts: list[int] = []

    def flaky_handler(event: Any) -> Any:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise TransientError("not yet")
        return {"value": event["n"] * 2}

    def always_fails(event: Any) -> Any:
        raise ValueError("no")

    definition = {
        "StartAt": "Flaky",
        "States": {
            "Flaky": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": flaky, "Payload": {"n.$": "$.n"}},
                "ResultSelector": {"value.$": "$.Payload.value"}, "ResultPath": "$.flaky",
                "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1}],
                "Next": "Fails",
            },
            "Fails": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": always, "Payload": {}},
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}], "End": True,
            },
            "Done": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip
    sfn = local_aws.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="adaptation", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    with InProcessLambdas({"flaky": flaky_handler, "always-fails": always_fails}):
        execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": 21}))["executionArn"]
        result = _wait_for(local_aws, execution)

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["flaky"] == {"value": 42}
    assert len(attempts) == 3
    assert output["error"]["Error"] == "ValueError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "no"


def _distributed_map(dispatch: str) -> dict[str, Any]:
    """The shape of the batch pipeline's PreAnnotate: chunk list from S3, a callback task per item."""
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map", "Label": "PreAnnotate",
                "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                               "Parameters": {"Bucket.$": "$.plan.bucket", "Key.$": "$.plan.key"}},
                "MaxConcurrencyPath": "$.plan.max_concurrency",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Run",
                    "States": {"Run": {
                        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                        "Parameters": {"FunctionName": dispatch, "Payload": {"n.$": "$.n", "token.$": "$$.Task.Token"}},
                        "HeartbeatSecondsPath": "$.heartbeat_seconds", "ResultPath": "$.answer", "End": True}},
                },
                "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                                 "Parameters": {"Bucket.$": "$.plan.bucket", "Prefix.$": "$.plan.prefix"}},
                "ResultSelector": {"results.$": "$.ResultWriterDetails"},
                "ResultPath": "$.map",
                "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "Failed"}],
                "End": True,
            },
            "Failed": {"Type": "Pass", "End": True},
        },
    }  # fmt: skip


def test_a_distributed_map_reads_its_items_from_s3_and_fails_when_a_child_fails(
    local_aws: LocalAws, moto_port: int
) -> None:
    # Given a chunk list in S3 and a dispatcher that answers each item's token from another thread,
    # once at most at a time, and lets item 2 fall silent past its heartbeat
    dispatch = _function(local_aws, "dispatch")
    s3, sfn = local_aws.client("s3"), local_aws.client("stepfunctions")
    s3.create_bucket(Bucket="chunks")
    running: list[int] = []
    overlapped: list[bool] = []

    def answer(event: Any) -> None:
        running.append(event["n"])
        overlapped.append(len(running) > 1)
        time.sleep(0.2)
        running.remove(event["n"])
        if event["n"] != 2:
            sfn.send_task_success(taskToken=event["token"], output=json.dumps({"doubled": event["n"] * 2}))

    def dispatcher(event: Any) -> Any:
        threading.Thread(target=answer, args=(event,)).start()
        return {}

    machine = sfn.create_state_machine(
        name="distributed", definition=json.dumps(_distributed_map(dispatch)),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]  # fmt: skip

    def run(items: list[dict[str, int]], key: str) -> dict[str, Any]:
        s3.put_object(Bucket="chunks", Key=key, Body=json.dumps(items).encode())
        plan = {"bucket": "chunks", "key": key, "max_concurrency": 1, "prefix": f"map-results/{key}"}
        execution = sfn.start_execution(
            stateMachineArn=machine, name=key.removesuffix(".json"), input=json.dumps({"plan": plan})
        )
        return _wait_for(local_aws, execution["executionArn"], timeout_s=30)

    with InProcessLambdas({"dispatch": dispatcher}), DistributedMapFixes():
        # When every item is answered
        good = run([{"n": 0, "heartbeat_seconds": 5}, {"n": 1, "heartbeat_seconds": 5}], "good.json")
        # and when item 2 stays silent past its one-second heartbeat
        bad = run([{"n": 1, "heartbeat_seconds": 5}, {"n": 2, "heartbeat_seconds": 1}], "bad.json")

    # Then the first Map wrote its results under the run's prefix (Prefix.$ read from the Map's input)
    assert good["status"] == "SUCCEEDED", good
    written = json.loads(good["output"])["map"]["results"]
    assert written["Bucket"] == "chunks"
    assert written["Key"].startswith("map-results/good.json/")
    assert s3.get_object(Bucket="chunks", Key=written["Key"])["Body"].read()
    # And the silent child's HeartbeatTimeout failed the second Map as AWS's threshold does (none tolerated)
    assert json.loads(bad["output"])["error"] == {
        "Error": "States.ExceedToleratedFailureThreshold",
        "Cause": "The specified tolerated failure threshold was exceeded",
    }
    # And MaxConcurrencyPath held the children to one at a time
    assert len(overlapped) >= 3
    assert not any(overlapped)


def test_objects_outlive_moto_through_the_mirror(local_aws: LocalAws, tmp_path: Path) -> None:
    s3 = local_aws.client("s3")
    s3.create_bucket(Bucket="mirrored")
    s3.create_bucket(Bucket="not-mirrored")
    with S3Mirror(tmp_path, {"mirrored"}) as mirror:
        s3.put_object(
            Bucket="mirrored", Key="a/one.jpg", Body=b"one", ContentType="image/jpeg", Metadata={"who": "ada"}
        )
        form = s3.generate_presigned_post(Bucket="mirrored", Key="incoming/two.png", Fields={"Content-Type": "image/png"},
                                          Conditions=[{"Content-Type": "image/png"}])  # fmt: skip
        posted = requests.post(
            form["url"], data=form["fields"], files={"file": ("two.png", b"two", "image/png")}, timeout=5
        )
        s3.copy_object(
            Bucket="mirrored", Key="copies/one.jpg", CopySource={"Bucket": "mirrored", "Key": "a/one.jpg"}
        )
        s3.put_object(Bucket="mirrored", Key="gone", Body=b"x")
        s3.delete_object(Bucket="mirrored", Key="gone")
        s3.put_object(Bucket="not-mirrored", Key="elsewhere", Body=b"x")
    assert posted.status_code == 204
    assert len(list(tmp_path.glob("mirrored/*.bin"))) == 3
    assert not (tmp_path / "not-mirrored").exists()

    # A fresh moto (the restart) gets them back, bytes, type and metadata
    requests.post(f"{local_aws.endpoint}/moto-api/reset", timeout=5)
    s3.create_bucket(Bucket="mirrored")
    assert mirror.restore(s3) == 3
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="mirrored")["Contents"])
    assert keys == ["a/one.jpg", "copies/one.jpg", "incoming/two.png"]
    one = s3.get_object(Bucket="mirrored", Key="a/one.jpg")
    assert (one["Body"].read(), one["ContentType"], one["Metadata"]) == (b"one", "image/jpeg", {"who": "ada"})
    two = s3.get_object(Bucket="mirrored", Key="incoming/two.png")
    assert (two["Body"].read(), two["ContentType"]) == (b"two", "image/png")
    assert s3.get_object(Bucket="mirrored", Key="copies/one.jpg")["Metadata"] == {"who": "ada"}


def test_queued_events_are_delivered_once_and_a_failed_one_again(local_aws: LocalAws) -> None:
    sqs = local_aws.client("sqs")
    queue = sqs.create_queue(QueueName="poller-test", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    delivered: list[dict[str, Any]] = []
    failures = {"second": 1}

    def deliver(event: dict[str, Any]) -> None:
        if failures.get(event["name"], 0) > 0:
            failures[event["name"]] -= 1
            raise RuntimeError("the trigger failed")
        delivered.append(event)

    poller = QueuePoller(sqs, queue, deliver, name="test").start()
    try:
        for name in ("first", "second"):
            sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"name": name}))
        deadline = time.monotonic() + 10
        while len(delivered) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert sorted(e["name"] for e in delivered) == ["first", "second"]
    assert (poller.delivered, poller.failed) == (2, 1)
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
