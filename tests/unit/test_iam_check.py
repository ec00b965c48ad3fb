"""The IAM checker of tests/e2e/iam_check.py on a small template: actions, wildcards, resources."""

from __future__ import annotations

from typing import Any

import pytest

from cradlepose.adapters.aws_call_log import AwsCall
from tests.e2e import iam_check

pytestmark = pytest.mark.unit

KINDS = {"local-uploads": "uploads", "local-models": "models"}
MACHINES = {"arn:local:batch": "batch_pipeline", "arn:local:analysis": "analysis_report"}


def _objects(bucket: str, keys: str = "/*") -> dict[str, Any]:
    return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, keys]]}


def _template(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "Resources": {
            "StorageUploadsBDC5E374": {"Type": "AWS::S3::Bucket"},
            "StorageModels44005BB0": {"Type": "AWS::S3::Bucket"},
            "StorageUploadsKey960DCD81": {"Type": "AWS::KMS::Key"},
            "RolePolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"Roles": [{"Ref": "Role"}], "PolicyDocument": {"Statement": list(statements)}},
            },
        }
    }


def _allow(action: str | list[str], resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _missing(template: dict[str, Any], *calls: AwsCall) -> list[tuple[str, str | None]]:
    roles = {"fn": iam_check.role_statements(template, "Role")}
    return [(m.action, m.resource) for m in iam_check.check(calls, roles, KINDS, MACHINES)]


def test_a_head_object_needs_get_object_on_that_bucket_only() -> None:
    template = _template(_allow("s3:GetObject", _objects("StorageModels44005BB0")))
    head = AwsCall("fn", "s3", "HeadObject", bucket="local-uploads", key="images/1.jpg")

    assert _missing(template, head) == [("s3:GetObject", "s3:objects:uploads/images/1.jpg")]


def test_a_key_pattern_limits_the_objects() -> None:
    template = _template(
        _allow("s3:PutObject", _objects("StorageModels44005BB0", "/trained/*")),
        _allow("kms:GenerateDataKey", "*"),
    )
    trained = AwsCall("fn", "s3", "PutObject", bucket="local-models", key="trained/job-1/best.pt")
    registered = AwsCall("fn", "s3", "PutObject", bucket="local-models", key="yolo/v3/best.pt")

    assert _missing(template, trained, registered) == [("s3:PutObject", "s3:objects:models/yolo/v3/best.pt")]


def test_a_put_needs_the_bucket_key_for_its_data_key() -> None:
    template = _template(_allow(["s3:PutObject"], _objects("StorageUploadsBDC5E374")))
    put = AwsCall("fn", "s3", "PutObject", bucket="local-uploads", key="k")

    assert _missing(template, put) == [("kms:GenerateDataKey", "kms:key:uploads")]


def test_wildcard_actions_match_and_a_start_needs_its_own_machine() -> None:
    arn = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":states:r:1:stateMachine:cradle-dev-batch-pipeline"],
        ]
    }
    template = _template(_allow("states:Start*", arn), _allow("cognito-idp:Admin*", "*"))
    calls = [
        AwsCall("fn", "states", "StartExecution", target="arn:local:batch"),
        AwsCall("fn", "states", "StartExecution", target="arn:local:analysis"),
        AwsCall("fn", "cognito-idp", "AdminDisableUser"),
    ]

    assert _missing(template, *calls) == [("states:StartExecution", "states:analysis_report")]


def test_an_unused_grant_is_reported_with_its_resource() -> None:
    template = _template(
        _allow("s3:GetObject", _objects("StorageUploadsBDC5E374")),
        _allow("s3:DeleteObject", _objects("StorageUploadsBDC5E374")),
        _allow("logs:PutLogEvents", "*"),  # the baseline is never reported
    )
    roles = {"fn": iam_check.role_statements(template, "Role")}
    get = AwsCall("fn", "s3", "GetObject", bucket="local-uploads", key="k")

    assert iam_check.unused([get], roles, KINDS, MACHINES) == {
        ("fn", "s3:DeleteObject", "s3:objects:uploads/*")
    }
