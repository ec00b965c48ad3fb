"""The demo's people: the local admin, and an annotator and a verifier who sign up and are approved.

Everyone signs in with the local identity provider's Cognito protocol and then speaks only HTTP
to the API, as the web UI and the CLI do.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from cradle_workstation.cli.client import CradleClient
from cradle_workstation.devstack import local_identity
from cradle_workstation.devstack.identity_provider import CLIENT_ID, POOL_ID
from cradle_workstation.devstack.stack import LocalStack


@dataclass
class Member:
    username: str
    user_id: int
    role: str
    api: CradleClient


def _identity(stack: LocalStack) -> Any:
    """What a person's browser uses: sign-up and sign-in need no AWS credentials."""
    return local_identity.cognito(stack.identity_url)


def _identity_admin(stack: LocalStack) -> Any:
    """What an operator uses for Admin* calls: signed with the stack's admin key, as Cognito
    wants IAM credentials for them."""
    return local_identity.cognito(stack.identity_url, stack.identity_admin)


def _signed_in(stack: LocalStack, username: str, password: str) -> CradleClient:
    result = _identity(stack).initiate_auth(
        ClientId=CLIENT_ID,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token = result["AuthenticationResult"]["IdToken"]
    return CradleClient(stack.api_url, lambda: token)


def local_admin(stack: LocalStack) -> Member:
    """The administrator `cradle dev` created, signed in with the credentials file it wrote."""
    if stack.admin_username is None:
        raise RuntimeError("the local stack has no administrator")
    credentials = json.loads((stack.credentials_dir / f"{stack.admin_username}.json").read_text())
    api = _signed_in(stack, credentials["username"], credentials["password"])
    me = api.get("/me")
    return Member(me["username"], me["id"], me["role"], api)


def newcomer(stack: LocalStack, admin: Member, username: str, role: str, specialty: str) -> Member:
    """Sign up, register with Cradle (awaiting approval), be approved by the admin, sign in again."""
    password = f"Demo-{secrets.token_urlsafe(12)}1a"
    _identity(stack).sign_up(
        ClientId=CLIENT_ID,
        Username=username,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.org"}],
    )
    # Self sign-ups wait for an administrator's confirmation, as in a pool that requires it.
    _identity_admin(stack).admin_confirm_sign_up(UserPoolId=POOL_ID, Username=username)
    api = _signed_in(stack, username, password)
    registration: dict[str, str] = {"role": role}
    registration["annotation_specialty" if role == "ANNOTATOR" else "verification_expertise"] = specialty
    registered = api.post("/me/register", registration)
    api.close()
    admin.api.post(f"/users/{registered['id']}/approve")
    # A new token carries the group the approval added.
    return Member(username, registered["id"], role, _signed_in(stack, username, password))
