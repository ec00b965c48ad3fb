"""The browser stack outside pytest (the screenshots script): its own embedded PostgreSQL, migrated."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.db import migrate
from tests.browser.stack import RunningStack, running_stack

# Like tests/conftest.py: never real AWS, whatever the environment says.
_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "cradle-screenshots",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "CradleScreenshots",
}


@contextlib.contextmanager
def standalone_stack() -> Iterator[RunningStack]:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(_TEST_ENVIRONMENT)
    root = Path(tempfile.mkdtemp(prefix="cradle-standalone-"))
    server = EmbeddedPostgres(root / "pgdata").start()
    try:
        url = server.create_database("cradle_browser")
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        migrate.upgrade(engine)
        engine.dispose()
        with running_stack(url, root / "state") as stack:
            yield stack
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
