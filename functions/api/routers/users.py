"""People: registration, one's own profile, and what admins do with accounts."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field

from api.dependencies import Admin, Authenticated, Worker, identity_provider
from api.params import Cursor, Limit, ResourceId
from api.problems import documented
from cradlepose.accounts import users
from cradlepose.adapters.identity import IdentityProvider
from cradlepose.common.use_cases import DEFAULT_LIMIT, Page
from cradlepose.domain.enums import Role
from cradlepose.domain.errors import NotAuthenticated
from cradlepose.workflow import claims, handover
from cradlepose.workflow.assignments import HandedOver

router = Router()
TAGS = ["users"]
IdentityDep = Annotated[IdentityProvider | None, Depends(identity_provider)]


class Deactivated(users.UserOut):
    handed_over: list[HandedOver] = Field(
        description="where each open assignment of theirs went: another annotator (auto-assign) or the pool"
    )
    claims_released: list[int] = Field(
        description="images whose verification claim of theirs went back to its queue"
    )


@router.post(
    "/me/register",
    tags=TAGS,
    status_code=201,
    summary="Register the signed-in identity as a Cradle user (awaits approval)",
    responses=documented(201, 401, 409, 422),
)
def register(me: Authenticated, body: Annotated[users.Registration, Body()]) -> users.UserOut:
    if me.claims is None:
        raise NotAuthenticated("sign in with the identity provider first")
    with me.uow() as uow:
        return users.register(uow, me.claims, body)


@router.get("/me", tags=TAGS, summary="Your own profile", responses=documented(200, 401, 403))
def get_me(me: Authenticated) -> users.UserOut:
    return users.me(me.signed_in)  # the row the door read: no second unit of work


@router.get("/users", tags=TAGS, summary="List users (admin)", responses=documented(200, 401, 403, 422))
def list_users(
    me: Admin,
    role: Annotated[Role | None, Query()] = None,
    is_approved: Annotated[bool | None, Query()] = None,
    is_active: Annotated[bool | None, Query()] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[users.UserOut]:
    filters = users.UserFilters(role=role, is_approved=is_approved, is_active=is_active, search=search)
    with me.uow() as uow:
        return users.list_users(uow, filters, cursor, limit)


@router.post(
    "/invitations",
    tags=TAGS,
    status_code=201,
    summary="Invite a person (admin): a sign-in account, e-mailed a temporary password, and an approved user",
    responses=documented(201, 401, 403, 409, 422),
)
def invite(me: Admin, body: Annotated[users.Invitation, Body()], identity: IdentityDep) -> users.UserOut:
    with me.uow() as uow:
        return users.invite(uow, body, identity)


@router.get(
    "/users/<user_id>",
    tags=TAGS,
    summary="One user (admin, or yourself)",
    responses=documented(200, 401, 403, 404),
)
def get_user(me: Worker, user_id: ResourceId) -> users.UserOut:
    with me.uow() as uow:
        return users.get_user(uow, user_id)


@router.patch(
    "/users/<user_id>",
    tags=TAGS,
    summary="Change capacity or specialties (admin)",
    responses=documented(200, 401, 403, 404, 422),
)
def update_user(me: Admin, user_id: ResourceId, body: Annotated[users.UserUpdate, Body()]) -> users.UserOut:
    with me.uow() as uow:
        return users.update_user(uow, user_id, body)


@router.post(
    "/users/<user_id>/approve",
    tags=TAGS,
    summary="Approve a registration (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def approve(me: Admin, user_id: ResourceId, identity: IdentityDep) -> users.UserOut:
    with me.uow() as uow:
        return users.approve(uow, user_id, identity)


@router.post(
    "/users/<user_id>/reject",
    tags=TAGS,
    summary="Refuse a registration (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def reject(
    me: Admin, user_id: ResourceId, body: Annotated[users.Rejection, Body()], identity: IdentityDep
) -> users.UserOut:
    with me.uow() as uow:
        return users.reject(uow, user_id, body, identity)


@router.put(
    "/users/<user_id>/role",
    tags=TAGS,
    summary="Change a user's role (admin)",
    responses=documented(200, 401, 403, 404, 409, 422),
)
def set_role(
    me: Admin, user_id: ResourceId, body: Annotated[users.RoleChange, Body()], identity: IdentityDep
) -> users.UserOut:
    with me.uow() as uow:
        return users.set_role(uow, user_id, body, identity)


@router.post(
    "/users/<user_id>/deactivate",
    tags=TAGS,
    summary="Deactivate an account; their open assignments go to others or to the pool (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def deactivate(me: Admin, user_id: ResourceId, identity: IdentityDep) -> Deactivated:
    handed_over: list[HandedOver] = []
    released: list[int] = []

    def hand_over_their_work() -> None:
        handed_over.extend(handover.return_open_work(uow, user_id))
        released.extend(claims.release_claims_of(uow, user_id))

    with me.uow() as uow:
        # One transaction: the account goes inactive and its open work goes on without it.
        user = users.deactivate(uow, user_id, identity, before_commit=hand_over_their_work)
    return Deactivated(**user.model_dump(), handed_over=handed_over, claims_released=released)


@router.post(
    "/users/<user_id>/reactivate",
    tags=TAGS,
    summary="Reactivate an account (admin)",
    responses=documented(200, 401, 403, 404, 409),
)
def reactivate(me: Admin, user_id: ResourceId, identity: IdentityDep) -> users.UserOut:
    with me.uow() as uow:
        return users.reactivate(uow, user_id, identity)
