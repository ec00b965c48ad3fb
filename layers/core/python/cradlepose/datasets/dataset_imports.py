"""Importing a COCO keypoints or YOLO pose archive: its images become a batch pre-annotated with
its keypoints, and an IMPORTED dataset that keeps the archive's own train/validation/test splits.

Formats. A COCO archive holds COCO keypoints .json file(s) and their images. A YOLO pose archive
holds one dataset YAML with `kpt_shape` (domain.yolo_pose.read_dataset_yaml) whose train / val /
test keys name image folders, and for each image `…/images/…/x.jpg` its label `…/labels/…/x.txt`
(as Ultralytics pairs them); both are held to the same caps (archive_limits: members, inflated
sizes, text sizes), and a YOLO label is turned into pixels once the worker has read the image's
size. Splits: each image keeps the split its archive gives it (a COCO document's or folder's name,
`person_keypoints_val2017.json`, `images/train/…`; a YOLO image's folder), when every image has
one; an archive that names none is split by infant as any dataset is; `resplit: true` asks for
that split whatever the archive says; an archive that names splits for some images only is a 422.

1. `create_import` issues a presigned form for one ZIP (outside `incoming/`, so the upload
   trigger leaves it alone): the COCO keypoints .json file(s) and their images.
2. `start_import` (after the upload) reads the archive where it lies (ranged reads: only the
   directory and the JSON). The directory is checked first against the caps of
   cradlepose.datasets.archive_limits (members, inflated sizes, COCO file sizes: no zip bomb is
   inflated). When its COCO files are small (REQUEST_JSON_BYTES), every record is checked against
   the schema and every image reference against the archive in the request, and a broken one is
   a 422 naming it; larger ones are left to the worker, so the API Lambda never parses a big
   document. A good archive becomes PENDING.
3. `process` (the import worker, a scheduled job outside the API) checks every record (COCO
   files are read as a stream, cradlepose.datasets.coco_stream), then prepares each image
   exactly as an upload is prepared (real type from the bytes, size from the header before any
   decode, rebuilt from its pixels alone and checked, thumbnail, quality score), refusing one
   whose size differs from its record or whose EXIF orientation would turn it (the keypoints could then
   mean either orientation), and writes the clean images; then one transaction creates the batch
   (READY_FOR_ANNOTATION: its pre-annotation is the imported keypoints, visibility flags as they
   were), its images and the catalogue's IMPORTED dataset. Any failure deletes every object it
   wrote and marks the import FAILED with the record that broke it: nothing is half-imported.
   The archive itself (which still holds the original metadata) is deleted once processed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import posixpath
import time
import uuid
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.storage import ObjectMissing, StreamingStorage
from cradlepose.common.schema_choice import named_or_default
from cradlepose.common.system import SYSTEM
from cradlepose.common.upload_forms import UploadForm
from cradlepose.common.use_cases import audit
from cradlepose.datasets import coco_stream, datasets
from cradlepose.datasets.archive_limits import ArchiveLimits, check_directory
from cradlepose.db.models import DatasetImport, Image, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access, yolo_pose
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.bounds import ByteSize, DbId
from cradlepose.domain.coco_keypoints import ImportedImage, parse_document, safe_member_name
from cradlepose.domain.enums import (
    AuditCategory,
    AuditStatus,
    BatchStatus,
    DatasetSplit,
    ImageStatus,
    ImportStatus,
)
from cradlepose.domain.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.quality import assess
from cradlepose.domain.splits import split_named
from cradlepose.domain.status_changes import change_status
from cradlepose.imaging import anonymize, measure, metadata
from cradlepose.imaging.sniff import sniff
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

MODEL_VERSION = "coco-import"  # images.yolo_model_version of an imported pre-annotation
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
YAML_SUFFIXES = (".yaml", ".yml")
REQUEST_JSON_BYTES = (
    16 * 1024 * 1024
)  # COCO files checked record by record in the request; larger: the worker
# What `plan` reads of a COCO document; every other field is parsed and dropped as it streams by.
COCO_FIELDS = {
    "images": frozenset({"id", "file_name", "width", "height", "infant_metadata", "source_institution"}),
    "annotations": frozenset({"image_id", "iscrowd", "category_id", "keypoints"}),
    "categories": frozenset({"id", "name", "keypoints", "skeleton", "supercategory"}),
}
WORKER_CONTEXT = RequestContext(user_agent="cradle-import-worker", endpoint="schedule", method="EVENT")


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="the batch's and the catalogue entry's name")
    description: str | None = Field(default=None, max_length=10_000)
    source_url: str | None = Field(default=None, max_length=500, description="where the dataset comes from")
    keypoint_schema_id: DbId | None = Field(default=None, description="default: the active infant-pose-17")
    size: ByteSize | None = Field(default=None, description="the archive's size in bytes, checked now")
    resplit: bool = Field(
        default=False,
        description="split by infant with Cradle's fractions instead of keeping the archive's own splits",
    )


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    source_url: str | None
    keypoint_schema_id: int
    status: ImportStatus
    archive_size: int | None
    resplit: bool
    error_message: str | None
    batch_id: int | None
    dataset_id: int | None
    images_imported: int
    annotations_imported: int
    created_at: dt.datetime
    finished_at: dt.datetime | None
    processing_time_ms: int | None = Field(
        default=None, description="the worker's time on the archive, once the import has ended"
    )
    upload: UploadForm | None = Field(default=None, description="where to POST the ZIP (when just created)")


@dataclass(frozen=True)
class YoloLabel:
    text: str  # the label file's lines ("" for an image without one: no keypoints)
    positions: list[int]  # the label's i-th keypoint is the schema's positions[i]-th
    where: str  # the label's path, for messages


@dataclass(frozen=True)
class PlannedImage:
    # COCO: the record; YOLO: its file name, keypoints None and size 0×0 until the worker reads it
    record: ImportedImage
    member: str  # its path in the archive
    split: DatasetSplit | None = None  # as the archive gives it
    yolo: YoloLabel | None = None


# ------------------------------------------------------------------ the API's part


def create_import(uow: UnitOfWork, storage: StreamingStorage, command: ImportIn) -> ImportOut:
    actor = access.require_admin(uow.actor)
    settings = get_settings()
    if command.size is not None and command.size > settings.max_import_bytes:
        raise PayloadTooLarge(
            f"the archive is {command.size} bytes; imports take at most {settings.max_import_bytes} bytes"
        )
    schema = named_or_default(uow, command.keypoint_schema_id)
    key = f"imports/{uuid.uuid4().hex}/archive.zip"
    row = uow.dataset_imports.add(
        DatasetImport(
            name=command.name,
            description=command.description,
            source_url=command.source_url,
            keypoint_schema_id=schema.id,
            archive_key=key,
            resplit=command.resplit,
            created_by=actor.user_id,
        )
    )
    post = storage.presigned_post(
        settings.uploads_bucket,
        key,
        content_type="application/zip",
        max_bytes=settings.max_import_bytes,
        expires_in=settings.upload_url_ttl_seconds,
    )
    _audit(uow, row, "IMPORT_CREATED", new={"name": row.name, "keypoint_schema_id": schema.id})
    uow.commit()
    form = UploadForm(
        filename="archive.zip",
        key=post.key,
        url=post.url,
        fields=post.fields,
        expires_at=post.expires_at,
        max_bytes=settings.max_import_bytes,
    )
    return ImportOut.model_validate(row).model_copy(update={"upload": form})


def start_import(uow: UnitOfWork, storage: StreamingStorage, import_id: int) -> ImportOut:
    """The archive is uploaded: check it whole (422 naming the first broken record), then queue it."""
    access.require_admin(uow.actor)
    row = uow.dataset_imports.require(import_id, for_update=True)
    if row.status is not ImportStatus.AWAITING_UPLOAD:
        raise Conflict(f"import {row.id} is {row.status.value}; it was started already")
    settings = get_settings()
    try:
        size = storage.head(settings.uploads_bucket, row.archive_key).size
    except ObjectMissing:
        raise Conflict(f"import {row.id} has no archive yet: upload it with the form first") from None
    if size > settings.max_import_bytes:
        raise PayloadTooLarge(
            f"the archive is {size} bytes; imports take at most {settings.max_import_bytes}"
        )
    schema = SchemaDefinition.model_validate(uow.schemas.require(row.keypoint_schema_id).schema_definition)
    with storage.open_read(settings.uploads_bucket, row.archive_key) as source:
        archive = _open_zip(source)
        directory = check_directory(archive, _limits(), _is_document, _is_image)
        # Big COCO files are checked by the worker, not in the API Lambda's request.
        planned = plan(archive, schema, row.resplit) if directory.json_bytes <= REQUEST_JSON_BYTES else None
    row.archive_size = size
    change_status(uow, row, ImportStatus.PENDING)
    _audit(
        uow,
        row,
        "IMPORT_QUEUED",
        new={
            "archive_size": size,
            "records_checked_by": "request" if planned is not None else "worker",
            "images": len(planned) if planned is not None else None,
            "annotations": sum(p.record.keypoints is not None for p in planned)
            if planned is not None
            else None,
        },
    )
    uow.commit()
    return ImportOut.model_validate(row)


def get_import(uow: UnitOfWork, import_id: int) -> ImportOut:
    access.require_admin(uow.actor)
    row = uow.dataset_imports.get(import_id)
    if row is None:
        raise NotFound("DatasetImport", import_id)
    return ImportOut.model_validate(row)


# ------------------------------------------------------------------ reading the archive


def plan(archive: zipfile.ZipFile, schema: SchemaDefinition, resplit: bool = False) -> list[PlannedImage]:
    """Every image to import with its archive member, or ValidationFailed naming the first broken record."""
    directory = check_directory(archive, _limits(), _is_document, _is_image)
    documents = sorted(i.filename for i in directory.documents if i.filename.lower().endswith(".json"))
    yamls = sorted(i.filename for i in directory.documents if i.filename.lower().endswith(YAML_SUFFIXES))
    images = {i.filename for i in archive.infolist() if _is_image(i)}
    if documents:
        planned = _plan_coco(archive, schema, documents, images)
    elif yamls:
        if len(yamls) > 1:
            raise ValidationFailed.single("archive", f"holds {len(yamls)} YAML files; a YOLO dataset has one")
        planned = _plan_yolo(archive, schema, yamls[0], images)
    else:
        raise ValidationFailed.single(
            "archive", "holds no COCO keypoints .json file and no YOLO dataset .yaml"
        )
    if not planned:
        raise ValidationFailed.single("archive", "lists no image")
    if not resplit:
        _check_splits(planned)
    return planned


def _plan_coco(
    archive: zipfile.ZipFile, schema: SchemaDefinition, documents: list[str], images: set[str]
) -> list[PlannedImage]:
    planned: list[PlannedImage] = []
    used: dict[str, str] = {}
    for document in documents:
        try:
            with archive.open(document) as handle:
                data = coco_stream.load_document(handle, COCO_FIELDS)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ValidationFailed.single(document, f"is not valid JSON: {error}") from None
        document_split = split_named(posixpath.basename(document))
        for record in parse_document(data, schema, where=document):
            member = _member_for(record, images)
            if member in used:
                raise ValidationFailed.single(
                    f"{record.location}.file_name", f"{member} is also the image of {used[member]}"
                )
            used[member] = record.location
            split = document_split or split_named(posixpath.dirname(member))
            planned.append(PlannedImage(record, member, split))
    return planned


def _plan_yolo(
    archive: zipfile.ZipFile, schema: SchemaDefinition, yaml_member: str, images: set[str]
) -> list[PlannedImage]:
    try:
        text = archive.read(yaml_member).decode()
    except UnicodeDecodeError:
        raise ValidationFailed.single(yaml_member, "is not UTF-8 text") from None
    dataset = yolo_pose.read_dataset_yaml(text, schema, yaml_member)
    root = posixpath.dirname(yaml_member)
    folders = {posixpath.normpath(posixpath.join(root, f)): split for f, split in dataset.folders.items()}
    members = {i.filename for i in archive.infolist() if _listed(i)}
    planned: list[PlannedImage] = []
    for member in sorted(images):
        folder = next((f for f in folders if member.startswith(f + "/")), None)
        if folder is None:
            continue  # not in a folder the YAML names: not part of the dataset (Ultralytics agrees)
        label = _label_member(member)
        if label is None:
            raise ValidationFailed.single(member, "is not under an images/ folder, so it has no labels/ file")
        label_text = ""
        if label in members:
            try:
                label_text = archive.read(label).decode()
            except UnicodeDecodeError:
                raise ValidationFailed.single(label, "is not UTF-8 text") from None
        name = posixpath.relpath(member, folder)
        record = ImportedImage(
            coco_id=member, file_name=name, width=0, height=0, keypoints=None, location=member
        )
        planned.append(
            PlannedImage(record, member, folders[folder], YoloLabel(label_text, dataset.positions, label))
        )
        if label_text.strip():  # checked now where it can be (columns, visibility); pixels in the worker
            _check_label(label_text, schema, label)
    return planned


def _check_label(text: str, schema: SchemaDefinition, where: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        raise ValidationFailed.single(where, f"has {len(lines)} people; Cradle keeps one infant per image")
    try:
        yolo_pose.parse_label_line(lines[0], schema, 1, 1)
    except ValidationFailed as error:
        raise ValidationFailed.single(where, error.problems[0].message) from None


def _label_member(image: str) -> str | None:
    """Ultralytics' pairing: the last `images/` folder becomes `labels/`, the suffix `.txt`."""
    parts = image.split("/")
    if "images" not in parts[:-1]:
        return None
    i = len(parts) - 2 - parts[-2::-1].index("images")
    parts[i] = "labels"
    label = "/".join(parts)
    label = posixpath.splitext(label)[0] + ".txt"
    return label if safe_member_name(label) else None


