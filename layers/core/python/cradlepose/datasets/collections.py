"""Collections (seed 002) and dataset exports: a query's verified images, packed as a ZIP in S3.

Creating one records the query and its items (each image with its split and the annotation
version it exports) and answers at once, PENDING. The packer (a scheduled function) claims
pending collections and streams each into a ZIP in the exports bucket: READY with the archive's
key and size, or FAILED with the error. Downloads go through a short-lived presigned URL. After
the retention period (`collection_retention_days`) the expiry job deletes the object and marks
the collection EXPIRED.

Exporting a dataset makes a collection of the dataset's images and splits, less those a
verifier's final judgement found unusable (domain.judgement) unless the export says
`include_unusable`. Every archive's manifest (cradle.json) says whether they were included.
A collection from a query takes the verified images the filters choose, within the catalogue's
datasets that the free text and term filters find (all verified images when the query names no
dataset), and splits them like a dataset, grouped by infant, with the given seed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import IO, Any, cast

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.storage import Storage, StreamingStorage
from cradlepose.common.image_access import audit_phi_read
from cradlepose.common.paging import keyset_page
from cradlepose.common.system import SYSTEM
from cradlepose.common.use_cases import Page, audit
from cradlepose.datasets import archive_writer, catalogue
from cradlepose.datasets.verified_images import ImageFilters, judged_unusable, verified_query
from cradlepose.db.models import Collection, CollectionItem, Dataset, DatasetImage, Image
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.bounds import DbId
from cradlepose.domain.enums import (
    AuditCategory,
    AuditStatus,
    CollectionStatus,
    DatasetSplit,
    ExportFormat,
    SplitGrouping,
)
from cradlepose.domain.errors import Conflict, NotFound, ValidationFailed
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.splits import SplitCandidate, SplitFractions, assign_splits, group_key
from cradlepose.domain.status_changes import change_status
from cradlepose.settings import get_settings

log = logging.getLogger(__name__)

INSERT_CHUNK = 5000
MAX_ATTEMPTS = 3
LEASE = dt.timedelta(minutes=20)  # longer than a packing function may run (15 minutes)
WORKER_CONTEXT = RequestContext(user_agent="cradle-collections-worker", endpoint="schedule", method="EVENT")


class CollectionQuery(BaseModel):
    """Free text and terms over the catalogue, named datasets, and filters over the images."""

    model_config = ConfigDict(extra="forbid")

    query_text: str | None = Field(default=None, max_length=200)
    anatomical_area: str | None = None
    modality: str | None = None
    task_type: str | None = None
    tag: str | None = None
    dataset_ids: list[DbId] | None = Field(default=None, min_length=1, max_length=100)
    filters: ImageFilters = Field(default_factory=ImageFilters)

    @property
    def names_datasets(self) -> bool:
        return bool(
            (self.query_text or "").strip()
            or self.anatomical_area
            or self.modality
            or self.task_type
            or self.tag
            or self.dataset_ids
        )


class CollectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    keypoint_schema_id: DbId
    query: CollectionQuery = Field(default_factory=CollectionQuery)
    format: ExportFormat = ExportFormat.COCO_KEYPOINTS
    fractions: SplitFractions = Field(default_factory=SplitFractions)
    seed: int = Field(default=0, ge=0, le=2**62)


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: ExportFormat
    include_unusable: bool = Field(
        default=False,
        description="also export images whose final verification judged them not usable for research "
        "or of POOR diagnostic quality (left out by default)",
    )


class CollectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    query_text: str | None
    filter_snapshot: dict[str, Any]
    format: ExportFormat
    keypoint_schema_id: int
    dataset_id: int | None
    status: CollectionStatus
    num_images: int
    size_bytes: int | None
    error_message: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    ready_at: dt.datetime | None
    expires_at: dt.datetime | None
    download_url: str | None = Field(default=None, description="while READY: a short-lived link to the ZIP")
    download_url_expires_at: dt.datetime | None = None


# ------------------------------------------------------------------ creating


def create_collection(uow: UnitOfWork, command: CollectionIn) -> CollectionOut:
    actor = access.require_researcher(uow.actor)
    uow.schemas.require(command.keypoint_schema_id)
    query = verified_query(command.keypoint_schema_id, command.query.filters)
    if command.query.names_datasets:
        datasets = catalogue.matching(
            catalogue.CatalogueQuery(
                text=command.query.query_text,
                anatomical_area=command.query.anatomical_area,
                modality=command.query.modality,
                task_type=command.query.task_type,
                tag=command.query.tag,
                schema_id=command.keypoint_schema_id,
            )
        )
        if command.query.dataset_ids:
            datasets = datasets.where(Dataset.id.in_(command.query.dataset_ids))
        query = query.where(
            Image.id.in_(sa.select(DatasetImage.image_id).where(DatasetImage.dataset_id.in_(datasets)))
        )
    rows = uow.session.execute(query).all()
    if not rows:
        raise ValidationFailed.single("query", "no verified image of this schema matches the query")
    assignment = assign_splits(
        [
            SplitCandidate(image_id, group_key(image_id, batch_id, metadata, SplitGrouping.SUBJECT))
            for image_id, batch_id, metadata, _, _ in rows
        ],
        command.fractions,
        command.seed,
    )
    collection = _add(
        uow,
        actor_id=actor.user_id,
        name=command.name,
        query_text=command.query.query_text,
        snapshot={
            **command.query.model_dump(mode="json", exclude_none=True),
            "seed": command.seed,
            "fractions": command.fractions.model_dump(),
        },
        export_format=command.format,
        schema_id=command.keypoint_schema_id,
        dataset_id=None,
        items=[(image_id, assignment[image_id], annotation_id) for image_id, _, _, _, annotation_id in rows],
    )
    uow.commit()
    return out(collection)


def export_dataset(uow: UnitOfWork, dataset_id: int, command: ExportIn) -> CollectionOut:
    access.require_researcher(uow.actor)
    collection = start_export(uow, dataset_id, command.format, include_unusable=command.include_unusable)
    uow.commit()
    return out(collection)


def start_export(
    uow: UnitOfWork, dataset_id: int, export_format: ExportFormat, *, include_unusable: bool = False
) -> Collection:
    """A new export collection of the dataset (audited; the caller commits)."""
    dataset = uow.datasets.require(dataset_id)
    query = (
        sa.select(DatasetImage.image_id, DatasetImage.split, DatasetImage.annotation_id)
        .where(DatasetImage.dataset_id == dataset.id)
        .order_by(DatasetImage.image_id)
    )
    if not include_unusable:
        query = query.where(DatasetImage.image_id.not_in(judged_unusable()))
    members = uow.session.execute(query).all()
    if not members:
        raise ValidationFailed.single(
            "include_unusable", "every image of this dataset was judged unusable: nothing to export"
        )
    snapshot: dict[str, Any] = {"dataset_id": dataset.id}
    if include_unusable:
        snapshot["include_unusable"] = True  # usable_export never hands this one to a training job
    return _add(
        uow,
        actor_id=uow.actor.user_id if uow.actor else None,
        name=f"{dataset.name} ({export_format.value})",
        query_text=None,
        snapshot=snapshot,
        export_format=export_format,
        schema_id=dataset.keypoint_schema_id,
        dataset_id=dataset.id,
        items=[tuple(m) for m in members],
    )


def usable_export(uow: UnitOfWork, dataset_id: int, export_format: ExportFormat) -> Collection | None:
    """The dataset's newest export in this format that is ready or on its way, judged unusable left out."""
    return uow.session.scalar(
        sa.select(Collection)
        .where(
            Collection.dataset_id == dataset_id,
            Collection.format == export_format,
            Collection.status.in_((CollectionStatus.PENDING, CollectionStatus.READY)),
            sa.not_(Collection.filter_snapshot.has_key("include_unusable")),
        )
        .order_by(Collection.id.desc())
        .limit(1)
    )


