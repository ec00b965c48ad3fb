"""`cradle db`: migrations of the local database (the cloud runs them at deploy time)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradle_workstation.cli.common import StateDir, console, local_database, state_dir
from cradlepose.db import migrate
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
