"""The ML jobs' runner starts the inference container's `job` command on the GPU capacity provider."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from cradlepose.adapters.inference import InferenceTask
from cradlepose.adapters.job_runner import EcsJobRunner, JobLaunch, JobNotStarted, JobRunnerUnavailable
from cradlepose.settings import Settings

pytestmark = pytest.mark.unit

SETTINGS = Settings(
    inference_cluster_arn="arn:aws:ecs:us-east-1:000000000000:cluster/cradle-dev-inference",
    inference_task_definition_arn="arn:aws:ecs:us-east-1:000000000000:task-definition/cradle-dev-inference:3",
    inference_capacity_provider="cradle-dev-gpu",
    inference_subnet_ids=["subnet-1"],
    inference_security_group_ids=["sg-1"],
)


def test_a_job_runs_the_containers_job_command_once_per_job_and_says_why_ecs_refused() -> None:
    ecs = boto3.client("ecs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    launch = JobLaunch("training", 7, "s3://cradle-results/jobs/training-7/spec.json")
    expected = {
        "cluster": SETTINGS.inference_cluster_arn,
        "taskDefinition": SETTINGS.inference_task_definition_arn,
        "capacityProviderStrategy": [{"capacityProvider": "cradle-dev-gpu", "weight": 1}],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"],
                                                         "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{"name": SETTINGS.inference_container_name,
                                              "command": ["job", "--spec", launch.spec_uri]}]},
        "count": 1,
        "startedBy": "cradle-ml-jobs",
        "clientToken": launch.idempotency_token,
    }  # fmt: skip
    with Stubber(ecs) as stub:
        stub.add_response(
            "run_task", {"tasks": [{"taskArn": "arn:aws:ecs:task/9"}], "failures": []}, expected
        )
        stub.add_response("run_task", {"tasks": [], "failures": [{"reason": "RESOURCE:GPU"}]}, expected)
        runner = EcsJobRunner(ecs, SETTINGS)
        assert runner.start(launch) == "arn:aws:ecs:task/9"
        with pytest.raises(JobNotStarted, match="training-7: : RESOURCE:GPU"):
            runner.start(launch)


def test_without_a_cluster_the_runner_says_what_to_set() -> None:
    with pytest.raises(JobRunnerUnavailable, match="CRADLE_INFERENCE_CLUSTER_ARN"):
        EcsJobRunner(object(), Settings()).start(JobLaunch("inference", 1, "s3://b/k"))


def test_a_retried_chunk_gets_a_new_run_task_client_token_and_a_repeated_dispatch_the_same() -> None:
    first = InferenceTask(12, 3, "s3://results/manifests/12/run-1/chunk-00003.json", "token-abc")
    again = InferenceTask(12, 3, first.manifest_uri, "token-abc")
    retried = InferenceTask(12, 3, first.manifest_uri, "token-abc", attempt=1)

    # A Lambda retry of the same dispatch must not start a second task; Step Functions' retry of a
    # stopped task must start a new one, even if it hands out the same token again.
    assert first.idempotency_token == again.idempotency_token
    assert retried.idempotency_token != first.idempotency_token
    assert len(retried.idempotency_token) <= 64