# ------------------------------------------------------------------ reading


def list_collections(
    uow: UnitOfWork,
    *,
    dataset_id: int | None,
    status: CollectionStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[CollectionOut]:
    """Newest first: a researcher's own collections, every collection for an admin."""
    actor = access.require_researcher(uow.actor)
    query = sa.select(Collection)
    if not access.is_admin(actor):
        query = query.where(Collection.user_id == actor.user_id)
    if dataset_id is not None:
        query = query.where(Collection.dataset_id == dataset_id)
    if status is not None:
        query = query.where(Collection.status == status)
    return keyset_page(
        uow.session, query, order_by=[Collection.id.desc()], cursor=cursor, limit=limit, to_model=out
    )


def get_collection(uow: UnitOfWork, storage: Storage, collection_id: int) -> CollectionOut:
    """The collection; while READY, with a short-lived download link. Others' collections are not found."""
    actor = access.require_researcher(uow.actor)
    collection = uow.collections.get(collection_id)
    if collection is None or not access.owns_or_admin(actor, collection.user_id):
        raise NotFound("Collection", collection_id)
    result = out(collection)
    if collection.status is CollectionStatus.READY and collection.archive_path:
        settings = get_settings()
        ttl = settings.download_url_ttl_seconds
        result = result.model_copy(
            update={
                "download_url": storage.presigned_get(
                    settings.exports_bucket,
                    collection.archive_path,
                    expires_in=ttl,
                    filename=collection.archive_path.rsplit("/", 1)[-1],
                ),
                "download_url_expires_at": dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl),
            }
        )
        # A download link to verified images is a read of PHI: audited, with the read.
        audit_phi_read(
            uow,
            "COLLECTION_DOWNLOAD_URL_ISSUED",
            "Collection",
            collection.id,
            details={"dataset_id": collection.dataset_id, "url_ttl_s": ttl},
        )
    return result


