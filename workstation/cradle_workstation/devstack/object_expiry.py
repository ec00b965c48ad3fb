"""S3 lifecycle expiry on the local stack: moto stores lifecycle rules but never applies them.

The stack puts the rules of `infra/retention.toml` (the `local` ages) on its buckets, as the CDK
app does on the cloud's, and a timer applies whatever rules each bucket carries: every object older
than a rule's `Expiration.Days` under its prefix is deleted. Ages count from `LastModified`; an
object restored from the state directory when the stack starts counts from its restore.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from cradlepose.retention_table import RetentionTable


def lifecycle_configuration(table: RetentionTable, bucket_role: str) -> dict[str, Any] | None:
    rules = [
        {
            "ID": rule.id,
            "Filter": {"Prefix": rule.prefix},
            "Status": "Enabled",
            "Expiration": {"Days": rule.days_for("local")},
        }
        for rule in table.for_bucket(bucket_role)
    ]
    return {"Rules": rules} if rules else None


def put_rules(s3: Any, buckets: dict[str, str], table: RetentionTable) -> None:
    """`buckets` maps each bucket's role (uploads, derived, …) to its name."""
    for role, bucket in buckets.items():
        configuration = lifecycle_configuration(table, role)
        if configuration is not None:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=configuration)


def sweep(s3: Any, bucket_names: list[str], now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """Delete what each bucket's own lifecycle rules have expired; returns (bucket, key) deleted."""
    now = now or dt.datetime.now(dt.UTC)
    deleted: list[tuple[str, str]] = []
    for bucket in bucket_names:
        for rule in _rules(s3, bucket):
            days = rule.get("Expiration", {}).get("Days")
            if rule.get("Status") != "Enabled" or days is None:
                continue
            prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
            cutoff = now - dt.timedelta(days=int(days))
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["LastModified"] < cutoff:
                        s3.delete_object(Bucket=bucket, Key=item["Key"])
                        deleted.append((bucket, item["Key"]))
    return deleted


def _rules(s3: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        rules: list[dict[str, Any]] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise
    return rules
