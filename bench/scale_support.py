"""What the scale benches share (pipeline_scale, corrections_scale): one embedded PostgreSQL for
the run, a fresh migrated database per size, bulk rows made and settled before anything is timed,
and the sizes' short names.

The benches put the repository root on sys.path before importing this (`from bench.scale_support`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from pydantic import SecretStr

from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradlepose.db import migrate
from cradlepose.db.engine import create_engine
from cradlepose.settings import Settings

T = TypeVar("T")


@contextmanager
def embedded_server() -> Iterator[EmbeddedPostgres]:
    """An embedded PostgreSQL in a temporary directory, for the whole run."""
    with tempfile.TemporaryDirectory(prefix="cradle-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata").start()
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def fresh_database(server: EmbeddedPostgres, name: str) -> Iterator[sa.Engine]:
    """A database of its own, migrated to head, dropped afterwards: each size starts empty."""
    server.drop_database(name)
    engine = create_engine(Settings(database_url=SecretStr(server.create_database(name)), db_pool_size=2))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        server.drop_database(name)


def made(what: str, make: Callable[[], T], engine: sa.Engine) -> T:
    """Make the bulk rows, say how long it took, then settle them: VACUUM (ANALYZE) for the planner's
    statistics and a CHECKPOINT, so that what is timed next neither plans blind nor flushes them."""
    started = time.perf_counter()
    result = make()
    maintenance = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with maintenance.connect() as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))
        conn.execute(sa.text("CHECKPOINT"))
    maintenance.dispose()
    print(f"  {what} made in {time.perf_counter() - started:.0f} s", flush=True)
    return result


def short(n: int) -> str:
    """100000 -> 100k, 1000000 -> 1M: a size in a column heading."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"
