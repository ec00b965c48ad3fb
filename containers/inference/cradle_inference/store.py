"""Where chunk images, manifests and results live: S3 in the cloud, a folder on a laptop."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

READ_POOL = 32  # concurrent S3 reads per container: enough to hide latency behind a GPU


class ObjectMissing(Exception):
    """No object at that bucket and key: the one read failure that belongs to a single image."""


class ObjectStore(Protocol):
    def get(self, bucket: str | None, key: str) -> bytes: ...

    def put(self, bucket: str | None, key: str, data: bytes, content_type: str) -> None: ...


class S3ObjectStore:
    """S3 through boto3. Missing objects raise ObjectMissing; anything else (access, throttling
    after boto3's retries) propagates, since it is about the chunk, not one image."""

    def __init__(self, client: Any | None = None, endpoint_url: str | None = None) -> None:
        if client is None:
            import boto3  # noqa: PLC0415 - the local store must work without AWS libraries
            from botocore.config import Config  # noqa: PLC0415

            client = boto3.client(
                "s3",
                endpoint_url=endpoint_url,
                config=Config(max_pool_connections=READ_POOL, retries={"mode": "standard"}),
            )
        self._client = client

    def get(self, bucket: str | None, key: str) -> bytes:
        try:
            response = self._client.get_object(Bucket=_bucket(bucket), Key=key)
        except self._client.exceptions.NoSuchKey as error:
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from error
        body: bytes = response["Body"].read()
        return body

    def put(self, bucket: str | None, key: str, data: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=_bucket(bucket), Key=key, Body=data, ContentType=content_type)


def _bucket(bucket: str | None) -> str:
    if not bucket:
        raise ValueError("an S3 object needs a bucket; a manifest without one names local paths")
    return bucket


class LocalObjectStore:
    """A folder standing in for S3: bucket `b`, key `k` is `root/b/k`; with no bucket, the key is
    a path (relative to `root`, or absolute)."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root or Path.cwd()

    def path(self, bucket: str | None, key: str) -> Path:
        return self._root / bucket / key if bucket else self._root / key

    def get(self, bucket: str | None, key: str) -> bytes:
        try:
            return self.path(bucket, key).read_bytes()
        except FileNotFoundError as error:
            raise ObjectMissing(f"{self.path(bucket, key)} does not exist") from error

    def put(self, bucket: str | None, key: str, data: bytes, content_type: str) -> None:
        target = self.path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write beside and rename, so a reader never sees half an object (as with S3).
        handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(partial, target)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise


def split_s3_url(url: str) -> tuple[str, str]:
    """("bucket", "key") of s3://bucket/key."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise ValueError(f"{url!r} is not s3://bucket/key")
    return bucket, key