def out(collection: Collection) -> CollectionOut:
    return CollectionOut.model_validate(collection)


# ------------------------------------------------------------------ packing (the worker)


def pack_pending(
    uow_factory: UnitOfWorkFactory,
    storage: StreamingStorage,
    limit: int = 5,
    context: RequestContext = WORKER_CONTEXT,
) -> list[int]:
    """Pack up to `limit` pending collections, oldest first; returns the ids it finished (either way)."""
    with uow_factory(SYSTEM, context) as uow:
        ids = list(
            uow.session.scalars(
                sa.select(Collection.id)
                .where(Collection.status == CollectionStatus.PENDING)
                .order_by(Collection.id)
                .limit(limit)
            )
        )
    return [c for c in ids if pack(uow_factory, storage, c, context) is not None]


def pack(
    uow_factory: UnitOfWorkFactory,
    storage: StreamingStorage,
    collection_id: int,
    context: RequestContext = WORKER_CONTEXT,
) -> CollectionStatus | None:
    """Pack one collection; None when another worker holds it or it is no longer pending."""
    claim = _claim(uow_factory, collection_id, context)
    if claim is None:
        return None
    if isinstance(claim, str):
        return _finish(uow_factory, collection_id, context, error=claim)
    settings = get_settings()
    key = f"collections/{collection_id}/{_slug(claim['name'])}-{collection_id}.zip"
    try:
        with uow_factory(SYSTEM, context) as uow:
            schema = SchemaDefinition.model_validate(
                uow.schemas.require(claim["schema_id"]).schema_definition
            )
            with storage.open_write(settings.exports_bucket, key, content_type="application/zip") as sink:
                archive_writer.write_archive(
                    cast(IO[bytes], sink),
                    export_format=claim["format"],
                    schema=schema,
                    title=claim["name"],
                    manifest=claim["manifest"],
                    pages=archive_writer.collection_pages(uow.session, collection_id),
                    read_image=lambda path: storage.get(settings.uploads_bucket, path),
                )
            size = sink.bytes_written
    except Exception as error:
        log.exception("packing collection %s failed", collection_id)
        return _finish(uow_factory, collection_id, context, error=f"{type(error).__name__}: {error}")
    return _finish(uow_factory, collection_id, context, key=key, size=size)


def _claim(
    uow_factory: UnitOfWorkFactory, collection_id: int, context: RequestContext
) -> dict[str, Any] | str | None:
    """Take the collection for this worker (a lease), or say why it cannot be packed."""
    with uow_factory(SYSTEM, context) as uow:
        collection = uow.session.scalar(
            sa.select(Collection).where(Collection.id == collection_id).with_for_update(skip_locked=True)
        )
        if collection is None or collection.status is not CollectionStatus.PENDING:
            return None
        now = dt.datetime.now(dt.UTC)
        if collection.attempts > 0 and collection.updated_at > now - LEASE:
            return None  # another worker is packing it
        if collection.attempts >= MAX_ATTEMPTS:
            return f"packing did not finish in {MAX_ATTEMPTS} attempts (each stopped without an answer)"
        collection.attempts += 1
        collection.updated_at = now
        _audit(uow, collection, "COLLECTION_PACKING_STARTED", new={"attempt": collection.attempts})
        uow.commit()
        return {
            "name": collection.name,
            "schema_id": collection.keypoint_schema_id,
            "format": collection.format,
            "manifest": {
                "collection_id": collection.id,
                "name": collection.name,
                "format": collection.format.value,
                "keypoint_schema_id": collection.keypoint_schema_id,
                "dataset_id": collection.dataset_id,
                "query": collection.filter_snapshot,
                "include_unusable": _includes_unusable(collection.filter_snapshot),
                "created_at": collection.created_at.isoformat(),
                "visibility": "0 absent, 1 occluded, 2 visible (COCO)",
            },
        }


