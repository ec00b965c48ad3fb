"""A verified batch in the database and (moto's) S3, the people who use it, and the background work."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from tests.datasets_support import VerifiedBatch, add_verified_batch, create_models_bucket
from tests.support import ApiClient, Persona
from triggers import datasets as workers

Work = Callable[[], dict[str, Any]]


@pytest.fixture
def verified(
    aws: str, session_factory: sessionmaker[Session], admin: Persona, annotator: Persona
) -> VerifiedBatch:
    """Six approved 128×96 images of three infants (two each), keypoints with all three flags."""
    assert admin.user_id is not None
    assert annotator.user_id is not None
    create_models_bucket()
    return add_verified_batch(session_factory, admin.user_id, annotator.user_id)


@pytest.fixture
def pack(uow_factory: UnitOfWorkFactory) -> Work:
    """One run of the scheduled packer, as EventBridge Scheduler would start it."""
    return lambda: workers.run_pack_collections({}, step_context("schedule:test"), uow_factory, S3Storage())


@pytest.fixture
def import_worker(uow_factory: UnitOfWorkFactory) -> Work:
    return lambda: workers.run_import_datasets({}, step_context("schedule:test"), uow_factory, S3Storage())


def make_dataset(
    api: ApiClient, who: Persona, schema_id: int, name: str = "infants", **body: Any
) -> dict[str, Any]:
    response = api.post("/datasets", who, body={"name": name, "keypoint_schema_id": schema_id, **body})
    assert response.status == 201, response.body
    created: dict[str, Any] = response.json
    return created


def export_ready(
    api: ApiClient, who: Persona, dataset_id: int, export_format: str, pack: Work
) -> dict[str, Any]:
    """Export a dataset, run the packer, and answer the READY collection (with its download URL)."""
    response = api.post(f"/datasets/{dataset_id}/exports", who, body={"format": export_format})
    assert response.status == 202, response.body
    assert response.json["status"] == "PENDING"
    pack()
    collection = api.get(f"/collections/{response.json['id']}", who).json
    assert collection["status"] == "READY", collection
    return dict(collection)


def download_zip(collection: dict[str, Any]) -> zipfile.ZipFile:
    """The collection's ZIP, fetched with its presigned URL (moto answers it)."""
    response = requests.get(collection["download_url"], timeout=30)
    assert response.status_code == 200, response.text[:300]
    return zipfile.ZipFile(io.BytesIO(response.content))
