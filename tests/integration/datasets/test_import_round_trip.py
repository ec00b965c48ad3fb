"""Given a COCO keypoints export, when it is imported and the imported dataset exported again, then
every keypoint and every visibility flag comes back exactly; a broken archive is refused naming its
first broken record, and an import that fails half-way leaves nothing behind."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
import requests
import sqlalchemy as sa

from tests.datasets_support import UPLOADS, VerifiedBatch
from tests.integration.datasets.conftest import Work, download_zip, export_ready, make_dataset
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration


def _export(api: ApiClient, who: Persona, dataset_id: int, pack: Work) -> zipfile.ZipFile:
    return download_zip(export_ready(api, who, dataset_id, "COCO_KEYPOINTS", pack))


def _keypoints_by_file(archive: zipfile.ZipFile) -> dict[str, tuple[list[float], int]]:
    """Image file name -> (flat keypoints, num_keypoints), over every split of a COCO export."""
    result = {}
    for name in archive.namelist():
        if not name.startswith("annotations/"):
            continue
        document = json.loads(archive.read(name))
        names = {image["id"]: image for image in document["images"]}
        for annotation in document["annotations"]:
            result[names[annotation["image_id"]]["file_name"]] = (
                annotation["keypoints"],
                annotation["num_keypoints"],
            )
    return result


def _upload(api: ApiClient, admin: Persona, archive: bytes, name: str) -> dict[str, Any]:
    created = api.post("/dataset-imports", admin, body={"name": name, "size": len(archive)})
    assert created.status == 201, created.body
    form = created.json["upload"]
    sent = requests.post(
        form["url"], data=form["fields"], files={"file": ("archive.zip", archive)}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text
    return dict(created.json)


def test_export_import_export_keeps_keypoints_and_visibility(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    import_worker: Work,
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    first = _export(api, verifier, dataset["id"], pack)
    original = _keypoints_by_file(first)
    assert {v for flat, _ in original.values() for v in flat[2::3]} == {0, 1, 2}

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:  # what a researcher would upload: the export as it is
        for member in first.namelist():
            bundle.writestr(member, first.read(member))
    created = _upload(api, admin, buffer.getvalue(), "re-imported infants")
    started = api.post(f"/dataset-imports/{created['id']}/start", admin)
    assert started.status == 202, started.body
    assert started.json["status"] == "PENDING"
    assert import_worker()["imported"] == [created["id"]]
    done = api.get(f"/dataset-imports/{created['id']}", admin).json
    assert done["status"] == "COMPLETED", done
    assert (done["images_imported"], done["annotations_imported"]) == (6, 6)
    assert isinstance(done["processing_time_ms"], int)
    assert done["processing_time_ms"] >= 0
    batch = api.get(f"/batches/{done['batch_id']}", admin).json
    assert batch["status"] == "READY_FOR_ANNOTATION"
    imported = api.get(f"/datasets/{done['dataset_id']}", verifier).json
    assert imported["origin"] == "IMPORTED"
    assert imported["num_images"] == 6

    second = _export(api, verifier, done["dataset_id"], pack)
    images = api.get(f"/batches/{done['batch_id']}/images", admin).json["items"]
    original_name = {f"{image['id']}.jpg": image["original_filename"] for image in images}
    again = {original_name[name]: value for name, value in _keypoints_by_file(second).items()}
    assert again == original


def test_a_broken_record_is_named_and_nothing_is_imported(
    api: ApiClient, admin: Persona, verifier: Persona, verified: VerifiedBatch, pack: Work, engine: sa.Engine
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    export = _export(api, verifier, dataset["id"], pack)
    document_name = next(n for n in export.namelist() if n.startswith("annotations/"))
    document = json.loads(export.read(document_name))
    document["annotations"][1]["keypoints"][8] = 3  # the third keypoint's flag
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in export.namelist():
            bundle.writestr(member, json.dumps(document) if member == document_name else export.read(member))
    created = _upload(api, admin, buffer.getvalue(), "broken")
    refused = api.post(f"/dataset-imports/{created['id']}/start", admin)
    assert refused.status == 422
    assert refused.json["errors"][0]["location"] == f"{document_name}: annotations[1].keypoints[8]"
    assert "visibility 3" in refused.json["errors"][0]["message"]
    assert api.get(f"/dataset-imports/{created['id']}", admin).json["status"] == "AWAITING_UPLOAD"


def test_an_import_failing_half_way_leaves_nothing_behind(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    import_worker: Work,
    engine: sa.Engine,
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    export = _export(api, verifier, dataset["id"], pack)
    document_name = next(n for n in export.namelist() if n.startswith("annotations/"))
    document = json.loads(export.read(document_name))
    document["images"][-1]["width"] = 4000  # the image itself is 128 px wide: found while importing
    document["images"][-1]["height"] = 3000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in export.namelist():
            bundle.writestr(member, json.dumps(document) if member == document_name else export.read(member))
    with engine.connect() as db:
        batches_before = db.scalar(sa.text("SELECT count(*) FROM image_batches"))
    created = _upload(api, admin, buffer.getvalue(), "half")
    assert api.post(f"/dataset-imports/{created['id']}/start", admin).status == 202
    import_worker()
    failed = api.get(f"/dataset-imports/{created['id']}", admin).json
    assert failed["status"] == "FAILED"
    assert isinstance(failed["processing_time_ms"], int)  # the failed run is measured too
    assert f"{document_name}: images[{len(document['images']) - 1}]" in failed["error_message"]
    assert "is 128×96 pixels; its record says 4000×3000" in failed["error_message"]
    with engine.connect() as db:
        assert db.scalar(sa.text("SELECT count(*) FROM image_batches")) == batches_before
    s3 = boto3.client("s3", region_name="us-east-1")
    leftovers = s3.list_objects_v2(Bucket=UPLOADS, Prefix=f"images/import-{created['id']}/").get("KeyCount")
    assert leftovers == 0