def _check_splits(planned: list[PlannedImage]) -> None:
    """Every image has the archive's split, or none has (then Cradle splits); not some of them."""
    named = [p for p in planned if p.split is not None]
    if named and len(named) != len(planned):
        unnamed = next(p for p in planned if p.split is None)
        raise ValidationFailed.single(
            unnamed.record.location or unnamed.member,
            f"{unnamed.member} is in no train/validation/test split while {len(named)} other images are: "
            "name its document or folder after its split, or import with resplit: true",
        )


def _limits() -> ArchiveLimits:
    settings = get_settings()
    # Images barely compress, so an archive inflates to little more than its size; 4× leaves room
    # for COCO files (which compress ~10×) and refuses anything that inflates like a bomb.
    return ArchiveLimits(
        max_total_bytes=4 * settings.max_import_bytes, max_image_bytes=settings.max_upload_bytes
    )


def _listed(info: zipfile.ZipInfo) -> bool:
    return not info.is_dir() and not info.filename.startswith("__MACOSX/")


def _is_document(info: zipfile.ZipInfo) -> bool:
    """A text member read whole (COCO documents, a YOLO YAML and labels): held to the text caps."""
    name = info.filename.lower()
    if not _listed(info) or posixpath.basename(name) == "cradle.json":
        return False
    return name.endswith((".json", ".txt", *YAML_SUFFIXES))


