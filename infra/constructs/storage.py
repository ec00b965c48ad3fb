"""S3: the access-log bucket and the data buckets (uploads, derived, results, exports, models).

Every data bucket: Block Public Access, its own KMS key (S3 Bucket Keys on), TLS 1.2+ only,
versioning, server access logs, lifecycle rules, RETAIN in prod. Only the uploads bucket answers CORS
(the web UI POSTs to it with presigned forms and draws its images on a canvas) and only it sends
EventBridge notifications (Object Created under incoming/ starts the upload trigger).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cradlepose import retention_table
from infra.config import StageConfig
from infra.constructs.keys import data_key
from infra.constructs.nag import acknowledge

DATA_BUCKETS = ("uploads", "derived", "results", "exports", "models")
INCOMING_PREFIX = "incoming/"

NO_REPLICATION = (
    "Cradle keeps health data in one region on purpose (data residency of the hospitals' images); "
    "loss is covered by versioning with noncurrent-version retention, RETAIN on stack deletion in "
    "prod and KMS keys that are retained too. Cross-region replication would copy PHI into a second "
    "jurisdiction and needs the data controller's decision first."
)


@dataclass(frozen=True)
class Bucket:
    bucket: s3.Bucket
    key: kms.Key


class Storage(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        access_logs: s3.IBucket,
        web_origins: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.access_logs = access_logs

        # Expiry by age comes from infra/retention.toml (the local stack applies the same table);
        # every bucket also drops old versions after the stage's noncurrent window.
        expiry = retention_table.load()
        lifecycle: dict[str, list[s3.LifecycleRule]] = {
            name: [self._expiry_rule(rule) for rule in expiry.for_bucket(name)] + [self._noncurrent_rule()]
            for name in DATA_BUCKETS
        }
        self.buckets: dict[str, Bucket] = {}
        for name in DATA_BUCKETS:
            key = data_key(self, f"{name.capitalize()}Key", config, f"the {name} bucket")
            bucket = s3.Bucket(
                self,
                name.capitalize(),
                encryption=s3.BucketEncryption.KMS,
                encryption_key=key,
                bucket_key_enabled=True,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                enforce_ssl=True,
                minimum_tls_version=1.2,
                versioned=True,
                server_access_logs_bucket=self.access_logs,
                server_access_logs_prefix=f"s3/{name}/",
                lifecycle_rules=lifecycle[name],
                cors=self._upload_cors(web_origins) if name == "uploads" else None,
                removal_policy=removal,
            )
            if name == "uploads":
                # Set on the resource itself: CDK's event_bridge_enabled would add a custom-resource Lambda.
                cfn = bucket.node.default_child
                assert isinstance(cfn, s3.CfnBucket)
                cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                    event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                        event_bridge_enabled=True
                    )
                )
            acknowledge(bucket, NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled")
            self.buckets[name] = Bucket(bucket, key)

    def _expiry_rule(self, rule: retention_table.ExpiryRule) -> s3.LifecycleRule:
        return s3.LifecycleRule(
            id=rule.id,
            prefix=rule.prefix or None,
            expiration=Duration.days(rule.days_for(self._config.name)),
            noncurrent_version_expiration=Duration.days(1),
            abort_incomplete_multipart_upload_after=Duration.days(1),
        )

    def _noncurrent_rule(self) -> s3.LifecycleRule:
        return s3.LifecycleRule(
            id="noncurrent-versions",
            noncurrent_version_expiration=Duration.days(self._config.noncurrent_days),
            abort_incomplete_multipart_upload_after=Duration.days(1),
            expired_object_delete_marker=True,
        )

    @staticmethod
    def _upload_cors(origins: list[str]) -> list[s3.CorsRule]:
        return [
            s3.CorsRule(
                allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
                allowed_origins=origins,
                allowed_headers=["*"],
                exposed_headers=["ETag"],
                max_age=3600,
            )
        ]


def access_log_bucket(
    scope: Construct,
    construct_id: str,
    config: StageConfig,
    *,
    for_cloudfront: bool = False,
    access_logs: s3.IBucket | None = None,
) -> s3.Bucket:
    """Where S3 server access logs go (or, `for_cloudfront`, CloudFront standard logs).

    SSE-S3, not KMS: S3 server access logging cannot deliver to a bucket whose default encryption is
    SSE-KMS, and CloudFront standard logs cannot either. S3 delivers by bucket policy (ACLs off);
    CloudFront standard logging still writes with an ACL, so its bucket keeps ACLs (owner preferred)
    and is itself access-logged into the first one.
    """
    bucket = s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED
        if for_cloudfront
        else s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        versioned=True,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="s3/cloudfront-logs/" if access_logs else None,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="access-logs",
                transitions=[
                    s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90))
                ]
                if config.access_log_days > 180
                else None,
                expiration=Duration.days(config.access_log_days),
                noncurrent_version_expiration=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
    )
    if access_logs is None:
        acknowledge(
            bucket,
            "This is the access-log bucket itself; logging it into itself would loop. Its objects are "
            "written only by the S3 log delivery service.",
            "AwsSolutions-S1",
            "HIPAA.Security-S3BucketLoggingEnabled",
        )
    acknowledge(
        bucket,
        "S3 server access logging and CloudFront standard logging cannot deliver to an SSE-KMS bucket "
        "(AWS documents SSE-S3 as the only supported default encryption for log target buckets). The "
        "logs hold request metadata, not images.",
        "HIPAA.Security-S3DefaultEncryptionKMS",
    )
    acknowledge(bucket, NO_REPLICATION, "HIPAA.Security-S3BucketReplicationEnabled")
    return bucket
