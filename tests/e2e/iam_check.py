"""Recorded AWS calls against the roles of the synthesized template: is every call allowed?

A call becomes the IAM actions it needs (botocore's operation name is the action, but for the
operations of ACTIONS) on a symbolic resource: `s3:objects:<bucket kind>/<key>`,
`s3:bucket:<kind>`, `kms:key:<kind>` (S3 encrypts with the bucket's key on the caller's behalf),
`states:<machine>`. A statement's resources are read back into the same symbols from the template
(GetAtt of a Storage bucket or key, a Join of a bucket ARN and a key pattern, a Ref of a state
machine), so a grant on the wrong bucket or machine does not count. Conditions are not evaluated.

    python -m tests.e2e.iam_check <calls.jsonl>   # the (principal → IAM actions) table of a run
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from cradlepose import function_table
from cradlepose.adapters.aws_call_log import TASK_PRINCIPAL, AwsCall, read_calls

# The role's baseline every function has (logs, X-Ray, VPC interfaces, the RDS Proxy user): the
# Lambda service and the database driver use them, not the handler's boto3 clients.
BASELINE_PREFIXES = ("logs:", "xray:", "ec2:", "rds-db:")

# Operations whose IAM action is not `<signing name>:<operation>`; each maps to every action it
# needs, with where: "object" (the call's key), "bucket", or "" (no resource of its own).
S3_ACTIONS: dict[str, list[tuple[str, str]]] = {
    "HeadObject": [("s3:GetObject", "object")],
    "GetObject": [("s3:GetObject", "object"), ("kms:Decrypt", "key")],
    "PutObject": [("s3:PutObject", "object"), ("kms:GenerateDataKey", "key")],
    "CreateMultipartUpload": [("s3:PutObject", "object"), ("kms:GenerateDataKey", "key")],
    "UploadPart": [("s3:PutObject", "object"), ("kms:GenerateDataKey", "key")],
    "CompleteMultipartUpload": [("s3:PutObject", "object"), ("kms:Decrypt", "key")],
    "AbortMultipartUpload": [("s3:AbortMultipartUpload", "object")],
    "CopyObject": [("s3:PutObject", "object"), ("kms:GenerateDataKey", "key")],  # + the source, below
    "DeleteObject": [("s3:DeleteObject", "object")],
    "DeleteObjects": [("s3:DeleteObject", "object")],
    "ListObjectsV2": [("s3:ListBucket", "bucket")],
    "ListObjects": [("s3:ListBucket", "bucket")],
    "HeadBucket": [("s3:ListBucket", "bucket")],
}
OTHER_ACTIONS: dict[tuple[str, str], list[str]] = {
    ("bedrock", "Converse"): ["bedrock:InvokeModel"],
    ("bedrock", "ConverseStream"): ["bedrock:InvokeModelWithResponseStream"],
}
# What the API signs without calling AWS: S3 checks the signature against the API's role when the
# browser or the CLI uses it, so the role needs these though no recorded call shows them.
PRESIGNED: dict[tuple[str, str, str], str] = {
    (
        "api",
        "s3:PutObject",
        "s3:objects:uploads/*",
    ): "presigned POST: images and COCO archives go straight to uploads",
    (
        "api",
        "kms:GenerateDataKey",
        "kms:key:uploads",
    ): "presigned POST: S3 encrypts the upload with the uploads key",
    ("api", "s3:GetObject", "s3:objects:exports/*"): "presigned GET of a packed collection or export ZIP",
    ("api", "kms:Decrypt", "kms:key:exports"): "presigned GET of a packed collection or export ZIP",
}


@dataclass(frozen=True)
class Need:
    action: str
    resource: str | None  # a symbol (see the module's doc); None: the call names none we check


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]


@dataclass(frozen=True)
class Missing:
    principal: str
    call: str
    action: str
    resource: str | None


# ------------------------------------------------------------------ calls → needs


def needs(call: AwsCall, bucket_kinds: Mapping[str, str], machines: Mapping[str, str]) -> list[Need]:
    """The IAM actions (and their resources) that `call` needs."""
    if call.service == "s3" and call.operation in S3_ACTIONS:
        kind = bucket_kinds.get(call.bucket or "", f"?{call.bucket}")
        where = {
            "object": f"s3:objects:{kind}/{call.key}",
            "bucket": f"s3:bucket:{kind}",
            "key": f"kms:key:{kind}",
        }
        result = [Need(action, where[place]) for action, place in S3_ACTIONS[call.operation]]
        if call.operation == "CopyObject" and call.target:  # target: the copy source "bucket/key"
            source_bucket, _, source_key = call.target.partition("/")
            source = bucket_kinds.get(source_bucket, f"?{source_bucket}")
            result += [
                Need("s3:GetObject", f"s3:objects:{source}/{source_key}"),
                Need("kms:Decrypt", f"kms:key:{source}"),
            ]
        return result
    actions = OTHER_ACTIONS.get((call.service, call.operation), [f"{call.service}:{call.operation}"])
    resource = None
    if call.service == "states" and call.operation == "StartExecution" and call.target:
        resource = f"states:{machines.get(call.target, '?' + call.target)}"
    return [Need(action, resource) for action in actions]


# ------------------------------------------------------------------ the template's roles


def _symbol(resource: Any, template: Mapping[str, Any]) -> str:
    """A statement's resource as a symbol comparable with a Need's."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return _logical_symbol(resource["Fn::GetAtt"][0], template)
    if isinstance(resource, dict) and "Ref" in resource:
        return _logical_symbol(resource["Ref"], template)
    if isinstance(resource, dict) and "Fn::Join" in resource:
        parts = resource["Fn::Join"][1]
        machine = re.search(r":stateMachine:cradle-[a-z0-9]+-([a-z0-9-]+)$", str(parts[-1]))
        if machine:  # an ARN built from the machine's name (no Ref: that would be a cycle)
            return "states:" + machine.group(1).replace("-", "_")
        if len(parts) == 2 and isinstance(parts[1], str):
            base = _symbol(parts[0], template)
            if base.startswith("s3:bucket:"):
                return "s3:objects:" + base.removeprefix("s3:bucket:") + parts[1]
    return f"other:{json.dumps(resource, sort_keys=True)}"


