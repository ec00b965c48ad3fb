"""The pipeline's services against the embedded PostgreSQL and moto's S3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.aws import reset_clients
from cradlepose.adapters.storage import S3Storage
from cradlepose.domain.enums import Role
from cradlepose.settings import get_settings
from tests.support import Persona, create_buckets, make_user

CHUNK_SIZE = 2


@pytest.fixture
def storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Storage]:
    """moto's S3 with Cradle's buckets; chunks of two images."""
    with mock_aws():
        create_buckets()
        monkeypatch.setenv("CRADLE_PIPELINE_CHUNK_SIZE", str(CHUNK_SIZE))
        monkeypatch.setenv("CRADLE_STAGE", "test")
        get_settings.cache_clear()
        reset_clients()
        yield S3Storage()
    get_settings.cache_clear()
    reset_clients()


@pytest.fixture
def admin(session_factory: sessionmaker[Session]) -> Persona:
    return make_user(session_factory, Role.ADMIN, name="admin")
