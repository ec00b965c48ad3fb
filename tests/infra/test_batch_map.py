"""The batch pipeline's Distributed Map: its definition, its role's grants, its concurrency and chunk size."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cradlepose import function_table
from infra.config import ROOT, stage_config
from tests.infra.support import ACCOUNT, REGION, STAGES, Synth

pytestmark = pytest.mark.infra

DEFINITION = ROOT / "infra" / "statemachines" / "batch_pipeline.asl.json"
# Errors States.ALL does not catch (AWS: "States.ALL ... cannot catch the States.DataLimitExceeded terminal
# error and Runtime error types"); each must be named in a catcher of its own.
UNCAUGHT_BY_ALL = {"States.DataLimitExceeded", "States.Runtime"}


def _states() -> dict[str, Any]:
    states: dict[str, Any] = json.loads(DEFINITION.read_text())["States"]
    return states


def _caught(state: dict[str, Any], target: str) -> set[str]:
    return {e for c in state.get("Catch", []) if c["Next"] == target for e in c["ErrorEquals"]}


def test_pre_annotate_is_a_distributed_map_over_an_s3_chunk_list_with_results_to_s3() -> None:
    pre_annotate = _states()["PreAnnotate"]

    assert pre_annotate["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert "ItemsPath" not in pre_annotate
    assert pre_annotate["ItemReader"] == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Parameters": {"Bucket.$": "$.plan.chunk_list.bucket", "Key.$": "$.plan.chunk_list.key"},
    }
    assert pre_annotate["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    assert pre_annotate["ResultWriter"]["Parameters"] == {
        "Bucket.$": "$.plan.map_results.bucket",
        "Prefix.$": "$.plan.map_results.prefix",
    }
    # the state keeps only where the results are, never the chunks' outputs
    assert set(pre_annotate["ResultSelector"]) == {"map_run_arn.$", "results.$"}
    assert pre_annotate["MaxConcurrencyPath"] == "$.plan.max_concurrency"
    assert "MaxConcurrency" not in pre_annotate
    assert pre_annotate["ToleratedFailureCount"] == 0
    assert pre_annotate["Label"] == "PreAnnotate"
    # and PlanChunks hands it only the list's location and numbers
    assert set(_states()["PlanChunks"]["ResultSelector"]) == {
        "chunk_list.$", "chunk_count.$", "image_count.$", "max_concurrency.$", "map_results.$"
    }  # fmt: skip


def test_each_chunk_is_a_callback_with_its_heartbeat_from_the_item() -> None:
    chunk = _states()["PreAnnotate"]["ItemProcessor"]["States"]
    run = chunk["RunInference"]

    assert run["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert run["HeartbeatSecondsPath"] == "$.heartbeat_seconds"
    assert "HeartbeatSeconds" not in run
    assert "InferenceTaskStopped" in run["Retry"][0]["ErrorEquals"]
    assert {"States.Timeout", "States.HeartbeatTimeout"} <= set(run["Retry"][0]["ErrorEquals"])
    # a chunk that fails for good records the batch's failure with its own error, then fails the child
    for name in ("RunInference", "IngestChunk"):
        assert _caught(chunk[name], "RecordChunkFailure") >= {"States.ALL", *UNCAUGHT_BY_ALL}, name
    assert chunk["RecordChunkFailure"]["Parameters"]["FunctionName"] == "${RecordFailureFunction}"
    assert chunk["ChunkFailed"]["Type"] == "Fail"


def test_every_failure_of_the_pipeline_ends_in_record_failure_with_its_reason() -> None:
    states = _states()
    for name in ("MarkProcessing", "PlanChunks", "PreAnnotate", "Summarize", "WaitForPeople"):
        catchers = [c for c in states[name]["Catch"] if c["Next"] == "RecordFailure"]
        assert all(c["ResultPath"] == "$.error" for c in catchers), name
        caught = {e for c in catchers for e in c["ErrorEquals"]}
        assert caught >= {"States.ALL", *UNCAUGHT_BY_ALL}, name
        # States.ALL must stand alone in its catcher
        assert all(
            c["ErrorEquals"] == ["States.ALL"] for c in catchers if "States.ALL" in c["ErrorEquals"]
        ), name
    assert _caught(states["PreAnnotate"], "RecordFailure") >= {
        "States.ItemReaderFailed", "States.ResultWriterFailed", "States.ExceedToleratedFailureThreshold"
    }  # fmt: skip
    assert states["RecordFailure"]["Parameters"]["Payload"]["error.$"] == "$.error"


def _pipeline_statements(synth: Synth, stage: str) -> list[dict[str, Any]]:
    policies = synth.resources(stage, "AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith("PipelineBatchPipelineRole")]
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _text(value: Any) -> str:
    """A resource ARN as text: Fn::Join parts joined, Refs and GetAtts by name."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return "".join(_text(part) for part in value["Fn::Join"][1])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    raise AssertionError(f"unexpected {value}")


