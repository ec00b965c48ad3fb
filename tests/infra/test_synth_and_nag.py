"""`cdk synth` works offline, and cdk-nag (AWS Solutions + HIPAA Security) finds nothing unacknowledged."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.support import STAGES, Synth

pytestmark = pytest.mark.infra

# cdk-nag's rules, plus the ones CDK itself acknowledges for its CloudFormation validation (AZ names
# from context, FlowLog's camelCase DestinationOptions).
RULE = re.compile(
    r"^(AwsSolutions-[A-Z]+\d+|HIPAA\.Security-[A-Za-z0-9]+|CloudFormation-Validate::[EFW]\d+)(\[[^\]]+\])?$"
)


def test_both_stages_synthesize_offline_with_no_nag_finding(synth: Synth) -> None:
    report = synth.outdir / "validation-report.json"
    findings = []
    if report.exists():
        for plugin in json.loads(report.read_text())["pluginReports"]:
            for violation in plugin["violations"]:
                findings += [
                    f"{violation['ruleName']} ({violation['severity']}): {c['constructPath']}"
                    for c in violation["violatingConstructs"]
                ]
    assert synth.error is None, "synth failed:\n" + "\n".join(findings or [synth.error])
    assert sorted(synth.templates) == sorted(
        name for stage in STAGES for name in (f"Cradle-{stage}", f"Cradle-{stage}-images")
    )
    print(f"synth of {len(STAGES)} stages: {synth.seconds:.1f} s")  # noqa: T201


@pytest.mark.parametrize("stage", STAGES)
def test_every_acknowledgement_names_its_rule_and_gives_a_reason(synth: Synth, stage: str) -> None:
    count = 0
    for logical_id, resource in synth.template(stage)["Resources"].items():
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            count += 1
            assert RULE.match(rule["id"]), f"{logical_id}: {rule['id']} is not a cdk-nag rule id"
            assert len(rule["reason"].split()) >= 12, f"{logical_id}: {rule['id']}: reason too thin"
    assert count > 0


def test_wildcard_actions_are_acknowledged_only_on_cdks_own_helpers(synth: Synth) -> None:
    """Cradle's roles have no wildcard action; CDK's ECS agent and web-deployment roles have some."""
    for stage in STAGES:
        for logical_id, resource in synth.template(stage)["Resources"].items():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                if rule["id"].startswith("AwsSolutions-IAM5[Action::"):
                    assert logical_id.startswith(("InferenceInstanceRole", "CustomCDKBucketDeployment")), (
                        f"{logical_id}: {rule['id']}"
                    )
