"""Registering an uploaded file: the work of the S3 upload trigger.

An upload arrives at `incoming/<batch>/<slot>/<name>`. Its real type is read from its bytes;
anything but a readable JPEG or PNG within the size limits (bytes, and pixels as the header
declares them, before anything is decoded) is rejected: recorded with the reason, copied to
quarantine, removed from incoming. A good image is rebuilt from what its pixels need, checked to
hold nothing else and to decode to the same pixels (cradlepose.imaging.anonymize; only then is
its `anonymization_status` set), measured for quality, thumbnailed, and registered with what the
uploader said about it (intake.image_metadata: its manifest entry over the batch's defaults). The
last expected image of a batch requests its pipeline run.

Each form is single-use (issue 18): the key's slot is the nonce of a `pending_uploads` row,
consumed in the transaction that registers or rejects the object, and only after consuming it
are the cleaned image and thumbnail written. An object whose slot names no issued form, or a
form another object already consumed, is rejected like any other refusal.

Duplicates (issue 19): the SHA-256 of the cleaned pixels is unique per batch, so an exact copy
(whatever metadata it carried) is rejected, "duplicate of image N", even when two arrive at
once; an image within `fingerprint.NEAR_DUPLICATE_BITS` of another in the batch (its dHash),
or with the same pixels as an image of another batch, is registered, linked to that image
(`duplicate_of_id`) and flagged in the upload report.

Every step may run twice (S3 and EventBridge deliver at least once): objects are written to
deterministic keys, the Image row is unique on its storage path, the rejection on its upload
key, a consumed form remembers the object (key and ETag) that consumed it, and the incoming
object is deleted only after the database has committed. So a delivery that finds the incoming
object gone, or the rejection already recorded, was beaten by another delivery of its event and
reports a duplicate; and an image row the pixel index refuses is always examined again (the
look after the clash, or the index itself once more), never let through as an error.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BIT

from cradlepose.adapters.storage import ObjectMissing, Storage, StoredObject
from cradlepose.common.system import SYSTEM
from cradlepose.db.errors import constraint_name
from cradlepose.db.models import Image, ImageBatch, PendingUpload, UploadRejection
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry, jsonable
from cradlepose.domain.enums import AuditCategory, AuditStatus, BatchStatus
from cradlepose.domain.quality import assess, registration_warnings
from cradlepose.domain.uploads import UploadKey, loggable_key
from cradlepose.imaging import anonymize, fingerprint, measure
from cradlepose.imaging.sniff import sniff
from cradlepose.intake import image_metadata
from cradlepose.preannotation import pipeline
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

TRIGGER_CONTEXT = RequestContext(
    user_agent="cradle-upload-trigger", endpoint="s3:ObjectCreated", method="EVENT"
)
MAX_PIXELS = anonymize.MAX_PIXELS
PIXELS_UNIQUE_PER_BATCH = "uq_image_batch_pixels"


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
    pixel_sha256: str  # of the cleaned pixels: exact duplicates
    upload_sha256: str  # of the bytes as uploaded: what a client can hash before asking for a form
    perceptual_hash: int  # 64-bit dHash, signed as Postgres stores it: near-duplicates


class _Rejected(Exception):
    def __init__(
        self, reason: str, detected_type: str | None = None, duplicate_of: int | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detected_type = detected_type
        self.duplicate_of = duplicate_of


class _Form(StrEnum):
    """What the upload's form (its pending row) says about this object."""

    OPEN = "open"  # issued and not used yet
    THIS_OBJECT = "this object"  # consumed by this very object: a redelivered event
    USED = "used"  # consumed by another object: the form was used twice
    NOT_ISSUED = "not issued"  # no form has this nonce (or it belongs to another batch)


_FORM_REFUSALS = {
    _Form.USED: "the upload form was already used: each form takes one file; ask for a new form",
    _Form.NOT_ISSUED: "the upload's key names no upload form Cradle issued for this batch",
}


def _duplicate(original: int) -> _Rejected:
    return _Rejected(
        f"duplicate of image {original}: the same pixels are already in this batch", duplicate_of=original
    )


