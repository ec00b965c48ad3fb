"""Fixtures shared by every test layer.

One embedded PostgreSQL per test session (per xdist worker). The schema is migrated once into a
template database; each test that needs a database gets its own copy of it (CREATE DATABASE …
TEMPLATE, about 0.2 s), so tests are independent and may commit, run in parallel threads and
hold locks like production code does.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.database import app_url
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.db import migrate
from cradlepose.db.engine import create_engine, make_session_factory
from cradlepose.db.roles import LOCAL_APP_LOGIN, AppLogin
from cradlepose.db.unit_of_work import UnitOfWorkFactory, unit_of_work_factory
from cradlepose.settings import Settings

TEMPLATE = "cradle_template"
_counter = itertools.count()

# Tests never talk to real AWS, whatever the machine's environment says.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cradle-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CradleTests")


@pytest.fixture(scope="session")
def postgres() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's basetemp: the server runs as its own system user when tests run as
    # root, and pytest tightens its temp tree back to 0700 whenever a test asks for tmp_path.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    root = Path(tempfile.mkdtemp(prefix=f"cradle-tests-pg-{worker}-"))
    server = EmbeddedPostgres(root / "pgdata").start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def migrated_template(postgres: EmbeddedPostgres) -> str:
    """A database at the head revision that every test database is copied from, migrated by the
    owner (the server's superuser), which also creates the app login the tests connect as."""
    postgres.drop_database(TEMPLATE)
    url = postgres.create_database(TEMPLATE)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    migrate.upgrade(engine, app_login=AppLogin(LOCAL_APP_LOGIN))
    engine.dispose()
    return TEMPLATE


@pytest.fixture
def owner_database_url(postgres: EmbeddedPostgres, migrated_template: str) -> Iterator[str]:
    """A fresh test database, as its owner: migrations, and tests of what only the owner may do."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    url = postgres.create_database(name, template=migrated_template)
    yield url
    postgres.drop_database(name)


@pytest.fixture
def database_url(owner_database_url: str) -> str:
    """The same database as the app login: every function connects so, locally and in the cloud."""
    return app_url(owner_database_url)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    settings = Settings(database_url=SecretStr(database_url), db_pool_size=8, stage="test")
    engine = create_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def owner_engine(owner_database_url: str) -> Iterator[sa.Engine]:
    settings = Settings(database_url=SecretStr(owner_database_url), db_pool_size=2, stage="test")
    engine = create_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: sa.Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def uow_factory(session_factory: sessionmaker[Session]) -> UnitOfWorkFactory:
    return unit_of_work_factory(session_factory)


@pytest.fixture
def empty_database_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    name = f"e_{os.getpid()}_{next(_counter)}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)
