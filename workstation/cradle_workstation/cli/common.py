"""Shared pieces of the command line: the console, the local database, error reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from cradle_workstation.devstack.database import LocalDatabase
from cradlepose.domain.errors import DomainError, ValidationFailed
from cradlepose.settings import get_settings

console = Console()
err_console = Console(stderr=True)

StateDir = typer.Option(
    None, "--state-dir", help="where the local stack keeps its data (default: settings' local_state_dir)"
)


def state_dir(option: Path | None) -> Path:
    return option if option is not None else get_settings().local_state_dir


@contextmanager
def local_database(directory: Path, *, fresh: bool = False) -> Iterator[LocalDatabase]:
    database = LocalDatabase.open(directory, fresh=fresh)
    try:
        yield database
    finally:
        database.close()


@contextmanager
def reported_errors() -> Iterator[None]:
    """Domain errors end the command with their message and exit code 1, not a traceback."""
    try:
        yield
    except ValidationFailed as error:
        err_console.print(f"[red]error:[/] {error.title}")
        for problem in error.problems:
            err_console.print(f"  {problem.location}: {problem.message}")
        raise typer.Exit(1) from None
    except DomainError as error:
        err_console.print(f"[red]error:[/] {error.detail}")
        raise typer.Exit(1) from None
