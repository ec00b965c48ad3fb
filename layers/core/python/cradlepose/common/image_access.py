"""Who sees an image right now, and the audit row every read of one leaves.

An annotator or a verifier sees an image only while their work covers it (domain.access): the
image's current assignment is theirs and open, or they hold its claimed verification. A caller
who may not see an image gets exactly the answer for one that does not exist.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cradlepose.db.models import BatchAssignment, Image
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.actor import Actor
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, ImageStatus, Role
from cradlepose.domain.errors import NotFound


def open_work_covers(actor: Actor) -> sa.ColumnElement[bool]:
    """SQL condition on Image: the actor's open work covers the row (annotators and verifiers)."""
    if actor.role is Role.VERIFIER:
        return sa.and_(Image.current_verifier == actor.user_id, Image.status == ImageStatus.UNDER_REVIEW)
    if actor.role is Role.ANNOTATOR:
        return sa.exists().where(
            BatchAssignment.id == Image.current_assignment_id,
            BatchAssignment.annotator_id == actor.user_id,
            BatchAssignment.status.in_(access.OPEN_ASSIGNMENT_STATUSES),
        )
    return sa.false()


def holds_open_work(uow: UnitOfWork, actor: Actor, image: Image) -> bool:
    if actor.role is Role.VERIFIER:
        return image.current_verifier == actor.user_id and image.status is ImageStatus.UNDER_REVIEW
    if actor.role is not Role.ANNOTATOR or image.current_assignment_id is None:
        return False
    assignment = uow.assignments.get(image.current_assignment_id)
    return (
        assignment is not None
        and assignment.annotator_id == actor.user_id
        and assignment.status in access.OPEN_ASSIGNMENT_STATUSES
    )


def visible_image(uow: UnitOfWork, actor: Actor, image_id: int) -> Image:
    """The image, if the actor may see it now; NotFound (the nonexistent image's answer) otherwise."""
    image = uow.images.get(image_id)
    if image is None or not access.can_read_image(actor, holds_open_work=holds_open_work(uow, actor, image)):
        raise NotFound("Image", image_id)
    return image


def audit_phi_read(
    uow: UnitOfWork,
    action: str,
    resource_type: str,
    resource_id: int,
    *,
    category: AuditCategory = AuditCategory.IMAGE_PROCESSING,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row for a read of PHI (who, what; when and from where come from the request
    context), committed with the read: a read that cannot be recorded is not answered."""
    uow.audit(
        AuditEntry(
            action=action,
            category=category,
            resource_type=resource_type,
            resource_id=resource_id,
            new_values=details,
            http_status=200,
        )
    )
    uow.commit()
