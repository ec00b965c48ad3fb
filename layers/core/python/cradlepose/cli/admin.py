"""`cradle admin`: the first administrator, created from the command line (no default password)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradlepose.cli.common import StateDir, console, local_database, reported_errors, state_dir
from cradlepose.devstack import local_identity
from cradlepose.devstack.admins import create_local_admin
from cradlepose.domain.actor import RequestContext
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
    """Create an approved ADMIN on the local stack: an identity account with a random password
    (saved, readable only by you, under <state-dir>/credentials/) and the Cradle user."""
    root = state_dir(directory)
    with local_database(root) as database, reported_errors():
        command = parse(users.NewAdmin, {"username": username, "email": email})
        admin, path = create_local_admin(
            database.session_factory, local_identity.adapter(root), root, command, CLI_CONTEXT
        )
    console.print(f"created administrator [bold]{admin.username}[/] (id {admin.id})")
    console.print(f"credentials: {path} (mode 0600)")
