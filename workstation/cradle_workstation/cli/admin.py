"""`cradle admin`: the first administrator, created from the command line (no default password)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradle_workstation.cli.cloud_admin import CloudAdminFailed, create_cloud_admin
from cradle_workstation.cli.common import (
    StateDir,
    console,
    err_console,
    local_database,
    reported_errors,
    state_dir,
)
from cradle_workstation.devstack import local_identity
from cradle_workstation.devstack.admins import create_local_admin
from cradlepose.accounts import users
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.validation import parse

app = typer.Typer(help="Administrators.", no_args_is_help=True)

CLI_CONTEXT = RequestContext(user_agent="cradle-cli", endpoint="cli:admin create", method="CLI")


@app.command()
def create(
    username: str = typer.Option(..., help="the administrator's user name"),
    email: str = typer.Option(..., help="the administrator's e-mail address"),
    stack: str | None = typer.Option(
        None,
        help="a deployed stage's stack (e.g. Cradle-prod): create the admin there, with your AWS credentials",
    ),
    region: str | None = typer.Option(None, help="the stack's region (default: your AWS configuration's)"),
    directory: Path | None = StateDir,
) -> None:
    """Create an approved ADMIN. Locally: an identity account with a random password (saved,
    readable only by you, under <state-dir>/credentials/) and the Cradle user. With --stack: the
    Cognito user (e-mailed a temporary password) and the Cradle user, through the stage's
    bootstrap-admin function."""
    with reported_errors():
        command = parse(users.NewAdmin, {"username": username, "email": email})
    if stack is not None:
        try:
            admin = create_cloud_admin(stack, command, region=region)
        except CloudAdminFailed as error:
            err_console.print(f"[red]error:[/] {error}")
            raise typer.Exit(1) from None
        console.print(f"created administrator [bold]{admin['username']}[/] (id {admin['id']}) in {stack}")
        console.print(f"Cognito e-mailed a temporary password to {admin['email']}")
        return
    root = state_dir(directory)
    with local_database(root) as database, reported_errors():
        admin_out, path = create_local_admin(
            database.session_factory, local_identity.adapter(root), root, command, CLI_CONTEXT
        )
    console.print(f"created administrator [bold]{admin_out.username}[/] (id {admin_out.id})")
    console.print(f"credentials: {path} (mode 0600)")
