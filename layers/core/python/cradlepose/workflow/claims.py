"""Open verification claims: admins see and release any; holders renew theirs (workflow.leases).

A claim is named by its image: `/claims/{image_id}`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel

from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import Page, audit
from cradlepose.db.models import Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.enums import AuditCategory, ImageStatus, Role
from cradlepose.domain.errors import Conflict, NotFound
from cradlepose.workflow import leases, verifications


class ClaimOut(BaseModel):
    id: int
    image_id: int
    batch_id: int
    verifier_id: int
    claimed_at: dt.datetime
    expires_at: dt.datetime
    expired: bool


def list_claims(uow: UnitOfWork, cursor: str | None, limit: int) -> Page[ClaimOut]:
    """Every open claim, newest image first, each with when it lapses."""
    access.require_admin(uow.actor)
    query = sa.select(Image).where(
        Image.status == ImageStatus.UNDER_REVIEW, Image.current_verifier.is_not(None)
    )
    return keyset_page(
        uow.session, query, order_by=[Image.id.desc()], cursor=cursor, limit=limit, to_model=_out
    )


def release_claim(uow: UnitOfWork, image_id: int) -> ClaimOut:
    """An admin ends anyone's claim: the image goes back to its queue at once."""
    access.require_admin(uow.actor)
    image = _claimed_image(uow, image_id)
    claim = _out(image)
    annotation = verifications.claimed_annotation(uow, image)
    verifications.give_back(uow, image, annotation)
    _audit(
        uow,
        image,
        "CLAIM_RELEASED_BY_ADMIN",
        old={"verifier_id": claim.verifier_id},
        new={"verifier_id": None},
    )
    uow.commit()
    return claim


def renew(uow: UnitOfWork, image_id: int) -> ClaimOut:
    """The holder is still at it: the lease starts again (even if it had lapsed, as long as nobody
    else claimed the image meanwhile)."""
    actor = access.require_role(uow.actor, Role.VERIFIER, Role.ADMIN)
    image = _claimed_image(uow, image_id)
    if image.current_verifier != actor.user_id:
        raise Conflict(f"image {image.id} is claimed by someone else; claim the next one instead")
    image.verifier_claimed_at = leases.now()
    _audit(uow, image, "CLAIM_RENEWED", new={"verifier_id": actor.user_id})
    uow.commit()
    return _out(image)


def release_claims_of(uow: UnitOfWork, user_id: int) -> list[int]:
    """Every claim a person holds goes back to its queue (they were deactivated). No commit."""
    images = uow.session.scalars(
        sa.select(Image)
        .where(Image.current_verifier == user_id, Image.status == ImageStatus.UNDER_REVIEW)
        .with_for_update()
    ).all()
    for image in images:
        verifications.give_back(uow, image, verifications.claimed_annotation(uow, image))
        _audit(uow, image, "CLAIM_RELEASED_BY_ADMIN", old={"verifier_id": user_id}, new={"verifier_id": None})
    return [i.id for i in images]


def _claimed_image(uow: UnitOfWork, image_id: int) -> Image:
    image = uow.images.get(image_id)
    if image is None:
        raise NotFound("Claim", image_id)
    uow.session.refresh(image, with_for_update=True)
    if image.current_verifier is None or image.status is not ImageStatus.UNDER_REVIEW:
        raise NotFound("Claim", image_id)
    return image


def _out(image: Image) -> ClaimOut:
    assert image.current_verifier is not None
    expires = leases.expires_at(image)
    return ClaimOut(
        id=image.id,
        image_id=image.id,
        batch_id=image.batch_id,
        verifier_id=image.current_verifier,
        claimed_at=image.verifier_claimed_at or image.last_status_change,
        expires_at=expires,
        expired=expires < leases.now(),
    )


def _audit(uow: UnitOfWork, image: Image, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.VERIFICATION, "Image", image.id, **details)
