"""The system as an actor: who pipeline steps and scheduled jobs act as in the audit log."""

from __future__ import annotations

from cradlepose.domain.actor import SYSTEM_USERNAME, RequestContext, SystemActor
from cradlepose.domain.enums import Role

# The only system actor: a SystemActor, a type request code never builds (see domain.actor).
SYSTEM = SystemActor(user_id=None, username=SYSTEM_USERNAME, role=Role.ADMIN)


def step_context(step: str, request_id: str | None = None, *, kind: str = "STATES") -> RequestContext:
    """The request context of one pipeline step or job, e.g. `states:PlanChunks`.

    `kind` is the audit log's request method: at most 10 characters."""
    return RequestContext(
        user_agent="cradle-pipeline", endpoint=step[:200], method=kind, request_id=request_id
    )