def _grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """action -> the resources (as text) it is allowed on."""
    found: dict[str, set[str]] = {}
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            found.setdefault(action, set()).update(_text(r) for r in resources)
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_the_pipelines_role_holds_what_the_distributed_map_needs_and_no_more(
    synth: Synth, stage: str
) -> None:
    config = stage_config(stage, account=ACCOUNT, region=REGION)
    grants = _grants(_pipeline_statements(synth, stage))
    (results,) = [
        k for k, b in synth.resources(stage, "AWS::S3::Bucket").items()
        if str(b["Properties"].get("BucketName", "")).endswith(f"{config.prefix}-results") or k.startswith("StorageResults")
    ]  # fmt: skip

    # ItemReader: the chunk lists only
    assert grants["s3:GetObject"] == {
        f"<{results}.Arn>/manifests/*/chunks.json",
        f"<{results}.Arn>/map-results/*",
    }
    # ResultWriter: under its prefix only
    for action in ("s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"):
        assert grants[action] == {f"<{results}.Arn>/map-results/*"}, action
    assert "s3:ListBucket" not in grants
    assert "s3:DeleteObject" not in grants
    # KMS through S3, on the results bucket's key
    assert len(grants["kms:Decrypt"]) == len(grants["kms:GenerateDataKey"]) == 1
    # Its own child executions, nothing else
    machine = f"{config.prefix}-batch-pipeline"
    (start,) = grants["states:StartExecution"]
    assert start.endswith(f":stateMachine:{machine}")
    for action in ("states:DescribeExecution", "states:StopExecution"):
        (children,) = grants[action]
        assert children.endswith(f":execution:{machine}/PreAnnotate:*"), children
    # and the analysis machine gets none of it
    other = synth.resources(stage, "AWS::IAM::Policy")
    (analysis,) = [p for k, p in other.items() if k.startswith("PipelineAnalysisReportRole")]
    assert not {
        a for a in _grants(analysis["Properties"]["PolicyDocument"]["Statement"]) if a.startswith("s3:")
    }


@pytest.mark.parametrize("stage", STAGES)
def test_the_plan_gets_the_stages_chunk_size_and_one_chunk_per_gpu_instance(synth: Synth, stage: str) -> None:
    config = stage_config(stage, account=ACCOUNT, region=REGION)
    table = function_table.load()
    env_of = {
        f["Properties"]["FunctionName"]: f["Properties"].get("Environment", {}).get("Variables", {})
        for f in synth.resources(stage, "AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }
    planners = [
        s.name for s in table.functions
        if any(isinstance(e, function_table.StateMachineTask) and e.substitution == "PlanChunksFunction" for e in s.events)
    ]  # fmt: skip
    assert planners == ["pipeline_plan"]
    env = env_of[f"{config.prefix}-pipeline-plan"]
    assert env["CRADLE_PIPELINE_CHUNK_SIZE"] == str(config.pipeline_chunk_size)
    assert env["CRADLE_INFERENCE_MAX_TASKS"] == str(config.gpu_max_instances)
    assert config.gpu_max_instances == {"dev": 1, "prod": 4}[stage]
    others = [name for name, e in env_of.items() if "CRADLE_INFERENCE_MAX_TASKS" in e]
    assert others == [f"{config.prefix}-pipeline-plan"]
