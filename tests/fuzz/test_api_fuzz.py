"""Schemathesis against the API behind the local gateway: no 5xx, every answer as documented.

Every operation of the OpenAPI document is called with generated input (valid and invalid) by an
admin holding a real token from the local identity provider, through the gateway's token check,
against the embedded PostgreSQL and moto. `make test` runs a short pass (FUZZ_EXAMPLES, default
8 per operation); `make fuzz` runs a long one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from moto import mock_aws
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.authorizer import TokenVerifier
from cradle_workstation.devstack.gateway import LocalGateway
from cradle_workstation.devstack.identity_provider import CLIENT_ID, LocalIdentityProvider
from cradlepose.accounts import users
from cradlepose.adapters.aws import reset_clients
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.settings import get_settings
from tests.support import create_buckets, create_state_machine

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
ISSUER = "http://cradle.local/idp/local_cradle"
PASSWORD = "Fuzz-password-123"


class _Holder:
    """The gateway of the test being run (schemathesis needs the app when it loads the schema)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


HOLDER = _Holder()


def _schema_app() -> LocalGateway:
    from api import handler  # noqa: PLC0415

    provider = LocalIdentityProvider(Path("/tmp/cradle-fuzz-schema-idp"), ISSUER)
    return LocalGateway(handler.lambda_handler, TokenVerifier(ISSUER, CLIENT_ID, provider.jwks), provider)


HOLDER.app = _schema_app()
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", HOLDER)


@pytest.fixture
def local_api(
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    from api import dependencies, handler  # noqa: PLC0415

    with mock_aws():
        create_buckets()
        monkeypatch.setenv("CRADLE_STATE_MACHINE_ARN", create_state_machine())
        get_settings.cache_clear()
        reset_clients()
        provider = LocalIdentityProvider(tmp_path / "idp", ISSUER)
        provider.handle("SignUp", {"Username": "fuzzer", "Password": PASSWORD,
                                   "UserAttributes": [{"Name": "email", "Value": "fuzzer@example.org"}]})  # fmt: skip
        provider.handle("AdminConfirmSignUp", {"Username": "fuzzer"})
        token = provider.handle(
            "InitiateAuth",
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": "fuzzer", "PASSWORD": PASSWORD},
            },
        )["AuthenticationResult"]["IdToken"]
        subject = TokenVerifier(ISSUER, CLIENT_ID, provider.jwks).claims(f"Bearer {token}")["sub"]
        with uow_factory(None) as uow:
            users.create_admin(
                uow, users.NewAdmin(username="fuzzer", email="fuzzer@example.org", identity_subject=subject)
            )
        handler.app.dependency_overrides[dependencies.uow_factory] = lambda: uow_factory
        HOLDER.app = LocalGateway(
            handler.lambda_handler, TokenVerifier(ISSUER, CLIENT_ID, provider.jwks), provider
        )
        yield {"Authorization": f"Bearer {token}"}
        handler.app.dependency_overrides.clear()
    get_settings.cache_clear()
    reset_clients()


# What the issue asks of the API: no 5xx, and every answer as the document describes it (status,
# content type, headers, body), with and without a token, and for undeclared methods.
# Not included: the checks of how strict input parsing is (positive_data_acceptance and
# negative_data_rejection). Some rules are beyond JSON Schema (a keypoint schema's connections
# must name existing keypoints, a cursor must be one the API issued) and are refused with a precise
# 422; and lax parsing such as an epoch number for a date-time is accepted on purpose.
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.ignored_auth,
    checks.unsupported_method,
]


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_answers_as_documented(
    case: schemathesis.Case[Any], local_api: dict[str, str]
) -> None:
    case.call_and_validate(base_url="http://localhost/api", headers=local_api, checks=CHECKS)
