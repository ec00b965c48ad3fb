"""Acknowledging a cdk-nag finding: always on the resource it concerns, always with the reason.

cdk-nag 3 runs as a CDK validation plugin (`infra/app.py` adds the AWS Solutions and HIPAA Security
packs); an unacknowledged error fails `cdk synth`. The acknowledgements are also written into each
resource's CloudFormation Metadata (`cdk_nag.rules_to_suppress`), where `tests/infra` checks that every
one names its rule and gives a reason.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, reason: str, *rules: str) -> None:
    """Acknowledge `rules` (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and its children."""
    if len(reason) < 20:
        raise ValueError(f"a suppression needs a real reason, not {reason!r}")
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule, reason=reason) for rule in rules))


def logical_id(construct: IConstruct) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as cdk-nag names it in findings."""
    element = construct.node.default_child
    if not isinstance(element, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(construct)
    resolved = stack.resolve(stack.get_logical_id(element))
    assert isinstance(resolved, str)
    return resolved
