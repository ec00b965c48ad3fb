"""Alembic environment. Run through `cradlepose.db.migrate` (or `cradle db upgrade`)."""

from __future__ import annotations

from alembic import context

import cradlepose.db.models  # noqa: F401 - registers every table on the metadata
from cradlepose.db.audit_partitions import is_partition
from cradlepose.db.base import Base
from cradlepose.db.engine import create_engine

config = context.config
target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Tables created by extensions or later tooling are not ours to compare; nor are the audit
    # log's monthly partitions (the parent is the model; its retention job makes and drops them).
    if type_ == "table" and reflected and compare_to is None:
        return name not in {"spatial_ref_sys"} and not is_partition(name)
    return True


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(pool_size=1)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        include_object=include_object,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
