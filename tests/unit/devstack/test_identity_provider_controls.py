"""The local identity provider's own controls (docs/security.md, "Local identity provider").

Sign-up waits for an administrator unless the pool says otherwise; the system's name cannot be
signed up for; a disabled account's refresh token is refused; secret files are private from their
first byte; the gateway answers only to the names it was given (DNS rebinding)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from cradle_workstation.devstack import local_identity
from cradle_workstation.devstack.authorizer import TokenVerifier
from cradle_workstation.devstack.gateway import LocalGateway
from cradle_workstation.devstack.identity_provider import (
    CLIENT_ID,
    IdentityError,
    LocalIdentityProvider,
)

pytestmark = pytest.mark.unit

PASSWORD = "Correct-horse-42"
ISSUER = "http://127.0.0.1:8000/idp/local_cradle"


def _sign_up(idp: LocalIdentityProvider, username: str) -> dict[str, Any]:
    return idp.handle(
        "SignUp",
        {"Username": username, "Password": PASSWORD,
         "UserAttributes": [{"Name": "email", "Value": f"{username.lower()}@example.org"}]},
    )  # fmt: skip


def _sign_in(idp: LocalIdentityProvider, username: str) -> dict[str, Any]:
    return idp.handle(
        "InitiateAuth",
        {"AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": username, "PASSWORD": PASSWORD}},
    )["AuthenticationResult"]


def test_a_sign_up_waits_for_an_administrator(tmp_path: Path) -> None:
    idp = LocalIdentityProvider(tmp_path, ISSUER)
    assert _sign_up(idp, "ada")["UserConfirmed"] is False
    with pytest.raises(IdentityError) as refused:
        _sign_in(idp, "ada")
    assert refused.value.code == "UserNotConfirmedException"
    idp.handle("AdminConfirmSignUp", {"Username": "ada"})
    assert "IdToken" in _sign_in(idp, "ada")


def test_the_pool_setting_confirms_sign_ups_itself(tmp_path: Path) -> None:
    idp = LocalIdentityProvider(tmp_path, ISSUER, auto_confirm_sign_up=True)
    assert _sign_up(idp, "ada")["UserConfirmed"] is True
    assert "IdToken" in _sign_in(idp, "ada")


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_no_one_signs_up_or_is_created_as_the_system(tmp_path: Path, name: str) -> None:
    idp = LocalIdentityProvider(tmp_path, ISSUER, auto_confirm_sign_up=True)
    with pytest.raises(IdentityError, match="reserved"):
        _sign_up(idp, name)
    with pytest.raises(IdentityError, match="reserved"):
        idp.handle("AdminCreateUser", {"Username": name,
                                       "UserAttributes": [{"Name": "email", "Value": "s@example.org"}]})  # fmt: skip
    assert not (tmp_path / "accounts.json").exists() or name not in json.loads(
        (tmp_path / "accounts.json").read_text()
    )


def test_a_disabled_account_cannot_refresh_its_tokens(tmp_path: Path) -> None:
    idp = LocalIdentityProvider(tmp_path, ISSUER, auto_confirm_sign_up=True)
    _sign_up(idp, "bob")
    refresh = _sign_in(idp, "bob")["RefreshToken"]
    refreshing = {"AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": refresh}}
    assert "IdToken" in idp.handle("InitiateAuth", refreshing)["AuthenticationResult"]
    idp.handle("AdminDisableUser", {"Username": "bob"})
    with pytest.raises(IdentityError) as refused:
        idp.handle("InitiateAuth", refreshing)
    assert refused.value.code == "NotAuthorizedException"


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A permissive umask, and chmod on files forbidden: a file must be private from creation."""

    def refuse(path: Any, *args: Any, **kwargs: Any) -> None:
        if Path(path).is_file():
            raise AssertionError(f"chmod after the write: {path}")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(Path, "chmod", lambda self, *a, **k: refuse(self))
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_secret_files_are_created_private_never_chmodded_afterwards(tmp_path: Path, no_chmod: None) -> None:
    idp = LocalIdentityProvider(tmp_path / "identity", ISSUER)
    idp.handle("AdminCreateUser", {"Username": "cara",
                                   "UserAttributes": [{"Name": "email", "Value": "c@example.org"}]})  # fmt: skip
    credentials = local_identity.write_credentials(tmp_path, "cara", PASSWORD, "ADMIN")
    files = [
        tmp_path / "identity" / "signing-key.pem",
        tmp_path / "identity" / "accounts.json",
        idp.outbox_dir / "cara.json",
        credentials,
    ]
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert [p.name for p in (tmp_path / "identity").iterdir() if p.name.endswith(".tmp")] == []


def _gateway(tmp_path: Path, **kwargs: Any) -> Client:
    idp = LocalIdentityProvider(tmp_path, ISSUER)

    def api(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}

    return Client(LocalGateway(api, TokenVerifier(ISSUER, CLIENT_ID, idp.jwks), idp, **kwargs))


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"])
def test_the_gateway_answers_its_own_names(tmp_path: Path, host: str) -> None:
    client = _gateway(tmp_path)
    assert client.get("/api/health", headers={"Host": host}).status_code == 200
    assert (
        client.get(
            f"/idp/{ISSUER.rsplit('/', 1)[1]}/.well-known/jwks.json", headers={"Host": host}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io:8000", ""])
def test_the_gateway_refuses_a_rebound_name(tmp_path: Path, host: str) -> None:
    """A page at attacker.example whose name now resolves to 127.0.0.1 still says attacker.example."""
    client = _gateway(tmp_path)
    for path in ("/api/health", "/idp/", f"/idp/{ISSUER.rsplit('/', 1)[1]}/.well-known/jwks.json"):
        response = (client.get(path, headers={"Host": host}) if path != "/idp/" else client.post(
            path, headers={"Host": host, "X-Amz-Target": "AWSCognitoIdentityProviderService.SignUp"},
            data=json.dumps({"Username": "x", "Password": PASSWORD}),
        ))  # fmt: skip
        assert response.status_code == 421, (path, host)


def test_the_gateway_answers_the_names_it_is_given(tmp_path: Path) -> None:
    client = _gateway(tmp_path, allowed_hosts=frozenset({"cradle.lab"}))
    assert client.get("/api/health", headers={"Host": "cradle.lab:8000"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "127.0.0.1:8000"}).status_code == 421


def test_refreshed_tokens_keep_the_sign_in_they_came_from(tmp_path: Path) -> None:
    """Cognito's origin_jti and auth_time: the API names the audit rows' session by them."""
    import jwt  # noqa: PLC0415

    idp = LocalIdentityProvider(tmp_path, ISSUER, auto_confirm_sign_up=True)
    _sign_up(idp, "carol")

    def claims(result: dict[str, Any]) -> dict[str, Any]:
        decoded: dict[str, Any] = jwt.decode(result["IdToken"], options={"verify_signature": False})
        return decoded

    first = _sign_in(idp, "carol")
    refreshing = {
        "AuthFlow": "REFRESH_TOKEN_AUTH",
        "AuthParameters": {"REFRESH_TOKEN": first["RefreshToken"]},
    }
    refreshed = idp.handle("InitiateAuth", refreshing)["AuthenticationResult"]
    second_sign_in = _sign_in(idp, "carol")

    assert claims(refreshed)["origin_jti"] == claims(first)["origin_jti"]
    assert claims(refreshed)["auth_time"] == claims(first)["auth_time"]
    assert claims(refreshed)["jti"] != claims(first)["jti"]
    assert claims(second_sign_in)["origin_jti"] != claims(first)["origin_jti"]
