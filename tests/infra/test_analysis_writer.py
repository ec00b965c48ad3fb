"""The analysis reports' writer is a switch: the composer by default, with no Bedrock grant, endpoint
or setting anywhere; `-c analysis_writer=bedrock` adds exactly one model, to the functions that
hold the `bedrock:invoke` grant."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from cradlepose import function_table
from tests.infra.support import ACCOUNT, REGION, ROOT, STAGES, Synth

pytestmark = pytest.mark.infra

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"


def _bedrock_resources(template: Mapping[str, Any]) -> list[Any]:
    found = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if any(a.startswith("bedrock:") for a in actions):
                found.append(statement["Resource"])
    return found


def _functions_with_model(template: Mapping[str, Any]) -> set[str]:
    return {
        r["Properties"]["FunctionName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and "CRADLE_BEDROCK_MODEL_ID" in r["Properties"].get("Environment", {}).get("Variables", {})
    }


def _bedrock_endpoints(template: Mapping[str, Any]) -> list[Any]:
    return [
        r for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and "bedrock" in str(r["Properties"]["ServiceName"])
    ]  # fmt: skip


@pytest.mark.parametrize("stage", STAGES)
def test_by_default_nothing_may_call_bedrock(synth: Synth, stage: str) -> None:
    template = synth.template(stage)
    assert _bedrock_resources(template) == []
    assert _functions_with_model(template) == set()
    assert _bedrock_endpoints(template) == []


def test_the_opt_in_grants_exactly_one_model_to_the_analysis_writers() -> None:
    from aws_cdk import App  # noqa: PLC0415 - importing jsii starts node: only when infra tests run
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from infra.app import cdk_json_context  # noqa: PLC0415
    from infra.config import stage_config  # noqa: PLC0415
    from infra.stacks.cradle import CradleStack  # noqa: PLC0415
    from infra.stacks.images import ImagesStack  # noqa: PLC0415

    context = cdk_json_context()
    context.update(
        {
            "aws:cdk:bundling-stacks": [],
            f"availability-zones:account={ACCOUNT}:region={REGION}": [
                f"{REGION}a",
                f"{REGION}b",
                f"{REGION}c",
            ],
        }
    )
    app = App(context=context)
    config = stage_config(
        "dev", account=ACCOUNT, region=REGION, analysis_writer="bedrock", bedrock_model_id=MODEL
    )
    images = ImagesStack(app, config=config)
    stack = CradleStack(app, config=config, table=function_table.load(), repository=images.repository)
    template = Template.from_stack(stack).to_json()

    writers = [s for s in function_table.load().functions if "bedrock:invoke" in s.grants]
    resources = _bedrock_resources(template)
    assert len(resources) == len(writers) > 0
    assert {str(r) for r in resources} == {str(resources[0])}, "one model, the same for every writer"
    assert MODEL in str(resources[0])
    expected = {f"cradle-dev-{s.name.replace('_', '-')}" for s in writers}
    assert _functions_with_model(template) == expected
    assert len(_bedrock_endpoints(template)) == 1


def test_an_unknown_writer_is_refused() -> None:
    from infra.config import stage_config  # noqa: PLC0415

    with pytest.raises(ValueError, match="analysis_writer 'gpt'"):
        stage_config("dev", account=ACCOUNT, region=REGION, analysis_writer="gpt")


@pytest.mark.parametrize("stage", STAGES)
def test_the_cost_tables_endpoint_count_is_the_synthesized_one(synth: Synth, stage: str) -> None:
    """docs/deploy.md prices the interface endpoints by their number; Bedrock's is not among them."""
    quoted = re.search(r"\| Interface VPC endpoints \((\d+):", (ROOT / "docs" / "deploy.md").read_text())
    assert quoted is not None, "docs/deploy.md's cost table no longer counts the interface endpoints"
    interface = [
        r for r in synth.resources(stage, "AWS::EC2::VPCEndpoint").values()
        if r["Properties"].get("VpcEndpointType") == "Interface"
    ]  # fmt: skip
    assert len(interface) == int(quoted.group(1))
