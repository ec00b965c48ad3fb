"""Use cases about people: registration, approval, roles, activity, and the first admin.

Identity (passwords, MFA) lives in the identity provider; Cradle's `users` table is the source
of truth for role, approval and activity, and the provider's groups mirror the role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from cradlepose.adapters.identity import IdentityProvider
from cradlepose.common.paging import keyset_page
from cradlepose.common.use_cases import DecimalNumber, Page, audit, snapshot
from cradlepose.db.models import User
from cradlepose.db.repositories import UserRow, caller_row
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain import access
from cradlepose.domain.actor import Actor, Claims, is_reserved_username
from cradlepose.domain.audit import changes
from cradlepose.domain.bounds import NOT_NULL, Patch
from cradlepose.domain.enums import AuditCategory, Role
from cradlepose.domain.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


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
    avg_annotation_time_minutes: DecimalNumber
    accuracy_score: DecimalNumber
    date_joined: dt.datetime
    last_login: dt.datetime | None


class Registration(BaseModel):
    """What a newly signed-up person asks for. Username and e-mail come from their token."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["ANNOTATOR", "VERIFIER"] = Field(description="the role requested; an admin confirms it")
    annotation_specialty: str | None = Field(default=None, max_length=100, examples=["full_body"])
    verification_expertise: str | None = Field(
        default=None, max_length=100, examples=["pediatric_physiotherapy"]
    )


class UserFilters(BaseModel):
    role: Role | None = None
    is_approved: bool | None = None
    is_active: bool | None = None
    search: str | None = Field(default=None, max_length=100, description="part of the username or e-mail")


class UserUpdate(Patch):
    max_concurrent_batches: Annotated[int | None, NOT_NULL] = Field(default=None, ge=0, le=100)
    annotation_specialty: str | None = Field(default=None, max_length=100)
    verification_expertise: str | None = Field(default=None, max_length=100)


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=1000)


USERNAME_PATTERN = r"^[A-Za-z0-9_.@+-]+$"


def _not_reserved(username: str) -> str:
    if is_reserved_username(username):
        raise ValueError(f"{username!r} is reserved; choose another name")
    return username


class Invitation(BaseModel):
    """A person an admin brings in: the identity-provider account and an approved Cradle user."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=150, pattern=USERNAME_PATTERN, examples=["anna"])
    email: EmailStr = Field(description="where the identity provider e-mails the temporary password")
    role: Role
    annotation_specialty: str | None = Field(default=None, max_length=100, examples=["full_body"])
    verification_expertise: str | None = Field(
        default=None, max_length=100, examples=["pediatric_physiotherapy"]
    )

    _username_not_reserved = field_validator("username")(_not_reserved)


class NewAdmin(BaseModel):
    username: str = Field(min_length=3, max_length=150, pattern=USERNAME_PATTERN)
    email: EmailStr
    identity_subject: str | None = None

    _username_not_reserved = field_validator("username")(_not_reserved)


_AUDITED_FIELDS = (
    "role",
    "is_approved",
    "is_active",
    "max_concurrent_batches",
    "annotation_specialty",
    "verification_expertise",
)


# ------------------------------------------------------------------ identity


@dataclass(frozen=True)
class SignedIn:
    """Who a request comes from: the actor, and their users row as the request left it."""

    actor: Actor
    row: UserRow | None  # None: signed in with the identity provider, not registered in Cradle


def sign_in(uow: UnitOfWork, claims: Claims) -> SignedIn:
    """The Cradle actor behind verified claims (a registered-nowhere actor when there is no row),
    stamping the user's `last_login`, at most once a minute, in the same statement; the caller
    commits the unit of work to keep it."""
    row = caller_row(uow.connection(), claims.subject)
    return SignedIn(_actor(claims, row), row)


def _actor(claims: Claims, user: UserRow | None) -> Actor:
    if user is None:
        return Actor(user_id=None, username=claims.username, role=None, subject=claims.subject)
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        is_approved=user.is_approved,
        is_active=user.is_active,
        subject=claims.subject,
    )


def register(uow: UnitOfWork, claims: Claims, command: Registration) -> UserOut:
    """Create the caller's Cradle account: it exists, but can do nothing until an admin approves it."""
    if is_reserved_username(claims.username):
        raise PermissionDenied(f"the name {claims.username!r} is reserved; no account may use it")
    if uow.users.by_subject(claims.subject) is not None:
        raise Conflict("you are already registered")
    if not claims.email:
        raise ValidationFailed.single("email", "your identity token carries no e-mail address")
    if uow.users.by_username(claims.username) is not None:
        raise Conflict(f"username {claims.username!r} is taken")
    if uow.users.by_email(claims.email) is not None:
        raise Conflict(f"e-mail {claims.email!r} is already registered")
    user = uow.users.add(
        User(
            username=claims.username,
            email=claims.email.lower(),
            identity_subject=claims.subject,
            role=Role(command.role),
            is_approved=False,
            annotation_specialty=command.annotation_specialty,
            verification_expertise=command.verification_expertise,
        )
    )
    _audit(
        uow,
        user,
        "USER_REGISTERED",
        new=snapshot(user, _AUDITED_FIELDS),
        summary="registration awaiting approval",
    )
    uow.commit()
    return UserOut.model_validate(user)


