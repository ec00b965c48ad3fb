"""Given a query over the catalogue, when a collection is built, then it goes PENDING → READY with a
ZIP to download; one that cannot be packed is FAILED with the error and leaves no object; after the
retention period the expiry job deletes the archive and marks both EXPIRED."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
import requests
import sqlalchemy as sa

from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.datasets import collections
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from tests.datasets_support import EXPORTS, UPLOADS, VerifiedBatch
from tests.integration.datasets.conftest import Work, download_zip, make_dataset
from tests.support import ApiClient, Persona
from triggers import datasets as workers

pytestmark = pytest.mark.integration


def _described_dataset(api: ApiClient, admin: Persona, verified: VerifiedBatch) -> dict[str, object]:
    term = {"kind": "TAG", "code": "home_video", "name": "Recorded at home"}
    assert api.post("/vocabulary-terms", admin, body=term).status == 201
    assert api.post("/vocabulary-terms", admin, body=term).status == 409
    catalogue = {
        "anatomical_area": "whole_body",  # seeded by migration 0005, as the other terms here
        "modalities": ["rgb_photograph"],
        "task_types": ["pose_estimation"],
        "tags": ["supine", "home_video"],
    }
    return make_dataset(api, admin, verified.schema_id, name="supine infants", catalogue=catalogue)


def test_a_collection_is_packed_downloaded_and_expires(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    uow_factory: UnitOfWorkFactory,
) -> None:
    dataset = _described_dataset(api, admin, verified)
    found = api.get("/datasets", verifier, query={"text": "recorded at home"}).json["items"]
    assert [d["id"] for d in found] == [dataset["id"]]
    assert found[0]["catalogue"]["tags"] == ["home_video", "supine"]
    assert api.get("/datasets", verifier, query={"tag": "prone"}).json["items"] == []

    body = {
        "name": "supine 2-3 months",
        "keypoint_schema_id": verified.schema_id,
        "query": {"query_text": "at home", "filters": {"age_months_min": 2, "age_months_max": 3}},
        "format": "YOLO_POSE",
    }
    created = api.post("/collections", verifier, body=body)
    assert created.status == 202, created.body
    collection = created.json
    assert (collection["status"], collection["num_images"]) == ("PENDING", 4)  # ages 2 and 3 of 2..5
    assert collection["download_url"] is None
    assert api.get(f"/collections/{collection['id']}", Persona("other", None)).status == 401

    assert pack()["packed"] == [collection["id"]]
    ready = api.get(f"/collections/{collection['id']}", verifier).json
    assert ready["status"] == "READY"
    assert ready["size_bytes"] > 0
    assert ready["expires_at"]
    archive = download_zip(ready)
    assert len([n for n in archive.namelist() if n.startswith("labels/")]) == 4
    manifest = json.loads(archive.read("cradle.json"))
    assert manifest["query"]["query_text"] == "at home"
    assert pack()["packed"] == []  # nothing left to do: a second run is harmless

    expires_at = dt.datetime.fromisoformat(ready["expires_at"])
    expire = workers.run_expire_collections
    context = step_context("schedule:test")
    assert expire({}, context, uow_factory, S3Storage())["expired"] == []  # not due yet
    assert collections.expire_due(uow_factory, S3Storage(), now=expires_at + dt.timedelta(seconds=1)) == [
        collection["id"]
    ]
    expired = api.get(f"/collections/{collection['id']}", verifier).json
    assert expired["status"] == "EXPIRED"
    assert expired["download_url"] is None
    assert requests.get(ready["download_url"], timeout=30).status_code != 200  # the object is gone
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=EXPORTS)
    assert listed.get("KeyCount") == 0


def test_a_collection_that_cannot_be_packed_records_its_error(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    uow_factory: UnitOfWorkFactory,
    engine: sa.Engine,
) -> None:
    dataset = make_dataset(api, verifier, verified.schema_id)
    s3 = boto3.client("s3", region_name="us-east-1")
    with engine.connect() as db:
        key = db.scalar(
            sa.text("SELECT storage_path FROM images WHERE id = :i"), {"i": verified.image_ids[0]}
        )
    s3.delete_object(Bucket=UPLOADS, Key=key)  # an image gone from S3: the archive cannot be complete

    response = api.post(f"/datasets/{dataset['id']}/exports", verifier, body={"format": "COCO_KEYPOINTS"})
    collection = response.json
    pack()
    failed = api.get(f"/collections/{collection['id']}", verifier).json
    assert failed["status"] == "FAILED"
    assert key in failed["error_message"]
    assert failed["download_url"] is None
    assert s3.list_objects_v2(Bucket=EXPORTS).get("KeyCount") == 0  # the multipart upload was aborted
    assert s3.list_multipart_uploads(Bucket=EXPORTS).get("Uploads", []) == []

    due = dt.datetime.fromisoformat(failed["expires_at"]) + dt.timedelta(seconds=1)
    assert collections.expire_due(uow_factory, S3Storage(), now=due) == [collection["id"]]
    assert api.get(f"/collections/{collection['id']}", verifier).json["status"] == "EXPIRED"


def test_researchers_see_only_their_own_collections(
    api: ApiClient, admin: Persona, verifier: Persona, annotator: Persona, verified: VerifiedBatch
) -> None:
    dataset = make_dataset(api, admin, verified.schema_id)
    mine = api.post(f"/datasets/{dataset['id']}/exports", admin, body={"format": "YOLO_POSE"}).json
    assert api.get(f"/collections/{mine['id']}", verifier).status == 404
    assert api.get("/collections", verifier).json["items"] == []
    assert [c["id"] for c in api.get("/collections", admin).json["items"]] == [mine["id"]]
    assert api.get(f"/collections/{mine['id']}", annotator).status == 403
