"""Image batches: creation with presigned upload forms, listing, progress, archive, completion."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.storage import Storage
from cradlepose.api_limits import MAX_FORMS_PER_REQUEST
from cradlepose.common.paging import keyset_page
from cradlepose.common.schema_choice import named_or_default
from cradlepose.common.upload_forms import UploadForm
from cradlepose.common.use_cases import (
    DecimalNumber,
    Page,
    audit,
    snapshot,
    tenths,
)
from cradlepose.db.models import (
    BatchAssignment,
    Image,
    ImageBatch,
    KeypointSchema,
    PendingUpload,
    UploadRejection,
)
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.actor import Actor
from cradlepose.domain.audit import changes
from cradlepose.domain.bounds import NOT_NULL, ByteSize, DbId, DueDate, Patch
from cradlepose.domain.enums import AuditCategory, BatchStatus, ImageStatus, Role
from cradlepose.domain.errors import Conflict, DuplicateUpload, NotFound, PayloadTooLarge, ValidationFailed
from cradlepose.domain.image_metadata import ImageMetadata
from cradlepose.domain.status_changes import change_status
from cradlepose.domain.uploads import UploadKey, content_type_for
from cradlepose.intake import image_metadata
from cradlepose.preannotation import pipeline
from cradlepose.settings import get_settings


class FileToUpload(ImageMetadata):
    """A file to upload, with what is known about its image (over the batch's `image_defaults`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: str = Field(min_length=1, max_length=255)
    size: ByteSize | None = Field(default=None, description="bytes; checked against the upload limit now")
    sha256: str | None = Field(
        default=None,
        pattern="^[0-9a-f]{64}$",
        description="SHA-256 of the file (lower-case hex), optional: a file already registered in the "
        "batch, or with an open form there, is refused now with 409 and no form",
    )

    def metadata(self) -> ImageMetadata:
        return ImageMetadata(
            infant_metadata=self.infant_metadata,
            acquisition_date=self.acquisition_date,
            source_institution=self.source_institution,
        )


class NamedFiles(BaseModel):
    """One form per listed file: its name, type and size limit are fixed in the form's policy."""

    model_config = ConfigDict(extra="forbid")
    files: list[FileToUpload] = Field(min_length=1, max_length=MAX_FORMS_PER_REQUEST)


class UnnamedFiles(BaseModel):
    """`count` forms for files not listed in advance: any image type, the file's own name."""

    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=MAX_FORMS_PER_REQUEST)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    keypoint_schema_id: DbId | None = Field(default=None, description="default: the active infant-pose-17")
    uploads: NamedFiles | UnnamedFiles
    processing_priority: int = Field(default=5, ge=1, le=10)
    min_image_quality_score: float = Field(default=7.0, ge=1, le=10, description="1–10, one decimal place")
    upload_metadata: dict[str, Any] | None = Field(default=None, description="source, session, institution…")
    image_defaults: ImageMetadata | None = Field(
        default=None,
        description="infant_metadata, acquisition_date, source_institution for every image of the batch; "
        "a file's own values win, key by key",
    )


class BatchUpdate(Patch):
    """What an admin may change on a batch at any time before it is archived."""

    batch_name: Annotated[str | None, NOT_NULL] = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=5000)
    processing_priority: Annotated[int | None, NOT_NULL] = Field(
        default=None, ge=1, le=10, description="10 first: orders pre-annotation, auto-assignment, review"
    )
    due_date: DueDate | None = Field(default=None, description="null clears it")


_EDITABLE = ("batch_name", "description", "processing_priority", "due_date")


class MoreUploads(BaseModel):
    model_config = ConfigDict(extra="forbid")

    files: list[FileToUpload] = Field(min_length=1, max_length=MAX_FORMS_PER_REQUEST)


class StatusCount(BaseModel):
    status: ImageStatus
    count: int


class BatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    batch_name: str
    description: str | None
    keypoint_schema_id: int
    total_images: int
    status: BatchStatus
    yolo_processing_started: dt.datetime | None
    yolo_processing_completed: dt.datetime | None
    yolo_model_version: str | None
    avg_yolo_confidence: DecimalNumber | None
    failed_yolo_count: int
    quality_check_passed: bool
    min_image_quality_score: DecimalNumber
    upload_metadata: dict[str, Any] | None
    image_defaults: dict[str, Any] | None
    processing_priority: int
    due_date: dt.datetime | None = None
    uploaded_by: int
    uploaded_at: dt.datetime
    assigned_count: int
    completed_count: int
    approved_count: int
    rejected_count: int


class BatchDetail(BatchOut):
    images_registered: int = 0
    uploads_rejected: int = 0
    images_by_status: list[StatusCount] = Field(default_factory=list)
    pipeline_run: pipeline.PipelineRunOut | None = None


class BatchCreated(BaseModel):
    batch: BatchOut
    uploads: list[UploadForm]


class UploadState(BaseModel):
    filename: str
    slot: str = Field(description="the upload's slot: the folder of its key, incoming/<batch>/<slot>/<name>")
    state: str = Field(description="registered | rejected")
    image_id: int | None = None
    reason: str | None = None
    duplicate_of: int | None = Field(
        default=None,
        description="the image this file repeats: rejected if the pixels are the same, "
        "registered and flagged if it is a near-duplicate (resized, re-compressed)",
    )


class UploadReport(BaseModel):
    batch_id: int
    expected: int
    registered: int
    rejected: int
    files: list[UploadState]


class BatchFilters(BaseModel):
    status: BatchStatus | None = None
    min_priority: int | None = Field(default=None, ge=1, le=10)
    uploaded_by: int | None = None


# ------------------------------------------------------------------ writing


def create_batch(uow: UnitOfWork, storage: Storage, command: BatchIn) -> BatchCreated:
    actor = access.require_admin(uow.actor)
    settings = get_settings()
    schema = _schema_for(uow, command.keypoint_schema_id)
    files = command.uploads.files if isinstance(command.uploads, NamedFiles) else []
    _check_files(files, settings.max_upload_bytes)
    batch = uow.batches.add(
        ImageBatch(
            batch_name=command.batch_name,
            description=command.description,
            keypoint_schema_id=schema.id,
            total_images=len(files) or getattr(command.uploads, "count", 0),
            processing_priority=command.processing_priority,
            min_image_quality_score=tenths(command.min_image_quality_score),
            upload_metadata=command.upload_metadata,
            image_defaults=command.image_defaults.stored() if command.image_defaults else None,
            uploaded_by=actor.user_id,
        )
    )
    _check_not_duplicates(uow, batch.id, files)
    if isinstance(command.uploads, NamedFiles):
        forms = _forms(uow, storage, batch.id, files)
    else:
        forms = _open_forms(uow, storage, batch.id, command.uploads.count)
    # Named files only (an open form's file is not known yet: the batch's defaults are all it gets).
    named = forms[: len(files)]
    image_metadata.record_manifest(
        uow, batch.id, [(form.key, f.metadata()) for form, f in zip(named, files, strict=True)]
    )
    created = snapshot(batch, ("batch_name", "keypoint_schema_id", "total_images", "processing_priority"))
    _audit(uow, batch, "BATCH_CREATED", new=created, summary=f"{len(forms)} upload forms issued")
    uow.commit()
    return BatchCreated(batch=BatchOut.model_validate(batch), uploads=forms)


def more_uploads(uow: UnitOfWork, storage: Storage, batch_id: int, command: MoreUploads) -> list[UploadForm]:
    """Forms for more files (or new forms for files whose forms expired); raises the expected count."""
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    if batch.status is not BatchStatus.UPLOADED:
        raise Conflict(f"batch {batch.id} is {batch.status.value}; uploads are closed once processing starts")
    _check_files(command.files, get_settings().max_upload_bytes)
    _check_not_duplicates(uow, batch.id, command.files)
    forms = _forms(uow, storage, batch.id, command.files)
    image_metadata.record_manifest(
        uow, batch.id, [(form.key, f.metadata()) for form, f in zip(forms, command.files, strict=True)]
    )
    registered = _registered_count(uow, batch.id)
    new_total = max(batch.total_images, registered + len(command.files))
    old_total = batch.total_images
    batch.total_images = new_total
    _audit(
        uow,
        batch,
        "BATCH_UPLOADS_ADDED",
        old={"total_images": old_total},
        new={"total_images": new_total},
        summary=f"{len(forms)} more upload forms issued",
    )
    uow.commit()
    return forms