def me(signed_in: SignedIn | None) -> UserOut:
    """The caller's own profile: their row as this request read (and stamped) it when it
    signed them in, so the profile costs no second read."""
    actor = access.require_registered(signed_in.actor if signed_in is not None else None)
    if actor.user_id is None or signed_in is None or signed_in.row is None:
        raise PermissionDenied("the system has no profile")  # the system: no profile of its own
    return UserOut.model_validate(signed_in.row)


# ------------------------------------------------------------------ reading


def list_users(uow: UnitOfWork, filters: UserFilters, cursor: str | None, limit: int) -> Page[UserOut]:
    access.require_admin(uow.actor)
    query = sa.select(User).where(User.username != "system")
    if filters.role is not None:
        query = query.where(User.role == filters.role)
    if filters.is_approved is not None:
        query = query.where(User.is_approved == filters.is_approved)
    if filters.is_active is not None:
        query = query.where(User.is_active == filters.is_active)
    if filters.search:
        pattern = f"%{filters.search.lower()}%"
        query = query.where(
            sa.or_(sa.func.lower(User.username).like(pattern), sa.func.lower(User.email).like(pattern))
        )
    return keyset_page(
        uow.session,
        query,
        order_by=[User.id.desc()],
        cursor=cursor,
        limit=limit,
        to_model=UserOut.model_validate,
    )


def get_user(uow: UnitOfWork, user_id: int) -> UserOut:
    actor = access.require_worker(uow.actor)
    if actor.user_id != user_id:
        access.require_admin(actor)
    return UserOut.model_validate(_require_person(uow, user_id))


# ------------------------------------------------------------------ admin actions


def approve(uow: UnitOfWork, user_id: int, identity: IdentityProvider | None = None) -> UserOut:
    access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    if user.is_approved:
        raise Conflict(f"{user.username} is already approved")
    if not user.is_active:
        raise Conflict(f"{user.username} is deactivated; reactivate the account first")
    return _change(uow, user, {"is_approved": True}, "USER_APPROVED", identity, mirror_role=True)


def reject(
    uow: UnitOfWork, user_id: int, command: Rejection, identity: IdentityProvider | None = None
) -> UserOut:
    """Refuse a pending registration: the account stays, unapproved and inactive, for the record."""
    access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    if user.is_approved:
        raise Conflict(f"{user.username} is already approved; deactivate the account instead")
    return _change(
        uow, user, {"is_active": False}, "USER_REJECTED", identity, disable=True, summary=command.reason
    )


def set_role(
    uow: UnitOfWork, user_id: int, command: RoleChange, identity: IdentityProvider | None = None
) -> UserOut:
    actor = access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    if user.id == actor.user_id and command.role is not Role.ADMIN:
        raise Conflict("you cannot take the ADMIN role from yourself; ask another admin")
    if user.role is command.role:
        raise Conflict(f"{user.username} already has the role {command.role.value}")
    return _change(uow, user, {"role": command.role}, "USER_ROLE_CHANGED", identity, mirror_role=True)


def deactivate(
    uow: UnitOfWork,
    user_id: int,
    identity: IdentityProvider | None = None,
    before_commit: Callable[[], object] | None = None,
) -> UserOut:
    """Deactivate an account. `before_commit` runs in the same transaction once the account is
    inactive: the entry point hands the person's open work over there, so both happen or neither."""
    actor = access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    if user.id == actor.user_id:
        raise Conflict("you cannot deactivate yourself")
    if not user.is_active:
        raise Conflict(f"{user.username} is already deactivated")
    return _change(
        uow,
        user,
        {"is_active": False},
        "USER_DEACTIVATED",
        identity,
        disable=True,
        before_commit=before_commit,
    )


def reactivate(uow: UnitOfWork, user_id: int, identity: IdentityProvider | None = None) -> UserOut:
    access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    if user.is_active:
        raise Conflict(f"{user.username} is already active")
    result = _change(uow, user, {"is_active": True}, "USER_REACTIVATED", identity)
    if identity is not None:
        identity.enable(user.username)
    return result


def update_user(uow: UnitOfWork, user_id: int, command: UserUpdate) -> UserOut:
    access.require_admin(uow.actor)
    user = _require_person(uow, user_id, for_update=True)
    values = command.model_dump(exclude_unset=True)
    if not values:
        raise ValidationFailed.single("(body)", "nothing to change")
    return _change(uow, user, values, "USER_UPDATED", None)


