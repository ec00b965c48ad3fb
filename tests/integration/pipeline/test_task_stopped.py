"""The `pipeline_task_stopped` trigger: an inference task that stopped without answering its task
token (killed, out of memory, Spot) fails the token, so Step Functions retries the chunk at once."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cradlepose.adapters.workflow import StepFunctionsWorkflow
from cradlepose.common.system import step_context
from tests.pipeline_support import RecordingWorkflow
from triggers import pipeline

pytestmark = pytest.mark.integration

TOKEN = "AQB8AAAAKgAAAAMAAAAA-the-task-token"
TASK = "arn:aws:ecs:eu-west-1:111122223333:task/cradle-dev-inference/b6d0b4a3c1f14d6e9c7a2f8d1e0c5b4a"

# The shape of AWS's documented example (ECS developer guide, "Amazon ECS task state change
# events"), with the overrides the dispatcher passes.
STOPPED_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "9bcdac79-b31f-4d3d-9410-fbd727c29fab",
    "detail-type": "ECS Task State Change",
    "source": "aws.ecs",
    "account": "111122223333",
    "time": "2026-12-04T16:21:42Z",
    "region": "eu-west-1",
    "resources": [TASK],
    "detail": {
        "attachments": [],
        "availabilityZone": "eu-west-1a",
        "clusterArn": "arn:aws:ecs:eu-west-1:111122223333:cluster/cradle-dev-inference",
        "containers": [
            {
                "containerArn": "arn:aws:ecs:eu-west-1:111122223333:container/cradle-dev-inference/b6d0/4e1d",
                "exitCode": 137,
                "lastStatus": "STOPPED",
                "name": "inference",
                "image": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/cradle-dev-inference@sha256:0f1e",
                "taskArn": TASK,
                "reason": "OutOfMemoryError: Container killed due to memory usage",
                "gpuIds": ["GPU-1d2b3c4d"],
            }
        ],
        "createdAt": "2026-12-04T16:19:01.512Z",
        "launchType": "EC2",
        "cpu": "3072",
        "memory": "12288",
        "desiredStatus": "STOPPED",
        "group": "family:cradle-dev-inference",
        "lastStatus": "STOPPED",
        "overrides": {
            "containerOverrides": [
                {
                    "name": "inference",
                    "environment": [
                        {"name": "CRADLE_MANIFEST", "value": "s3://results/manifests/12/run-1/chunk-3.json"},
                        {"name": "CRADLE_TASK_TOKEN", "value": TOKEN},
                    ],
                }
            ]
        },
        "startedAt": "2026-12-04T16:19:40.121Z",
        "startedBy": "cradle-pipeline",
        "stopCode": "EssentialContainerExited",
        "stoppedAt": "2026-12-04T16:21:42.003Z",
        "stoppedReason": "Essential container in task exited",
        "stoppingAt": "2026-12-04T16:21:41.200Z",
        "taskArn": TASK,
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/cradle-dev-inference:7",
        "updatedAt": "2026-12-04T16:21:42.003Z",
        "version": 4,
    },
}

CONTEXT = step_context("events:InferenceTaskStopped", kind="EVENT")


def _event(**detail: Any) -> dict[str, Any]:
    event = copy.deepcopy(STOPPED_EVENT)
    event["detail"].update(detail)
    return event


def test_a_task_killed_before_answering_fails_its_token_with_the_stop_reason() -> None:
    workflow = RecordingWorkflow()

    result = pipeline.run_inference_task_stopped(STOPPED_EVENT, CONTEXT, workflow)

    assert result == {"task_arn": TASK, "outcome": "failed"}
    [(token, error, cause)] = workflow.failed
    assert (token, error) == (TOKEN, "InferenceTaskStopped")
    assert "EssentialContainerExited" in cause
    assert "exit code 137" in cause
    assert "OutOfMemoryError" in cause


def test_a_task_stopped_before_its_container_ran_fails_its_token() -> None:
    # (an image that could not be pulled, a Spot interruption before start: no exit code at all)
    workflow = RecordingWorkflow()
    event = _event(stopCode="TaskFailedToStart", stoppedReason="CannotPullContainerError: not found")
    del event["detail"]["containers"][0]["exitCode"]

    assert pipeline.run_inference_task_stopped(event, CONTEXT, workflow)["outcome"] == "failed"
    assert "CannotPullContainerError" in workflow.failed[0][2]


def test_a_container_that_exited_0_answered_itself_and_is_left_alone() -> None:
    workflow = RecordingWorkflow()
    event = _event()
    event["detail"]["containers"][0]["exitCode"] = 0

    assert pipeline.run_inference_task_stopped(event, CONTEXT, workflow)["outcome"] == "exited_cleanly"
    assert workflow.failed == []


def test_a_token_the_container_already_answered_is_refused_harmlessly() -> None:
    # Given a container that sent SendTaskFailure itself, then exited 1
    client = boto3.client(
        "stepfunctions", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    event = _event()
    event["detail"]["containers"][0]["exitCode"] = 1
    with Stubber(client) as stub:
        stub.add_client_error("send_task_failure", "TaskTimedOut", "Task Timed Out")
        # When the stop arrives, Step Functions refuses the second answer, and that is all
        result = pipeline.run_inference_task_stopped(event, CONTEXT, StepFunctionsWorkflow(client))
        stub.assert_no_pending_responses()
    assert result["outcome"] == "already_answered"


@pytest.mark.parametrize(
    "change",
    [
        {"startedBy": "cradle-ml-jobs"},  # a training job: it has no token
        {"overrides": {"containerOverrides": [{"name": "inference", "environment": []}]}},
        {"lastStatus": "RUNNING"},
    ],
)
def test_other_tasks_and_states_are_ignored(change: dict[str, Any]) -> None:
    workflow = RecordingWorkflow()
    outcome = pipeline.run_inference_task_stopped(_event(**change), CONTEXT, workflow)["outcome"]
    assert outcome in {"not_an_inference_task", "not_stopped"}
    assert workflow.failed == []
