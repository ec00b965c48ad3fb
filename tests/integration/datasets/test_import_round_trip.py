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


def _split_by_file(archive: zipfile.ZipFile, original_name: dict[str, str] | None = None) -> dict[str, str]:
    """Image -> its split, read from where a Cradle export puts it (images/<split>/<file>)."""
    result = {}
    for name in archive.namelist():
        parts = name.split("/")
        if parts[0] == "images" and len(parts) == 3:
            result[(original_name or {}).get(parts[2], parts[2])] = parts[1]
    return result


def _import(
    api: ApiClient, admin: Persona, archive: zipfile.ZipFile, name: str, worker: Work, **body: Any
) -> dict[str, Any]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in archive.namelist():
            bundle.writestr(member, archive.read(member))
    data = buffer.getvalue()
    created = api.post("/dataset-imports", admin, body={"name": name, "size": len(data), **body})
    assert created.status == 201, created.body
    form = created.json["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("archive.zip", data)}, timeout=30)
    assert sent.status_code in (200, 201, 204), sent.text
    started = api.post(f"/dataset-imports/{created.json['id']}/start", admin)
    assert started.status == 202, started.body
    assert worker()["imported"] == [created.json["id"]]
    done: dict[str, Any] = api.get(f"/dataset-imports/{created.json['id']}", admin).json
    assert done["status"] == "COMPLETED", done
    return done


def _original_names(api: ApiClient, admin: Persona, batch_id: int) -> dict[str, str]:
    images = api.get(f"/batches/{batch_id}/images", admin).json["items"]
    return {f"{image['id']}.jpg": image["original_filename"] for image in images}


@pytest.mark.parametrize("export_format", ["COCO_KEYPOINTS", "YOLO_POSE"])
def test_an_import_keeps_the_archives_splits_and_yolo_imports_as_coco_does(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    import_worker: Work,
    export_format: str,
) -> None:
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 0.5, "validation": 0, "test": 0.5}
    )
    coco = _export(api, verifier, dataset["id"], pack)
    splits, keypoints = _split_by_file(coco), _keypoints_by_file(coco)
    assert set(splits.values()) == {"train", "test"}
    archive = (
        coco
        if export_format == "COCO_KEYPOINTS"
        else download_zip(export_ready(api, verifier, dataset["id"], export_format, pack))
    )
    done = _import(api, admin, archive, f"kept {export_format}", import_worker)
    assert (done["images_imported"], done["annotations_imported"], done["resplit"]) == (6, 6, False)
    imported = api.get(f"/datasets/{done['dataset_id']}", verifier).json
    assert imported["filters"]["splits_from"] == "archive"
    again = _export(api, verifier, done["dataset_id"], pack)
    names = _original_names(api, admin, done["batch_id"])
    assert _split_by_file(again, names) == splits  # every image in the split the archive gave it
    assert {names[n]: v for n, v in _keypoints_by_file(again).items()} == keypoints  # flags and all


def test_resplitting_an_import_is_asked_for(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    import_worker: Work,
) -> None:
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 1, "validation": 0, "test": 0}
    )
    archive = _export(api, verifier, dataset["id"], pack)
    assert set(_split_by_file(archive).values()) == {"train"}
    done = _import(api, admin, archive, "re-split", import_worker, resplit=True)
    assert done["resplit"] is True
    imported = api.get(f"/datasets/{done['dataset_id']}", verifier).json
    assert "splits_from" not in imported["filters"]
    assert imported["split_fractions"] == {"train": 0.7, "validation": 0.15, "test": 0.15}


def test_an_archive_naming_splits_for_some_images_only_is_refused(
    api: ApiClient, admin: Persona, verifier: Persona, verified: VerifiedBatch, pack: Work
) -> None:
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 0.5, "validation": 0, "test": 0.5}
    )
    export = _export(api, verifier, dataset["id"], pack)
    renamed = {
        "annotations/person_keypoints_test.json": "annotations/extra.json",
        "images/test/": "pictures/",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in export.namelist():  # the test document and folder renamed: their images name no split
            target = member
            for old, new in renamed.items():
                target = target.replace(old, new) if target.startswith(old) else target
            bundle.writestr(target, export.read(member))
    created = _upload(api, admin, buffer.getvalue(), "half split")
    refused = api.post(f"/dataset-imports/{created['id']}/start", admin)
    assert refused.status == 422, refused.body
    assert "resplit" in refused.json["errors"][0]["message"]
