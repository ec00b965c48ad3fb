"""Image metadata at intake: the per-file manifest, what registration writes, and corrections.

An uploader gives `infant_metadata`, `acquisition_date` and `source_institution` for a whole batch
(`BatchIn.image_defaults`) and for each named file (with the file's entry when asking for its
upload form). The file's values are kept in `upload_manifest_entries`, by the form's key, until
the upload trigger registers the file and writes them, over the batch's defaults, onto the Image
row.

`PATCH /images/{id}` corrects them: an admin at any time; the batch's uploader while no annotation
has been handed in for the image (`domain.image_metadata.UPLOADER_CORRECTABLE`), 409 afterwards;
anyone else 403 (the same answer whether or not the image exists, so it tells them nothing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from cradlepose.common.use_cases import audit
from cradlepose.db.models import Image, ImageBatch, UploadManifestEntry
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import AuditCategory
from cradlepose.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from cradlepose.domain.image_metadata import (
    UPLOADER_CORRECTABLE,
    AcquisitionDate,
    ImageMetadata,
    InfantMetadata,
    Institution,
    merged,
)

FIELDS = ("infant_metadata", "acquisition_date", "source_institution")


class MetadataCorrection(BaseModel):
    """The fields to change; a field left out keeps its value, `null` clears it.

    Inside `infant_metadata` the same holds key by key: `{"age_months": 5}` changes the age and
    keeps the rest, `{"subject_id": null}` removes the pseudonym; `"infant_metadata": null` clears
    it all."""

    model_config = ConfigDict(extra="forbid")

    infant_metadata: InfantMetadata | None = None
    acquisition_date: AcquisitionDate | None = None
    source_institution: Institution | None = None


class MetadataOut(BaseModel):
    image_id: int
    batch_id: int
    infant_metadata: dict[str, Any] | None
    acquisition_date: dt.date | None
    source_institution: str | None


# ------------------------------------------------------------------ before the upload


def record_manifest(uow: UnitOfWork, batch_id: int, forms: Sequence[tuple[str, ImageMetadata]]) -> int:
    """Keep what the uploader said about each file, by its upload form's key, until the upload
    trigger registers the file. Returns how many entries were written."""
    rows = [
        {
            "batch_id": batch_id,
            "upload_key": key,
            "infant_metadata": values.get("infant_metadata"),
            "acquisition_date": _date(values.get("acquisition_date")),
            "source_institution": values.get("source_institution"),
        }
        for key, metadata in forms
        if not metadata.is_empty()
        for values in [metadata.stored()]
    ]
    if rows:
        uow.session.execute(sa.insert(UploadManifestEntry), rows)
    return len(rows)


def for_registration(uow: UnitOfWork, batch: ImageBatch, upload_key: str) -> dict[str, Any]:
    """The Image columns registration writes for the upload at `upload_key`: what its form's
    request said, over the batch's defaults."""
    entry = uow.session.scalar(
        sa.select(UploadManifestEntry).where(UploadManifestEntry.upload_key == upload_key)
    )
    own = (
        {
            "infant_metadata": entry.infant_metadata,
            "acquisition_date": entry.acquisition_date,
            "source_institution": entry.source_institution,
        }
        if entry is not None
        else None
    )
    return merged(batch.image_defaults, own)


# ------------------------------------------------------------------ corrections


def correct_metadata(uow: UnitOfWork, image_id: int, correction: MetadataCorrection) -> MetadataOut:
    actor = access.require_worker(uow.actor)
    image = uow.session.scalar(sa.select(Image).where(Image.id == image_id).with_for_update())
    batch = uow.batches.get(image.batch_id) if image is not None else None
    if not access.is_admin(actor):
        if image is None or batch is None or batch.uploaded_by != actor.user_id:
            raise PermissionDenied("only an admin or the batch's uploader may correct an image's metadata")
        if image.status not in UPLOADER_CORRECTABLE:
            raise Conflict(
                f"image {image.id} is {image.status.value}: once it is annotated only an admin may "
                "correct its metadata"
            )
    if image is None or batch is None:
        raise NotFound("Image", image_id)
    changes = correction.model_dump(mode="json", exclude_unset=True)
    if not changes:
        raise ValidationFailed.single("body", "name at least one of " + ", ".join(FIELDS))
    old = {name: _json(getattr(image, name)) for name in changes}
    if "infant_metadata" in changes:
        image.infant_metadata = _corrected_infant(image.infant_metadata, changes["infant_metadata"])
    if "acquisition_date" in changes:
        image.acquisition_date = _date(changes["acquisition_date"])
    if "source_institution" in changes:
        image.source_institution = changes["source_institution"]
    new = {name: _json(getattr(image, name)) for name in changes}
    audit(
        uow,
        "IMAGE_METADATA_CORRECTED",
        AuditCategory.IMAGE_PROCESSING,
        "Image",
        image.id,
        image.original_filename,
        old=old,
        new=new,
        batch_context={"batch_id": batch.id, "batch_name": batch.batch_name},
    )
    uow.commit()
    return MetadataOut(
        image_id=image.id,
        batch_id=image.batch_id,
        infant_metadata=image.infant_metadata,
        acquisition_date=image.acquisition_date,
        source_institution=image.source_institution,
    )


def _corrected_infant(current: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """Key by key: a key given replaces, a key given as null is removed, the rest is kept (keys
    this API does not set, such as an imported `expert_label`, survive a correction)."""
    if given is None:
        return None
    result = dict(current or {})
    for key, value in given.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result or None


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value