def _is_image(info: zipfile.ZipInfo) -> bool:
    return _listed(info) and info.filename.lower().endswith(IMAGE_SUFFIXES)


def _member_for(record: ImportedImage, images: set[str]) -> str:
    name = record.file_name
    where = f"{record.location}.file_name"
    if not name.lower().endswith(IMAGE_SUFFIXES):
        raise ValidationFailed.single(where, f"{name!r} is not a .jpg, .jpeg or .png image")
    if name in images:
        return name
    candidates = sorted(m for m in images if m.endswith("/" + name))
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ValidationFailed.single(where, f"the archive holds no image {name!r}")
    raise ValidationFailed.single(where, f"{name!r} matches several images: {', '.join(candidates[:3])}")


def _open_zip(source: Any) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(source)
    except zipfile.BadZipFile:
        raise ValidationFailed.single("archive", "is not a ZIP archive") from None


# ------------------------------------------------------------------ the worker's part


@dataclass(frozen=True)
class _Prepared:
    record: ImportedImage  # with a YOLO image's size and keypoints filled in
    image_format: str
    mime_type: str
    clean: bytes
    thumbnail: bytes
    file_size: int
    quality_score: Decimal
    quality_issues: list[str]


def process_pending(
    uow_factory: UnitOfWorkFactory,
    storage: StreamingStorage,
    limit: int = 3,
    context: RequestContext = WORKER_CONTEXT,
) -> list[int]:
    """Import up to `limit` PENDING archives, oldest first; returns the ids it finished (either way)."""
    with uow_factory(SYSTEM, context) as uow:
        ids = list(
            uow.session.scalars(
                sa.select(DatasetImport.id)
                .where(DatasetImport.status == ImportStatus.PENDING)
                .order_by(DatasetImport.id)
                .limit(limit)
            )
        )
    return [i for i in ids if process(uow_factory, storage, i, context) is not None]


