"""Uploading through the real path in tests: create the batch, POST each file to (moto's) S3 with
its presigned form, and deliver S3's ObjectCreated event to the upload trigger."""

from __future__ import annotations

from typing import Any

import requests
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from cradle_workstation.devstack.events import object_created
from cradlepose.adapters.storage import S3Storage
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from tests.images import jpeg_with_metadata
from tests.support import ApiClient, Persona
from triggers import upload


def upload_batch(
    api: ApiClient,
    who: Persona,
    uow_factory: UnitOfWorkFactory,
    body: dict[str, Any],
    size: tuple[int, int] = (640, 480),
) -> list[int]:
    """Create the batch described by `body`, upload one JPEG per form (each with its own pixels);
    the registered image ids."""
    created = api.post("/batches", who, body=body)
    assert created.status == 201, created.body
    ids = []
    for seed, form in enumerate(created.json["uploads"]):
        data = jpeg_with_metadata(size, seed=seed)  # distinct pixels: an exact copy would be rejected
        name = form["key"].rsplit("/", 1)[-1]
        sent = requests.post(
            form["url"], data=form["fields"], files={"file": (name, data, "image/jpeg")}, timeout=10
        )
        assert sent.status_code == 204, sent.text
        event = S3EventBridgeNotificationEvent(object_created("cradle-uploads", form["key"], len(data)))
        result = upload.handle(event, uow_factory=uow_factory, storage=S3Storage())
        assert result["outcome"] == "registered", result
        ids.append(result["image_id"])
    return ids
