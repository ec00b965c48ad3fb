"""Helpers for the pipeline's tests: batches with registered images, fake inference results, a
recording Step Functions stand-in."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import Storage
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.db.models import Image, ImageBatch, KeypointSchema
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import Visibility
from cradlepose.domain.inference import ChunkManifest, DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.preannotation import pipeline

RESULTS_CONTENT_TYPE = "application/x-ndjson"


def make_batch(
    session_factory: sessionmaker[Session],
    owner_id: int,
    images: int,
    *,
    quality: list[float] | None = None,
    upload_metadata: dict[str, Any] | None = None,
    min_quality: float = 7.0,
) -> tuple[int, list[int]]:
    """An UPLOADED batch of the default schema with `images` registered images (640×480 JPEGs)."""
    with session_factory() as session:
        schema = session.query(KeypointSchema).filter_by(name="infant-pose-17").one()
        batch = ImageBatch(
            batch_name=f"session-{secrets.token_hex(3)}",
            keypoint_schema_id=schema.id,
            total_images=images,
            uploaded_by=owner_id,
            upload_metadata=upload_metadata,
            min_image_quality_score=Decimal(str(min_quality)),
        )
        session.add(batch)
        session.flush()
        ids = []
        for n in range(images):
            slot = secrets.token_hex(16)
            score = quality[n] if quality else 8.0
            image = Image(
                batch_id=batch.id, filename=f"{slot}.jpg", original_filename=f"infant-{n}.jpg",
                storage_path=f"images/{batch.id}/{slot}", thumbnail_path=f"thumbnails/{batch.id}/{slot}.jpg",
                width=640, height=480, file_size=1000, mime_type="image/jpeg", format="JPEG",
                image_quality_score=Decimal(str(score)),
            )  # fmt: skip
            session.add(image)
            session.flush()
            ids.append(image.id)
        session.commit()
        return batch.id, ids


def request_run(uow_factory: UnitOfWorkFactory, batch_id: int) -> tuple[int, str]:
    """A REQUESTED run of the batch, as `complete` or the last upload would record it."""
    with uow_factory(SYSTEM, step_context("test")) as uow:
        batch = uow.batches.require(batch_id, for_update=True)
        run = pipeline.request_run(uow, batch, "test")
        uow.commit()
        return run.id, run.execution_name


def execution_id(name: str) -> str:
    return f"arn:aws:states:us-east-1:000000000000:execution:cradle-batch-pipeline:{name}"


def good_result(image_id: int, key: str, confidence: float = 0.87) -> ImageResult:
    keypoints = [
        PredictedKeypoint(id=i, x=100.0 + 10 * i, y=50.0 + 5 * i, confidence=0.9, visible=Visibility.VISIBLE)
        for i in range(17)
    ]
    person = DetectedPerson(box=[80.0, 40.0, 300.0, 400.0], score=confidence, keypoints=keypoints)
    return ImageResult(
        image_id=image_id, key=key, ok=True, width=640, height=480, persons=[person], best_person=0,
        yolo_confidence=confidence, processing_time_ms=40, model_version="8.4",
    )  # fmt: skip


def failed_result(image_id: int, key: str) -> ImageResult:
    return ImageResult(
        image_id=image_id, key=key, ok=False, error="cannot decode: truncated JPEG", processing_time_ms=3,
        model_version="8.4",
    )  # fmt: skip


def write_results(
    storage: Storage, manifest: ChunkManifest, failing: frozenset[int] = frozenset()
) -> dict[str, Any]:
    """What the inference container does for a manifest: one ImageResult line per image."""
    lines = [
        (failed_result if image.image_id in failing else good_result)(image.image_id, image.key)
        for image in manifest.images
    ]
    body = "".join(line.model_dump_json() + "\n" for line in lines)
    assert manifest.output_bucket is not None
    storage.put(manifest.output_bucket, manifest.output_key, body.encode(), content_type=RESULTS_CONTENT_TYPE)
    return {"images": len(lines), "failed": sum(1 for line in lines if not line.ok)}


@dataclass
class RecordingWorkflow:
    """Step Functions as far as task tokens go: records answers; `gone` tokens are no longer awaited."""

    gone: set[str] = field(default_factory=set)
    succeeded: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        self.started.append((state_machine_arn, name, payload))
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def succeed(self, task_token: str, output: dict[str, Any]) -> bool:
        if task_token in self.gone:
            return False
        self.succeeded.append((task_token, output))
        self.gone.add(task_token)
        return True

    def fail(self, task_token: str, error: str, cause: str) -> bool:
        if task_token in self.gone:
            return False
        self.failed.append((task_token, error, cause))
        self.gone.add(task_token)
        return True

    def heartbeat(self, task_token: str) -> bool:
        self.heartbeats.append(task_token)
        return task_token not in self.gone