def process(
    uow_factory: UnitOfWorkFactory,
    storage: StreamingStorage,
    import_id: int,
    context: RequestContext = WORKER_CONTEXT,
) -> ImportStatus | None:
    """Import one PENDING archive; None when it is not (or no longer) pending."""
    settings = get_settings()
    with uow_factory(SYSTEM, context) as uow:
        row = uow.dataset_imports.get(import_id)
        if row is None or row.status is not ImportStatus.PENDING:
            return None
        key, schema_id, resplit = row.archive_key, row.keypoint_schema_id, row.resplit
        schema = SchemaDefinition.model_validate(uow.schemas.require(schema_id).schema_definition)
    written: list[tuple[str, str]] = []
    started = time.monotonic()  # the import's work: reading the archive to committing (or failing)
    try:
        with storage.open_read(settings.uploads_bucket, key) as source:
            archive = _open_zip(source)
            planned = plan(archive, schema, resplit)
            stored = [
                _store(
                    storage, import_id, n, item, _prepare(archive.read(item.member), item, schema), written
                )
                for n, item in enumerate(planned)
            ]
        status = _commit_import(uow_factory, import_id, stored, resplit, context, started)
    except Exception as error:
        _compensate(storage, written)
        message = error.detail if isinstance(error, ValidationFailed) else f"{type(error).__name__}: {error}"
        if not isinstance(error, ValidationFailed):
            log.exception("import %s failed", import_id)
        status = _fail(uow_factory, import_id, message, context, started)
    storage.delete(settings.uploads_bucket, key)
    return status


