"""Cradle end to end on this machine: the local stack over HTTP with the real pose engine on the CPU.

Sign in with the local identity provider, create a batch through the API, upload through the
presigned forms to moto's S3, let the S3 event reach the upload trigger, and the batch pipeline
run in moto's ASL interpreter with in-process Lambdas and CPU inference, until the batch is ready
for annotation: keypoints for every good image, the broken one recorded.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from tests.images import photo
from tests.stack_support import ApiSession, running_stack, upload, wait_for

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

SIZE = (640, 480)


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _sample(name: str) -> bytes:
    """One of Ultralytics' sample photographs (people in them), cropped to 4:3 and scaled to 640×480."""
    from ultralytics.utils import ASSETS  # noqa: PLC0415 - the e2e test only

    with Image.open(Path(ASSETS) / name) as image:
        width, height = image.size
        crop_height = min(height, width * 3 // 4)
        crop_width = crop_height * 4 // 3
        left, top = (width - crop_width) // 2, (height - crop_height) // 2
        return _jpeg(image.crop((left, top, left + crop_width, top + crop_height)).resize(SIZE))


def _damaged(data: bytes) -> bytes:
    """A JPEG whose compressed data is broken: ingest cannot prove its pixels, so it is refused."""
    broken = bytearray(data)
    scan = broken.index(b"\xff\xda") + 2000
    for offset in range(0, 400, 40):
        broken[scan + offset : scan + offset + 2] = b"\xff\x01"
    return bytes(broken)


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it

    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("e2e"), pipeline_chunk_size=2
    ) as running:
        yield running


def test_a_batch_is_uploaded_and_pre_annotated_on_the_cpu(stack: LocalStack) -> None:
    started = time.monotonic()
    files = {
        "bus.jpg": _sample("bus.jpg"),
        "zidane.jpg": _sample("zidane.jpg"),
        "astronaut.jpg": _jpeg(photo(SIZE)),
        "damaged.jpg": _damaged(_jpeg(photo(SIZE, seed=3))),
    }

    # Given an administrator signed in with the local identity provider
    api = ApiSession.sign_in(stack)

    # When they create a batch of four and upload each file through its presigned form
    created = api.create_batch(list(files))
    for form in created["uploads"]:
        upload(form, files[form["filename"]], form["filename"])

    # Then the damaged file is refused at intake, with the reason, and never becomes an image
    batch_id = created["batch"]["id"]
    report = wait_for(
        lambda: (
            (r := api.call("GET", f"/batches/{batch_id}/uploads").json())["registered"] + r["rejected"] == 4
            and r
        ),
        timeout_s=60,
    )
    (refused,) = [f for f in report["files"] if f["state"] == "rejected"]
    assert refused["filename"] == "damaged.jpg"
    assert "corrupt or unreadable" in refused["reason"]

    # When the uploader says the upload is complete (a refused file keeps the batch open for a
    # replacement), the pipeline pre-annotates the rest and opens the batch for annotation
    assert api.call("POST", f"/batches/{batch_id}/complete").status_code == 200
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=120)
    assert ready["images_registered"] == 3
    assert ready["uploads_rejected"] == 1
    assert ready["failed_yolo_count"] == 0
    assert ready["yolo_model_version"] == "yolo11n-pose@8.4"
    assert ready["pipeline_run"]["status"] == "RUNNING"  # it waits for the people now

    db = sa.create_engine(stack.database_url, poolclass=sa.NullPool)
    with db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT original_filename, status, yolo_keypoints, yolo_confidence, yolo_error, yolo_processing_time_ms "
                "FROM images WHERE batch_id = :b ORDER BY original_filename"
            ),
            {"b": batch_id},
        ).all()
    db.dispose()
    images = {row[0]: row for row in rows}
    for name in ("astronaut.jpg", "bus.jpg", "zidane.jpg"):
        _, status, keypoints, confidence, error, time_ms = images[name]
        assert status == "YOLO_PROCESSED", name
        assert error is None
        assert [k["name"] for k in keypoints["keypoints"]][:3] == ["nose", "left_eye", "right_eye"], name
        assert len(keypoints["keypoints"]) == 17
        assert all(
            0 <= k["x"] <= SIZE[0] and 0 <= k["y"] <= SIZE[1] for k in keypoints["keypoints"] if k["visible"]
        )
        assert confidence is not None
        assert float(confidence) > 0.3, name
        assert time_ms is not None
        assert time_ms > 0
    assert "damaged.jpg" not in images
    elapsed = time.monotonic() - started
    log.info("uploaded to ready for annotation in %.1f s", elapsed)
    assert elapsed < 120  # about 9 s on a 2-core laptop


def test_the_demo_story_runs_from_upload_to_verified_and_reported(stack: LocalStack, tmp_path: Path) -> None:
    from cradle_workstation.demo import story  # noqa: PLC0415 - the demo's own code, as `cradle demo` runs it

    summary = story.run(stack, tmp_path, log.info)

    assert summary.batch_status == "COMPLETED"
    # The API's commit of COMPLETED released the execution's wait itself; it ran to its end.
    assert summary.execution_status == "SUCCEEDED"
    assert summary.execution_states[:2] == ["BatchCompleted", "AnalysePoses"]
    assert summary.execution_states[-1] == "Completed"
    assert summary.uploads["scan-notes.jpg"].startswith("rejected")
    assert sum(v.startswith("registered") for v in summary.uploads.values()) == 4
    assert all(found >= 5 for found in summary.keypoints_found.values()), summary.keypoints_found
    decisions = [decision for _, decision in summary.decisions]
    assert decisions.count("MINOR_REVISION_NEEDED") == 1
    assert decisions.count("APPROVED") + decisions.count("APPROVED_WITH_CORRECTIONS") == 4
    revised = next(image for image, decision in summary.decisions if decision == "MINOR_REVISION_NEEDED")
    assert summary.decisions[-1] == (revised, "APPROVED")  # the revision came back and passed
    assert summary.annotator_metrics["images_annotated"] == 4
    assert summary.verifier_metrics["annotations_verified"] == 5
    assert summary.export_path is not None
    assert summary.export_path.is_file()
    assert summary.exported_annotations == 4  # every verified image, keypoints as COCO triplets
    assert summary.report_path is not None
    assert "not a diagnosis" in summary.report_path.read_text().lower()
    assert len(summary.pictures) == 4
    with Image.open(summary.pictures[0]) as picture:
        assert picture.width > picture.height  # YOLO's and the verified skeleton side by side
    db = sa.create_engine(stack.database_url, poolclass=sa.NullPool)
    with db.connect() as conn:
        versions = conn.execute(
            sa.text(
                "SELECT i.original_filename, a.version, a.status FROM annotations a JOIN images i ON i.id = a.image_id "
                "WHERE i.batch_id = :b ORDER BY 1, 2"
            ),
            {"b": summary.batch_id},
        ).all()
    db.dispose()
    by_image: dict[str, list[tuple[int, str]]] = {}
    for name, version, status in versions:
        by_image.setdefault(name, []).append((version, status))
    assert by_image[revised][-1] == (2, "APPROVED")
    assert all(history[-1][1] == "APPROVED" for history in by_image.values())
