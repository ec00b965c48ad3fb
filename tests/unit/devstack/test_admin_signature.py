"""Admin* calls to the local identity provider need a SigV4 signature with the stack's admin key
(docs/security.md, "Local identity provider"): the verifier itself, and the gateway in front of
the provider. tests/integration/devstack/test_identity_and_gateway.py drives the same over HTTP
with boto3's own clients."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import Client

from cradle_workstation.devstack.admin_signature import (
    AdminCredentials,
    ReceivedRequest,
    is_admin_action,
    require_admin_signature,
)
from cradle_workstation.devstack.authorizer import TokenVerifier
from cradle_workstation.devstack.gateway import LocalGateway
from cradle_workstation.devstack.identity_provider import CLIENT_ID, IdentityError, LocalIdentityProvider

pytestmark = pytest.mark.unit

ISSUER = "http://127.0.0.1:8000/idp/local_cradle"
HOST = "127.0.0.1:8000"
TARGET = "AWSCognitoIdentityProviderService."
PASSWORD = "Correct-horse-42"


def _signed(
    credentials: AdminCredentials, action: str, body: dict[str, Any], *, region: str = "us-east-1"
) -> ReceivedRequest:
    """What boto3 sends for `action`: botocore's own signer over the same headers."""
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}/idp/",
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": TARGET + action, "Content-Type": "application/x-amz-json-1.1"},
    )
    key = Credentials(credentials.access_key_id, credentials.secret_access_key)
    SigV4Auth(key, "cognito-idp", region).add_auth(request)
    headers = {**dict(request.headers.items()), "Host": HOST}
    return ReceivedRequest("POST", request.url, headers, request.body)


def _code(request: ReceivedRequest, credentials: AdminCredentials, now: float | None = None) -> str:
    with pytest.raises(IdentityError) as refused:
        require_admin_signature(request, credentials, now=now)
    return refused.value.code


@pytest.fixture
def key(tmp_path: Path) -> AdminCredentials:
    return AdminCredentials.load_or_create(tmp_path)


def test_a_request_signed_with_the_admin_key_passes(key: AdminCredentials) -> None:
    require_admin_signature(_signed(key, "AdminConfirmSignUp", {"Username": "ada"}), key)


def test_an_unsigned_request_is_not_authorized(key: AdminCredentials) -> None:
    request = ReceivedRequest("POST", f"http://{HOST}/idp/", {"X-Amz-Target": TARGET + "AdminGetUser"}, b"{}")
    assert _code(request, key) == "NotAuthorizedException"


def test_another_key_is_not_recognised_and_the_right_id_with_a_wrong_secret_does_not_match(
    key: AdminCredentials,
) -> None:
    body = {"Username": "ada"}
    assert _code(_signed(AdminCredentials("local", "local"), "AdminConfirmSignUp", body), key) == (
        "UnrecognizedClientException"
    )
    wrong_secret = AdminCredentials(key.access_key_id, key.secret_access_key + "x")
    assert _code(_signed(wrong_secret, "AdminConfirmSignUp", body), key) == "InvalidSignatureException"


def test_a_signature_is_good_for_five_minutes_either_way(key: AdminCredentials) -> None:
    request = _signed(key, "AdminDisableUser", {"Username": "ada"})
    require_admin_signature(request, key, now=time.time() + 290)
    require_admin_signature(request, key, now=time.time() - 290)
    assert _code(request, key, now=time.time() + 301) == "InvalidSignatureException"  # replayed late
    assert _code(request, key, now=time.time() - 301) == "InvalidSignatureException"  # dated ahead


def test_a_signature_cannot_be_moved_to_another_body_action_or_host(key: AdminCredentials) -> None:
    request = _signed(key, "AdminSetUserPassword", {"Username": "ada", "Password": PASSWORD})
    other_body = ReceivedRequest(
        request.method,
        request.url,
        request.headers,
        json.dumps({"Username": "bob", "Password": PASSWORD}).encode(),
    )
    other_action = ReceivedRequest(
        request.method,
        request.url,
        {**request.headers, "X-Amz-Target": TARGET + "AdminDeleteUser"},
        request.body,
    )
    other_host = ReceivedRequest(
        request.method, request.url, {**request.headers, "Host": "localhost:8000"}, request.body
    )
    for moved in (other_body, other_action, other_host):
        assert _code(moved, key) == "InvalidSignatureException"


def test_a_signature_must_cover_the_action_and_the_date(key: AdminCredentials) -> None:
    """Signed without X-Amz-Target, a captured request could be replayed as any other action."""
    request = AWSRequest(method="POST", url=f"http://{HOST}/idp/", data=b"{}", headers={})
    SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "cognito-idp", "us-east-1").add_auth(
        request
    )
    headers = {**dict(request.headers.items()), "Host": HOST, "X-Amz-Target": TARGET + "AdminDeleteUser"}
    assert _code(ReceivedRequest("POST", request.url, headers, b"{}"), key) == "IncompleteSignatureException"


