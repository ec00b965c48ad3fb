"""`cradle demo` (what `make demo` runs): Cradle's main job end to end on this machine.

Stage one of the story: a fresh embedded PostgreSQL, every migration, the default
infant-pose-17 schema, an administrator, and a summary of what now exists.
"""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.table import Table

from cradlepose.cli.common import StateDir, console, local_database, state_dir
from cradlepose.db import migrate
from cradlepose.db.models import KeypointSchema
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.actor import SYSTEM_USERNAME, Actor, RequestContext
from cradlepose.domain.enums import Role
from cradlepose.domain.keypoint_schema import DEFAULT_SCHEMA_NAME, SchemaDefinition
from cradlepose.services import users

DEMO_ADMIN = users.NewAdmin(username="demo-admin", email="demo-admin@example.org")


def run(directory: Path | None = StateDir) -> None:
    """Run the demo on a fresh local database and print what it did."""
    started = time.perf_counter()
    demo_dir = state_dir(directory) / "demo"
    console.rule("[bold]Cradle demo")
    with local_database(demo_dir, fresh=True) as database:
        console.print(
            f"[green]✓[/] embedded PostgreSQL up, migrated to {migrate.current_revision(database.engine)}"
        )
        system = Actor(user_id=None, username=SYSTEM_USERNAME, role=Role.ADMIN)
        context = RequestContext(user_agent="cradle-demo", endpoint="cli:demo", method="CLI")
        with UnitOfWork(database.session_factory, system, context) as uow:
            admin = users.create_admin(uow, DEMO_ADMIN)
        console.print(f"[green]✓[/] administrator [bold]{admin.username}[/] created (id {admin.id})")

        with database.session_factory() as session:
            schema = session.scalars(
                sa.select(KeypointSchema).where(KeypointSchema.name == DEFAULT_SCHEMA_NAME)
            ).one()
            definition = SchemaDefinition.model_validate(schema.schema_definition)
            counts = {
                table: session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names
                for table in ("users", "keypoint_schemas", "image_batches", "images", "audit_logs")
            }
        console.print(
            f"[green]✓[/] default schema [bold]{schema.name} {schema.version}[/]: "
            f"{definition.total_keypoints} keypoints, {len(definition.connections)} connections, "
            f"body parts {', '.join(definition.body_parts)}"
        )
        table = Table(title="rows per table")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, count in counts.items():
            table.add_row(name, str(count))
        console.print(table)
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s (state in {demo_dir})")
    raise typer.Exit(0)