def complete_uploads(uow: UnitOfWork, batch_id: int) -> tuple[BatchDetail, int | None]:
    """The uploader says every file is in: expect what has arrived and start the pipeline.

    Returns the batch and the id of the run to start after commit (None if one is already open).
    """
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    if batch.status is not BatchStatus.UPLOADED:
        raise Conflict(f"batch {batch.id} is {batch.status.value}, not UPLOADED")
    registered = _registered_count(uow, batch.id)
    if registered == 0:
        raise Conflict(f"batch {batch.id} has no registered image yet")
    if batch.total_images != registered:
        _audit(
            uow,
            batch,
            "BATCH_UPLOADS_CLOSED",
            old={"total_images": batch.total_images},
            new={"total_images": registered},
        )
        batch.total_images = registered
    run = pipeline.request_run(uow, batch, "uploader marked the batch complete")
    uow.commit()
    return detail(uow, batch), run.id


def update_batch(uow: UnitOfWork, batch_id: int, command: BatchUpdate) -> BatchOut:
    """Rename, describe, reprioritise or re-date a batch; the audit row holds old and new values."""
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    values = command.model_dump(exclude_unset=True)
    if not values:
        raise ValidationFailed.single("(body)", "nothing to change")
    if batch.status is BatchStatus.ARCHIVED:
        raise Conflict(f"batch {batch.id} is ARCHIVED; an archived batch is not edited")
    before = snapshot(batch, _EDITABLE)
    for name, value in values.items():
        setattr(batch, name, value)
    old, new = changes(before, snapshot(batch, _EDITABLE))
    if new:
        _audit(uow, batch, "BATCH_UPDATED", old=old, new=new)
        uow.commit()
    return BatchOut.model_validate(batch)


def archive(uow: UnitOfWork, batch_id: int) -> BatchOut:
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id, for_update=True)
    old = batch.status
    change_status(uow, batch, BatchStatus.ARCHIVED)
    _audit(uow, batch, "BATCH_ARCHIVED", old={"status": old}, new={"status": batch.status})
    uow.commit()
    return BatchOut.model_validate(batch)


# ------------------------------------------------------------------ reading