def _prepare(data: bytes, item: PlannedImage, schema: SchemaDefinition) -> _Prepared:
    where = f"{item.record.location} ({item.member})" if item.yolo is None else item.member
    record = item.record
    detected = sniff(data[:32])
    if detected.image_format is None:
        raise ValidationFailed.single(where, f"the file is a {detected.name}, not a JPEG or PNG image")
    try:
        # The header's size first: a decompression bomb or a wrong record stops before any decode.
        declared = anonymize.check_size(data, detected.image_format)
        if item.yolo is not None:  # a YOLO label is normalized: its pixels need the image's size
            width, height = declared
            keypoints = yolo_pose.keypoints_from_label(
                item.yolo.text, schema, item.yolo.positions, width, height, item.yolo.where
            )
            record = dataclasses.replace(record, width=width, height=height, keypoints=keypoints)
        elif declared != (item.record.width, item.record.height):
            raise ValidationFailed.single(
                where,
                f"is {declared[0]}×{declared[1]} pixels; "
                f"its record says {item.record.width}×{item.record.height}",
            )
        anonymized = anonymize.anonymize(data, detected.image_format)
        if anonymized.orientation != metadata.UPRIGHT:
            raise ValidationFailed.single(
                where,
                "has an EXIF orientation that turns it; its keypoints could mean either way: save it upright",
            )
        clean = anonymized.data
        quality = assess(measure.measure(clean))
        thumbnail = measure.thumbnail(clean, get_settings().thumbnail_max_side)
    except (anonymize.ImageTooLarge, anonymize.NotAnonymized) as refusal:
        raise ValidationFailed.single(where, str(refusal)) from None
    except anonymize.unreadable_errors() as error:
        raise ValidationFailed.single(
            where, f"the {detected.name} is corrupt or unreadable: {error}"
        ) from None
    return _Prepared(
        record=record,
        image_format=detected.image_format,
        mime_type=detected.mime_type,
        clean=clean,
        thumbnail=thumbnail,
        file_size=len(clean),
        quality_score=quality.score,
        quality_issues=quality.issues,
    )


