"""The local identity provider speaks Cognito to boto3, and the gateway checks tokens like the authorizer."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import jwt
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from cradle_workstation.devstack.admin_signature import AdminCredentials
from cradle_workstation.devstack.authorizer import TokenVerifier, Unauthorized, jwks_from_url
from cradle_workstation.devstack.gateway import LocalGateway
from cradle_workstation.devstack.identity_provider import CLIENT_ID, POOL_ID, LocalIdentityProvider

pytestmark = pytest.mark.integration

PASSWORD = "Correct-horse-42"


class Running:
    def __init__(
        self, gateway: LocalGateway, idp: LocalIdentityProvider, base: str, seen: list[dict[str, Any]]
    ) -> None:
        self.gateway, self.idp, self.base, self.seen = gateway, idp, base, seen

    def cognito(self) -> Any:
        return boto3.client(
            "cognito-idp",
            endpoint_url=f"{self.base}/idp",
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries={"max_attempts": 1}),
        )

    def admin_cognito(self, credentials: AdminCredentials | None = None) -> Any:
        """A client that signs with the provider's admin key (or `credentials`): what Admin* needs."""
        key = credentials or AdminCredentials.load_or_create(self.idp.state_dir)
        return boto3.client(
            "cognito-idp",
            endpoint_url=f"{self.base}/idp",
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}),
            **key.client_kwargs(),
        )

    def sign_in(self, username: str, password: str = PASSWORD) -> str:
        result = self.cognito().initiate_auth(
            ClientId=CLIENT_ID,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return str(result["AuthenticationResult"]["IdToken"])


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    # The gateway is built once the server knows its port (the issuer URL contains it).
    server = make_server("127.0.0.1", 0, lambda e, s: gateway(e, s), threaded=True)  # noqa: PLW0108
    base = f"http://127.0.0.1:{server.server_port}"
    issuer = f"{base}/idp/{POOL_ID}"
    # These tests sign up and sign in straight away: the pool's auto-confirm setting is on here
    # (test_identity_provider_controls shows the default, which waits for an admin).
    idp = LocalIdentityProvider(tmp_path / "identity", issuer, auto_confirm_sign_up=True)
    verifier = TokenVerifier(issuer, CLIENT_ID, jwks_from_url(f"{issuer}/.well-known/jwks.json"))
    gateway = LocalGateway(handler, verifier, idp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Running(gateway, idp, base, seen)
    server.shutdown()


def test_sign_up_sign_in_and_call_the_api(running: Running) -> None:
    cognito = running.cognito()
    sub = cognito.sign_up(
        ClientId=CLIENT_ID,
        Username="ada",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "ada@example.org"}],
    )["UserSub"]
    token = running.sign_in("ada")

    response = requests.get(
        f"{running.base}/api/batches", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )

    assert response.status_code == 200
    claims = running.seen[-1]["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == sub
    assert claims["cognito:username"] == "ada"
    assert claims["email"] == "ada@example.org"
    assert running.seen[-1]["path"] == "/batches"


def test_the_gateway_refuses_what_the_authorizer_would(running: Running) -> None:
    running.cognito().sign_up(
        ClientId=CLIENT_ID,
        Username="bob",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "b@example.org"}],
    )
    good = running.sign_in("bob")
    claims = jwt.decode(good, options={"verify_signature": False})
    forged_key = running.idp._key
    expired = jwt.encode({**claims, "exp": int(time.time()) - 10}, forged_key, algorithm="RS256",
                         headers={"kid": jwt.get_unverified_header(good)["kid"]})  # fmt: skip
    wrong_audience = jwt.encode({**claims, "aud": "another-app"}, forged_key, algorithm="RS256",
                                headers={"kid": jwt.get_unverified_header(good)["kid"]})  # fmt: skip
    head, payload, signature = good.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
    access = running.cognito().initiate_auth(
        ClientId=CLIENT_ID,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD},
    )["AuthenticationResult"]["AccessToken"]

    for token in (None, "garbage", expired, wrong_audience, tampered, access):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = requests.get(f"{running.base}/api/me", headers=headers, timeout=5)
        assert response.status_code == 401, token
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["status"] == 401
    assert running.seen == []  # nothing reached the handler
    assert requests.get(f"{running.base}/api/health", timeout=5).status_code == 200  # public


def test_admin_accounts_groups_and_disabling(running: Running) -> None:
    cognito, admin = running.cognito(), running.admin_cognito()
    created = admin.admin_create_user(
        UserPoolId=POOL_ID, Username="root", UserAttributes=[{"Name": "email", "Value": "root@example.org"}],
        TemporaryPassword="Temporary-pass-1", MessageAction="SUPPRESS",
    )  # fmt: skip
    assert created["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    challenge = cognito.initiate_auth(
        ClientId=CLIENT_ID,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "root", "PASSWORD": "Temporary-pass-1"},
    )
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    cognito.respond_to_auth_challenge(
        ClientId=CLIENT_ID, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "root", "NEW_PASSWORD": PASSWORD},
    )  # fmt: skip
    admin.admin_add_user_to_group(UserPoolId=POOL_ID, Username="root", GroupName="ADMIN")
    token = running.sign_in("root")
    assert jwt.decode(token, options={"verify_signature": False})["cognito:groups"] == ["ADMIN"]

    admin.admin_disable_user(UserPoolId=POOL_ID, Username="root")
    with pytest.raises(ClientError, match="NotAuthorizedException"):
        running.sign_in("root")
    with pytest.raises(ClientError, match="InvalidPasswordException"):
        cognito.sign_up(ClientId=CLIENT_ID, Username="weak", Password="short",
                        UserAttributes=[{"Name": "email", "Value": "w@example.org"}])  # fmt: skip


