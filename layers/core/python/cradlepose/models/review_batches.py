"""A model's predictions made reviewable: an inference job's results become a batch to annotate.

`POST /inference-jobs/{id}/review-batch` (admin) takes a COMPLETED inference job (an evaluation on
a dataset split, or a run over chosen images) and creates a batch of the model's schema,
READY_FOR_ANNOTATION, whose images start from that model's keypoints: each target image becomes a
new image of the batch (its pixels and thumbnail copied to the batch's own keys, since an image
belongs to one batch), `yolo_keypoints` the model's chosen person (domain.preannotation, rounded
where stored), `yolo_confidence` its score and `yolo_model_version` the model's version. An image
the model could not read keeps no keypoints (UPLOADED) and its error. One review batch per job
(409 for a second); the batch and the job's audit rows are written in one transaction. The copies
are made first, at keys fixed by the job and the image's position, so a request that fails after
copying leaves nothing in the database and a retry writes the very same keys again (the API
may read the results bucket, and write, never delete, images).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cradlepose.adapters.storage import ObjectMissing, Storage
from cradlepose.common.use_cases import audit
from cradlepose.db.models import Image, ImageBatch, InferenceJob
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import AuditCategory, BatchStatus, ImageStatus, JobStatus
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.inference import ImageResult
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.preannotation import yolo_keypoints
from cradlepose.settings import get_settings


class ReviewBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=10_000)


class ReviewBatchOut(BaseModel):
    inference_job_id: int
    model_id: int
    batch_id: int
    status: BatchStatus
    images: int
    pre_annotated: int  # images that start from the model's keypoints


def create_review_batch(
    uow: UnitOfWork, storage: Storage, job_id: int, command: ReviewBatchIn
) -> ReviewBatchOut:
    actor = access.require_admin(uow.actor)
    job = uow.session.get(InferenceJob, job_id, with_for_update=True)
    if job is None:
        raise NotFound("InferenceJob", job_id)
    if job.status is not JobStatus.COMPLETED:
        raise Conflict(
            f"inference job {job.id} is {job.status.value}; its predictions are reviewable once COMPLETED"
        )
    results = dict(job.results or {})
    if results.get("review_batch_id") is not None:
        raise Conflict(f"inference job {job.id} already has review batch {results['review_batch_id']}")
    model = uow.model_configs.require(job.model_id)
    schema = SchemaDefinition.model_validate(uow.schemas.require(model.keypoint_schema_id).schema_definition)
    predictions = _predictions(storage, str(results.get("predictions_uri") or ""), job.id)
    sources = {
        image.id: image
        for image in uow.session.scalars(sa.select(Image).where(Image.id.in_(job.target_images)))
    }
    settings = get_settings()
    now = dt.datetime.now(dt.UTC)
    version = model.version[:20]
    batch = uow.batches.add(
        ImageBatch(
            batch_name=(command.batch_name or f"review of {model.model_name} {model.version}, job {job.id}")[
                :255
            ],
            description=command.description,
            keypoint_schema_id=model.keypoint_schema_id,
            total_images=len(sources),
            registered_images=len(sources),
            status=BatchStatus.READY_FOR_ANNOTATION,
            yolo_model_version=version,
            yolo_processing_completed=now,
            upload_metadata={"inference_job_id": job.id, "model_id": model.id},
            uploaded_by=actor.user_id,
        )
    )
    images = []
    for n, image_id in enumerate(job.target_images):
        source = sources.get(image_id)
        if source is None:
            continue
        result = predictions.get(image_id)
        image_key = f"images/review-{job.id}/{n}"
        storage.copy(settings.uploads_bucket, source.storage_path, settings.uploads_bucket, image_key)
        thumbnail_key = None
        if source.thumbnail_path:
            thumbnail_key = f"thumbnails/review-{job.id}/{n}.jpg"
            storage.copy(
                settings.derived_bucket, source.thumbnail_path, settings.derived_bucket, thumbnail_key
            )
        keypoints = (
            yolo_keypoints(result, schema, source.width, source.height) if result and result.ok else None
        )
        image = Image(
            batch_id=batch.id,
            filename=f"{n}.{'png' if source.format == 'PNG' else 'jpg'}",
            original_filename=source.original_filename,
            storage_path=image_key,
            thumbnail_path=thumbnail_key,
            width=source.width,
            height=source.height,
            file_size=source.file_size,
            mime_type=source.mime_type,
            format=source.format,
            infant_metadata=source.infant_metadata,
            acquisition_date=source.acquisition_date,
            source_institution=source.source_institution,
            anonymization_status=source.anonymization_status,
            yolo_keypoints=keypoints,
            yolo_confidence=_confidence(result) if keypoints else None,
            yolo_processing_time_ms=result.processing_time_ms if result else None,
            yolo_model_version=version if keypoints else None,
            yolo_error=(result.error or "the model could not read it") if result and not result.ok else None,
            image_quality_score=source.image_quality_score,
            has_quality_issues=source.has_quality_issues,
            quality_issues=source.quality_issues,
            status=ImageStatus.YOLO_PROCESSED if keypoints else ImageStatus.UPLOADED,
        )
        uow.session.add(image)
        images.append(image)
    uow.flush()
    pre_annotated = sum(1 for i in images if i.yolo_keypoints is not None)
    job.results = {**results, "review_batch_id": batch.id}
    audit(
        uow,
        "REVIEW_BATCH_CREATED",
        AuditCategory.IMAGE_PROCESSING,
        "ImageBatch",
        batch.id,
        batch.batch_name,
        new={
            "status": batch.status,
            "inference_job_id": job.id,
            "model_id": model.id,
            "images": len(images),
            "pre_annotated": pre_annotated,
        },
    )
    audit(
        uow,
        "INFERENCE_JOB_REVIEW_BATCH",
        AuditCategory.SYSTEM,
        "InferenceJob",
        job.id,
        f"inference job {job.id}",
        new={"review_batch_id": batch.id},
    )
    uow.commit()
    return ReviewBatchOut(
        inference_job_id=job.id,
        model_id=model.id,
        batch_id=batch.id,
        status=batch.status,
        images=len(images),
        pre_annotated=pre_annotated,
    )


def _predictions(storage: Storage, uri: str, job_id: int) -> dict[int, ImageResult]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise Conflict(f"inference job {job_id} has no predictions to review")
    try:
        text = storage.get(bucket, key).decode()
    except ObjectMissing:
        raise Conflict(f"inference job {job_id}'s predictions are gone ({uri})") from None
    found: dict[int, ImageResult] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            result = ImageResult.model_validate_json(line)
        except ValidationError as error:
            raise Conflict(
                f"inference job {job_id}'s predictions line {number} is unreadable: {error}"
            ) from None
        found[result.image_id] = result
    return found


def _confidence(result: ImageResult | None) -> Decimal | None:
    if result is None or result.yolo_confidence is None:
        return None
    return Decimal(str(round(result.yolo_confidence, 2)))
