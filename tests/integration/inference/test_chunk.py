"""A chunk end to end: manifest in, one JSON line per image out, through S3 (moto) or a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cradle_inference.chunk import OutputUnwritable, run_chunk
from cradle_inference.engine import PoseEngine
from cradle_inference.store import LocalObjectStore, S3ObjectStore
from cradlepose.domain.inference import ChunkImage, ChunkManifest, ImageResult, ModelSpec

pytestmark = pytest.mark.integration


def _manifest(keys: list[str], **fields: Any) -> ChunkManifest:
    defaults: dict[str, Any] = {
        "batch_id": 12,
        "chunk_index": 3,
        "bucket": "uploads",
        "output_bucket": "results",
        "output_key": "batch-12/chunk-0003.jsonl",
    }
    images = [ChunkImage(image_id=100 + i, key=key) for i, key in enumerate(keys)]
    return ChunkManifest(images=images, **{**defaults, **fields})


@pytest.fixture
def uploads(moto_s3: Any, sample_bytes: dict[str, bytes], pdf_named_jpg: bytes) -> Any:
    for bucket in ("uploads", "results"):
        moto_s3.create_bucket(Bucket=bucket)
    moto_s3.put_object(Bucket="uploads", Key="b12/bus.jpg", Body=sample_bytes["bus.jpg"])
    moto_s3.put_object(Bucket="uploads", Key="b12/zidane.jpg", Body=sample_bytes["zidane.jpg"])
    moto_s3.put_object(Bucket="uploads", Key="b12/scan.jpg", Body=pdf_named_jpg)
    return moto_s3


KEYS = ["b12/zidane.jpg", "b12/gone.jpg", "b12/bus.jpg", "b12/scan.jpg", "b12/zidane.jpg"]


def _lines(client: Any, bucket: str, key: str) -> tuple[bytes, list[ImageResult]]:
    body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body, [ImageResult.model_validate_json(line) for line in body.decode().splitlines()]


def test_run_chunk_writes_one_line_per_image_in_manifest_order(uploads: Any, pose_engine: PoseEngine) -> None:
    manifest = _manifest(KEYS)

    summary = run_chunk(manifest, S3ObjectStore(uploads), pose_engine)

    body, results = _lines(uploads, "results", manifest.output_key)
    assert body.endswith(b"\n")
    assert [(r.image_id, r.key) for r in results] == [(i.image_id, i.key) for i in manifest.images]
    assert [r.ok for r in results] == [True, False, True, False, True]
    assert "does not exist" in (results[1].error or "")
    assert "PDF document" in (results[3].error or "")
    assert results[0].persons == results[4].persons  # the same image twice, the same answer
    head = uploads.head_object(Bucket="results", Key=manifest.output_key)
    assert head["ContentType"] == "application/x-ndjson"
    assert (summary.images, summary.ok, summary.failed) == (5, 3, 2)
    assert summary.persons == sum(len(r.persons) for r in results)
    assert [f.image_id for f in summary.failures] == [101, 103]
    assert not summary.reused_existing_output
    assert summary.device == "cpu"


def test_running_a_chunk_twice_gives_the_same_object(uploads: Any, pose_engine: PoseEngine) -> None:
    manifest = _manifest(KEYS)
    store = S3ObjectStore(uploads)
    run_chunk(manifest, store, pose_engine)
    first, _ = _lines(uploads, "results", manifest.output_key)

    again = run_chunk(manifest, store, pose_engine)

    second, _ = _lines(uploads, "results", manifest.output_key)
    assert second == first
    assert again.reused_existing_output
    assert (again.ok, again.failed) == (3, 2)


def test_a_different_manifest_or_force_infers_again(uploads: Any, pose_engine: PoseEngine) -> None:
    store = S3ObjectStore(uploads)
    run_chunk(_manifest(KEYS), store, pose_engine)

    shorter = run_chunk(_manifest(KEYS[:2]), store, pose_engine)
    forced = run_chunk(_manifest(KEYS[:2]), store, pose_engine, force=True)

    _, results = _lines(uploads, "results", "batch-12/chunk-0003.jsonl")
    assert len(results) == 2
    assert not shorter.reused_existing_output
    assert not forced.reused_existing_output


def test_an_unwritable_output_fails_the_chunk(uploads: Any, pose_engine: PoseEngine) -> None:
    manifest = _manifest(KEYS[:1], output_bucket="no-such-bucket")

    with pytest.raises(OutputUnwritable, match="no-such-bucket"):
        run_chunk(manifest, S3ObjectStore(uploads), pose_engine)


def test_an_engine_for_another_model_is_refused(uploads: Any, pose_engine: PoseEngine) -> None:
    manifest = _manifest(KEYS[:1], model=ModelSpec(conf_threshold=0.5))

    with pytest.raises(ValueError, match="different model spec"):
        run_chunk(manifest, S3ObjectStore(uploads), pose_engine)


def test_run_chunk_on_a_local_folder(
    tmp_path: Path, pose_engine: PoseEngine, sample_bytes: dict[str, bytes]
) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "bus.jpg").write_bytes(sample_bytes["bus.jpg"])
    manifest = _manifest(["images/bus.jpg"], bucket=None, output_bucket=None, output_key="out/results.jsonl")

    summary = run_chunk(manifest, LocalObjectStore(tmp_path), pose_engine)

    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert ImageResult.model_validate_json(lines[0]).ok
    assert summary.ok == 1
    assert not list((tmp_path / "out").glob(".*.part"))