def test_accounts_and_keys_survive_a_restart(running: Running, tmp_path: Path) -> None:
    running.cognito().sign_up(
        ClientId=CLIENT_ID,
        Username="cara",
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": "c@example.org"}],
    )
    token = running.sign_in("cara")
    restarted = LocalIdentityProvider(tmp_path / "identity", running.idp.issuer)
    verifier = TokenVerifier(restarted.issuer, CLIENT_ID, restarted.jwks)
    assert verifier.claims(f"Bearer {token}")["cognito:username"] == "cara"
    result = restarted.handle("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH",
                                               "AuthParameters": {"USERNAME": "cara", "PASSWORD": PASSWORD}})  # fmt: skip
    assert "IdToken" in result["AuthenticationResult"]


def test_verifier_rejects_unknown_keys(tmp_path: Path) -> None:
    one = LocalIdentityProvider(tmp_path / "one", "http://issuer", auto_confirm_sign_up=True)
    other = LocalIdentityProvider(tmp_path / "other", "http://issuer")
    one.handle(
        "SignUp",
        {"Username": "d", "Password": PASSWORD, "UserAttributes": [{"Name": "email", "Value": "d@e.org"}]},
    )
    token = one.handle("InitiateAuth", {"AuthFlow": "USER_PASSWORD_AUTH",
                                        "AuthParameters": {"USERNAME": "d", "PASSWORD": PASSWORD}})["AuthenticationResult"]["IdToken"]  # fmt: skip
    with pytest.raises(Unauthorized, match="unknown key"):
        TokenVerifier("http://issuer", CLIENT_ID, other.jwks).claims(f"Bearer {token}")


# ---------------------------------------------------------------- Admin* needs the admin key
def _sign_up(running: Running, username: str) -> None:
    running.cognito().sign_up(
        ClientId=CLIENT_ID, Username=username, Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.org"}],
    )  # fmt: skip


def _refusal(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as refused:
        call(UserPoolId=POOL_ID, **params)
    return refused.value.response["ResponseMetadata"]["HTTPStatusCode"], refused.value.response["Error"][
        "Code"
    ]


def test_an_unsigned_admin_call_is_refused_and_changes_nothing(running: Running) -> None:
    """boto3 with no credentials at all (signature_version=UNSIGNED), as anything on this machine
    could send. On the code before this control each of these calls succeeded."""
    _sign_up(running, "ada")
    accounts = running.idp.state_dir / "accounts.json"
    before = accounts.read_bytes()
    unsigned = boto3.client(
        "cognito-idp", endpoint_url=f"{running.base}/idp", region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )  # fmt: skip
    new_password = "Taken-over-pass-42"
    assert _refusal(
        unsigned.admin_set_user_password, Username="ada", Password=new_password, Permanent=True
    ) == (400, "NotAuthorizedException")
    assert _refusal(unsigned.admin_disable_user, Username="ada") == (400, "NotAuthorizedException")
    assert _refusal(unsigned.admin_create_user, Username="eve", TemporaryPassword=new_password,
                    UserAttributes=[{"Name": "email", "Value": "e@example.org"}]) == (400, "NotAuthorizedException")  # fmt: skip
    assert _refusal(unsigned.admin_get_user, Username="ada") == (400, "NotAuthorizedException")
    assert accounts.read_bytes() == before
    running.sign_in("ada")  # still enabled, with the password she chose
    with pytest.raises(ClientError, match="NotAuthorizedException"):
        running.sign_in("ada", new_password)


def test_an_admin_call_signed_with_another_key_is_refused(running: Running) -> None:
    _sign_up(running, "bob")
    accounts = running.idp.state_dir / "accounts.json"
    before = accounts.read_bytes()
    stranger = running.admin_cognito(AdminCredentials("local", "local"))  # what every client used to send
    assert _refusal(stranger.admin_disable_user, Username="bob") == (400, "UnrecognizedClientException")
    key = AdminCredentials.load_or_create(running.idp.state_dir)
    guessed = running.admin_cognito(AdminCredentials(key.access_key_id, "not-the-secret"))
    assert _refusal(guessed.admin_disable_user, Username="bob") == (400, "InvalidSignatureException")
    assert accounts.read_bytes() == before
    running.sign_in("bob")


def test_an_admin_call_signed_with_the_admin_key_is_answered(running: Running) -> None:
    _sign_up(running, "cid")
    admin = running.admin_cognito()
    admin.admin_set_user_password(
        UserPoolId=POOL_ID, Username="cid", Password="Reset-by-admin-42", Permanent=True
    )
    running.sign_in("cid", "Reset-by-admin-42")
    assert admin.admin_get_user(UserPoolId=POOL_ID, Username="cid")["Enabled"] is True


def test_a_stale_signature_is_refused(running: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request signed six minutes ago (a replayed capture, or a clock far off) is refused."""
    _sign_up(running, "dee")
    accounts = running.idp.state_dir / "accounts.json"
    before = accounts.read_bytes()
    six_minutes_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: six_minutes_ago)
    with pytest.raises(ClientError, match="Signature expired") as refused:
        running.admin_cognito().admin_disable_user(UserPoolId=POOL_ID, Username="dee")
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert accounts.read_bytes() == before
