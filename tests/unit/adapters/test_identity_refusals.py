"""The identity providers' refusals of a new account become the domain's errors (409 / 422)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from cradle_workstation.devstack.identity_provider import LocalIdentityAdapter, LocalIdentityProvider
from cradlepose.adapters.identity import CognitoIdentityProvider
from cradlepose.domain.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.unit


def _stubbed(code: str, message: str) -> CognitoIdentityProvider:
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    stubber = Stubber(cognito)
    stubber.add_client_error("admin_create_user", service_error_code=code, service_message=message)
    stubber.activate()
    return CognitoIdentityProvider("us-east-1_pool", cognito)


def test_cognito_refusing_the_name_is_a_conflict() -> None:
    with pytest.raises(Conflict, match="'vera' is taken in the identity provider"):
        _stubbed("UsernameExistsException", "User account already exists").create_user(
            "vera", "v@example.org"
        )


def test_cognito_refusing_the_address_is_a_validation_problem_on_email() -> None:
    with pytest.raises(ValidationFailed) as refused:
        _stubbed("InvalidParameterException", "Invalid email address format.").create_user("vera", "v@x")
    assert [p.location for p in refused.value.problems] == ["email"]
    assert "Invalid email address format." in refused.value.problems[0].message


def test_other_cognito_errors_are_not_dressed_up() -> None:
    with pytest.raises(ClientError):
        _stubbed("TooManyRequestsException", "slow down").create_user("vera", "v@example.org")


def test_the_local_provider_refuses_alike_mails_the_password_and_deletes(tmp_path: Path) -> None:
    provider = LocalIdentityProvider(tmp_path, "http://issuer")
    identity = LocalIdentityAdapter(provider)

    identity.create_user("vera", "vera@example.org")

    # Cognito would e-mail the temporary password; the local provider writes the message instead
    outbox = provider.outbox_dir / "vera.json"
    assert outbox.stat().st_mode & 0o777 == 0o600
    assert '"to": "vera@example.org"' in outbox.read_text()
    with pytest.raises(Conflict):
        identity.create_user("vera", "other@example.org")
    with pytest.raises(ValidationFailed):
        identity.create_user("nina", "not-an-address")
    identity.delete_user("vera")
    assert provider.handle("AdminCreateUser", {"Username": "vera", "UserAttributes": [
        {"Name": "email", "Value": "vera@example.org"}]})["User"]["Username"] == "vera"  # fmt: skip
