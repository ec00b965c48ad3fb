"""`cradle admin`: the first administrator, created from the command line (no default password)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradlepose.cli.common import StateDir, console, local_database, reported_errors, state_dir
from cradlepose.db.unit_of_work import UnitOfWork
from cradlepose.domain.actor import SYSTEM_USERNAME, Actor, RequestContext
from cradlepose.domain.enums import Role
from cradlepose.domain.validation import parse
from cradlepose.services import users

app = typer.Typer(help="Administrators.", no_args_is_help=True)

CLI_CONTEXT = RequestContext(user_agent="cradle-cli", endpoint="cli:admin create", method="CLI")


@app.command()
def create(
    username: str = typer.Option(..., help="the administrator's user name"),
    email: str = typer.Option(..., help="the administrator's e-mail address"),
    directory: Path | None = StateDir,
) -> None:
    """Create an approved ADMIN in the local database."""
    system = Actor(user_id=None, username=SYSTEM_USERNAME, role=Role.ADMIN)
    with local_database(state_dir(directory)) as database, reported_errors():
        with UnitOfWork(database.session_factory, system, CLI_CONTEXT) as uow:
            command = parse(users.NewAdmin, {"username": username, "email": email})
            admin = users.create_admin(uow, command)
        console.print(f"created administrator [bold]{admin.username}[/] (id {admin.id})")
