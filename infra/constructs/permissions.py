"""The abstract grants of `infra/functions.toml`, turned into least-privilege IAM statements.

- `db`: rds-db:connect as the app login (`cradle_api`: DML, and only SELECT/INSERT on audit_logs)
  through RDS Proxy (IAM auth: no password, no secret read).
- `db:owner`: rds-db:connect as the schema's owner (the migration role) instead, and
  secretsmanager:GetSecretValue on the app login's secret (the migration sets its password). Only
  the migrate function has it.
- `s3:<bucket>:read`: s3:GetObject on the bucket's objects, s3:ListBucket on the bucket, kms:Decrypt
  on the bucket's key, only via S3.
- `s3:<bucket>:write`: s3:PutObject, s3:AbortMultipartUpload on its objects; kms:GenerateDataKey and
  kms:Decrypt (multipart uploads need it) on its key, only via S3. No kms:Encrypt: S3 encrypts
  with a data key, never through Encrypt.
- `s3:<bucket>:delete`: s3:DeleteObject (a delete marker; old versions go by lifecycle, never by
  the function).
- `states:start`: states:StartExecution on the batch pipeline (`states:start_analysis`: the
  analysis report; `states:start_loop`: the learning loop).
- `states:release`: states:SendTaskSuccess on the pipeline (a parked WaitForPeople answered).
- `states:fail_task`: states:SendTaskFailure on the pipeline (a stopped inference task's token).
  (The inference task's role holds all three callback actions: it heartbeats and answers.)
- `ecs:run_inference`: ecs:RunTask on this deploy's inference task definition, in its cluster only;
  iam:PassRole on the task's two roles, to ECS tasks only (no ecs:TagResource: the dispatcher
  passes no tags).
- `cognito:admin`: the API's user management in the user pool: invitations (AdminCreateUser, and
  AdminDeleteUser to take back an account whose Cradle row could not be written), the role group
  (AdminListGroupsForUser, AdminAddUserToGroup, AdminRemoveUserFromGroup) and the account's state
  (AdminDisableUser, AdminEnableUser).
- `cognito:create_users`: AdminCreateUser, AdminDeleteUser and the role group, on the user pool (the
  first admin).
- `bedrock:invoke`: bedrock:InvokeModel on the one configured foundation model, only when the stage
  opts in (`-c analysis_writer=bedrock`); otherwise nothing (the composer writes the reports).

No statement has a `*` action, and no data statement has a `*` resource.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from infra.constructs.database import Database
from infra.constructs.storage import Bucket

# Exactly what cradlepose.adapters.identity.CognitoIdentityProvider calls
# (tests/e2e/test_iam_follows_calls.py records it).
COGNITO_GROUP_ACTIONS = [
    "cognito-idp:AdminListGroupsForUser",
    "cognito-idp:AdminAddUserToGroup",
    "cognito-idp:AdminRemoveUserFromGroup",
]
# An account is created with its role group, or deleted again when its Cradle row cannot be written.
COGNITO_CREATE_ACTIONS = [
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminDeleteUser",
    *COGNITO_GROUP_ACTIONS,
]
COGNITO_ADMIN_ACTIONS = [
    *COGNITO_CREATE_ACTIONS,
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminEnableUser",
]
COGNITO_GRANTS = ("cognito:admin", "cognito:create_users")
CALLBACK_ACTIONS = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]


@dataclass(frozen=True)
class InferenceTarget:
    """What `ecs:run_inference` points at."""

    cluster: ecs.ICluster
    task_definition: ecs.TaskDefinition


@dataclass(frozen=True)
class GrantTargets:
    """The resources that abstract grants resolve to."""

    buckets: dict[str, Bucket]
    database: Database
    state_machine_arn: str
    analysis_state_machine_arn: str
    learning_loop_state_machine_arn: str
    inference: InferenceTarget
    user_pool: cognito.IUserPool
    bedrock_model_id: str | None  # None: the stage did not opt in to Bedrock


def s3_statements(bucket: Bucket, access: str, keys: str = "*") -> list[iam.PolicyStatement]:
    """The statements of one access to one bucket; `keys` narrows the object actions to a key pattern."""
    objects = bucket.bucket.arn_for_objects(keys)
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{Stack.of(bucket.bucket).region}.amazonaws.com"}}
    key = bucket.key.key_arn
    if access == "read":
        return [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects]),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket.bucket_arn]),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key], conditions=via_s3),
        ]
    if access == "write":
        return [
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[objects]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key],
                conditions=via_s3,
            ),
        ]
    if access == "delete":
        return [iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[objects])]
    raise ValueError(f"unknown S3 access {access!r}")


def grant_statements(grant: str, targets: GrantTargets) -> list[iam.PolicyStatement]:
    """The statements of one abstract grant (all but `db` and `db:owner`, which the database grants)."""
    parts = grant.split(":")
    if parts[0] == "s3" and len(parts) == 3:
        if parts[1] not in targets.buckets:
            raise ValueError(f"grant {grant!r}: no bucket {parts[1]!r}")
        return s3_statements(targets.buckets[parts[1]], parts[2])
    statements = _NAMED_GRANTS.get(grant)
    if statements is None:
        raise ValueError(f"unknown grant {grant!r} (see infra/functions.toml)")
    return statements(targets)


def _start(arn: str) -> list[iam.PolicyStatement]:
    return [iam.PolicyStatement(actions=["states:StartExecution"], resources=[arn])]


def _bedrock(targets: GrantTargets) -> list[iam.PolicyStatement]:
    if targets.bedrock_model_id is None:
        return []
    stack = Stack.of(targets.user_pool)
    model = f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{targets.bedrock_model_id}"
    return [iam.PolicyStatement(actions=["bedrock:InvokeModel"], resources=[model])]


_NAMED_GRANTS: dict[str, Callable[[GrantTargets], list[iam.PolicyStatement]]] = {
    "states:start": lambda t: _start(t.state_machine_arn),
    "states:start_analysis": lambda t: _start(t.analysis_state_machine_arn),
    "states:start_loop": lambda t: _start(t.learning_loop_state_machine_arn),
    "states:release": lambda t: [
        iam.PolicyStatement(actions=["states:SendTaskSuccess"], resources=[t.state_machine_arn])
    ],
    "states:fail_task": lambda t: [
        iam.PolicyStatement(actions=["states:SendTaskFailure"], resources=[t.state_machine_arn])
    ],
    "ecs:run_inference": lambda t: run_inference_statements(t.inference),
    "cognito:admin": lambda t: [
        iam.PolicyStatement(actions=COGNITO_ADMIN_ACTIONS, resources=[t.user_pool.user_pool_arn])
    ],
    "cognito:create_users": lambda t: [
        iam.PolicyStatement(actions=COGNITO_CREATE_ACTIONS, resources=[t.user_pool.user_pool_arn])
    ],
    "bedrock:invoke": _bedrock,
}


def run_inference_statements(target: InferenceTarget) -> list[iam.PolicyStatement]:
    task = target.task_definition
    in_cluster = {"ArnEquals": {"ecs:cluster": target.cluster.cluster_arn}}
    roles = [task.task_role.role_arn]
    if task.execution_role is not None:
        roles.append(task.execution_role.role_arn)
    return [
        iam.PolicyStatement(
            actions=["ecs:RunTask"], resources=[task.task_definition_arn], conditions=in_cluster
        ),
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=roles,
            conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ),
    ]


DB_GRANTS = ("db", "db:owner")


def uses_db(grants: list[str]) -> bool:
    return any(grant in DB_GRANTS for grant in grants)


def db_user(grants: list[str], database: Database) -> str:
    """The database user a function connects as: the owner for `db:owner`, else the app login."""
    return database.migration_user if "db:owner" in grants else database.app_user
