"""Quality-check (gold) images: verified keypoints an admin sets on images of a batch.

The annotator does not know which images are gold; their work on them is verified like any
other, and its OKS against the gold keypoints feeds their accuracy score (workflow.metrics).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from cradlepose.db.models import Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, ImageStatus
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.keypoint_schema import SchemaDefinition
from cradlepose.domain.keypoints import validate_keypoints

LOCKED = (ImageStatus.SUBMITTED, ImageStatus.UNDER_REVIEW, ImageStatus.APPROVED, ImageStatus.REJECTED)


class GoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keypoints: dict[str, Any] = Field(description="the verified keypoints, in the seed's keypoint structure")


class GoldOut(BaseModel):
    image_id: int
    batch_id: int
    keypoints: int


def set_gold(uow: UnitOfWork, batch_id: int, image_id: int, command: GoldIn) -> GoldOut:
    image = _unlocked_image(uow, batch_id, image_id, "set gold keypoints before it is annotated")
    batch = uow.batches.require(batch_id)
    schema = SchemaDefinition.model_validate(uow.schemas.require(batch.keypoint_schema_id).schema_definition)
    gold = validate_keypoints(command.keypoints, schema, image.width, image.height)
    image.gold_keypoints = gold.model_dump(mode="json")
    uow.audit(
        AuditEntry(
            action="QUALITY_CHECK_SET",
            category=AuditCategory.ANNOTATION,
            resource_type="Image",
            resource_id=image.id,
            new_values={"keypoints": len(gold.keypoints)},
            batch_context={"batch_id": batch.id},
        )
    )
    uow.commit()
    return GoldOut(image_id=image.id, batch_id=batch.id, keypoints=len(gold.keypoints))


def clear_gold(uow: UnitOfWork, batch_id: int, image_id: int) -> GoldOut:
    """The image is no quality check any more; refused once its annotation is in (it may be scored)."""
    image = _unlocked_image(uow, batch_id, image_id, "its annotation may already be scored against the gold")
    if image.gold_keypoints is None:
        raise Conflict(f"image {image.id} is not a quality check")
    before = len(image.gold_keypoints.get("keypoints", []))
    # SQL NULL, not JSON null: the metrics find gold images with `gold_keypoints IS NOT NULL`.
    uow.session.execute(sa.update(Image).where(Image.id == image.id).values(gold_keypoints=sa.null()))
    uow.audit(
        AuditEntry(
            action="QUALITY_CHECK_CLEARED",
            category=AuditCategory.ANNOTATION,
            resource_type="Image",
            resource_id=image.id,
            old_values={"keypoints": before},
            batch_context={"batch_id": batch_id},
        )
    )
    uow.commit()
    return GoldOut(image_id=image.id, batch_id=batch_id, keypoints=0)


def _unlocked_image(uow: UnitOfWork, batch_id: int, image_id: int, why: str) -> Image:
    access.require_admin(uow.actor)
    image = uow.images.require(image_id, for_update=True)
    if image.batch_id != batch_id:
        raise NotFound("Image", image_id)
    if image.status in LOCKED:
        raise Conflict(f"image {image.id} is {image.status.value}: {why}")
    return image
