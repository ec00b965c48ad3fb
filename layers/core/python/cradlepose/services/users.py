"""Use cases about people: the first admin now; registration and approval with the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from cradlepose.db.models import User
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory, Role
from cradlepose.domain.errors import Conflict


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    role: Role
    is_approved: bool
    is_active: bool
    max_concurrent_batches: int
    annotation_specialty: str | None
    verification_expertise: str | None
    total_annotations_completed: int
    total_verifications_completed: int
    avg_annotation_time_minutes: Decimal
    accuracy_score: Decimal
    date_joined: dt.datetime
    last_login: dt.datetime | None


class NewAdmin(BaseModel):
    username: str = Field(min_length=3, max_length=150, pattern=r"^[A-Za-z0-9_.@+-]+$")
    email: EmailStr
    identity_subject: str | None = None


def create_admin(uow: UnitOfWork, command: NewAdmin) -> UserOut:
    """Create an approved, active ADMIN. Used once, from the command line, to open a deployment.

    No password is involved: the identity provider holds the credentials.
    """
    if uow.users.by_username(command.username) is not None:
        raise Conflict(f"username {command.username!r} is taken")
    if uow.users.by_email(command.email) is not None:
        raise Conflict(f"email {command.email!r} is already registered")
    created_by = uow.actor.user_id if uow.actor and uow.actor.user_id else uow.system_user_id()
    user = uow.users.add(
        User(
            username=command.username,
            email=command.email.lower(),
            role=Role.ADMIN,
            is_approved=True,
            is_active=True,
            is_staff=True,
            identity_subject=command.identity_subject,
            created_by=created_by,
        )
    )
    uow.audit(
        AuditEntry(
            action="ADMIN_CREATED",
            category=AuditCategory.USER_MANAGEMENT,
            resource_type="User",
            resource_id=user.id,
            resource_name=user.username,
            new_values={"username": user.username, "email": user.email, "role": user.role},
            summary="administrator created from the command line",
        )
    )
    uow.commit()
    return UserOut.model_validate(user)
