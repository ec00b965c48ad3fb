"""Issue 18 "Upload race" and issue 19 "Duplicates are found": single-use forms, the duplicate
check before the S3 write, and duplicates found at registration (exact: rejected; near: linked)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests
import sqlalchemy as sa
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent
from PIL import Image

from cradle_workstation.devstack.events import object_created
from cradlepose.adapters.storage import S3Storage
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.imaging import fingerprint
from cradlepose.intake import uploads
from cradlepose.settings import get_settings
from tests.images import jpeg_with_metadata
from tests.support import ApiClient, Persona
from triggers import upload

pytestmark = pytest.mark.integration


def _post(form: dict[str, Any], data: bytes, filename: str, content_type: str = "image/jpeg") -> int:
    response = requests.post(
        form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=10
    )
    return response.status_code


def _deliver(uow_factory: UnitOfWorkFactory, key: str, size: int = 1) -> dict[str, Any]:
    event = S3EventBridgeNotificationEvent(object_created("cradle-uploads", key, size))
    return upload.handle(event, uow_factory=uow_factory, storage=S3Storage())


def _create(api: ApiClient, admin: Persona, files: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.post("/batches", admin, body={"batch_name": "dups", "uploads": {"files": files}})
    assert response.status == 201, response.body
    return response.json


def _report(api: ApiClient, admin: Persona, batch_id: int) -> dict[str, Any]:
    response = api.get(f"/batches/{batch_id}/uploads", admin)
    assert response.status == 200, response.body
    return response.json


def _s3() -> Any:
    return boto3.client("s3", region_name="us-east-1")


def _incoming_count() -> int:
    return int(_s3().list_objects_v2(Bucket=get_settings().uploads_bucket, Prefix="incoming/")["KeyCount"])


def _stored(key: str) -> bytes:
    batch_id, slot = key.split("/")[1:3]
    body = _s3().get_object(Bucket=get_settings().uploads_bucket, Key=f"images/{batch_id}/{slot}")["Body"]
    return bytes(body.read())


def _count(engine: sa.Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(sql), params) or 0)


def _rejections_audited(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(sa.text("SELECT error_message FROM audit_logs WHERE action = 'UPLOAD_REJECTED'"))
        )


def _resized(data: bytes, scale: float, quality: int) -> bytes:
    with Image.open(io.BytesIO(data)) as image:
        small = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# ------------------------------------------------------------------ single-use forms


def test_each_form_is_bound_to_one_pending_upload_and_pins_its_key(
    api: ApiClient, admin: Persona, engine: sa.Engine
) -> None:
    named = _create(api, admin, [{"filename": "a.jpg", "size": 1234, "sha256": "ab" * 32}])
    opened = api.post("/batches", admin, body={"batch_name": "open", "uploads": {"count": 1}})
    assert opened.status == 201, opened.body

    named_form, open_form = named["uploads"][0], opened.json["uploads"][0]
    for form, batch in ((named_form, named["batch"]), (open_form, opened.json["batch"])):
        conditions = json.loads(base64.b64decode(form["fields"]["policy"]))["conditions"]
        nonce = form["key"].split("/")[2]
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT batch_id, filename, size_bytes, sha256, expires_at, consumed_at "
                    "FROM pending_uploads WHERE nonce = :n"
                ),
                {"n": nonce},
            ).one()
        assert row.batch_id == batch["id"]
        assert row.consumed_at is None
        assert abs((row.expires_at - _parse(form["expires_at"])).total_seconds()) < 1
        if form is named_form:
            # S3 accepts this form for this one key and no other
            assert ["eq", "$key", form["key"]] in conditions
            assert (row.filename, row.size_bytes, row.sha256) == ("a.jpg", 1234, "ab" * 32)
        else:
            # the file's own name, but only under this form's nonce
            assert ["starts-with", "$key", f"incoming/{batch['id']}/{nonce}/"] in conditions
            assert not any(c[:2] == ["eq", "$key"] for c in conditions if isinstance(c, list))
            assert row.filename is None


def _parse(value: str) -> Any:
    import datetime as dt  # noqa: PLC0415

    return dt.datetime.fromisoformat(value)


def test_a_named_form_used_twice_keeps_the_first_image_and_refuses_the_second(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    first, second = jpeg_with_metadata(seed=1), jpeg_with_metadata(seed=2)
    created = _create(api, admin, [{"filename": "a.jpg"}])
    form = created["uploads"][0]
    assert _post(form, first, "a.jpg") == 204
    registered = _deliver(uow_factory, form["key"], len(first))
    kept = _stored(form["key"])

    # The same form again, with another file: S3 accepts it (the form has not expired) ...
    assert _post(form, second, "a.jpg") == 204
    refused = _deliver(uow_factory, form["key"], len(second))

    # ... and the trigger refuses it, removes it and says why, keeping the first image as it was
    assert registered["outcome"] == "registered"
    assert refused["outcome"] == "rejected", refused
    assert "already used" in refused["reason"]
    assert _stored(form["key"]) == kept
    assert _incoming_count() == 0
    assert _count(engine, "SELECT count(*) FROM images") == 1
    assert any("already used" in m for m in _rejections_audited(engine))
    report = _report(api, admin, created["batch"]["id"])
    assert (report["registered"], report["rejected"]) == (1, 1)
    # and a redelivery of the first event is still just a duplicate event
    assert _deliver(uow_factory, form["key"], len(first))["outcome"] in ("duplicate", "ignored")


def test_a_client_resending_the_same_bytes_through_its_form_is_not_refused(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # A client that timed out after S3 had stored the file sends it again: same key, same ETag
    data = jpeg_with_metadata(seed=3)
    created = _create(api, admin, [{"filename": "a.jpg"}])
    form = created["uploads"][0]
    assert _post(form, data, "a.jpg") == 204
    first = _deliver(uow_factory, form["key"])
    assert _post(form, data, "a.jpg") == 204

    again = _deliver(uow_factory, form["key"])

    assert first["outcome"] == "registered"
    assert again["outcome"] == "duplicate"  # the object that consumed the form: nothing new
    assert _incoming_count() == 0
    assert _count(engine, "SELECT count(*) FROM upload_rejections") == 0
    assert _count(engine, "SELECT count(*) FROM images") == 1


def test_an_open_form_used_twice_under_another_name_is_refused(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    response = api.post("/batches", admin, body={"batch_name": "open", "uploads": {"count": 1}})
    form = response.json["uploads"][0]
    prefix = form["key"].removesuffix("${filename}")
    assert _post(form, jpeg_with_metadata(seed=1), "one.jpg") == 204
    assert _post(form, jpeg_with_metadata(seed=2), "two.jpg") == 204

    first = _deliver(uow_factory, prefix + "one.jpg")
    second = _deliver(uow_factory, prefix + "two.jpg")

    assert first["outcome"] == "registered"
    assert second["outcome"] == "rejected"
    assert "already used" in second["reason"]
    assert _count(engine, "SELECT count(*) FROM images") == 1
    assert _incoming_count() == 0


def test_an_object_under_a_forged_nonce_is_refused_and_removed(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    created = _create(api, admin, [{"filename": "a.jpg"}])
    batch_id = created["batch"]["id"]
    forged = f"incoming/{batch_id}/{secrets.token_hex(16)}/a.jpg"  # the layout, but no form issued it
    _s3().put_object(Bucket=get_settings().uploads_bucket, Key=forged, Body=jpeg_with_metadata())

    result = _deliver(uow_factory, forged)

    assert result["outcome"] == "rejected"
    assert "names no upload form" in result["reason"]
    assert _incoming_count() == 0
    assert _count(engine, "SELECT count(*) FROM images") == 0
    assert any("names no upload form" in m for m in _rejections_audited(engine))
    assert _report(api, admin, batch_id)["rejected"] == 1


def test_a_form_of_another_batch_is_not_accepted_for_this_one(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    mine = _create(api, admin, [{"filename": "a.jpg"}])
    other = _create(api, admin, [{"filename": "b.jpg"}])
    nonce = mine["uploads"][0]["key"].split("/")[2]
    moved = f"incoming/{other['batch']['id']}/{nonce}/a.jpg"
    _s3().put_object(Bucket=get_settings().uploads_bucket, Key=moved, Body=jpeg_with_metadata())

    assert _deliver(uow_factory, moved)["outcome"] == "rejected"


# ------------------------------------------------------------------ duplicates at registration


def test_an_exact_duplicate_with_other_metadata_is_rejected_and_names_its_original(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    original = jpeg_with_metadata(seed=4)
    copy = original.replace(b"SN-123456", b"SN-654321").replace(b"ward B", b"ward C")  # other EXIF
    assert copy != original
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form_a, form_b = created["uploads"]
    _post(form_a, original, "a.jpg")
    _post(form_b, copy, "b.jpg")

    first = _deliver(uow_factory, form_a["key"])
    second = _deliver(uow_factory, form_b["key"])

    assert first["outcome"] == "registered"
    assert second["outcome"] == "rejected"
    assert second["reason"].startswith(f"duplicate of image {first['image_id']}")
    assert _count(engine, "SELECT count(*) FROM images") == 1
    # nothing of the copy is stored: no cleaned image, no thumbnail
    batch_id, slot_b = created["batch"]["id"], form_b["key"].split("/")[2]
    stored = _s3().list_objects_v2(Bucket=get_settings().uploads_bucket, Prefix=f"images/{batch_id}/")
    assert [o["Key"] for o in stored["Contents"]] == [f"images/{batch_id}/{form_a['key'].split('/')[2]}"]
    thumbnails = _s3().list_objects_v2(Bucket=get_settings().derived_bucket, Prefix=f"thumbnails/{batch_id}/")
    assert f"thumbnails/{batch_id}/{slot_b}.jpg" not in [o["Key"] for o in thumbnails.get("Contents", [])]
    report = _report(api, admin, batch_id)
    rejected = [f for f in report["files"] if f["state"] == "rejected"]
    assert rejected == [
        {
            "filename": "b.jpg",
            "slot": slot_b,
            "state": "rejected",
            "image_id": None,
            "reason": second["reason"],
            "duplicate_of": first["image_id"],
        }
    ]


@pytest.mark.parametrize(("scale", "quality"), [(0.5, 60), (0.7, 80), (0.9, 95)])
def test_a_near_duplicate_is_stored_linked_and_flagged(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, scale: float, quality: int
) -> None:
    original = jpeg_with_metadata((800, 600), seed=5)
    near = _resized(original, scale, quality)
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form_a, form_b = created["uploads"]
    _post(form_a, original, "a.jpg")
    _post(form_b, near, "b.jpg")

    first = _deliver(uow_factory, form_a["key"])
    second = _deliver(uow_factory, form_b["key"])

    assert (first["outcome"], second["outcome"]) == ("registered", "registered")
    image = api.get(f"/images/{second['image_id']}", admin).json
    assert image["duplicate_of_id"] == first["image_id"]
    assert 0 <= image["duplicate_distance"] <= fingerprint.NEAR_DUPLICATE_BITS
    assert api.get(f"/images/{first['image_id']}", admin).json["duplicate_of_id"] is None
    listed = api.get(f"/batches/{created['batch']['id']}/images", admin).json["items"]
    assert {i["id"]: i["duplicate_of_id"] for i in listed} == {
        first["image_id"]: None,
        second["image_id"]: first["image_id"],
    }
    flagged = [f for f in _report(api, admin, created["batch"]["id"])["files"] if f["duplicate_of"]]
    assert flagged == [
        {
            "filename": "b.jpg",
            "slot": form_b["key"].split("/")[2],
            "state": "registered",
            "image_id": second["image_id"],
            "reason": f"near-duplicate of image {first['image_id']}",
            "duplicate_of": first["image_id"],
        }
    ]
    # The audit log tells whoever reads it later: the registration succeeded, with a warning
    audited = api.get(
        "/audit-logs",
        admin,
        query={"action": "IMAGE_REGISTERED", "resource_type": "Image", "resource_id": second["image_id"]},
    ).json["items"]
    assert [w for w in audited[0]["warning_messages"] if "duplicate" in w] == [
        f"a duplicate of image {first['image_id']} ({image['duplicate_distance']} of 64 perceptual-hash bits "
        "differ): linked to it"
    ]


def test_different_images_are_not_linked(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    from skimage import data as skdata  # noqa: PLC0415

    def jpeg(name: str) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(getattr(skdata, name)()).convert("RGB").save(buffer, "JPEG", quality=90)
        return buffer.getvalue()

    names = ("astronaut", "coffee", "camera")
    created = _create(api, admin, [{"filename": f"{n}.jpg"} for n in names])
    results = []
    for name, form in zip(names, created["uploads"], strict=True):
        _post(form, jpeg(name), f"{name}.jpg")
        results.append(_deliver(uow_factory, form["key"]))

    assert [r["outcome"] for r in results] == ["registered"] * 3
    for result in results:
        assert api.get(f"/images/{result['image_id']}", admin).json["duplicate_of_id"] is None


def test_the_same_pixels_in_another_batch_are_stored_and_linked(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    data = jpeg_with_metadata(seed=6)
    one, two = _create(api, admin, [{"filename": "a.jpg"}]), _create(api, admin, [{"filename": "a.jpg"}])
    _post(one["uploads"][0], data, "a.jpg")
    _post(two["uploads"][0], data, "a.jpg")

    first = _deliver(uow_factory, one["uploads"][0]["key"])
    second = _deliver(uow_factory, two["uploads"][0]["key"])

    assert second["outcome"] == "registered"
    image = api.get(f"/images/{second['image_id']}", admin).json
    assert (image["duplicate_of_id"], image["duplicate_distance"]) == (first["image_id"], 0)


class _OneCallAtATime:
    """moto's S3 is not thread-safe: its calls take turns; the database work still overlaps."""

    def __init__(self, storage: S3Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._storage, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


def test_two_identical_files_delivered_at_once_end_with_one_original(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # Given the same photograph through two forms (with different metadata), each event twice
    original = jpeg_with_metadata(seed=8)
    copy = original.replace(b"SN-123456", b"SN-000001")
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form_a, form_b = created["uploads"]
    _post(form_a, original, "a.jpg")
    _post(form_b, copy, "b.jpg")
    keys = [form_a["key"], form_b["key"]] * 2
    start = threading.Barrier(len(keys))
    storage = _OneCallAtATime(S3Storage())

    def deliver(key: str) -> uploads.Registration:
        start.wait()
        return uploads.register_upload(uow_factory, storage, key)

    # When all four deliveries run at once
    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        results = list(pool.map(deliver, keys))

    # Then one image is the original and the other file is rejected as its duplicate
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes.count("registered") == 1, results
    assert outcomes.count("rejected") >= 1, results
    assert set(outcomes) <= {"registered", "rejected", "duplicate"}, results
    image_id = next(r.image_id for r in results if r.outcome is uploads.Outcome.REGISTERED)
    assert _count(engine, "SELECT count(*) FROM images") == 1
    assert (
        _count(engine, "SELECT count(*) FROM upload_rejections WHERE duplicate_of_id = :i", i=image_id) == 1
    )
    assert _count(engine, "SELECT registered_images FROM image_batches") == 1
    stored = _s3().list_objects_v2(Bucket=get_settings().uploads_bucket, Prefix="images/")
    assert stored["KeyCount"] == 1


def test_the_unique_index_decides_when_both_pass_the_first_look(
    api: ApiClient,
    admin: Persona,
    uow_factory: UnitOfWorkFactory,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the second file passes the look before the S3 write (as if the first had not committed)
    original = jpeg_with_metadata(seed=9)
    copy = original.replace(b"SN-123456", b"SN-000002")
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form_a, form_b = created["uploads"]
    _post(form_a, original, "a.jpg")
    _post(form_b, copy, "b.jpg")
    looked: set[str] = set()
    real = uploads._same_pixels_in_batch

    def first_look_misses(uow_factory: UnitOfWorkFactory, upload: Any, pixel_sha256: str) -> int | None:
        if upload.incoming not in looked:
            looked.add(upload.incoming)
            return None
        return real(uow_factory, upload, pixel_sha256)

    monkeypatch.setattr(uploads, "_same_pixels_in_batch", first_look_misses)

    first = _deliver(uow_factory, form_a["key"])
    second = _deliver(uow_factory, form_b["key"])

    # Then the pixel index refuses the second row, and what it wrote is removed
    assert first["outcome"] == "registered"
    assert second["outcome"] == "rejected", second
    assert second["reason"].startswith(f"duplicate of image {first['image_id']}")
    assert _count(engine, "SELECT count(*) FROM images") == 1
    batch_id = created["batch"]["id"]
    stored = _s3().list_objects_v2(Bucket=get_settings().uploads_bucket, Prefix=f"images/{batch_id}/")
    assert stored["KeyCount"] == 1
    thumbs = _s3().list_objects_v2(Bucket=get_settings().derived_bucket, Prefix=f"thumbnails/{batch_id}/")
    assert thumbs["KeyCount"] == 1


# ------------------------------------------------------------------ the check before the S3 write


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_asking_for_a_form_for_a_registered_file_is_refused_with_its_image_id(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    data = jpeg_with_metadata(seed=10)
    created = _create(api, admin, [{"filename": "a.jpg", "sha256": _sha(data)}, {"filename": "b.jpg"}])
    batch_id = created["batch"]["id"]
    _post(created["uploads"][0], data, "a.jpg")
    registered = _deliver(uow_factory, created["uploads"][0]["key"])
    forms_before = _count(engine, "SELECT count(*) FROM pending_uploads")

    response = api.post(
        f"/batches/{batch_id}/uploads",
        admin,
        body={"files": [{"filename": "c.jpg"}, {"filename": "again.jpg", "sha256": _sha(data)}]},
    )

    assert response.status == 409, response.body
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json
    assert problem["type"].endswith("/duplicate-upload")
    assert f"image {registered['image_id']}" in problem["detail"]
    assert problem["context"] == {"file_index": 1, "original_image_id": registered["image_id"]}
    # nothing written: no form, no new expected count
    assert _count(engine, "SELECT count(*) FROM pending_uploads") == forms_before
    assert api.get(f"/batches/{batch_id}", admin).json["total_images"] == 2


def test_a_file_with_an_open_form_or_listed_twice_gets_no_second_form(
    api: ApiClient, admin: Persona, engine: sa.Engine
) -> None:
    digest = _sha(b"some file")
    twice = api.post(
        "/batches",
        admin,
        body={
            "batch_name": "b",
            "uploads": {
                "files": [{"filename": "a.jpg", "sha256": digest}, {"filename": "b.jpg", "sha256": digest}]
            },
        },
    )
    assert twice.status == 409
    assert twice.json["context"] == {"file_index": 1, "original_image_id": None}
    assert _count(engine, "SELECT count(*) FROM image_batches") == 0

    created = _create(api, admin, [{"filename": "a.jpg", "sha256": digest}])
    again = api.post(
        f"/batches/{created['batch']['id']}/uploads",
        admin,
        body={"files": [{"filename": "a.jpg", "sha256": digest}]},
    )
    assert again.status == 409
    assert "open upload form" in again.json["detail"]


def test_a_malformed_sha256_is_a_validation_error(api: ApiClient, admin: Persona) -> None:
    response = api.post(
        "/batches",
        admin,
        body={"batch_name": "b", "uploads": {"files": [{"filename": "a.jpg", "sha256": "xyz"}]}},
    )
    assert response.status == 422


# ------------------------------------------------------------------ forced interleavings of redeliveries


class _OtherDeliveryAt:
    """Storage whose `copy` (the first step of a rejection) lets another delivery of `key` run to
    its end first: before this delivery's copy, or between its copy and its transaction."""

    def __init__(self, uow_factory: UnitOfWorkFactory, key: str, *, before_copy: bool) -> None:
        self._storage = S3Storage()
        self._uow_factory = uow_factory
        self._key = key
        self._before_copy = before_copy
        self.other: uploads.Registration | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def copy(self, source_bucket: str, source_key: str, bucket: str, key: str) -> None:
        if self._before_copy:
            self._other_delivery()
        self._storage.copy(source_bucket, source_key, bucket, key)
        if not self._before_copy:
            self._other_delivery()

    def _other_delivery(self) -> None:
        if self.other is None:
            self.other = uploads.register_upload(self._uow_factory, S3Storage(), self._key)


def _original_and_copy_registered(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, seed: int
) -> tuple[dict[str, Any], str, int]:
    """A batch whose file a is registered and whose file b (the same pixels) waits in incoming."""
    original = jpeg_with_metadata(seed=seed)
    copy = original.replace(b"SN-123456", b"SN-000003")
    created = _create(api, admin, [{"filename": "a.jpg"}, {"filename": "b.jpg"}])
    form_a, form_b = created["uploads"]
    _post(form_a, original, "a.jpg")
    _post(form_b, copy, "b.jpg")
    first = _deliver(uow_factory, form_a["key"])
    assert first["outcome"] == "registered"
    return created, form_b["key"], int(first["image_id"])


def _rejected_once_as_duplicate(engine: sa.Engine, key: str, image_id: int) -> None:
    batch_id, slot = key.split("/")[1:3]
    assert _count(engine, "SELECT count(*) FROM images") == 1
    assert (
        _count(engine, "SELECT count(*) FROM upload_rejections WHERE duplicate_of_id = :i", i=image_id) == 1
    )
    assert len(_rejections_audited(engine)) == 1
    assert _incoming_count() == 0
    quarantined = _s3().list_objects_v2(Bucket=get_settings().derived_bucket, Prefix="quarantine/")
    assert [o["Key"] for o in quarantined.get("Contents", [])] == [f"quarantine/{batch_id}/{slot}/b.jpg"]
    stored = _s3().list_objects_v2(Bucket=get_settings().uploads_bucket, Prefix=f"images/{batch_id}/")
    assert stored["KeyCount"] == 1


def test_a_redelivery_that_rejected_the_copy_first_leaves_the_other_delivery_nothing_to_copy(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # Given both deliveries of b's event found a's pixels, and one rejected b (copied it to
    # quarantine, recorded it, removed it from incoming) before the other copied it
    _, key, image_id = _original_and_copy_registered(api, admin, uow_factory, seed=11)
    storage = _OtherDeliveryAt(uow_factory, key, before_copy=True)

    late = uploads.register_upload(uow_factory, storage, key)

    # Then the late one is a duplicate event, not an error
    assert storage.other is not None
    assert storage.other.outcome is uploads.Outcome.REJECTED
    assert late.outcome is uploads.Outcome.DUPLICATE, late
    _rejected_once_as_duplicate(engine, key, image_id)


def test_a_redelivery_that_recorded_the_rejection_meanwhile_is_not_recorded_twice(
    api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # Given the other delivery recorded b's rejection between this one's copy and its transaction
    _, key, image_id = _original_and_copy_registered(api, admin, uow_factory, seed=12)
    storage = _OtherDeliveryAt(uow_factory, key, before_copy=False)

    late = uploads.register_upload(uow_factory, storage, key)

    assert storage.other is not None
    assert storage.other.outcome is uploads.Outcome.REJECTED
    assert late.outcome is uploads.Outcome.DUPLICATE, late
    _rejected_once_as_duplicate(engine, key, image_id)


def test_a_clash_on_the_pixels_whose_winner_the_look_misses_is_looked_at_again(
    api: ApiClient,
    admin: Persona,
    uow_factory: UnitOfWorkFactory,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given b's insert clashes with a's pixels but the look after the clash does not see a yet
    # (as the first look before the S3 write did not)
    created, key, image_id = _original_and_copy_registered(api, admin, uow_factory, seed=13)
    misses = {"left": 2}
    real = uploads._same_pixels_in_batch

    def misses_twice(uow_factory: UnitOfWorkFactory, upload: Any, pixel_sha256: str) -> int | None:
        if misses["left"] > 0:
            misses["left"] -= 1
            return None
        return real(uow_factory, upload, pixel_sha256)

    monkeypatch.setattr(uploads, "_same_pixels_in_batch", misses_twice)

    result = uploads.register_upload(uow_factory, S3Storage(), key)

    # Then the clash is examined again, not raised: b is a's duplicate, and what it wrote is gone
    assert misses["left"] == 0
    assert result.outcome is uploads.Outcome.REJECTED, result
    assert result.reason is not None
    assert result.reason.startswith(f"duplicate of image {image_id}")
    _rejected_once_as_duplicate(engine, key, image_id)
    thumbs = _s3().list_objects_v2(
        Bucket=get_settings().derived_bucket, Prefix=f"thumbnails/{created['batch']['id']}/"
    )
    assert thumbs["KeyCount"] == 1
