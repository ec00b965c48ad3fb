"""`cradle db`: migrations of the local database (the cloud runs them at deploy time)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradle_workstation.cli.common import StateDir, console, local_database, state_dir
from cradlepose.accounts import audit_retention
from cradlepose.db import audit_partitions, migrate
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.domain.actor import RequestContext
from cradlepose.reports import reference_library

app = typer.Typer(help="The local database.", no_args_is_help=True)


@app.command()
def upgrade(directory: Path | None = StateDir) -> None:
    """Start the embedded PostgreSQL if needed, migrate it to the newest revision and sync the
    reference notes the analysis reports cite."""
    with local_database(state_dir(directory)) as database:
        library = reference_library.describe_library_of(database.engine)
        console.print(f"database at revision [bold]{migrate.current_revision(database.engine)}[/]")
        console.print(f"reference notes: {library.describe()}")


@app.command()
def url(directory: Path | None = StateDir) -> None:
    """Print the SQLAlchemy URL of the local database (for psql-like tools and scripts)."""
    with local_database(state_dir(directory)) as database:
        console.print(database.url, soft_wrap=True)


@app.command("audit-partitions")
def audit_partitions_command(directory: Path | None = StateDir) -> None:
    """Run the audit log's retention now (the local stack runs it hourly, the cloud daily): create
    the month partitions ahead and drop the months past the retention period (docs/retention.md)."""
    context = RequestContext(user_agent="cradle-cli", endpoint="cli:db audit-partitions", method="CLI")
    with local_database(state_dir(directory)) as database:
        factory = unit_of_work_factory(database.session_factory)
        done = audit_retention.maintain_partitions(factory, context)
    console.print(f"created: {', '.join(done.created) or 'none'}")
    console.print(
        f"dropped: {', '.join(done.dropped) or 'none'} (kept: {audit_partitions.KEEP_MONTHS} months)"
    )
    if done.rows_in_default:
        console.print(f"[yellow]{done.rows_in_default} rows in {audit_partitions.DEFAULT_PARTITION}[/]")
