"""Images an annotator cannot honestly annotate: flagged, then decided by a verifier or an admin.

Flagging (`POST /images/{id}/flag-unusable`, the annotator whose started assignment covers the
image) hands the image in without keypoints: it counts as done for the assignment, goes to
SUBMITTED with `unusable_flag` set, and the seed's quality fields say why: `has_quality_issues`,
`quality_issues` (the reason, lower-case, added once) and `has_annotation_issues`. Flagged images
wait in their own list (`GET /flags`), never in the review queue, since there are no keypoints to
review. A draft saved before flagging stays with the assignment.

The decision (`POST /images/{id}/flag-decision`, verifier or admin):
- accept: the image is REJECTED for good (excluded from every export, which takes approved
  annotations only) and counts as rejected and completed in its batch, so the batch can
  complete without it;
- send back: the image is usable after all; it goes back to its annotator (another one when they
  can no longer work) as a REVISION assignment carrying the note, with any draft they left, and
  the flag is cleared (the quality fields keep the record; the audit log holds the decision).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page, audit
from cradlepose.db.models import Annotation, Image, User
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access, assignment_policy
from cradlepose.domain.enums import AnnotationStatus, AssignmentType, AuditCategory, ImageStatus, Role
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.domain.status_changes import change_status
from cradlepose.workflow import annotations as annotation_service
from cradlepose.workflow import assignments as assignment_service
from cradlepose.workflow import leases, verifications


class UnusableReason(StrEnum):
    BODY_OUT_OF_FRAME = "BODY_OUT_OF_FRAME"
    KEYPOINT_NOT_PLACEABLE = "KEYPOINT_NOT_PLACEABLE"
    OCCLUDED = "OCCLUDED"
    POOR_IMAGE_QUALITY = "POOR_IMAGE_QUALITY"
    NO_INFANT = "NO_INFANT"
    MORE_THAN_ONE_PERSON = "MORE_THAN_ONE_PERSON"
    OTHER = "OTHER"


class FlagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: UnusableReason
    text: str | None = Field(default=None, max_length=2000, description="what is wrong; required for OTHER")

    @model_validator(mode="after")
    def _other_says_why(self) -> FlagIn:
        if self.reason is UnusableReason.OTHER and not (self.text or "").strip():
            raise ValueError("say what is wrong (text) when the reason is OTHER")
        return self


class FlagDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accept: bool = Field(description="true: the image is excluded; false: sent back to be annotated")
    note: str | None = Field(default=None, max_length=5000, description="required when sending back")

    @model_validator(mode="after")
    def _send_back_says_why(self) -> FlagDecisionIn:
        if not self.accept and not (self.note or "").strip():
            raise ValueError("a flag sent back needs a note for the annotator")
        return self


class FlaggedImage(BaseModel):
    image_id: int
    batch_id: int
    status: ImageStatus
    reason: UnusableReason
    text: str | None
    flagged_by: int
    flagged_at: str
    decision: str | None = None
    has_quality_issues: bool
    quality_issues: list[Any] | None
    has_annotation_issues: bool


# ------------------------------------------------------------------ the annotator


def flag(uow: UnitOfWork, image_id: int, command: FlagIn) -> FlaggedImage:
    actor = access.require_role(uow.actor, Role.ANNOTATOR)
    image, assignment = annotation_service.workable_image(uow, image_id)
    old = {"status": image.status, "quality_issues": image.quality_issues}
    change_status(uow, image, ImageStatus.SUBMITTED)
    image.has_quality_issues = True
    issue = command.reason.value.lower()
    image.quality_issues = [
        *(image.quality_issues or []),
        *([] if issue in (image.quality_issues or []) else [issue]),
    ]
    image.has_annotation_issues = True
    image.unusable_flag = {
        "reason": command.reason.value,
        "text": command.text,
        "flagged_by": actor.user_id,
        "flagged_at": leases.now().isoformat(),
        "assignment_id": assignment.id,
    }
    annotation_service.hand_in(uow, assignment)
    _audit(uow, image, "IMAGE_FLAGGED_UNUSABLE", old=old, new={"status": image.status, **image.unusable_flag})
    uow.commit()
    return _out(image)


# ------------------------------------------------------------------ verifiers and admins


def list_flags(uow: UnitOfWork, cursor: str | None, limit: int) -> Page[FlaggedImage]:
    """Flags waiting for a decision, oldest image first."""
    access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    query = sa.select(Image).where(Image.status == ImageStatus.SUBMITTED, Image.unusable_flag.is_not(None))
    return keyset_page(
        uow.session, query, order_by=[Image.id.asc()], cursor=cursor, limit=limit, to_model=_out
    )


def decide(uow: UnitOfWork, image_id: int, command: FlagDecisionIn) -> FlaggedImage:
    actor = access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    image = uow.images.get(image_id)
    if image is None:
        raise NotFound("Image", image_id)
    batch = uow.batches.require(image.batch_id, for_update=True)
    uow.session.refresh(image, with_for_update=True)
    if image.unusable_flag is None or image.status is not ImageStatus.SUBMITTED:
        raise Conflict(f"image {image.id} has no unusable flag waiting for a decision")
    flag_ = dict(image.unusable_flag)
    if flag_["flagged_by"] == actor.user_id:
        raise Conflict("you flagged this image; someone else decides")
    old_assignment_id = int(flag_["assignment_id"])
    change_status(uow, image, ImageStatus.UNDER_REVIEW)
    if command.accept:
        change_status(uow, image, ImageStatus.REJECTED)
        image.unusable_flag = {
            **flag_,
            "decision": "ACCEPTED",
            "decided_by": actor.user_id,
            "note": command.note,
        }
        batch.rejected_count += 1
        batch.completed_count += 1
        action, new_assignment_id = "UNUSABLE_FLAG_ACCEPTED", None
    else:
        change_status(uow, image, ImageStatus.REQUIRES_REVISION)
        image.unusable_flag = None
        annotator = _reviser(uow, int(flag_["flagged_by"]))
        revision = assignment_service.open_assignment_for(
            uow, actor, batch, annotator, AssignmentType.REVISION, [image], command.note
        )
        _carry_drafts(uow, image, old_assignment_id, revision.id)
        assignment_service.mark_batch_in_progress(uow, batch)
        action, new_assignment_id = "UNUSABLE_FLAG_SENT_BACK", revision.id
    _audit(
        uow,
        image,
        action,
        old={"status": ImageStatus.SUBMITTED, "unusable_flag": flag_},
        new={"status": image.status, "note": command.note, "assignment_id": new_assignment_id},
    )
    verifications.settle(uow, batch, old_assignment_id)
    uow.commit()
    result = _out(image, flag_)
    return result.model_copy(update={"decision": "ACCEPTED" if command.accept else "SENT_BACK"})


# ------------------------------------------------------------------ helpers


def _reviser(uow: UnitOfWork, flagger_id: int) -> User:
    flagger = uow.users.require(flagger_id)
    if flagger.is_active and flagger.is_approved:
        return flagger
    chosen = assignment_policy.choose(
        assignment_service.candidates(uow), None, exclude=frozenset({flagger_id})
    )
    if chosen is None:
        raise Conflict("no annotator can take the image: approve or free up an annotator first")
    return uow.users.require(chosen.user_id)


def _carry_drafts(uow: UnitOfWork, image: Image, from_assignment: int, to_assignment: int) -> None:
    """A draft left before flagging is where the annotator goes on from."""
    uow.session.execute(
        sa.update(Annotation)
        .where(
            Annotation.image_id == image.id,
            Annotation.batch_assignment_id == from_assignment,
            Annotation.status.in_((AnnotationStatus.DRAFT, AnnotationStatus.COMPLETED)),
        )
        .values(batch_assignment_id=to_assignment)
    )


def _out(image: Image, flag_: dict[str, Any] | None = None) -> FlaggedImage:
    data = flag_ or image.unusable_flag or {}
    return FlaggedImage(
        image_id=image.id,
        batch_id=image.batch_id,
        status=image.status,
        reason=UnusableReason(data["reason"]),
        text=data.get("text"),
        flagged_by=int(data["flagged_by"]),
        flagged_at=str(data["flagged_at"]),
        decision=data.get("decision"),
        has_quality_issues=image.has_quality_issues,
        quality_issues=image.quality_issues,
        has_annotation_issues=image.has_annotation_issues,
    )


def _audit(uow: UnitOfWork, image: Image, action: str, **details: Any) -> None:
    details.setdefault("batch_context", {"batch_id": image.batch_id})
    audit(uow, action, AuditCategory.ANNOTATION, "Image", image.id, **details)
