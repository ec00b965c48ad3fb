"""The AWS call recorder: who made which call, in threads and in processes started from here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from cradlepose.adapters import aws_call_log
from cradlepose.adapters.aws_call_log import AwsCall, acting_as, read_calls

pytestmark = pytest.mark.unit


@pytest.fixture
def recorded(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "calls.jsonl"
    aws_call_log.install(path)
    try:
        with mock_aws():
            yield path
    finally:
        aws_call_log.uninstall()


def test_a_call_is_recorded_with_its_principal_service_and_operation(recorded: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with acting_as("api"):
        s3.create_bucket(Bucket="bucket")
        s3.put_object(Bucket="bucket", Key="k", Body=b"x")

    assert read_calls(recorded) == [
        AwsCall("api", "s3", "CreateBucket", bucket="bucket"),
        AwsCall("api", "s3", "PutObject", bucket="bucket", key="k"),
    ]


def test_the_signing_name_is_the_service_recorded(recorded: Path) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    with acting_as("pipeline_await"):
        sfn.send_task_success(taskToken="t", output="{}")

    assert [(c.principal, c.service, c.operation) for c in read_calls(recorded)] == [
        ("pipeline_await", "states", "SendTaskSuccess")
    ]


def test_work_submitted_to_a_thread_pool_keeps_the_principal(recorded: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with acting_as("upload_registered"), ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda name: s3.create_bucket(Bucket=name), ["bucket-one", "bucket-two"]))

    assert {c.principal for c in read_calls(recorded)} == {"upload_registered"}


def test_a_call_from_a_bare_thread_is_unattributed_and_says_where_it_came_from(recorded: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with acting_as("api"):
        thread = threading.Thread(target=s3.list_buckets)
        thread.start()
        thread.join()

    (call,) = read_calls(recorded)
    assert call.principal is None
    assert call.origin == ""  # nothing on the thread's stack but its plumbing
    assert call.origin_chain == ()


def test_presigning_makes_no_call(recorded: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with acting_as("api"):
        s3.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "k"})
        s3.generate_presigned_post("bucket", "k")

    assert read_calls(recorded) == []


def test_nothing_is_recorded_once_uninstalled(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    aws_call_log.install(path)
    aws_call_log.uninstall()
    with mock_aws(), acting_as("api"):
        boto3.client("s3", region_name="us-east-1").list_buckets()

    assert read_calls(path) == []
    assert aws_call_log.RECORD_ENV not in os.environ


def test_a_process_started_with_the_variables_records_as_its_principal(tmp_path: Path) -> None:
    path = tmp_path / "calls.jsonl"
    script = (
        "import boto3\n"
        "from moto import mock_aws\n"
        "from cradlepose.adapters import aws_call_log\n"
        "assert aws_call_log.activate_from_env()\n"
        "with mock_aws():\n"
        "    boto3.client('s3', region_name='us-east-1').list_buckets()\n"
    )
    env = {**os.environ, aws_call_log.RECORD_ENV: str(path), aws_call_log.PRINCIPAL_ENV: "inference_task"}

    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)

    assert [(c.principal, c.service, c.operation) for c in read_calls(path)] == [
        ("inference_task", "s3", "ListBuckets")
    ]


def test_without_the_variable_activation_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(aws_call_log.RECORD_ENV, raising=False)

    assert aws_call_log.activate_from_env() is False