def _logical_symbol(logical: str, template: Mapping[str, Any]) -> str:
    resource = template["Resources"].get(logical, {})
    kind = resource.get("Type")
    bucket = re.fullmatch(r"Storage([A-Z][a-z]+)[0-9A-F]{8}", logical)
    key = re.fullmatch(r"Storage([A-Z][a-z]+)Key[0-9A-F]{8}", logical)
    if kind == "AWS::S3::Bucket" and bucket:
        return f"s3:bucket:{bucket.group(1).lower()}"
    if kind == "AWS::KMS::Key" and key:
        return f"kms:key:{key.group(1).lower()}"
    if kind == "AWS::StepFunctions::StateMachine":
        name = str(resource["Properties"]["StateMachineName"])
        return "states:" + name.split("-", 2)[2].replace("-", "_")
    return f"other:{logical}"


def role_statements(template: Mapping[str, Any], role_logical_id: str) -> list[Statement]:
    """Every Allow statement of the role's inline policies (AWS::IAM::Policy attached to it)."""
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role_logical_id} not in resource["Properties"].get("Roles", []):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            statements.append(Statement(tuple(actions), tuple(_symbol(r, template) for r in resources)))
    return statements


def principal_roles(template: Mapping[str, Any], stage: str) -> dict[str, str]:
    """principal → role logical id: every function of infra/functions.toml, and the GPU task."""
    by_name: dict[str, str] = {}
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and isinstance(properties.get("FunctionName"), str):
            by_name[properties["FunctionName"]] = properties["Role"]["Fn::GetAtt"][0]
        if (
            resource["Type"] == "AWS::ECS::TaskDefinition"
            and properties.get("Family") == f"cradle-{stage}-inference"
        ):
            by_name[TASK_PRINCIPAL] = properties["TaskRoleArn"]["Fn::GetAtt"][0]
    roles = {TASK_PRINCIPAL: by_name[TASK_PRINCIPAL]}
    for spec in function_table.load().functions:
        roles[spec.name] = by_name[f"cradle-{stage}-{spec.name.replace('_', '-')}"]
    return roles


