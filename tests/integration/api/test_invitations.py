"""Invitations: an admin brings a person in, and the Cognito account and the Cradle row come
together or not at all (moto's Cognito behind the API's own identity provider wiring)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.accounts import users
from cradlepose.adapters.aws import reset_clients
from cradlepose.adapters.identity import ROLE_GROUPS, CognitoIdentityProvider
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import Actor, RequestContext
from cradlepose.domain.enums import Role
from cradlepose.settings import get_settings
from tests.support import ApiClient, Persona, make_user

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user pool in moto with the role groups, named to the API as it is in the cloud."""
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool_id: str = cognito.create_user_pool(PoolName="cradle-test")["UserPool"]["Id"]
    for group in ROLE_GROUPS:
        cognito.create_group(GroupName=group, UserPoolId=pool_id)
    monkeypatch.setenv("CRADLE_COGNITO_USER_POOL_ID", pool_id)
    get_settings.cache_clear()
    reset_clients()
    return pool_id


def _cognito() -> Any:
    return boto3.client("cognito-idp", region_name="us-east-1")


def _cognito_user(pool: str, username: str) -> dict[str, Any] | None:
    try:
        result: dict[str, Any] = _cognito().admin_get_user(UserPoolId=pool, Username=username)
    except _cognito().exceptions.UserNotFoundException:
        return None
    return result


def _rows(engine: sa.Engine, username: str) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM users WHERE username = :u"), {"u": username}))


def test_an_admin_invites_a_verifier_who_exists_in_cognito_and_cradle(
    api: ApiClient, admin: Persona, pool: str, engine: sa.Engine
) -> None:
    # When an admin invites a verifier
    invited = api.post(
        "/invitations",
        admin,
        body={"email": "Vera@Hospital.example", "username": "vera", "role": "VERIFIER",
              "verification_expertise": "pediatric_physiotherapy"},
    )  # fmt: skip

    # Then the Cradle user is approved, in that role, and the Cognito user must set a password
    assert invited.status == 201, invited.body
    assert invited.json["role"] == "VERIFIER"
    assert invited.json["is_approved"] is True
    assert invited.json["email"] == "vera@hospital.example"
    account = _cognito_user(pool, "vera")
    assert account is not None
    assert account["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    groups = _cognito().admin_list_groups_for_user(UserPoolId=pool, Username="vera")["Groups"]
    assert [g["GroupName"] for g in groups] == ["VERIFIER"]
    sub = next(a["Value"] for a in account["UserAttributes"] if a["Name"] == "sub")
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT identity_subject, created_by FROM users WHERE username = 'vera'")
        ).one()
        audit = conn.execute(
            sa.text("SELECT action, user_id FROM audit_logs WHERE resource_type = 'User' "
                    "AND resource_id = :id ORDER BY id"),
            {"id": invited.json["id"]},
        ).all()  # fmt: skip
    assert row.identity_subject == sub
    assert row.created_by == admin.user_id
    assert [(a.action, a.user_id) for a in audit] == [("USER_INVITED", admin.user_id)]


def test_a_name_cognito_already_has_answers_409_and_leaves_no_row(
    api: ApiClient, admin: Persona, pool: str, engine: sa.Engine
) -> None:
    # Given a Cognito account with no Cradle row (created by hand in the console, say)
    _cognito().admin_create_user(UserPoolId=pool, Username="olga", MessageAction="SUPPRESS")

    refused = api.post(
        "/invitations",
        admin,
        body={"email": "olga@example.org", "username": "olga", "role": "ANNOTATOR"},
    )

    assert refused.status == 409, refused.body
    assert refused.headers["content-type"] == "application/problem+json"
    assert "identity provider" in refused.json["detail"]
    assert _rows(engine, "olga") == 0


def test_a_name_cradle_already_has_answers_409_before_cognito_is_asked(
    api: ApiClient, admin: Persona, annotator: Persona, pool: str
) -> None:
    refused = api.post(
        "/invitations",
        admin,
        body={"email": "someone@example.org", "username": annotator.name, "role": "ANNOTATOR"},
    )

    assert refused.status == 409
    assert _cognito_user(pool, annotator.name) is None


def test_bad_input_answers_422_and_only_admins_invite(
    api: ApiClient, admin: Persona, verifier: Persona, pool: str
) -> None:
    body = {"email": "not-an-address", "username": "nina", "role": "ANNOTATOR"}
    assert api.post("/invitations", admin, body=body).status == 422
    assert (
        api.post("/invitations", admin, body={**body, "email": "n@example.org", "role": "ROOT"}).status == 422
    )
    refused = api.post("/invitations", verifier, body={**body, "email": "n@example.org"})
    assert refused.status == 403
    assert _cognito_user(pool, "nina") is None


class _RacingIdentity(CognitoIdentityProvider):
    """Cognito, while someone else registers the same name in Cradle in the meantime."""

    def __init__(self, pool: str, session_factory: sessionmaker[Session]) -> None:
        super().__init__(pool)
        self.session_factory = session_factory

    def create_user(self, username: str, email: str, *, temporary_password: str | None = None) -> str:
        subject = super().create_user(username, email, temporary_password=temporary_password)
        make_user(self.session_factory, Role.ANNOTATOR, name=username)
        return subject


def test_when_the_row_cannot_be_written_the_cognito_user_is_deleted_again(
    pool: str, uow_factory: UnitOfWorkFactory, session_factory: sessionmaker[Session], engine: sa.Engine
) -> None:
    admin = make_user(session_factory, Role.ADMIN, name="boss")
    actor = Actor(admin.user_id, admin.name, Role.ADMIN, is_approved=True, subject="boss-sub")
    command = users.Invitation(username="rosa", email="rosa@example.org", role=Role.ANNOTATOR)

    # When the database refuses the row after Cognito created the account
    with pytest.raises(sa.exc.IntegrityError), uow_factory(actor, RequestContext()) as uow:
        users.invite(uow, command, _RacingIdentity(pool, session_factory))

    # Then the account is gone again, and the only row is the other registration's
    assert _cognito_user(pool, "rosa") is None
    assert _rows(engine, "rosa") == 1
    with engine.connect() as conn:
        invited = conn.scalar(sa.text("SELECT count(*) FROM audit_logs WHERE action = 'USER_INVITED'"))
    assert invited == 0
