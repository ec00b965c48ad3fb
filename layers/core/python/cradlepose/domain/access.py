"""Who may do what: role and object-level rules, enforced by the services.

Routes check the door (authenticated, approved, active); services check the object: an
annotator sees only batches of their open assignments, an annotator or a verifier sees an image
(metadata, download links, annotations) only while an open assignment or a claimed verification
of theirs covers it, a verifier never verifies their own work, an admin sees everything.
"""

from __future__ import annotations

from cradlepose.domain.actor import Actor, is_reserved_username
from cradlepose.domain.enums import AssignmentStatus, BatchStatus, ImageStatus, Role
from cradlepose.domain.errors import NotAuthenticated, PermissionDenied

# Batches a verifier may look at: those whose images are being or have been annotated.
VERIFIER_BATCH_STATUSES = frozenset({BatchStatus.ASSIGNED, BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED})
# An assignment gives access to its images only while it is open: once handed in, completed or
# replaced by another annotator's, the annotator no longer sees them.
OPEN_ASSIGNMENT_STATUSES = frozenset(
    {
        AssignmentStatus.ASSIGNED,
        AssignmentStatus.ACKNOWLEDGED,
        AssignmentStatus.IN_PROGRESS,
        AssignmentStatus.OVERDUE,
    }
)
# Images a verifier may analyse (analysis reports): submitted work and its outcome.
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
    if actor.is_system:
        return actor
    if is_reserved_username(actor.username):
        # A token (or an account) named like the system is an impostor's, never the pipeline's.
        raise PermissionDenied(f"the name {actor.username!r} is reserved; no account may use it")
    if actor.user_id is None:
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


# Who works with the verified data: builds datasets and collections, exports, trains and evaluates
# models. Annotators produce the data and do not take it out.
RESEARCHER_ROLES = (Role.ADMIN, Role.VERIFIER)


def require_researcher(actor: Actor | None) -> Actor:
    return require_role(actor, *RESEARCHER_ROLES)


def is_admin(actor: Actor) -> bool:
    return actor.is_system or actor.role is Role.ADMIN


def owns_or_admin(actor: Actor, owner_id: int | None) -> bool:
    """Whether the actor may act on something a user created: their own, or anything as an admin."""
    return is_admin(actor) or (actor.user_id is not None and actor.user_id == owner_id)


def can_read_batch(actor: Actor, status: BatchStatus, *, is_assigned: bool) -> bool:
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role is Role.ANNOTATOR:
        return is_assigned
    if actor.role is Role.VERIFIER:
        return status in VERIFIER_BATCH_STATUSES
    return False


def can_read_image(actor: Actor, *, holds_open_work: bool) -> bool:
    """Whether the actor may see an image: its metadata, download links and annotations.

    `holds_open_work`: an open assignment of this annotator covers the image (it is the image's
    current assignment), or this verifier holds its claimed, undecided verification. Access ends
    with the work: a completed, handed-in or reassigned image answers like one that does not exist.
    """
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role in (Role.ANNOTATOR, Role.VERIFIER):
        return holds_open_work
    return False


def can_analyse_image(actor: Actor, status: ImageStatus) -> bool:
    """Analysis reports (admins and verifiers): a verifier analyses work that reached review."""
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role is Role.VERIFIER:
        return status in VERIFIER_IMAGE_STATUSES
    return False


def can_target_image(actor: Actor, status: ImageStatus, *, holds_open_work: bool) -> bool:
    """Images a researcher may name as an inference job's targets: an admin any; a verifier the
    verified data (APPROVED images, what datasets hold) and the image under their own review."""
    if actor.is_system or actor.role is Role.ADMIN:
        return True
    if actor.role is Role.VERIFIER:
        return status is ImageStatus.APPROVED or holds_open_work
    return False
