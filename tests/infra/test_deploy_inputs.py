"""What a deploy is given and what reaches people: the image digest, the alarm e-mail, the body limit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import stage_config
from tests.infra.support import ACCOUNT, ALARM_EMAIL, IMAGE_DIGEST, REGION, STAGES, Synth
from tests.upload_requests import largest_upload

pytestmark = pytest.mark.infra


def _build(**context: str) -> list[str]:
    from aws_cdk import App  # noqa: PLC0415 - jsii starts node: only when infra tests run

    from infra.app import build_app, cdk_json_context  # noqa: PLC0415

    app = App(
        context={**cdk_json_context(), "account": ACCOUNT, "region": REGION, **context},
        outdir=str(Path("/nonexistent")),
    )
    return [stack.stack_name for stack in build_app(app)]


def test_prod_refuses_to_synthesize_without_an_image_digest_or_an_alarm_email() -> None:
    with pytest.raises(SystemExit) as refused:
        _build(stage="prod")
    message = str(refused.value)
    assert "Cradle-prod" in message
    assert "-c inference_image_digest=sha256:" in message
    assert "-c alarm_email=" in message


def test_the_first_step_of_a_deploy_needs_no_digest_it_makes_only_the_image_repository() -> None:
    assert _build(stage="prod", images_only="true") == ["Cradle-prod-images"]


def test_a_digest_must_be_a_digest() -> None:
    with pytest.raises(SystemExit, match="is not a sha256:<64 hex> image digest"):
        _build(stage="prod", inference_image_digest="latest", alarm_email=ALARM_EMAIL)


def test_dev_may_go_without_either() -> None:
    config = stage_config("dev", account=ACCOUNT, region=REGION)
    assert config.missing_deploy_inputs() == []
    assert config.inference_image_reference == "latest"


@pytest.mark.parametrize("stage", STAGES)
def test_the_task_runs_the_image_by_its_digest_from_the_stages_own_repository(
    synth: Synth, stage: str
) -> None:
    (task,) = synth.resources(stage, "AWS::ECS::TaskDefinition").values()
    (container,) = task["Properties"]["ContainerDefinitions"]
    image = json.dumps(container["Image"])
    assert f"@{IMAGE_DIGEST}" in image
    assert ":latest" not in image
    images = synth.templates[f"Cradle-{stage}-images"]["Resources"]
    (repository,) = (r for r in images.values() if r["Type"] == "AWS::ECR::Repository")
    assert repository["Properties"]["RepositoryName"] == f"cradle-{stage}-inference"
    assert not synth.resources(stage, "AWS::ECR::Repository")  # it is not in the main stack


@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_notifies_the_encrypted_topic_and_the_topic_mails_someone(
    synth: Synth, stage: str
) -> None:
    topics = synth.resources(stage, "AWS::SNS::Topic")
    (topic_id,) = (k for k, t in topics.items() if t["Properties"]["TopicName"] == f"cradle-{stage}-alarms")
    assert "KmsMasterKeyId" in topics[topic_id]["Properties"]
    alarms = synth.resources(stage, "AWS::CloudWatch::Alarm")
    assert len(alarms) > 40
    for alarm_id, alarm in alarms.items():
        assert {"Ref": topic_id} in alarm["Properties"].get("AlarmActions", []), alarm_id
    subscriptions = [s["Properties"] for s in synth.resources(stage, "AWS::SNS::Subscription").values()]
    assert {"Protocol": "email", "TopicArn": {"Ref": topic_id}, "Endpoint": ALARM_EMAIL} in subscriptions


def _web_acl(synth: Synth, stage: str) -> dict[str, Any]:
    (acl,) = synth.resources(stage, "AWS::WAFv2::WebACL").values()
    props: dict[str, Any] = acl["Properties"]
    return props


def _body_limit(acl: dict[str, Any]) -> int:
    (rule,) = (r for r in acl["Rules"] if "SizeConstraintStatement" in r["Statement"])
    statement = rule["Statement"]["SizeConstraintStatement"]
    assert rule["Action"] == {"Block": {}}
    assert statement["ComparisonOperator"] == "GT"
    assert statement["FieldToMatch"] == {"Body": {"OversizeHandling": "MATCH"}}
    return int(statement["Size"])


@pytest.mark.parametrize("stage", STAGES)
def test_the_waf_lets_the_largest_upload_request_through(synth: Synth, stage: str, tmp_path: Path) -> None:
    # Given the web ACL: the common rule set's 8 KB body rule only counts, a size rule of ours blocks
    acl = _web_acl(synth, stage)
    (common,) = (
        r["Statement"]["ManagedRuleGroupStatement"]
        for r in acl["Rules"]
        if r["Statement"].get("ManagedRuleGroupStatement", {}).get("Name") == "AWSManagedRulesCommonRuleSet"
    )
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common["RuleActionOverrides"]
    limit = _body_limit(acl)
    # and API Gateway forwards WAF all of a body that size (so MATCH on oversize means "over the limit")
    inspected = acl["AssociationConfig"]["RequestBody"]["API_GATEWAY"]["DefaultSizeInspectionLimit"]
    assert int(inspected.removeprefix("KB_")) * 1024 >= limit

    # When `cradle upload` asks for the forms of 2500 files with the longest names
    api = largest_upload(tmp_path)

    # Then every request it sends is within the limit
    sizes = [len(body) for _, body, _ in api.requests]
    assert max(sizes) <= limit
    assert max(sizes) > 8 * 1024  # the managed 8 KB rule would have refused it