def _finish(
    uow_factory: UnitOfWorkFactory,
    collection_id: int,
    context: RequestContext,
    *,
    key: str | None = None,
    size: int | None = None,
    error: str | None = None,
) -> CollectionStatus:
    now = dt.datetime.now(dt.UTC)
    retention = dt.timedelta(days=get_settings().collection_retention_days)
    with uow_factory(SYSTEM, context) as uow:
        collection = uow.collections.require(collection_id, for_update=True)
        target = CollectionStatus.FAILED if error is not None else CollectionStatus.READY
        change_status(uow, collection, target)
        collection.expires_at = now + retention
        if error is not None:
            collection.error_message = error[:5000]
        else:
            collection.archive_path, collection.size_bytes, collection.ready_at = key, size, now
        _audit(
            uow,
            collection,
            f"COLLECTION_{target.value}",
            new={"archive_path": key, "size_bytes": size, "expires_at": collection.expires_at},
            status=AuditStatus.FAILED if error else AuditStatus.SUCCESS,
            error=error,
        )
        uow.commit()
        return collection.status


# ------------------------------------------------------------------ expiry (the scheduled job)


def expire_due(
    uow_factory: UnitOfWorkFactory,
    storage: Storage,
    now: dt.datetime | None = None,
    context: RequestContext = WORKER_CONTEXT,
) -> list[int]:
    """Delete the archives of collections past their retention and mark them EXPIRED."""
    moment = now or dt.datetime.now(dt.UTC)
    settings = get_settings()
    with uow_factory(SYSTEM, context) as uow:
        due = list(
            uow.session.scalars(
                sa.select(Collection.id).where(
                    Collection.status.in_((CollectionStatus.READY, CollectionStatus.FAILED)),
                    Collection.expires_at <= moment,
                )
            )
        )
    expired = []
    for collection_id in due:
        with uow_factory(SYSTEM, context) as uow:
            collection = uow.session.scalar(
                sa.select(Collection).where(Collection.id == collection_id).with_for_update(skip_locked=True)
            )
            if collection is None or collection.status not in (
                CollectionStatus.READY,
                CollectionStatus.FAILED,
            ):
                continue
            if collection.archive_path:
                storage.delete(settings.exports_bucket, collection.archive_path)  # idempotent in S3
            old = collection.status
            change_status(uow, collection, CollectionStatus.EXPIRED)
            _audit(
                uow,
                collection,
                "COLLECTION_EXPIRED",
                new={"from": old, "deleted": collection.archive_path},
            )
            uow.commit()
            expired.append(collection_id)
    return expired


# ------------------------------------------------------------------ helpers


def _add(
    uow: UnitOfWork,
    *,
    actor_id: int | None,
    name: str,
    query_text: str | None,
    snapshot: dict[str, Any],
    export_format: ExportFormat,
    schema_id: int,
    dataset_id: int | None,
    items: list[tuple[Any, ...]],
) -> Collection:
    if not items:
        raise Conflict("there is nothing to pack: the collection would hold no image")
    collection = uow.collections.add(
        Collection(
            user_id=actor_id or uow.system_user_id(),
            name=name[:200],
            query_text=query_text,
            filter_snapshot=snapshot,
            format=export_format,
            keypoint_schema_id=schema_id,
            dataset_id=dataset_id,
            num_images=len(items),
        )
    )
    rows = [
        {
            "collection_id": collection.id,
            "image_id": image_id,
            "split": DatasetSplit(split),
            "annotation_id": aid,
        }
        for image_id, split, aid in items
    ]
    for start in range(0, len(rows), INSERT_CHUNK):
        uow.session.execute(sa.insert(CollectionItem), rows[start : start + INSERT_CHUNK])
    _audit(
        uow,
        collection,
        "COLLECTION_CREATED",
        new={"format": export_format, "num_images": len(items), "dataset_id": dataset_id, "query": snapshot},
    )
    return collection


def _includes_unusable(snapshot: dict[str, Any]) -> bool:
    """Whether the export took images judged unusable: a dataset export's flag, or a query's filter."""
    filters = snapshot.get("filters") or {}
    return bool(snapshot.get("include_unusable") or filters.get("include_unusable"))


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "collection"


def _audit(
    uow: UnitOfWork,
    collection: Collection,
    action: str,
    *,
    new: dict[str, Any],
    status: AuditStatus = AuditStatus.SUCCESS,
    error: str | None = None,
) -> None:
    audit(
        uow,
        action,
        AuditCategory.SYSTEM,
        "Collection",
        collection.id,
        collection.name,
        new=new,
        status=status,
        error=error,
    )
