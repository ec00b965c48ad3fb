"""What a route needs, injected with Powertools' Depends (tests override them).

`caller` turns the request into a Caller: the verified claims that API Gateway's Cognito
authorizer (or the local gateway, doing the same checks) put in the event, the Cradle actor
behind them, the request context for the audit log, and a way to open a unit of work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from cradlepose import bootstrap
from cradlepose.accounts import users
from cradlepose.adapters.identity import CognitoIdentityProvider, IdentityProvider
from cradlepose.adapters.storage import S3Storage, Storage, StreamingStorage
from cradlepose.adapters.workflow import StepFunctionsWorkflow, Workflow
from cradlepose.bootstrap import default_uow_factory
from cradlepose.common.bus import MessageBus
from cradlepose.db.unit_of_work import UnitOfWork, UnitOfWorkFactory
from cradlepose.domain import access
from cradlepose.domain.actor import Actor, Claims, RequestContext, session_id_of
from cradlepose.domain.bounds import NUL
from cradlepose.domain.enums import Role
from cradlepose.domain.errors import NotAuthenticated, ValidationFailed
from cradlepose.settings import get_settings

CALLER_KEY = "cradle_caller"


@dataclass(frozen=True)
class Caller:
    claims: Claims | None
    actor: Actor | None
    context: RequestContext
    uow_factory: UnitOfWorkFactory
    route: str = ""  # the matched route pattern, e.g. /batches/{batch_id}
    signed_in: users.SignedIn | None = None  # the actor and their row, read once per request
    bus: MessageBus = field(default_factory=MessageBus)

    @contextmanager
    def uow(self) -> Iterator[UnitOfWork]:
        """A unit of work whose committed events are published on the bus once it is over, so
        every route that commits publishes what it committed (nothing, when it rolled back)."""
        with self.uow_factory(self.actor, self.context) as uow:
            yield uow
        self.bus.publish(uow.committed_events)


def uow_factory() -> UnitOfWorkFactory:
    return default_uow_factory()


def workflow() -> Workflow:
    return StepFunctionsWorkflow()


def message_bus(
    factory: Annotated[UnitOfWorkFactory, Depends(uow_factory)],
    runs: Annotated[Workflow, Depends(workflow)],
) -> MessageBus:
    """What follows a commit: the composition root's bus (it releases the pipeline's waits)."""
    return bootstrap.message_bus(factory, runs)


def storage() -> Storage:
    return S3Storage()


def streaming_storage() -> StreamingStorage:
    """Storage that also reads and writes objects as streams (archives of any size)."""
    return S3Storage()


def identity_provider() -> IdentityProvider | None:
    pool = get_settings().cognito_user_pool_id
    return CognitoIdentityProvider(pool) if pool else None


def _event(request: Request) -> APIGatewayProxyEvent:
    return cast(APIGatewayProxyEvent, request.resolved_event)


def request_context(request: Request) -> RequestContext:
    event = _event(request)
    identity = event.request_context.identity
    headers = event.headers or {}
    claims: dict[str, Any] = event.request_context.authorizer.claims or {}
    return RequestContext(
        ip_address=identity.source_ip or "0.0.0.0",  # noqa: S104 - a placeholder address, not a bind
        user_agent=_text(identity.user_agent or headers.get("User-Agent") or headers.get("user-agent")),
        endpoint=event.path[:200].replace(NUL, ""),
        method=event.http_method,
        request_id=event.request_context.request_id,
        session_id=session_id_of(claims),
    )


def _text(value: str | None) -> str | None:
    """A header as the audit log can store it (PostgreSQL text holds no NUL)."""
    return None if value is None else value.replace(NUL, "")


def claims_of(request: Request) -> Claims | None:
    claims: dict[str, Any] = _event(request).request_context.authorizer.claims
    subject = claims.get("sub")
    if not subject:
        return None
    groups = claims.get("cognito:groups") or ()
    if isinstance(groups, str):  # API Gateway flattens lists: "ADMIN,VERIFIER" or "[ADMIN VERIFIER]"
        groups = tuple(g for g in groups.strip("[]").replace(",", " ").split() if g)
    return Claims(
        subject=str(subject),
        username=str(claims.get("cognito:username") or claims.get("username") or subject),
        email=claims.get("email"),
        groups=tuple(groups),
    )


def caller(
    request: Request,
    factory: Annotated[UnitOfWorkFactory, Depends(uow_factory)],
    bus: Annotated[MessageBus, Depends(message_bus)],
) -> Caller:
    context = request_context(request)
    claims = claims_of(request)
    signed_in = None
    if claims is not None:
        with factory(None, context) as uow:
            signed_in = users.sign_in(uow, claims)
            uow.commit()  # last_login (a COMMIT in place of the ROLLBACK that closing would send)
    result = Caller(
        claims=claims,
        actor=signed_in.actor if signed_in is not None else None,
        context=context,
        uow_factory=factory,
        route=request.route,
        bus=bus,
        signed_in=signed_in,
    )
    request.context[CALLER_KEY] = result  # the error handlers audit failed attempts with it
    return result


def if_match(request: Request) -> int | None:
    """The ETag a write was based on (If-Match: "3" or 3); None when the header is absent."""
    headers = {k.lower(): v for k, v in (_event(request).headers or {}).items()}
    raw = headers.get("if-match")
    if raw is None:
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise ValidationFailed.single("header.If-Match", f"{raw!r} is not an ETag this API issued")
    return int(value)


# ------------------------------------------------------------------ doors: who may call a route
#
# Every route but /health takes its caller through exactly one of these (tests/unit/test_route_doors.py
# checks it). The request validation middleware (api.edge) resolves the door before it parses the
# body, so a caller without the role gets 403 whatever they sent, and nothing they sent is parsed,
# let alone stored. The capabilities check again (a command may be called from elsewhere) and
# check the object (an annotator sees only their own assignments' images).


def authenticated(me: Annotated[Caller, Depends(caller)]) -> Caller:
    """A verified token, registered in Cradle or not (registration, one's own profile)."""
    if me.claims is None:
        raise NotAuthenticated("sign in first")
    return me


def worker(me: Annotated[Caller, Depends(caller)]) -> Caller:
    """Registered, approved and active, in any role; the capability checks the object."""
    access.require_worker(me.actor)
    return me


def annotator(me: Annotated[Caller, Depends(caller)]) -> Caller:
    access.require_role(me.actor, Role.ANNOTATOR)
    return me


def researcher(me: Annotated[Caller, Depends(caller)]) -> Caller:
    """Who works with verified data: admins and verifiers (reviews, datasets, models, analyses)."""
    access.require_researcher(me.actor)
    return me


def admin(me: Annotated[Caller, Depends(caller)]) -> Caller:
    access.require_admin(me.actor)
    return me


DOORS = (authenticated, worker, annotator, researcher, admin)

Authenticated = Annotated[Caller, Depends(authenticated)]
Worker = Annotated[Caller, Depends(worker)]
Annotator = Annotated[Caller, Depends(annotator)]
Researcher = Annotated[Caller, Depends(researcher)]
Admin = Annotated[Caller, Depends(admin)]
