"""Who is acting, and in which request. Plain data the services and the audit log share."""

from __future__ import annotations

from dataclasses import dataclass, field

from cradlepose.domain.enums import Role


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as far as the database knows them.

    `user_id` is None only for the system itself (pipeline steps, scheduled jobs) and for
    callers who are authenticated but not yet registered in Cradle. A plain Actor is never the
    system, whatever its name says: only a `SystemActor`, which trigger and pipeline code create,
    is (a token's username is data from outside, not an identity claim Cradle trusts).
    """

    user_id: int | None
    username: str
    role: Role | None
    is_approved: bool = False
    is_active: bool = True
    subject: str | None = None

    @property
    def is_system(self) -> bool:
        return False

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN and self.can_work

    @property
    def can_work(self) -> bool:
        """Approved and active: allowed past the door (every route but one's own profile)."""
        return self.is_system or (self.user_id is not None and self.is_approved and self.is_active)


@dataclass(frozen=True)
class SystemActor(Actor):
    """The pipeline, the triggers and scheduled jobs: a distinct type that no token can become.

    Request code builds Actors from verified claims and database rows and never this type; the
    one instance lives in cradlepose.common.system."""

    @property
    def is_system(self) -> bool:
        return True


SYSTEM_USERNAME = "system"
# Names no person may hold, in any case: the system's own (its audit rows carry it), so a token or
# an account with that name can never be mistaken for the pipeline in the audit log or in code.
RESERVED_USERNAMES = frozenset({SYSTEM_USERNAME})


def is_reserved_username(username: str) -> bool:
    return username.strip().casefold() in RESERVED_USERNAMES


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from; copied into every audit row of the request."""

    ip_address: str = "127.0.0.1"
    user_agent: str | None = None
    endpoint: str | None = None
    method: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


SYSTEM_CONTEXT = RequestContext(user_agent="cradle-system")


@dataclass(frozen=True)
class Claims:
    """What a verified identity token says about its holder (Cognito ID token claims)."""

    subject: str
    username: str
    email: str | None = None
    groups: tuple[str, ...] = ()
