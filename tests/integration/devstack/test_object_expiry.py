"""The local stack applies the retention table's expiry rules to its buckets, as S3 lifecycle does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cradle_workstation.devstack import object_expiry
from cradlepose import retention_table

pytestmark = pytest.mark.integration

BUCKETS = {"uploads": "t-uploads", "derived": "t-derived", "results": "t-results", "exports": "t-exports"}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for bucket in BUCKETS.values():
            client.create_bucket(Bucket=bucket)
        object_expiry.put_rules(client, BUCKETS, retention_table.load())
        yield client


def _keys(s3: Any, bucket: str) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_each_bucket_carries_the_tables_rules_with_the_local_ages(s3: Any) -> None:
    table = retention_table.load()
    for role, bucket in BUCKETS.items():
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert {(r["ID"], r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules} == {
            (rule.id, rule.prefix, rule.days.local) for rule in table.for_bucket(role)
        }


def test_quarantine_and_import_originals_expire_and_images_stay(s3: Any) -> None:
    # Given a rejected upload in quarantine, an import's original archive, and a stored image
    s3.put_object(Bucket="t-derived", Key="quarantine/1/ab/IMG_0001.jpg", Body=b"x")
    s3.put_object(Bucket="t-derived", Key="thumbnails/1/1.jpg", Body=b"x")
    s3.put_object(Bucket="t-uploads", Key="imports/abc/archive.zip", Body=b"x")
    s3.put_object(Bucket="t-uploads", Key="images/1/ab12", Body=b"x")
    now = dt.datetime.now(dt.UTC)
    names = list(BUCKETS.values())
    # When a day passes, nothing is old enough
    assert object_expiry.sweep(s3, names, now + dt.timedelta(days=1)) == []
    # When the import rule's age (7 days locally) has passed, the archive goes and the rest stays
    assert object_expiry.sweep(s3, names, now + dt.timedelta(days=7, hours=1)) == [
        ("t-uploads", "imports/abc/archive.zip")
    ]
    # And after the quarantine's age (14 days), the rejected upload goes too; images never expire
    assert object_expiry.sweep(s3, names, now + dt.timedelta(days=15)) == [
        ("t-derived", "quarantine/1/ab/IMG_0001.jpg")
    ]
    assert _keys(s3, "t-derived") == {"thumbnails/1/1.jpg"}
    assert _keys(s3, "t-uploads") == {"images/1/ab12"}