@dataclass(frozen=True)
class _Stored:
    item: PlannedImage
    record: ImportedImage
    prepared_format: str
    mime_type: str
    file_size: int
    quality_score: Decimal
    quality_issues: list[str]
    image_key: str
    thumbnail_key: str


def _store(
    storage: StreamingStorage,
    import_id: int,
    n: int,
    item: PlannedImage,
    prepared: _Prepared,
    written: list[tuple[str, str]],
) -> _Stored:
    settings = get_settings()
    image_key = f"images/import-{import_id}/{n}"
    thumbnail_key = f"thumbnails/import-{import_id}/{n}.jpg"
    written.append((settings.uploads_bucket, image_key))
    storage.put(settings.uploads_bucket, image_key, prepared.clean, content_type=prepared.mime_type)
    written.append((settings.derived_bucket, thumbnail_key))
    storage.put(settings.derived_bucket, thumbnail_key, prepared.thumbnail, content_type="image/jpeg")
    return _Stored(
        item=item,
        record=prepared.record,
        prepared_format=prepared.image_format,
        mime_type=prepared.mime_type,
        file_size=prepared.file_size,
        quality_score=prepared.quality_score,
        quality_issues=prepared.quality_issues,
        image_key=image_key,
        thumbnail_key=thumbnail_key,
    )


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _commit_import(
    uow_factory: UnitOfWorkFactory,
    import_id: int,
    stored: list[_Stored],
    resplit: bool,
    context: RequestContext,
    started: float,
) -> ImportStatus:
    now = dt.datetime.now(dt.UTC)
    with uow_factory(SYSTEM, context) as uow:
        row = uow.dataset_imports.require(import_id, for_update=True)
        if row.status is not ImportStatus.PENDING:
            raise Conflict(f"import {import_id} is {row.status.value}: another worker finished it")
        batch = uow.batches.add(
            ImageBatch(
                batch_name=row.name[:255],
                description=row.description,
                keypoint_schema_id=row.keypoint_schema_id,
                total_images=len(stored),
                registered_images=len(stored),
                status=BatchStatus.READY_FOR_ANNOTATION,
                yolo_model_version=MODEL_VERSION,
                yolo_processing_completed=now,
                upload_metadata={"import_id": row.id, "source_url": row.source_url},
                uploaded_by=row.created_by,
            )
        )
        images = []
        for n, item in enumerate(stored):
            record = item.record
            keypoints = record.keypoints.model_dump(mode="json") if record.keypoints else None
            image = Image(
                batch_id=batch.id,
                filename=f"{n}.{'png' if item.prepared_format == 'PNG' else 'jpg'}",
                original_filename=posixpath.basename(record.file_name)[:255],
                storage_path=item.image_key,
                thumbnail_path=item.thumbnail_key,
                width=record.width,
                height=record.height,
                file_size=item.file_size,
                mime_type=item.mime_type,
                format=item.prepared_format,
                infant_metadata=record.infant_metadata,
                source_institution=record.source_institution,
                anonymization_status=True,
                yolo_keypoints=keypoints,
                yolo_model_version=MODEL_VERSION if keypoints else None,
                image_quality_score=item.quality_score,
                has_quality_issues=bool(item.quality_issues),
                quality_issues=item.quality_issues or None,
                status=ImageStatus.YOLO_PROCESSED if keypoints else ImageStatus.UPLOADED,
            )
            uow.session.add(image)
            images.append(image)
        uow.flush()
        kept = not resplit and all(item.item.split is not None for item in stored)
        archive_splits = (
            {image.id: item.item.split for image, item in zip(images, stored, strict=True) if item.item.split}
            if kept
            else None
        )
        dataset = datasets.add_imported(
            uow,
            name=_unique_name(uow, row.name),
            description=row.description,
            schema_id=row.keypoint_schema_id,
            source_url=row.source_url,
            batch_id=batch.id,
            images=[(image.id, image.infant_metadata) for image in images],
            seed=row.id,
            actor_id=row.created_by,
            splits=archive_splits,
        )
        change_status(uow, row, ImportStatus.COMPLETED)
        row.batch_id, row.dataset_id, row.finished_at = batch.id, dataset.id, now
        row.images_imported = len(images)
        row.annotations_imported = sum(1 for i in images if i.yolo_keypoints is not None)
        row.processing_time_ms = _elapsed_ms(started)
        _audit(
            uow,
            row,
            "IMPORT_COMPLETED",
            new={
                "batch_id": batch.id,
                "dataset_id": dataset.id,
                "images": row.images_imported,
                "annotations": row.annotations_imported,
                "splits": "archive" if archive_splits else "split by infant",
            },
        )
        audit(
            uow,
            "BATCH_IMPORTED",
            AuditCategory.IMAGE_PROCESSING,
            "ImageBatch",
            batch.id,
            batch.batch_name,
            new={"status": batch.status, "total_images": batch.total_images, "import_id": row.id},
        )
        uow.commit()
        return row.status


