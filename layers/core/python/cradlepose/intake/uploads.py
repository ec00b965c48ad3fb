"""Registering an uploaded file: the work of the S3 upload trigger.

An upload arrives at `incoming/<batch>/<slot>/<name>`. Its real type is read from its bytes;
anything but a readable JPEG or PNG within the size limits (bytes, and pixels as the header
declares them, before anything is decoded) is rejected: recorded with the reason, copied to
quarantine, removed from incoming. A good image is rebuilt from what its pixels need, checked to
hold nothing else and to decode to the same pixels (cradlepose.imaging.anonymize; only then is
its `anonymization_status` set), measured for quality, thumbnailed, and registered with what the
uploader said about it (intake.image_metadata: its manifest entry over the batch's defaults). The
last expected image of a batch requests its pipeline run.

Every step may run twice (S3 and EventBridge deliver at least once): objects are written to
deterministic keys, the Image row is unique on its storage path, the rejection on its upload
key, and the incoming object is deleted only after the database has committed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from cradlepose.adapters.storage import ObjectMissing, Storage
from cradlepose.common.system import SYSTEM
from cradlepose.db.models import Image, ImageBatch, UploadRejection
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry, jsonable
from cradlepose.domain.enums import AuditCategory, AuditStatus, BatchStatus
from cradlepose.domain.quality import assess
from cradlepose.domain.uploads import UploadKey, loggable_key
from cradlepose.imaging import anonymize, measure
from cradlepose.imaging.sniff import sniff
from cradlepose.intake import image_metadata
from cradlepose.preannotation import pipeline
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

TRIGGER_CONTEXT = RequestContext(
    user_agent="cradle-upload-trigger", endpoint="s3:ObjectCreated", method="EVENT"
)
MAX_PIXELS = anonymize.MAX_PIXELS


class Outcome(StrEnum):
    REGISTERED = "registered"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"  # this upload was already handled
    IGNORED = "ignored"  # not an upload key, or the object is gone


@dataclass(frozen=True)
class Registration:
    outcome: Outcome
    key: str
    image_id: int | None = None
    reason: str | None = None
    run_to_start: int | None = None


@dataclass(frozen=True)
class _Prepared:
    image_format: str
    mime_type: str
    width: int
    height: int
    clean: bytes
    orientation: int  # EXIF orientation kept in the file (1: as stored); width/height are as shown
    thumbnail: bytes
    quality_score: Decimal
    quality_issues: list[str]


class _Rejected(Exception):
    def __init__(self, reason: str, detected_type: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detected_type = detected_type


def register_upload(uow_factory: UnitOfWorkFactory, storage: Storage, key: str) -> Registration:
    settings = get_settings()
    upload = UploadKey.parse(key)
    if upload is None:
        log.warning("ignoring an object outside the upload layout: %s", loggable_key(key))
        return Registration(Outcome.IGNORED, key, reason="not an upload key")
    if _already_handled(uow_factory, upload):
        _remove_incoming(storage, upload)
        return Registration(Outcome.DUPLICATE, key)
    try:
        head = storage.head(settings.uploads_bucket, upload.incoming)
        _check_batch_open(uow_factory, upload.batch_id)
        if head.size > settings.max_upload_bytes:
            raise _Rejected(
                f"{head.size} bytes is over the upload limit of {settings.max_upload_bytes} bytes"
            )
        prepared = _prepare(
            storage.get(settings.uploads_bucket, upload.incoming), settings.thumbnail_max_side
        )
    except ObjectMissing:
        # A second delivery of the same event, running alongside the first, finds the object
        # removed once the first has registered it.
        if _already_handled(uow_factory, upload):
            return Registration(Outcome.DUPLICATE, key)
        return Registration(Outcome.IGNORED, key, reason="the uploaded object is gone")
    except _Rejected as rejection:
        return _reject(uow_factory, storage, upload, rejection, head.size)
    return _register(uow_factory, storage, upload, prepared, head.size)


# ------------------------------------------------------------------ steps


def _already_handled(uow_factory: UnitOfWorkFactory, upload: UploadKey) -> bool:
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        return (
            uow.images.by_storage_path(upload.image) is not None
            or uow.upload_rejections.by_upload_key(upload.incoming) is not None
        )


def _check_batch_open(uow_factory: UnitOfWorkFactory, batch_id: int) -> None:
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        batch = uow.batches.get(batch_id)
        if batch is None:
            raise _Rejected(f"batch {batch_id} does not exist")
        if batch.status is not BatchStatus.UPLOADED:
            raise _Rejected(f"batch {batch_id} is {batch.status.value} and no longer accepts uploads")


def _prepare(data: bytes, thumbnail_side: int) -> _Prepared:
    detected = sniff(data[:32])
    if detected.image_format is None:
        raise _Rejected(f"not a JPEG or PNG image: the content is {detected.name}", detected.mime_type)
    try:
        anonymized = anonymize.anonymize(data, detected.image_format, MAX_PIXELS)
        measurements = measure.measure(anonymized.data)
        thumbnail = measure.thumbnail(anonymized.data, thumbnail_side)
    except (anonymize.ImageTooLarge, anonymize.NotAnonymized) as refusal:
        raise _Rejected(str(refusal), detected.mime_type) from None
    except anonymize.unreadable_errors() as error:
        raise _Rejected(
            f"the {detected.name} is corrupt or unreadable: {error}", detected.mime_type
        ) from None
    quality = assess(measurements)
    return _Prepared(
        image_format=detected.image_format,
        mime_type=detected.mime_type,
        width=anonymized.width,
        height=anonymized.height,
        clean=anonymized.data,
        orientation=anonymized.orientation,
        thumbnail=thumbnail,
        quality_score=quality.score,
        quality_issues=quality.issues,
    )


def _register(
    uow_factory: UnitOfWorkFactory, storage: Storage, upload: UploadKey, prepared: _Prepared, size: int
) -> Registration:
    settings = get_settings()
    storage.put(settings.uploads_bucket, upload.image, prepared.clean, content_type=prepared.mime_type)
    storage.put(settings.derived_bucket, upload.thumbnail, prepared.thumbnail, content_type="image/jpeg")
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        # No lock on the batch here: thousands of registrations of one batch run at once, and the
        # only write they share is the counter's increment, the last statement before commit.
        batch = uow.batches.require(upload.batch_id)
        if uow.images.by_storage_path(upload.image) is not None:
            return Registration(Outcome.DUPLICATE, upload.incoming)
        if batch.status is not BatchStatus.UPLOADED:
            uow.rollback()
            return _closed(uow_factory, storage, upload, batch.id, size)
        try:
            described = image_metadata.for_registration(uow, batch, upload.incoming)
            image = uow.images.add(_image_row(batch.id, upload, prepared, described))
        except sa.exc.IntegrityError:  # the same upload, delivered twice at once, registered first
            uow.rollback()
            if _already_handled(uow_factory, upload):
                return Registration(Outcome.DUPLICATE, upload.incoming)
            raise
        uow.audit(
            AuditEntry(
                action="IMAGE_REGISTERED",
                category=AuditCategory.IMAGE_PROCESSING,
                resource_type="Image",
                resource_id=image.id,
                resource_name=image.original_filename,
                new_values={
                    "batch_id": batch.id,
                    "width": image.width,
                    "height": image.height,
                    "format": image.format,
                    "uploaded_bytes": size,
                    "stored_bytes": image.file_size,
                    "metadata_removed": True,
                    "exif_orientation": prepared.orientation,
                    "image_quality_score": image.image_quality_score,
                    "quality_issues": prepared.quality_issues,
                    "infant_metadata": image.infant_metadata,
                    "acquisition_date": jsonable(image.acquisition_date),
                    "source_institution": image.source_institution,
                },
                batch_context={"batch_id": batch.id, "batch_name": batch.batch_name},
            )
        )
        # One atomic increment, and only while the batch still takes uploads: the row lock it takes
        # lasts to the commit, so processing cannot start between this count and the image's commit.
        counted = uow.session.execute(
            sa.update(ImageBatch)
            .where(ImageBatch.id == batch.id, ImageBatch.status == BatchStatus.UPLOADED)
            .values(registered_images=ImageBatch.registered_images + 1)
            .returning(ImageBatch.registered_images, ImageBatch.total_images)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if counted is None:
            uow.rollback()
            return _closed(uow_factory, storage, upload, batch.id, size)
        registered, expected = counted
        run_id = None
        if registered >= expected > 0:
            run_id = pipeline.request_run(uow, batch, "the last expected image was registered").id
        uow.commit()
        image_id = image.id
    _remove_incoming(storage, upload)
    return Registration(Outcome.REGISTERED, upload.incoming, image_id=image_id, run_to_start=run_id)


def _image_row(batch_id: int, upload: UploadKey, prepared: _Prepared, described: dict[str, Any]) -> Image:
    return Image(
        **described,  # infant_metadata, acquisition_date, source_institution (intake.image_metadata)
        batch_id=batch_id,
        filename=upload.slot + (".jpg" if prepared.image_format == "JPEG" else ".png"),
        original_filename=upload.filename,
        storage_path=upload.image,
        thumbnail_path=upload.thumbnail,
        width=prepared.width,
        height=prepared.height,
        file_size=len(prepared.clean),
        mime_type=prepared.mime_type,
        format=prepared.image_format,
        anonymization_status=True,  # _prepare passed anonymize's checks, or it was rejected
        image_quality_score=prepared.quality_score,
        has_quality_issues=bool(prepared.quality_issues),
        quality_issues=prepared.quality_issues or None,
    )


def _closed(
    uow_factory: UnitOfWorkFactory, storage: Storage, upload: UploadKey, batch_id: int, size: int
) -> Registration:
    return _reject(
        uow_factory, storage, upload, _Rejected(f"batch {batch_id} closed during the upload"), size
    )


def _reject(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    upload: UploadKey,
    rejection: _Rejected,
    size: int | None,
) -> Registration:
    settings = get_settings()
    storage.copy(settings.uploads_bucket, upload.incoming, settings.derived_bucket, upload.quarantine)
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        batch_exists = uow.batches.get(upload.batch_id) is not None
        if batch_exists and uow.upload_rejections.by_upload_key(upload.incoming) is None:
            uow.upload_rejections.add(
                UploadRejection(
                    batch_id=upload.batch_id,
                    upload_key=upload.incoming,
                    original_filename=upload.filename,
                    reason=rejection.reason,
                    detected_type=rejection.detected_type,
                    file_size=size,
                    quarantine_path=upload.quarantine,
                )
            )
        uow.audit(
            AuditEntry(
                action="UPLOAD_REJECTED",
                category=AuditCategory.IMAGE_PROCESSING,
                resource_type="ImageBatch",
                resource_id=upload.batch_id,
                resource_name=upload.filename,
                status=AuditStatus.FAILED,
                error_message=rejection.reason,
                new_values={
                    "upload_key": upload.incoming,
                    "quarantine_path": upload.quarantine,
                    "size": size,
                },
            )
        )
        uow.commit()
    _remove_incoming(storage, upload)
    return Registration(Outcome.REJECTED, upload.incoming, reason=rejection.reason)


def _remove_incoming(storage: Storage, upload: UploadKey) -> None:
    storage.delete(get_settings().uploads_bucket, upload.incoming)