def register_upload(uow_factory: UnitOfWorkFactory, storage: Storage, key: str) -> Registration:
    settings = get_settings()
    upload = UploadKey.parse(key)
    if upload is None:
        log.warning("ignoring an object outside the upload layout: %s", loggable_key(key))
        return Registration(Outcome.IGNORED, key, reason="not an upload key")
    try:
        head = storage.head(settings.uploads_bucket, upload.incoming)
    except ObjectMissing:
        # A second delivery of an event whose object the first delivery already removed.
        return _gone(uow_factory, upload)
    form = _form_state(uow_factory, upload, head.etag)
    if form is _Form.THIS_OBJECT or (form is _Form.NOT_ISSUED and _already_handled(uow_factory, upload)):
        _remove_incoming(storage, upload)
        return Registration(Outcome.DUPLICATE, key)
    if form is not _Form.OPEN:
        return _reject(uow_factory, storage, upload, _Rejected(_FORM_REFUSALS[form]), head)
    return _register_new(uow_factory, storage, upload, head)


def _register_new(
    uow_factory: UnitOfWorkFactory, storage: Storage, upload: UploadKey, head: StoredObject
) -> Registration:
    """An object through an open form: check it, clean it, and register or reject it."""
    settings = get_settings()
    key = upload.incoming
    try:
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
        return _gone(uow_factory, upload)
    except _Rejected as rejection:
        return _reject(uow_factory, storage, upload, rejection, head)
    original = _same_pixels_in_batch(uow_factory, upload, prepared.pixel_sha256)
    if original == _THIS_UPLOAD:  # registered by a delivery of the same event running alongside
        return Registration(Outcome.DUPLICATE, key)
    if original is not None:
        return _reject(uow_factory, storage, upload, _duplicate(original), head)
    return _register(uow_factory, storage, upload, prepared, head)


# ------------------------------------------------------------------ steps


def _gone(uow_factory: UnitOfWorkFactory, upload: UploadKey) -> Registration:
    """The incoming object is no longer there. Each delivery removes it only after committing
    what it did with it, so if this upload is registered or rejected, another delivery of its
    event did that: a duplicate event. Otherwise someone else removed it."""
    if _already_handled(uow_factory, upload):
        return Registration(Outcome.DUPLICATE, upload.incoming)
    return Registration(Outcome.IGNORED, upload.incoming, reason="the uploaded object is gone")


def _already_handled(uow_factory: UnitOfWorkFactory, upload: UploadKey) -> bool:
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        return (
            uow.images.by_storage_path(upload.image) is not None
            or uow.upload_rejections.by_upload_key(upload.incoming) is not None
        )


def _form_state(uow_factory: UnitOfWorkFactory, upload: UploadKey, etag: str | None) -> _Form:
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        form = uow.pending_uploads.by_nonce(upload.slot)
        if form is None or form.batch_id != upload.batch_id:
            return _Form.NOT_ISSUED
        if form.consumed_at is None:
            return _Form.OPEN
        if form.consumed_key == upload.incoming and form.consumed_etag == etag:
            return _Form.THIS_OBJECT
        return _Form.USED


def _consume(uow: UnitOfWork, upload: UploadKey, etag: str | None) -> bool:
    """Use the upload's form, once: True for the one transaction that gets it. The row stays
    locked to the commit, so a concurrent delivery waits here and then finds it consumed."""
    used = uow.session.execute(
        sa.update(PendingUpload)
        .where(
            PendingUpload.nonce == upload.slot,
            PendingUpload.batch_id == upload.batch_id,
            PendingUpload.consumed_at.is_(None),
        )
        .values(consumed_at=sa.func.now(), consumed_key=upload.incoming, consumed_etag=etag)
        .returning(PendingUpload.id)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return used is not None


_THIS_UPLOAD = -1


def _same_pixels_in_batch(uow_factory: UnitOfWorkFactory, upload: UploadKey, pixel_sha256: str) -> int | None:
    """The image of the batch with these pixels: its id, `_THIS_UPLOAD` if it is this very upload
    (registered by another delivery of its event), or None."""
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        found = uow.session.execute(
            sa.select(Image.id, Image.storage_path).where(
                Image.batch_id == upload.batch_id, Image.pixel_sha256 == pixel_sha256
            )
        ).first()
    if found is None:
        return None
    return _THIS_UPLOAD if found.storage_path == upload.image else int(found.id)


def _original_of(uow: UnitOfWork, batch_id: int, prepared: _Prepared) -> tuple[int, int] | None:
    """The image this one repeats, if any, and their dHash distance: the same pixels in another
    batch (distance 0), else the nearest image of this batch within the near-duplicate bound.
    A scan of the batch's hashes (an XOR and a popcount per image, on the batch's index)."""
    elsewhere = uow.session.scalar(
        sa.select(Image.id)
        .where(Image.pixel_sha256 == prepared.pixel_sha256, Image.batch_id != batch_id)
        .order_by(Image.id)
        .limit(1)
    )
    if elsewhere is not None:
        return elsewhere, 0
    bits = sa.func.bit_count(sa.cast(Image.perceptual_hash.op("#")(prepared.perceptual_hash), BIT(64)))
    nearest = uow.session.execute(
        sa.select(Image.id, bits)
        .where(
            Image.batch_id == batch_id,
            Image.perceptual_hash.is_not(None),
            bits <= fingerprint.NEAR_DUPLICATE_BITS,
        )
        .order_by(bits, Image.id)
        .limit(1)
    ).first()
    return (int(nearest[0]), int(nearest[1])) if nearest is not None else None


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
    perceptual = fingerprint.dhash(anonymized.data, anonymized.orientation)
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
        pixel_sha256=anonymized.pixel_sha256,
        upload_sha256=hashlib.sha256(data).hexdigest(),
        perceptual_hash=fingerprint.to_signed(perceptual),
    )