def invite(uow: UnitOfWork, command: Invitation, identity: IdentityProvider | None) -> UserOut:
    """Bring a person in (self sign-up is off in the cloud): the identity-provider account, in the
    role's group, and the approved Cradle user, together. The provider e-mails the temporary
    password; nothing here knows or keeps it."""
    actor = access.require_admin(uow.actor)
    if identity is None:
        raise Conflict("this deployment has no identity provider configured (CRADLE_COGNITO_USER_POOL_ID)")
    _require_free(uow, command.username, str(command.email))

    def add_user(subject: str) -> User:
        user = uow.users.add(
            User(
                username=command.username,
                email=str(command.email).lower(),
                identity_subject=subject,
                role=command.role,
                is_approved=True,
                is_active=True,
                annotation_specialty=command.annotation_specialty,
                verification_expertise=command.verification_expertise,
                created_by=actor.user_id,
            )
        )
        _audit(
            uow,
            user,
            "USER_INVITED",
            new=snapshot(user, _AUDITED_FIELDS),
            summary=f"invited as {command.role.value}",
        )
        return user

    return _with_identity_account(uow, identity, command.username, str(command.email), command.role, add_user)


def bootstrap_admin(uow: UnitOfWork, identity: IdentityProvider, command: NewAdmin) -> UserOut:
    """Open a deployment: the identity-provider account (in the ADMIN group) and the Cradle admin.

    Cognito e-mails the new admin a temporary password; nothing here knows or keeps it.
    """
    _require_free(uow, command.username, str(command.email))

    def add_admin(subject: str) -> User:
        return _add_admin(uow, command.model_copy(update={"identity_subject": subject}))

    return _with_identity_account(uow, identity, command.username, str(command.email), Role.ADMIN, add_admin)


def create_admin(uow: UnitOfWork, command: NewAdmin) -> UserOut:
    """Create an approved, active ADMIN: used once, from the command line, to open a deployment.

    No password is involved here: the identity provider holds the credentials.
    """
    _require_free(uow, command.username, str(command.email))
    user = _add_admin(uow, command)
    uow.commit()
    return UserOut.model_validate(user)


def _add_admin(uow: UnitOfWork, command: NewAdmin) -> User:
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
    _audit(uow, user, "ADMIN_CREATED", new=snapshot(user, _AUDITED_FIELDS), summary="administrator created")
    return user


# ------------------------------------------------------------------ helpers


def _require_free(uow: UnitOfWork, username: str, email: str) -> None:
    if is_reserved_username(username):
        raise ValidationFailed.single("username", f"{username!r} is reserved; choose another name")
    if uow.users.by_username(username) is not None:
        raise Conflict(f"username {username!r} is taken")
    if uow.users.by_email(email) is not None:
        raise Conflict(f"email {email!r} is already registered")


def _with_identity_account(
    uow: UnitOfWork,
    identity: IdentityProvider,
    username: str,
    email: str,
    role: Role,
    add_user: Callable[[str], User],
) -> UserOut:
    """The identity account first, then the row and its audit in one transaction; if anything after
    the account fails, the account is deleted again, so both exist or neither does.

    Why this order: the provider is the step likely to refuse (a name taken in the pool, an
    address it will not mail) and deleting an account undoes it completely, while a committed
    user row cannot be undone cleanly (its audit row is append-only). So the refusable,
    undoable step comes first and the transaction commits last.
    """
    subject = identity.create_user(username, email)  # refusals raise Conflict / ValidationFailed
    try:
        identity.set_group(username, role.value)
        user = add_user(subject)
        uow.commit()
    except BaseException as error:
        uow.rollback()
        try:
            identity.delete_user(username)
        except Exception:  # the first failure is the one to report; this one is said beside it
            error.add_note(f"the identity account {username!r} could not be deleted again: delete it by hand")
        raise error
    return UserOut.model_validate(user)


def _require_person(uow: UnitOfWork, user_id: int, *, for_update: bool = False) -> User:
    user = uow.users.get(user_id)
    if user is None or user.username == "system":
        raise NotFound("User", user_id)
    if for_update:
        uow.session.refresh(user, with_for_update=True)
    return user


def _change(
    uow: UnitOfWork,
    user: User,
    values: dict[str, object],
    action: str,
    identity: IdentityProvider | None,
    *,
    mirror_role: bool = False,
    disable: bool = False,
    summary: str | None = None,
    before_commit: Callable[[], object] | None = None,
) -> UserOut:
    before = snapshot(user, _AUDITED_FIELDS)
    for name, value in values.items():
        setattr(user, name, value)
    old, new = changes(before, snapshot(user, _AUDITED_FIELDS))
    _audit(uow, user, action, old=old, new=new, summary=summary)
    if before_commit is not None:
        before_commit()
    uow.commit()
    # The database is the source of truth and is committed; the provider only mirrors it.
    if identity is not None and mirror_role and user.is_approved:
        identity.set_group(user.username, user.role.value)
    if identity is not None and disable:
        identity.disable(user.username)
    return UserOut.model_validate(user)


def _audit(uow: UnitOfWork, user: User, action: str, **details: Any) -> None:
    audit(uow, action, AuditCategory.USER_MANAGEMENT, "User", user.id, user.username, **details)
