"""Object storage: presigned uploads and downloads, and the bytes the upload trigger works on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from cradlepose.adapters.aws import client
from cradlepose.adapters.s3_streams import S3MultipartWriter, S3ObjectReader

FILENAME_PLACEHOLDER = "${filename}"  # S3 replaces it with the name of the uploaded file


@dataclass(frozen=True)
class PresignedPost:
    url: str
    fields: dict[str, str]
    key: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str | None
    metadata: dict[str, str]
    etag: str | None = None  # which version of the key this is: a form used twice gives two


class ObjectMissing(Exception):
    """The object is not (or no longer) there."""


class Storage(Protocol):
    def presigned_post(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None,
        max_bytes: int,
        expires_in: int,
    ) -> PresignedPost: ...

    def presigned_get(
        self, bucket: str, key: str, *, expires_in: int, filename: str | None = None
    ) -> str: ...

    def head(self, bucket: str, key: str) -> StoredObject: ...

    def get(self, bucket: str, key: str) -> bytes: ...

    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...

    def copy(self, source_bucket: str, source_key: str, bucket: str, key: str) -> None: ...

    def delete(self, bucket: str, key: str) -> None: ...


class S3Storage:
    """Storage on S3 (or moto). Server-side encryption is the buckets' default (SSE-KMS in the cloud)."""

    def __init__(self, s3: Any | None = None) -> None:
        self._s3 = s3

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = client("s3")
        return self._s3

    def presigned_post(
        self,
        bucket: str,
        key: str,
        *,
        content_type: str | None,
        max_bytes: int,
        expires_in: int,
    ) -> PresignedPost:
        """A form for one object. A key ending in `${filename}` takes the uploaded file's own name."""
        fields: dict[str, str] = {}
        if key.endswith(FILENAME_PLACEHOLDER):
            key_condition = ["starts-with", "$key", key.removesuffix(FILENAME_PLACEHOLDER)]
        else:
            key_condition = ["eq", "$key", key]
        conditions: list[Any] = [{"bucket": bucket}, key_condition, ["content-length-range", 1, max_bytes]]
        if content_type is not None:
            fields["Content-Type"] = content_type
            conditions.append(["eq", "$Content-Type", content_type])
        else:
            conditions.append(["starts-with", "$Content-Type", "image/"])
        response = self.s3.generate_presigned_post(
            Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=expires_in)
        return PresignedPost(url=response["url"], fields=response["fields"], key=key, expires_at=expires_at)

    def presigned_get(self, bucket: str, key: str, *, expires_in: int, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'inline; filename="{filename}"'
        url: str = self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        return url

    def head(self, bucket: str, key: str) -> StoredObject:
        try:
            response = self.s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(f"s3://{bucket}/{key}") from None
            raise
        return StoredObject(
            key=key,
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
            metadata=dict(response.get("Metadata") or {}),
            etag=response.get("ETag"),
        )

    def get(self, bucket: str, key: str) -> bytes:
        try:
            body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(f"s3://{bucket}/{key}") from None
            raise
        return body

    def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        self.s3.put_object(
            Bucket=bucket, Key=key, Body=data, ContentType=content_type, Metadata=metadata or {}
        )

    def copy(self, source_bucket: str, source_key: str, bucket: str, key: str) -> None:
        try:
            source = {"Bucket": source_bucket, "Key": source_key}
            self.s3.copy_object(Bucket=bucket, Key=key, CopySource=source)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(f"s3://{source_bucket}/{source_key}") from None
            raise

    def delete(self, bucket: str, key: str) -> None:
        self.s3.delete_object(Bucket=bucket, Key=key)

    def open_read(self, bucket: str, key: str) -> S3ObjectReader:
        """The object as a seekable file, read in ranges (zipfile reads archives of any size so)."""
        try:
            return S3ObjectReader(self.s3, bucket, key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise ObjectMissing(f"s3://{bucket}/{key}") from None
            raise

    def open_write(self, bucket: str, key: str, *, content_type: str) -> S3MultipartWriter:
        """A stream that becomes the object when finished (a multipart upload: bounded memory)."""
        return S3MultipartWriter(self.s3, bucket, key, content_type)


class StreamingStorage(Storage, Protocol):
    """Storage that can also stream objects in and out (what archives of any size need)."""

    def open_read(self, bucket: str, key: str) -> S3ObjectReader: ...

    def open_write(self, bucket: str, key: str, *, content_type: str) -> S3MultipartWriter: ...
