"""The API Lambda in-process against the embedded PostgreSQL and moto's S3 and Step Functions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.aws import reset_clients
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import Role
from cradlepose.settings import get_settings
from tests.support import ApiClient, Persona, create_buckets, create_state_machine, make_user


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 (four buckets) and Step Functions (the batch pipeline and the analysis reports, both
    recorded but not interpreted); yields the batch pipeline's ARN."""
    with mock_aws():
        create_buckets()
        arn = create_state_machine()
        monkeypatch.setenv("CRADLE_STATE_MACHINE_ARN", arn)
        monkeypatch.setenv(
            "CRADLE_ANALYSIS_STATE_MACHINE_ARN",
            create_state_machine(definition="analysis_report", name="cradle-analysis-report"),
        )
        monkeypatch.setenv("CRADLE_STAGE", "test")
        get_settings.cache_clear()
        reset_clients()
        yield arn
    get_settings.cache_clear()
    reset_clients()


@pytest.fixture
def api(aws: str, uow_factory: UnitOfWorkFactory) -> Iterator[ApiClient]:
    from api import dependencies, handler  # noqa: PLC0415 - after the environment is set

    handler.app.dependency_overrides[dependencies.uow_factory] = lambda: uow_factory
    yield ApiClient(handler.lambda_handler)
    handler.app.dependency_overrides.clear()


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Persona:
    return make_user(session_factory, Role.ADMIN, name="admin")


@pytest.fixture
def annotator(session_factory: sessionmaker[Session]) -> Persona:
    return make_user(session_factory, Role.ANNOTATOR, name="annotator")


@pytest.fixture
def verifier(session_factory: sessionmaker[Session]) -> Persona:
    return make_user(session_factory, Role.VERIFIER, name="verifier")