def _register(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    upload: UploadKey,
    prepared: _Prepared,
    head: StoredObject,
    attempt: int = 1,
) -> Registration:
    settings = get_settings()
    size = head.size
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        # No lock on the batch here: thousands of registrations of one batch run at once, and the
        # only write they share is the counter's increment, the last statement before commit.
        batch = uow.batches.require(upload.batch_id)
        if uow.images.by_storage_path(upload.image) is not None:
            return Registration(Outcome.DUPLICATE, upload.incoming)
        if not _consume(uow, upload, head.etag):  # another delivery took the form meanwhile
            uow.rollback()
            return _form_taken(uow_factory, storage, upload, head)
        if batch.status is not BatchStatus.UPLOADED:
            uow.rollback()
            return _closed(uow_factory, storage, upload, batch.id, head)
        original = _original_of(uow, batch.id, prepared)
        # Written only now that this transaction holds the form: a second object through the same
        # form can never overwrite the image this one registers.
        storage.put(settings.uploads_bucket, upload.image, prepared.clean, content_type=prepared.mime_type)
        storage.put(settings.derived_bucket, upload.thumbnail, prepared.thumbnail, content_type="image/jpeg")
        try:
            described = image_metadata.for_registration(uow, batch, upload.incoming)
            image = uow.images.add(_image_row(batch.id, upload, prepared, original, described))
        except sa.exc.IntegrityError as error:
            uow.rollback()
            return _clash(uow_factory, storage, upload, prepared, head, error, attempt)
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
                    "pixel_sha256": prepared.pixel_sha256,
                    "duplicate_of": original[0] if original else None,
                    "duplicate_distance": original[1] if original else None,
                },
                batch_context={"batch_id": batch.id, "batch_name": batch.batch_name},
                warnings=registration_warnings(
                    prepared.quality_issues, *(original if original else (None, None))
                ),
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
            _discard_written(storage, upload)
            return _closed(uow_factory, storage, upload, batch.id, head)
        registered, expected = counted
        run_id = None
        if registered >= expected > 0:
            run_id = pipeline.request_run(uow, batch, "the last expected image was registered").id
        uow.commit()
        image_id = image.id
    _remove_incoming(storage, upload)
    return Registration(Outcome.REGISTERED, upload.incoming, image_id=image_id, run_to_start=run_id)


# How often a registration refused by the pixel index is tried again when the look after the
# refusal does not find the image it clashed with (each try consumes, writes and inserts anew).
_CLASH_ATTEMPTS = 3


def _clash(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    upload: UploadKey,
    prepared: _Prepared,
    head: StoredObject,
    error: sa.exc.IntegrityError,
    attempt: int,
) -> Registration:
    """The image row clashed with one committed meanwhile: the same upload delivered twice at
    once, or the same pixels through another form (an exact duplicate, rejected).

    The rollback reopened this upload's form, so another delivery of its event may be past
    `_consume` now; it cannot register either (the clashing row is committed) and ends here too,
    or in `_reject`, which tells the loser of that race it is a duplicate."""
    first = _same_pixels_in_batch(uow_factory, upload, prepared.pixel_sha256)
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        registered_by_another_delivery = uow.images.by_storage_path(upload.image) is not None
    if registered_by_another_delivery or first == _THIS_UPLOAD:  # what this one wrote is that image
        return Registration(Outcome.DUPLICATE, upload.incoming)
    _discard_written(storage, upload)
    if constraint_name(error) != PIXELS_UNIQUE_PER_BATCH:
        if _already_handled(uow_factory, upload):  # rejected meanwhile by another delivery
            return Registration(Outcome.DUPLICATE, upload.incoming)
        raise error
    if first is not None:
        return _reject(uow_factory, storage, upload, _duplicate(first), head)
    # The index refused the row for an image this look does not see (not visible to it yet):
    # let the index decide again rather than guess. The next try finds the image, or registers.
    if attempt < _CLASH_ATTEMPTS:
        log.info("pixel clash without a visible original; trying again: %s", loggable_key(upload.incoming))
        return _register(uow_factory, storage, upload, prepared, head, attempt + 1)
    raise error


