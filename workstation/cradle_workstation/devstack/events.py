"""Events as AWS delivers them, for the local stack and the tests."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any


def object_created(bucket: str, key: str, size: int, *, region: str = "us-east-1") -> dict[str, Any]:
    """An S3 "Object Created" event as EventBridge delivers it to the upload trigger."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": size,
                "etag": uuid.uuid4().hex,
                "sequencer": uuid.uuid4().hex[:16],
            },
            "request-id": uuid.uuid4().hex[:16],
            "requester": "000000000000",
            "source-ip-address": "127.0.0.1",
            "reason": "PostObject",
        },
    }
