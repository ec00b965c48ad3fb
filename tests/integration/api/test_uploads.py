"""Create a batch, upload through the presigned forms, and let the trigger register each image."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import numpy as np
import pytest
import requests
import sqlalchemy as sa
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from PIL import Image, ImageOps

from cradle_workstation.devstack.events import object_created
from cradlepose.adapters.storage import S3Storage
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.intake import uploads
from cradlepose.settings import get_settings
from tests.hostile_images import HOSTILE, SECRET, Hostile, primary_pixels
from tests.images import PDF_BYTES, blurred_dark_jpeg, jpeg_with_metadata, png_with_text
from tests.support import ApiClient, Persona
from triggers import upload

pytestmark = pytest.mark.integration


def _post(form: dict[str, Any], data: bytes, filename: str, content_type: str) -> int:
    response = requests.post(
        form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=10
    )
    return response.status_code


def _deliver(uow_factory: UnitOfWorkFactory, key: str, size: int) -> dict[str, Any]:
    event = S3EventBridgeNotificationEvent(object_created("cradle-uploads", key, size))
    return upload.handle(event, uow_factory=uow_factory, storage=S3Storage())


def _policy(form: dict[str, Any]) -> dict[str, Any]:
    return json.loads(base64.b64decode(form["fields"]["policy"]))


def _create(api: ApiClient, admin: Persona, files: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/batches", admin, body={"batch_name": "session 12", "uploads": {"files": files}})
    assert response.status == 201, response.body
    return response.json


def test_upload_registers_a_clean_image_with_thumbnail_and_quality(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    original = jpeg_with_metadata((800, 600))
    created = _create(api, admin, [{"filename": "infant 01.JPG", "size": len(original)}])
    form = created["uploads"][0]
    assert created["batch"]["status"] == "UPLOADED"
    assert created["batch"]["total_images"] == 1

    # The bytes go straight to S3 through the form
    assert _post(form, original, "infant 01.JPG", "image/jpeg") == 204

    # S3's ObjectCreated event reaches the trigger
    result = _deliver(uow_factory, form["key"], len(original))
    assert result["outcome"] == "registered", result

    image = api.get(f"/images/{result['image_id']}", admin).json
    assert image["width"] == 800
    assert image["height"] == 600
    assert image["format"] == "JPEG"
    assert image["original_filename"] == "infant 01.JPG"
    assert image["anonymization_status"] is True
    assert 1 <= float(image["image_quality_score"]) <= 10
    assert image["thumbnail_url"]

    s3 = boto3.client("s3", region_name="us-east-1")
    settings = get_settings()
    batch_id, slot = created["batch"]["id"], form["key"].split("/")[2]
    clean = s3.get_object(Bucket=settings.uploads_bucket, Key=f"images/{batch_id}/{slot}")["Body"].read()
    # No EXIF, GPS, serial number or comment is left, and not one pixel changed
    assert b"Exif" not in clean
    assert b"SN-123456" not in clean
    assert b"patient 0042" not in clean
    with Image.open(io.BytesIO(clean)) as cleaned, Image.open(io.BytesIO(original)) as before:
        assert dict(cleaned.getexif()) == {}
        assert "exif" not in cleaned.info
        assert "comment" not in cleaned.info
        assert np.array_equal(np.asarray(cleaned), np.asarray(before))
    thumbnail = s3.get_object(Bucket=settings.derived_bucket, Key=f"thumbnails/{batch_id}/{slot}.jpg")[
        "Body"
    ].read()
    with Image.open(io.BytesIO(thumbnail)) as thumb:
        assert max(thumb.size) == settings.thumbnail_max_side
    # The raw upload does not linger
    assert s3.list_objects_v2(Bucket=settings.uploads_bucket, Prefix="incoming/")["KeyCount"] == 0


def test_the_same_event_twice_registers_one_image(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    data = jpeg_with_metadata()
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form = created["uploads"][0]
    _post(form, data, "a.jpg", "image/jpeg")

    first = _deliver(uow_factory, form["key"], len(data))
    second = _deliver(uow_factory, form["key"], len(data))

    assert first["outcome"] == "registered"
    assert second["outcome"] == "duplicate"
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM images")) == 1
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'IMAGE_REGISTERED'")) == 1


def test_a_renamed_pdf_is_rejected_quarantined_and_reported(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    created = _create(api, admin, [{"filename": "scan.jpg"}])
    form = created["uploads"][0]
    _post(form, PDF_BYTES, "scan.jpg", "image/jpeg")

    result = _deliver(uow_factory, form["key"], len(PDF_BYTES))
    again = _deliver(uow_factory, form["key"], len(PDF_BYTES))

    assert result["outcome"] == "rejected"
    assert "PDF document" in result["reason"]
    assert again["outcome"] in ("duplicate", "ignored")
    report = api.get(f"/batches/{created['batch']['id']}/uploads", admin).json
    assert report["registered"] == 0
    assert report["rejected"] == 1
    assert report["files"] == [
        {
            "filename": "scan.jpg",
            "slot": form["key"].split("/")[2],
            "state": "rejected",
            "image_id": None,
            "reason": result["reason"],
            "duplicate_of": None,
        }
    ]
    s3 = boto3.client("s3", region_name="us-east-1")
    quarantined = s3.list_objects_v2(Bucket="cradle-derived", Prefix="quarantine/")
    assert quarantined["KeyCount"] == 1
    assert s3.list_objects_v2(Bucket="cradle-uploads", Prefix="incoming/")["KeyCount"] == 0


def test_an_oversize_upload_is_rejected(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = jpeg_with_metadata()
    created = _create(api, admin, [{"filename": "big.jpg"}])
    form = created["uploads"][0]
    _post(form, data, "big.jpg", "image/jpeg")  # moto does not enforce the form's size condition
    monkeypatch.setenv("CRADLE_MAX_UPLOAD_BYTES", str(len(data) - 1))
    get_settings.cache_clear()

    result = _deliver(uow_factory, form["key"], len(data))

    assert result["outcome"] == "rejected"
    assert "over the upload limit" in result["reason"]


def test_a_declared_oversize_file_gets_413(api: ApiClient, admin: Persona) -> None:
    limit = get_settings().max_upload_bytes
    response = api.post(
        "/batches",
        admin,
        body={"batch_name": "b", "uploads": {"files": [{"filename": "x.jpg", "size": limit + 1}]}},
    )
    assert response.status == 413
    assert response.json["status"] == 413


def test_forms_carry_the_conditions_s3_enforces(api: ApiClient, admin: Persona) -> None:
    before = dt.datetime.now(dt.UTC)
    created = _create(api, admin, [{"filename": "a.png"}])
    form = created["uploads"][0]
    policy = _policy(form)
    conditions = policy["conditions"]
    settings = get_settings()

    assert ["eq", "$key", form["key"]] in conditions
    assert form["key"].startswith(f"incoming/{created['batch']['id']}/")
    assert ["content-length-range", 1, settings.max_upload_bytes] in conditions
    assert ["eq", "$Content-Type", "image/png"] in conditions
    assert {"bucket": settings.uploads_bucket} in conditions
    # The form expires after the configured time: an expired form is refused by S3 itself
    expiration = dt.datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    ttl = dt.timedelta(seconds=settings.upload_url_ttl_seconds)
    assert before + ttl - dt.timedelta(seconds=5) <= expiration <= before + ttl + dt.timedelta(seconds=5)
    assert dt.datetime.fromisoformat(form["expires_at"]) == pytest.approx(
        expiration, abs=dt.timedelta(seconds=5)
    )


def test_forms_for_unnamed_files_keep_the_files_own_name(api: ApiClient, admin: Persona) -> None:
    response = api.post("/batches", admin, body={"batch_name": "b", "uploads": {"count": 2}})
    assert response.status == 201, response.body
    forms = response.json["uploads"]
    assert len(forms) == 2
    for form in forms:
        conditions = _policy(form)["conditions"]
        prefix = form["key"].removesuffix("${filename}")
        assert ["starts-with", "$key", prefix] in conditions
        assert ["starts-with", "$Content-Type", "image/"] in conditions


def test_wrong_extensions_are_refused_before_any_form_exists(
    api: ApiClient, admin: Persona, engine: sa.Engine
) -> None:
    response = api.post(
        "/batches",
        admin,
        body={"batch_name": "b", "uploads": {"files": [{"filename": "ok.jpg"}, {"filename": "notes.pdf"}]}},
    )
    assert response.status == 422
    assert response.json["errors"][0]["location"] == "files[1].filename"
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM image_batches")) == 0


def test_png_text_chunks_are_removed_and_quality_issues_named(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    png, dark = png_with_text(), blurred_dark_jpeg()
    created = _create(api, admin, [{"filename": "p.png"}, {"filename": "dark.jpg"}])
    png_form, dark_form = created["uploads"]
    _post(png_form, png, "p.png", "image/png")
    _post(dark_form, dark, "dark.jpg", "image/jpeg")

    png_result = _deliver(uow_factory, png_form["key"], len(png))
    dark_result = _deliver(uow_factory, dark_form["key"], len(dark))

    png_image = api.get(f"/images/{png_result['image_id']}", admin).json
    dark_image = api.get(f"/images/{dark_result['image_id']}", admin).json
    assert png_image["format"] == "PNG"
    stored = (
        boto3.client("s3", region_name="us-east-1")
        .get_object(
            Bucket="cradle-uploads", Key=f"images/{created['batch']['id']}/{png_form['key'].split('/')[2]}"
        )["Body"]
        .read()
    )
    assert b"tEXt" not in stored
    assert b"Dr. Example" not in stored
    assert set(dark_image["quality_issues"]) >= {"blur", "underexposed", "low_resolution"}
    assert dark_image["has_quality_issues"] is True
    assert float(dark_image["image_quality_score"]) < float(png_image["image_quality_score"])


def test_the_last_expected_image_starts_the_pipeline_once(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, aws: str
) -> None:
    # Two different images: the same one twice would be a duplicate, rejected.
    a, b = jpeg_with_metadata(seed=1), jpeg_with_metadata(seed=2)
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    first, second = created["uploads"]
    for form, name, data in ((first, "a.jpg", a), (second, "b.jpg", b)):
        _post(form, data, name, "image/jpeg")

    assert _deliver(uow_factory, first["key"], len(a))["pipeline_execution"] is None
    started = _deliver(uow_factory, second["key"], len(b))
    redelivered = _deliver(uow_factory, second["key"], len(b))

    assert started["pipeline_execution"] is not None
    assert redelivered["pipeline_execution"] is None
    executions = boto3.client("stepfunctions", region_name="us-east-1").list_executions(stateMachineArn=aws)[
        "executions"
    ]
    assert [e["name"] for e in executions] == [f"cradle-batch-{created['batch']['id']}-run-1"]
    detail = api.get(f"/batches/{created['batch']['id']}", admin).json
    assert detail["pipeline_run"]["status"] == "RUNNING"
    assert detail["images_registered"] == 2


def test_complete_starts_with_what_arrived(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    data = jpeg_with_metadata()
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}, {"filename": "c.jpg"}])
    batch_id = created["batch"]["id"]
    assert api.post(f"/batches/{batch_id}/complete", admin).status == 409  # nothing arrived yet
    form = created["uploads"][0]
    _post(form, data, "a.jpg", "image/jpeg")
    _deliver(uow_factory, form["key"], len(data))

    completed = api.post(f"/batches/{batch_id}/complete", admin)

    assert completed.status == 200, completed.body
    assert completed.json["total_images"] == 1
    assert completed.json["pipeline_run"]["status"] == "RUNNING"
    assert api.post(f"/batches/{batch_id}/complete", admin).status == 200  # asking again starts nothing new


def _name(hostile: Hostile) -> str:
    return f"{hostile.name}.{hostile.image_format.lower()}"


def test_hostile_files_are_stored_as_their_pixels_alone(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    corpus = [make() for make in HOSTILE]
    s3 = boto3.client("s3", region_name="us-east-1")
    settings = get_settings()
    for hostile in corpus:
        # A batch each: several hide different payloads behind the same pixels, which in one
        # batch would be exact duplicates of each other (rejected, tested below).
        created = _create(api, admin, [{"filename": _name(hostile)}])
        form = created["uploads"][0]
        mime = "image/png" if hostile.image_format == "PNG" else "image/jpeg"
        assert _post(form, hostile.data, _name(hostile), mime) == 204
        result = _deliver(uow_factory, form["key"], len(hostile.data))
        assert result["outcome"] == "registered", (hostile.name, result)
        image = api.get(f"/images/{result['image_id']}", admin).json
        assert image["anonymization_status"] is True
        batch_id, slot = created["batch"]["id"], form["key"].split("/")[2]
        stored = s3.get_object(Bucket=settings.uploads_bucket, Key=f"images/{batch_id}/{slot}")["Body"].read()
        assert SECRET not in stored, hostile.name
        with Image.open(io.BytesIO(stored)) as clean:
            assert (clean.mode, clean.size, clean.tobytes()) == primary_pixels(hostile), hostile.name
            shown = ImageOps.exif_transpose(clean).size
        # Width and height are the image as a viewer shows it: the frame keypoints live in.
        assert (image["width"], image["height"]) == shown, hostile.name
        thumbnail_key = f"thumbnails/{batch_id}/{slot}.jpg"
        thumbnail = s3.get_object(Bucket=settings.derived_bucket, Key=thumbnail_key)["Body"].read()
        with Image.open(io.BytesIO(thumbnail)) as thumb:
            assert (thumb.width > thumb.height) == (shown[0] > shown[1]), hostile.name  # upright


class _OneCallAtATime:
    """S3Storage for threads: moto's S3 is not thread-safe, so its calls take turns (the
    registrations' database work still overlaps, which is what the test is about)."""

    def __init__(self, storage: S3Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._storage, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def test_concurrent_registrations_count_exactly_without_locking_the_batch(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine, aws: str
) -> None:
    # Given a batch of eight uploaded (different) files, each of whose events arrives twice, all at once
    files = [f"{n}.jpg" for n in range(8)]
    created = _create(api, admin, [{"filename": name} for name in files])
    batch_id = created["batch"]["id"]
    for seed, (form, name) in enumerate(zip(created["uploads"], files, strict=True)):
        assert _post(form, jpeg_with_metadata(seed=seed), name, "image/jpeg") == 204
    keys = [form["key"] for form in created["uploads"]] * 2
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    start = threading.Barrier(len(keys))

    storage = _OneCallAtATime(S3Storage())

    def deliver(key: str) -> uploads.Registration:
        start.wait()
        return uploads.register_upload(uow_factory, storage, key)

    # When the trigger handles the sixteen events in parallel
    try:
        with ThreadPoolExecutor(max_workers=len(keys)) as pool:
            results = list(pool.map(deliver, keys))
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)

    # Then each image is registered once, the counter is exact and one pipeline run started
    assert sorted(r.outcome.value for r in results) == ["duplicate"] * 8 + ["registered"] * 8, results
    assert sum(1 for r in results if r.run_to_start is not None) == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM images WHERE batch_id = :b"), {"b": batch_id}) == 8
        assert (
            conn.scalar(sa.text("SELECT registered_images FROM image_batches WHERE id = :b"), {"b": batch_id})
            == 8
        )
        assert conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'IMAGE_REGISTERED'")) == 8
        assert (
            conn.scalar(sa.text("SELECT count(*) FROM pipeline_runs WHERE batch_id = :b"), {"b": batch_id})
            == 1
        )
    # and no registration locked the batch row or counted the batch's images
    batch_locks = [s for s in statements if "FROM image_batches" in s and "FOR UPDATE" in s]
    recounts = [s for s in statements if "count(*)" in s and "FROM images" in s]
    assert batch_locks == []
    assert recounts == []
