"""Reading images: per batch with status filters, one with short-lived download links.

Every read of image data is audited (one row, in the read's own transaction), and an annotator or
a verifier sees only the images their open work covers (common.image_access).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.adapters.storage import Storage
from cradlepose.common.image_access import audit_phi_read, open_work_covers, visible_image
from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import DecimalNumber, Page
from cradlepose.db.models import Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import ImageStatus
from cradlepose.intake.batches import readable_batch
from cradlepose.settings import get_settings


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    batch_id: int
    filename: str
    original_filename: str
    width: int
    height: int
    file_size: int
    mime_type: str
    format: str
    infant_metadata: dict[str, Any] | None
    acquisition_date: dt.date | None
    source_institution: str | None
    anonymization_status: bool
    yolo_confidence: DecimalNumber | None
    yolo_processing_time_ms: int | None
    yolo_model_version: str | None
    image_quality_score: DecimalNumber | None
    has_quality_issues: bool
    quality_issues: list[Any] | None
    status: ImageStatus
    current_annotator: int | None
    current_verifier: int | None
    is_difficult_case: bool
    requires_specialist_review: bool
    has_annotation_issues: bool
    duplicate_of_id: int | None = Field(
        default=None,
        description="the image this one nearly repeats (resized, re-compressed) in its batch, or "
        "repeats exactly in another batch; stored, and flagged for the uploader",
    )
    duplicate_distance: int | None = Field(
        default=None, description="perceptual-hash (dHash) bits that differ from that image: 0–64"
    )
    created_at: dt.datetime
    last_status_change: dt.datetime
    quality_check: bool | None = Field(
        default=None,
        description="admins only (null for anyone else: annotators never learn which images are "
        "gold): whether the image has gold keypoints",
    )


class ImageDetail(ImageOut):
    yolo_keypoints: dict[str, Any] | None
    image_url: str
    thumbnail_url: str | None
    urls_expire_at: dt.datetime


def list_images(
    uow: UnitOfWork, batch_id: int, status: ImageStatus | None, cursor: str | None, limit: int
) -> Page[ImageOut]:
    actor = access.require_worker(uow.actor)
    batch = readable_batch(uow, actor, batch_id)
    query = sa.select(Image).where(Image.batch_id == batch.id)
    admin = access.is_admin(actor)
    if not admin:
        query = query.where(open_work_covers(actor))
    if status is not None:
        query = query.where(Image.status == status)
    page = keyset_page(
        uow.session,
        query,
        order_by=[Image.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=_admin_view if admin else ImageOut.model_validate,
    )
    audit_phi_read(
        uow, "IMAGES_LISTED", "ImageBatch", batch.id, details={"images": [i.id for i in page.items]}
    )
    return page


def _admin_view(image: Image) -> ImageOut:
    return ImageOut.model_validate(image).model_copy(
        update={"quality_check": image.gold_keypoints is not None}
    )


def download_name(image: Image) -> str:
    """The name a downloaded image is saved under: its id, never the uploader's file name. The
    name travels in the signed URL's query, which S3's access logs and any proxy log record."""
    return f"image-{image.id}.{'png' if image.format.upper() == 'PNG' else 'jpg'}"


def get_image(uow: UnitOfWork, storage: Storage, image_id: int) -> ImageDetail:
    actor = access.require_worker(uow.actor)
    image = visible_image(uow, actor, image_id)
    settings = get_settings()
    ttl = settings.download_url_ttl_seconds
    detail = ImageDetail(
        **ImageOut.model_validate(image).model_dump(),
        yolo_keypoints=image.yolo_keypoints,
        image_url=storage.presigned_get(
            settings.uploads_bucket, image.storage_path, expires_in=ttl, filename=download_name(image)
        ),
        thumbnail_url=storage.presigned_get(settings.derived_bucket, image.thumbnail_path, expires_in=ttl)
        if image.thumbnail_path
        else None,
        urls_expire_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl),
    )
    audit_phi_read(
        uow, "IMAGE_VIEWED", "Image", image.id, details={"batch_id": image.batch_id, "urls_ttl_s": ttl}
    )
    return detail
