"""moto's S3, kept on disk so the local stack's objects outlive a restart (written for moto 5.2.5).

moto keeps objects in memory; the local stack's database keeps its rows on disk. Without this,
a restart would forget every uploaded image while the database still names them. The mirror
writes each object stored in the named buckets to `<root>/<bucket>/<sha256 of key>.bin`, with a
`.json` beside it (the key, content type and user metadata), and removes both when the object
is deleted. `restore` puts them back into a fresh moto through the S3 API, which also sends the
buckets' EventBridge notifications again: an upload still under `incoming/` reaches the upload
trigger after a restart as it would have before.

What it patches, while installed (undone on exit), in `moto.s3.models`:
- `S3Backend.put_object`: every PUT, POST form, copy and multipart completion ends there; the
  bytes are written before the request is answered.
- `FakeKey.set_metadata`: moto sets the content type and `x-amz-meta-*` after `put_object`.
- `S3Backend.delete_object`: `delete_objects` calls it too.
Files are written beside and renamed, so a crash leaves the old version or the new, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.s3 import models as s3_models

from cradle_workstation.devstack.moto_patches import MotoPatch

USER_METADATA_PREFIX = "x-amz-meta-"


class S3Mirror(MotoPatch):
    written_for = "5.2.5"
    refusal = "moto's S3 is already mirrored by another local stack in this process"

    def __init__(self, root: Path, buckets: set[str]) -> None:
        super().__init__()
        self.root = root
        self.buckets = set(buckets)

    # ------------------------------------------------------------------ files
    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        name = hashlib.sha256(key.encode()).hexdigest()
        folder = self.root / bucket
        return folder / f"{name}.bin", folder / f"{name}.json"

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def stored(self, bucket: str, key: str, value: bytes) -> None:
        data, meta = self._paths(bucket, key)
        self._write(data, bytes(value))
        self._write(meta, json.dumps({"key": key, "content_type": None, "metadata": {}}).encode())

    def described(self, bucket: str, key: str, metadata: dict[str, str]) -> None:
        data, meta = self._paths(bucket, key)
        if not data.exists():
            return
        content_type = metadata.get("content-type") or metadata.get("Content-Type")
        user = {
            k[len(USER_METADATA_PREFIX) :]: v
            for k, v in metadata.items()
            if k.lower().startswith(USER_METADATA_PREFIX)
        }
        self._write(meta, json.dumps({"key": key, "content_type": content_type, "metadata": user}).encode())

    def removed(self, bucket: str, key: str) -> None:
        for path in self._paths(bucket, key):
            path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ restore
    def restore(self, s3: Any) -> int:
        """Put every mirrored object back through `s3` (a boto3 client of the fresh moto)."""
        count = 0
        for bucket in sorted(self.buckets):
            folder = self.root / bucket
            if not folder.is_dir():
                continue
            for meta in sorted(folder.glob("*.json")):
                data = meta.with_suffix(".bin")
                if not data.exists():
                    meta.unlink(missing_ok=True)
                    continue
                info = json.loads(meta.read_text())
                params: dict[str, Any] = {"Bucket": bucket, "Key": info["key"], "Body": data.read_bytes()}
                if info.get("content_type"):
                    params["ContentType"] = info["content_type"]
                if info.get("metadata"):
                    params["Metadata"] = info["metadata"]
                s3.put_object(**params)
                count += 1
        return count

    # ------------------------------------------------------------------ the patch
    def _install(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)  # the state folder's shape, before any object
        backend, key_class = s3_models.S3Backend, s3_models.FakeKey
        originals: dict[str, Callable[..., Any]] = {
            "put_object": backend.put_object,
            "delete_object": backend.delete_object,
            "set_metadata": key_class.set_metadata,
        }
        mirror = self

        def put_object(
            backend_self: Any, bucket_name: str, key_name: str, value: bytes, *a: Any, **k: Any
        ) -> Any:
            key = originals["put_object"](backend_self, bucket_name, key_name, value, *a, **k)
            if bucket_name in mirror.buckets:
                mirror.stored(bucket_name, key_name, key.value)
            return key

        def set_metadata(key_self: Any, metadata: Any, replace: bool = False) -> None:
            originals["set_metadata"](key_self, metadata, replace)
            if key_self.bucket_name in mirror.buckets:
                mirror.described(key_self.bucket_name, key_self.name, dict(key_self.metadata))

        def delete_object(backend_self: Any, bucket_name: str, key_name: str, *a: Any, **k: Any) -> Any:
            result = originals["delete_object"](backend_self, bucket_name, key_name, *a, **k)
            if bucket_name in mirror.buckets and result[0]:
                mirror.removed(bucket_name, key_name)
            return result

        self.replace(backend, "put_object", put_object)
        self.replace(backend, "delete_object", delete_object)
        self.replace(key_class, "set_metadata", set_metadata)