def test_the_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    made = AdminCredentials.load_or_create(tmp_path / "identity")
    path = tmp_path / "identity" / "admin-credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert AdminCredentials.load_or_create(tmp_path / "identity") == made
    assert made.secret_access_key not in repr(made)
    assert made != AdminCredentials.load_or_create(tmp_path / "elsewhere")


def test_the_admin_actions_are_the_ones_cognito_authorizes_with_iam() -> None:
    provider_actions = [name[1:] for name in dir(LocalIdentityProvider) if name[1:2].isupper()]
    admin = sorted(a for a in provider_actions if is_admin_action(a))
    assert admin == sorted([
        "AdminAddUserToGroup", "AdminConfirmSignUp", "AdminCreateUser", "AdminDeleteUser",
        "AdminDisableUser", "AdminEnableUser", "AdminGetUser", "AdminListGroupsForUser",
        "AdminRemoveUserFromGroup", "AdminSetUserPassword",
    ])  # fmt: skip
    assert sorted(set(provider_actions) - set(admin)) == [
        "GetUser",
        "InitiateAuth",
        "RespondToAuthChallenge",
        "SignUp",
    ]


# ---------------------------------------------------------------------- through the gateway
def _provider_and_gateway(tmp_path: Path) -> tuple[LocalIdentityProvider, Client, AdminCredentials]:
    idp = LocalIdentityProvider(tmp_path, ISSUER)

    def api(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {}, "body": "{}"}

    gateway = LocalGateway(api, TokenVerifier(ISSUER, CLIENT_ID, idp.jwks), idp)
    assert gateway.admin_credentials is not None
    return idp, Client(gateway), gateway.admin_credentials


def _confirmed(idp: LocalIdentityProvider, username: str) -> bool:
    return bool(json.loads((idp.state_dir / "accounts.json").read_text())[username]["confirmed"])


def test_the_gateway_refuses_an_unsigned_admin_call_and_changes_nothing(tmp_path: Path) -> None:
    """On the code before this control, anyone who reached the port confirmed any sign-up."""
    idp, client, _ = _provider_and_gateway(tmp_path)
    idp.handle("SignUp", {"Username": "ada", "Password": PASSWORD,
                          "UserAttributes": [{"Name": "email", "Value": "ada@example.org"}]})  # fmt: skip
    for action, body in [
        ("AdminConfirmSignUp", {"Username": "ada"}),
        ("AdminSetUserPassword", {"Username": "ada", "Password": "Another-pass-42", "Permanent": True}),
        ("AdminDeleteUser", {"Username": "ada"}),
        (
            "AdminCreateUser",
            {"Username": "eve", "UserAttributes": [{"Name": "email", "Value": "e@example.org"}]},
        ),
    ]:
        before = (idp.state_dir / "accounts.json").read_bytes()
        response = client.post(
            "/idp/", headers={"Host": HOST, "X-Amz-Target": TARGET + action}, data=json.dumps(body)
        )
        assert response.status_code == 400, action
        assert json.loads(response.data) == {
            "__type": "NotAuthorizedException",
            "message": "Admin actions need a request signed with AWS credentials.",
        }
        assert (idp.state_dir / "accounts.json").read_bytes() == before, action
    assert not _confirmed(idp, "ada")


def test_the_gateway_answers_a_signed_admin_call(tmp_path: Path) -> None:
    idp, client, key = _provider_and_gateway(tmp_path)
    idp.handle("SignUp", {"Username": "ada", "Password": PASSWORD,
                          "UserAttributes": [{"Name": "email", "Value": "ada@example.org"}]})  # fmt: skip
    wrong = _signed(AdminCredentials("local", "local"), "AdminConfirmSignUp", {"Username": "ada"})
    refused = client.post("/idp/", headers=dict(wrong.headers), data=wrong.body)
    assert (refused.status_code, json.loads(refused.data)["__type"]) == (400, "UnrecognizedClientException")
    assert not _confirmed(idp, "ada")
    signed = _signed(key, "AdminConfirmSignUp", {"Username": "ada"})
    answered = client.post("/idp/", headers=dict(signed.headers), data=signed.body)
    assert answered.status_code == 200, answered.text
    assert _confirmed(idp, "ada")


def test_sign_up_and_sign_in_need_no_signature(tmp_path: Path) -> None:
    _, client, _ = _provider_and_gateway(tmp_path)
    response = client.post(
        "/idp/",
        headers={"Host": HOST, "X-Amz-Target": TARGET + "SignUp"},
        data=json.dumps({"Username": "ada", "Password": PASSWORD,
                         "UserAttributes": [{"Name": "email", "Value": "ada@example.org"}]}),
    )  # fmt: skip
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("action", ["save", "tokens", "require", "accounts", "_save", "load_key", "user"])
def test_only_the_protocols_action_names_reach_the_provider(tmp_path: Path, action: str) -> None:
    """The provider's helpers share the prefix of its actions; no request names one of them."""
    idp = LocalIdentityProvider(tmp_path, ISSUER)
    with pytest.raises(IdentityError) as refused:
        idp.handle(action, {"Username": "ada"})
    assert refused.value.code == "InvalidParameterException"
