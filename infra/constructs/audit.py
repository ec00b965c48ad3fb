"""CloudTrail: every management event in every region, plus S3 data events on the image buckets.

Log files are KMS-encrypted with their own key, validated (digest files), delivered to a private
bucket (TLS only, versioned, access-logged, kept six years in prod) and to CloudWatch Logs for
alarms and queries.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.keys import data_key
from infra.constructs.nag import acknowledge
from infra.constructs.storage import NO_REPLICATION

IMAGE_BUCKETS = ("uploads", "derived", "results", "exports", "models")


class Audit(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        access_logs: s3.IBucket,
        logs_key: kms.IKey,
        data_buckets: dict[str, s3.IBucket],
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        stack = Stack.of(self)
        trail_name = f"{config.prefix}-trail"
        trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
        any_trail = f"arn:{stack.partition}:cloudtrail:*:{stack.account}:trail/*"
        self.key = data_key(self, "TrailKey", config, "CloudTrail log files")
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncrypt",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": any_trail},
                    "StringEquals": {"aws:SourceArn": trail_arn},
                },
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribe",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=["kms:DescribeKey"],
                resources=["*"],
            )
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3/trail/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="trail-files",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90)
                        )
                    ]
                    if config.access_log_days > 180
                    else None,
                    expiration=Duration.days(config.access_log_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=removal,
        )
        acknowledge(self.bucket, NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled")
        log_group = logs.LogGroup(
            self,
            "Logs",
            encryption_key=logs_key,
            retention=config.log_retention,
            removal_policy=removal,
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.bucket,
            encryption_key=self.key,
            enable_file_validation=True,
            include_global_service_events=True,
            is_multi_region_trail=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=log_group,
        )
        self.trail.add_s3_event_selector(
            [
                cloudtrail.S3EventSelector(bucket=data_buckets[name])
                for name in IMAGE_BUCKETS
                if name in data_buckets
            ],
            read_write_type=cloudtrail.ReadWriteType.ALL,
            include_management_events=False,
        )
        self.log_group = log_group
