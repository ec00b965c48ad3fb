"""Who is acting, and in which request. Plain data the services and the audit log share."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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


SESSION_ID_LENGTH = 100  # audit_logs.session_id is varchar(100)


def session_id_of(claims: Mapping[str, Any]) -> str | None:
    """The sign-in session a verified ID token belongs to, for the audit log's `session_id`.

    Cognito's `origin_jti` names the sign-in: every ID token refreshed from the same refresh
    token carries it, and revoking that token ends exactly this session; each token's own `jti`
    changes hourly, so it would split one session into many. Where a token has no `origin_jti`
    (a pool client without token revocation), the subject and `auth_time` (the moment of the
    sign-in, which refreshes keep) name the same session: their hash, so the audit row repeats
    neither the subject nor the time. None for a token that has neither.
    """
    origin = str(claims.get("origin_jti") or "").strip()
    if origin:
        return f"jti:{origin}"[:SESSION_ID_LENGTH]
    subject, auth_time = claims.get("sub"), claims.get("auth_time")
    if subject and auth_time:
        digest = hashlib.sha256(f"{subject}\n{auth_time}".encode()).hexdigest()[:32]
        return f"auth:{digest}"
    return None