def _fail(
    uow_factory: UnitOfWorkFactory, import_id: int, message: str, context: RequestContext, started: float
) -> ImportStatus:
    with uow_factory(SYSTEM, context) as uow:
        row = uow.dataset_imports.require(import_id, for_update=True)
        if row.status is not ImportStatus.PENDING:
            return row.status
        change_status(uow, row, ImportStatus.FAILED)
        row.error_message = message[:5000]
        row.finished_at = dt.datetime.now(dt.UTC)
        row.processing_time_ms = _elapsed_ms(started)
        _audit(uow, row, "IMPORT_FAILED", new={"error": row.error_message}, status=AuditStatus.FAILED)
        uow.commit()
        return row.status


def _compensate(storage: StreamingStorage, written: list[tuple[str, str]]) -> None:
    for bucket, key in reversed(written):
        try:
            storage.delete(bucket, key)
        except Exception:  # keep deleting the rest; the import is reported failed either way
            log.exception("could not delete s3://%s/%s after a failed import", bucket, key)


def _unique_name(uow: UnitOfWork, name: str) -> str:
    candidate, n = name[:200], 2
    while uow.datasets.by_name(candidate) is not None:
        suffix = f" ({n})"
        candidate, n = name[: 200 - len(suffix)] + suffix, n + 1
    return candidate


def _audit(
    uow: UnitOfWork,
    row: DatasetImport,
    action: str,
    *,
    new: dict[str, Any],
    status: AuditStatus = AuditStatus.SUCCESS,
) -> None:
    audit(
        uow,
        action,
        AuditCategory.IMAGE_PROCESSING,
        "DatasetImport",
        row.id,
        row.name,
        new=new,
        status=status,
        processing_time_ms=row.processing_time_ms,
    )
