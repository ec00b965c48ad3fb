"""Who may do what: role and object-level rules, enforced by the services.

Routes check the door (authenticated, approved, active); services check the object: an
annotator sees only batches and images of their own assignments, a verifier sees work that has
reached review and never verifies their own, an admin sees everything.
"""

from __future__ import annotations

from cradlepose.domain.actor import Actor
from cradlepose.domain.enums import BatchStatus, ImageStatus, Role
from cradlepose.domain.errors import NotAuthenticated, PermissionDenied

# Batches a verifier may look at: those whose images are being or have been annotated.
VERIFIER_BATCH_STATUSES = frozenset({BatchStatus.ASSIGNED, BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED})
# Images a verifier may look at: submitted work and its outcome.
VERIFIER_IMAGE_STATUSES = frozenset(
    {
        ImageStatus.SUBMITTED,
        ImageStatus.UNDER_REVIEW,
        ImageStatus.APPROVED,
        ImageStatus.REJECTED,
        ImageStatus.REQUIRES_REVISION,
    }
)


def require_registered(actor: Actor | None) -> Actor:
    if actor is None:
        raise NotAuthenticated("sign in first")
    if actor.user_id is None and not actor.is_system:
        raise PermissionDenied("register with POST /me/register before using Cradle")
    return actor


def require_worker(actor: Actor | None) -> Actor:
    """Approved and active: the precondition of everything but reading one's own profile."""
    actor = require_registered(actor)
    if not actor.is_active:
        raise PermissionDenied("this account is deactivated")
    if not actor.can_work:
        raise PermissionDenied("this account is awaiting approval by an administrator")
    return actor


def require_role(actor: Actor | None, *roles: Role) -> Actor:
    actor = require_worker(actor)
    if actor.is_system:
        return actor
    if actor.role not in roles:
        names = " or ".join(r.value for r in roles)
        raise PermissionDenied(
            f"only {names} may do this (you are {actor.role.value if actor.role else 'no role'})"
        )
    return actor


def require_admin(actor: Actor | None) -> Actor:
    return require_role(actor, Role.ADMIN)


def require_researcher(actor: Actor | None) -> Actor:
    """Research tools (pose anomaly screening): administrators and verifiers."""
    return require_role(actor, Role.ADMIN, Role.VERIFIER)


def can_read_batch(actor: Actor, status: BatchStatus, *, is_assigned: bool) -> bool:
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role is Role.ANNOTATOR:
        return is_assigned
    if actor.role is Role.VERIFIER:
        return status in VERIFIER_BATCH_STATUSES
    return False


def can_read_image(actor: Actor, status: ImageStatus, *, is_assigned: bool) -> bool:
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role is Role.ANNOTATOR:
        return is_assigned
    if actor.role is Role.VERIFIER:
        return status in VERIFIER_IMAGE_STATUSES
    return False