def roles_of(template: Mapping[str, Any], stage: str) -> dict[str, list[Statement]]:
    return {
        principal: role_statements(template, role)
        for principal, role in principal_roles(template, stage).items()
    }


# ------------------------------------------------------------------ the check


def allows(statements: Iterable[Statement], need: Need) -> bool:
    for statement in statements:
        if not any(fnmatchcase(need.action.lower(), pattern.lower()) for pattern in statement.actions):
            continue
        if need.resource is None or any(
            fnmatchcase(need.resource, pattern) for pattern in statement.resources
        ):
            return True
    return False


def check(
    calls: Iterable[AwsCall],
    roles: Mapping[str, list[Statement]],
    bucket_kinds: Mapping[str, str],
    machines: Mapping[str, str],
) -> list[Missing]:
    """Every (principal, action, resource) a call needs that its role does not allow."""
    missing: set[Missing] = set()
    for call in calls:
        assert call.principal is not None, "unattributed calls are the harness's; filter them first"
        statements = roles.get(call.principal)
        for need in needs(call, bucket_kinds, machines):
            if statements is None or not allows(statements, need):
                missing.add(
                    Missing(call.principal, f"{call.service}:{call.operation}", need.action, need.resource)
                )
    return sorted(missing, key=lambda m: (m.principal, m.action, m.resource or ""))


def granted(statements: Iterable[Statement]) -> set[tuple[str, str]]:
    """(action, resource symbol) of every statement, but the baseline every function has."""
    return {
        (action, resource)
        for statement in statements
        for action in statement.actions
        if not action.startswith(BASELINE_PREFIXES)
        for resource in statement.resources
    }


def unused(
    calls: Iterable[AwsCall],
    roles: Mapping[str, list[Statement]],
    bucket_kinds: Mapping[str, str],
    machines: Mapping[str, str],
) -> set[tuple[str, str, str]]:
    """(principal, action, resource) granted by a role that no recorded call of its principal needs."""
    wanted: dict[str, list[Need]] = defaultdict(list)
    for call in calls:
        if call.principal is not None:
            wanted[call.principal] += needs(call, bucket_kinds, machines)
    result = set()
    for principal, statements in roles.items():
        for action, resource in granted(statements):
            if not any(
                fnmatchcase(need.action.lower(), action.lower())
                and (need.resource is None or fnmatchcase(need.resource, resource))
                for need in wanted.get(principal, [])
            ):
                result.add((principal, action, resource))
    return result


def table(calls: Iterable[AwsCall], bucket_kinds: Mapping[str, str], machines: Mapping[str, str]) -> str:
    """principal → the IAM actions its calls needed (and the calls, as recorded), one line each."""
    actions: dict[str, set[str]] = defaultdict(set)
    operations: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        if call.principal is not None:
            actions[call.principal].update(n.action for n in needs(call, bucket_kinds, machines))
            operations[call.principal].add(f"{call.service}:{call.operation}")
    width = max((len(p) for p in actions), default=0)
    return "\n".join(
        f"{p:<{width}}  {', '.join(sorted(actions[p]))}\n{'':<{width}}  (calls: {', '.join(sorted(operations[p]))})"
        for p in sorted(actions)
    )


def missing_table(missing: Iterable[Missing]) -> str:
    return "\n".join(
        f"{m.principal:<22} {m.action:<34} {m.resource or '':<40} (call {m.call})" for m in missing
    )


def _local_names(calls: list[AwsCall]) -> tuple[dict[str, str], dict[str, str]]:
    """The local stack's bucket names and state machine ARNs, as its settings name them."""
    from cradle_workstation.devstack.resources import bucket_names  # noqa: PLC0415
    from cradlepose.settings import Settings  # noqa: PLC0415

    kinds = {name: kind for kind, name in bucket_names(Settings()).items()}
    machines = {
        c.target: c.target.rsplit(":", 1)[-1].removeprefix("cradle-local-").replace("-", "_")
        for c in calls
        if c.service == "states" and c.target
    }
    return kinds, machines


if __name__ == "__main__":
    recorded = read_calls(Path(sys.argv[1]))
    sys.stdout.write(table(recorded, *_local_names(recorded)) + "\n")
