"""Customer-managed KMS keys: one per kind of data, rotated yearly, kept when a prod stack goes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.config import StageConfig


def data_key(scope: Construct, construct_id: str, config: StageConfig, what: str) -> kms.Key:
    """A symmetric key for `what`, with yearly rotation and an alias `alias/cradle-<stage>/<id>`."""
    return kms.Key(
        scope,
        construct_id,
        description=f"Cradle {config.name}: {what}",
        alias=f"alias/{config.prefix}/{construct_id.lower()}",
        enable_key_rotation=True,
        pending_window=Duration.days(30 if config.retain_data else 7),
        removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
    )


def logs_key(scope: Construct, config: StageConfig) -> kms.Key:
    """The key of every CloudWatch Logs group of the stage; CloudWatch Logs may use it for them."""
    key = data_key(scope, "Logs", config, "CloudWatch Logs groups")
    stack = Stack.of(scope)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchLogsUse",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ],
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": (
                        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:*"
                    )
                }
            },
        )
    )
    return key