def list_batches(uow: UnitOfWork, filters: BatchFilters, cursor: str | None, limit: int) -> Page[BatchOut]:
    """Newest first. Annotators see the batches of their open assignments, verifiers batches
    under annotation or review."""
    actor = access.require_worker(uow.actor)
    query = sa.select(ImageBatch)
    if actor.role is Role.ANNOTATOR:
        query = query.where(ImageBatch.id.in_(_assigned_batch_ids(actor)))
    elif actor.role is Role.VERIFIER:
        query = query.where(ImageBatch.status.in_(access.VERIFIER_BATCH_STATUSES))
    if filters.status is not None:
        query = query.where(ImageBatch.status == filters.status)
    if filters.min_priority is not None:
        query = query.where(ImageBatch.processing_priority >= filters.min_priority)
    if filters.uploaded_by is not None:
        query = query.where(ImageBatch.uploaded_by == filters.uploaded_by)
    return keyset_page(
        uow.session,
        query,
        order_by=[ImageBatch.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=BatchOut.model_validate,
    )


def get_batch(uow: UnitOfWork, batch_id: int) -> BatchDetail:
    actor = access.require_worker(uow.actor)
    batch = readable_batch(uow, actor, batch_id)
    return detail(uow, batch)


def upload_report(uow: UnitOfWork, batch_id: int) -> UploadReport:
    """What happened to each uploaded file: registered, or rejected with the reason."""
    access.require_admin(uow.actor)
    batch = uow.batches.require(batch_id)
    images = uow.session.execute(
        sa.select(Image.id, Image.original_filename, Image.storage_path, Image.duplicate_of_id)
        .where(Image.batch_id == batch.id)
        .order_by(Image.id)
    ).all()
    rejections = uow.session.scalars(
        sa.select(UploadRejection).where(UploadRejection.batch_id == batch.id).order_by(UploadRejection.id)
    ).all()
    files = [
        UploadState(
            filename=name,
            slot=path.rsplit("/", 1)[-1],
            state="registered",
            image_id=image_id,
            reason=f"near-duplicate of image {original}" if original is not None else None,
            duplicate_of=original,
        )
        for image_id, name, path, original in images
    ]
    files += [
        UploadState(
            filename=r.original_filename,
            slot=r.upload_key.split("/")[2],
            state="rejected",
            reason=r.reason,
            duplicate_of=r.duplicate_of_id,
        )
        for r in rejections
    ]
    return UploadReport(
        batch_id=batch.id,
        expected=batch.total_images,
        registered=len(images),
        rejected=len(rejections),
        files=files,
    )


def readable_batch(uow: UnitOfWork, actor: Actor, batch_id: int) -> ImageBatch:
    """The batch if this actor may see it; NotFound otherwise (no hint that it exists)."""
    batch = uow.batches.get(batch_id)
    if batch is None:
        raise NotFound("ImageBatch", batch_id)
    assigned = actor.role is Role.ANNOTATOR and is_assigned(uow, actor, batch.id)
    if not access.can_read_batch(actor, batch.status, is_assigned=assigned):
        raise NotFound("ImageBatch", batch_id)
    return batch


def is_assigned(uow: UnitOfWork, actor: Actor, batch_id: int) -> bool:
    """Whether the actor holds an open assignment in the batch (a finished one gives no access)."""
    return (
        uow.session.scalar(
            sa.select(sa.literal(True))
            .where(
                BatchAssignment.batch_id == batch_id,
                BatchAssignment.annotator_id == actor.user_id,
                BatchAssignment.status.in_(access.OPEN_ASSIGNMENT_STATUSES),
            )
            .limit(1)
        )
        is not None
    )


def detail(uow: UnitOfWork, batch: ImageBatch) -> BatchDetail:
    counts = uow.session.execute(
        sa.select(Image.status, sa.func.count()).where(Image.batch_id == batch.id).group_by(Image.status)
    ).all()
    rejected = uow.session.scalar(
        sa.select(sa.func.count()).select_from(UploadRejection).where(UploadRejection.batch_id == batch.id)
    )
    run = uow.pipeline_runs.latest(batch.id)
    by_status = [
        StatusCount(status=s, count=c)
        for s, c in sorted(counts, key=lambda sc: list(ImageStatus).index(sc[0]))
    ]
    return BatchDetail(
        **BatchOut.model_validate(batch).model_dump(),
        images_registered=sum(c.count for c in by_status),
        uploads_rejected=int(rejected or 0),
        images_by_status=by_status,
        pipeline_run=pipeline.PipelineRunOut.model_validate(run) if run else None,
    )


# ------------------------------------------------------------------ helpers


def _schema_for(uow: UnitOfWork, schema_id: int | None) -> KeypointSchema:
    schema = named_or_default(uow, schema_id)
    if not schema.is_active:  # a batch is annotated with an active schema only
        raise Conflict(f"schema {schema.name} {schema.version} is not active")
    return schema


def _check_files(files: list[FileToUpload], max_bytes: int) -> None:
    for i, file in enumerate(files):
        content_type_for(file.filename, i)
        if file.size is not None and file.size > max_bytes:
            raise PayloadTooLarge(
                f"files[{i}] ({file.filename}) is {file.size} bytes; the upload limit is {max_bytes} bytes"
            )


def _check_not_duplicates(uow: UnitOfWork, batch_id: int, files: list[FileToUpload]) -> None:
    """The duplicate check before the S3 write, for files whose SHA-256 the uploader sent.

    Refused (409, nothing written): a file the request lists twice, one already registered in the
    batch (its uploaded bytes' hash), one with an open, unexpired form there. The trigger's check
    of the cleaned pixels stays the authority; this one saves the upload.
    """
    seen: dict[str, int] = {}
    now = dt.datetime.now(dt.UTC)
    for i, file in enumerate(files):
        if file.sha256 is None:
            continue
        if file.sha256 in seen:
            raise DuplicateUpload(
                f"files[{i}] ({file.filename}) is the same file as files[{seen[file.sha256]}]",
                file_index=i,
                original_image_id=None,
            )
        seen[file.sha256] = i
        original = uow.session.scalar(
            sa.select(Image.id)
            .where(Image.batch_id == batch_id, Image.upload_sha256 == file.sha256)
            .order_by(Image.id)
            .limit(1)
        )
        if original is not None:
            raise DuplicateUpload(
                f"files[{i}] ({file.filename}) is already in batch {batch_id} as image {original}",
                file_index=i,
                original_image_id=original,
            )
        open_form = uow.session.scalar(
            sa.select(PendingUpload.id)
            .where(
                PendingUpload.batch_id == batch_id,
                PendingUpload.sha256 == file.sha256,
                PendingUpload.consumed_at.is_(None),
                PendingUpload.expires_at > now,
            )
            .limit(1)
        )
        if open_form is not None:
            raise DuplicateUpload(
                f"files[{i}] ({file.filename}) already has an open upload form in batch {batch_id}; "
                "use that form, or ask again once it expires",
                file_index=i,
                original_image_id=None,
            )


def _forms(uow: UnitOfWork, storage: Storage, batch_id: int, files: list[FileToUpload]) -> list[UploadForm]:
    """One form per named file: its key, content type and size limit are fixed in the policy."""
    forms = []
    for i, file in enumerate(files):
        key = UploadKey.new(batch_id, file.filename)
        form = _form(storage, file.filename, key.incoming, content_type_for(file.filename, i))
        _pending(uow, batch_id, key.slot, form, filename=key.filename, size=file.size, sha256=file.sha256)
        forms.append(form)
    return forms


def _open_forms(uow: UnitOfWork, storage: Storage, batch_id: int, count: int) -> list[UploadForm]:
    """Forms for files not named in advance: any image/* type, the file's own name in the key."""
    forms = []
    for _ in range(count):
        key = UploadKey.any_name(batch_id)
        form = _form(storage, "${filename}", key, None)
        _pending(uow, batch_id, key.split("/")[2], form, filename=None, size=None, sha256=None)
        forms.append(form)
    return forms


def _pending(
    uow: UnitOfWork,
    batch_id: int,
    nonce: str,
    form: UploadForm,
    *,
    filename: str | None,
    size: int | None,
    sha256: str | None,
) -> None:
    """The row that makes the form single-use: the upload trigger consumes it once."""
    uow.session.add(  # flushed with the batch's commit: one INSERT round for all the forms
        PendingUpload(
            batch_id=batch_id,
            nonce=nonce,
            filename=filename,
            size_bytes=size,
            sha256=sha256,
            expires_at=form.expires_at,
        )
    )


def _form(storage: Storage, filename: str, key: str, content_type: str | None) -> UploadForm:
    settings = get_settings()
    post = storage.presigned_post(
        settings.uploads_bucket,
        key,
        content_type=content_type,
        max_bytes=settings.max_upload_bytes,
        expires_in=settings.upload_url_ttl_seconds,
    )
    return UploadForm(
        filename=filename,
        key=post.key,
        url=post.url,
        fields=post.fields,
        expires_at=post.expires_at,
        max_bytes=settings.max_upload_bytes,
    )


def _registered_count(uow: UnitOfWork, batch_id: int) -> int:
    return int(
        uow.session.scalar(sa.select(sa.func.count()).select_from(Image).where(Image.batch_id == batch_id))
        or 0
    )


def _assigned_batch_ids(actor: Actor) -> sa.Select[Any]:
    return sa.select(BatchAssignment.batch_id).where(
        BatchAssignment.annotator_id == actor.user_id,
        BatchAssignment.status.in_(access.OPEN_ASSIGNMENT_STATUSES),
    )


def _audit(uow: UnitOfWork, batch: ImageBatch, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.IMAGE_PROCESSING, "ImageBatch", batch.id, batch.batch_name, **details)