def _form_taken(
    uow_factory: UnitOfWorkFactory, storage: Storage, upload: UploadKey, head: StoredObject
) -> Registration:
    """The form was consumed between the first look and this transaction: by this same object
    (a concurrent redelivery, which registered it) or by another (the form used twice)."""
    if _form_state(uow_factory, upload, head.etag) is _Form.THIS_OBJECT:
        return Registration(Outcome.DUPLICATE, upload.incoming)
    return _reject(uow_factory, storage, upload, _Rejected(_FORM_REFUSALS[_Form.USED]), head)


def _discard_written(storage: Storage, upload: UploadKey) -> None:
    """Remove what a registration that did not commit wrote (its own slot: no one else's)."""
    settings = get_settings()
    storage.delete(settings.uploads_bucket, upload.image)
    storage.delete(settings.derived_bucket, upload.thumbnail)


def _image_row(
    batch_id: int,
    upload: UploadKey,
    prepared: _Prepared,
    original: tuple[int, int] | None,
    described: dict[str, Any],
) -> Image:
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
        pixel_sha256=prepared.pixel_sha256,
        upload_sha256=prepared.upload_sha256,
        perceptual_hash=prepared.perceptual_hash,
        duplicate_of_id=original[0] if original else None,
        duplicate_distance=original[1] if original else None,
    )


def _closed(
    uow_factory: UnitOfWorkFactory, storage: Storage, upload: UploadKey, batch_id: int, head: StoredObject
) -> Registration:
    return _reject(
        uow_factory, storage, upload, _Rejected(f"batch {batch_id} closed during the upload"), head
    )


REJECTION_ONCE_PER_UPLOAD = "uq_upload_rejections_upload_key"


def _reject(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    upload: UploadKey,
    rejection: _Rejected,
    head: StoredObject,
) -> Registration:
    """Quarantine the object, record why, and remove it from incoming. Two deliveries of one event
    may both get here: whichever records the rejection first rejects; the other, finding the object
    gone or the rejection recorded, is a duplicate (the object leaves incoming only after the
    quarantine copy and the commit, so both are done by then)."""
    settings = get_settings()
    size = head.size
    try:
        storage.copy(settings.uploads_bucket, upload.incoming, settings.derived_bucket, upload.quarantine)
    except ObjectMissing:
        return _gone(uow_factory, upload)
    with uow_factory(SYSTEM, TRIGGER_CONTEXT) as uow:
        _consume(uow, upload, head.etag)  # a rejected file used its form too (no-op if it was used)
        if uow.upload_rejections.by_upload_key(upload.incoming) is not None:
            recorded_by_another_delivery = True
        else:
            recorded_by_another_delivery = not _record_rejection(uow, upload, rejection, size)
    if recorded_by_another_delivery:
        _remove_incoming(storage, upload)  # that rejection is committed, its quarantine copy made
        return Registration(Outcome.DUPLICATE, upload.incoming)
    _remove_incoming(storage, upload)
    return Registration(Outcome.REJECTED, upload.incoming, reason=rejection.reason)


def _record_rejection(uow: UnitOfWork, upload: UploadKey, rejection: _Rejected, size: int) -> bool:
    """Record and audit the rejection, and commit: False if another delivery of the same event
    recorded it first (the unique upload key refused this one)."""
    try:
        if uow.batches.get(upload.batch_id) is not None:
            uow.upload_rejections.add(
                UploadRejection(
                    batch_id=upload.batch_id,
                    upload_key=upload.incoming,
                    original_filename=upload.filename,
                    reason=rejection.reason,
                    detected_type=rejection.detected_type,
                    file_size=size,
                    quarantine_path=upload.quarantine,
                    duplicate_of_id=rejection.duplicate_of,
                )
            )
    except sa.exc.IntegrityError as error:
        uow.rollback()
        if constraint_name(error) == REJECTION_ONCE_PER_UPLOAD:
            return False
        raise
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
                "duplicate_of": rejection.duplicate_of,
            },
        )
    )
    uow.commit()
    return True


def _remove_incoming(storage: Storage, upload: UploadKey) -> None:
    storage.delete(get_settings().uploads_bucket, upload.incoming)
