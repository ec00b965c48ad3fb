"""`cradle users`: what admins do with people through the API (the local stack or a deployment)."""

from __future__ import annotations

from pathlib import Path

import typer

from cradle_workstation.cli.common import console
from cradle_workstation.cli.remote import ConfigDir, ProfileOption, api
from cradlepose.domain.enums import Role

app = typer.Typer(help="People (admin).", no_args_is_help=True)


@app.command()
def invite(
    email: str = typer.Option(..., help="where the temporary password is e-mailed"),
    username: str = typer.Option(..., help="the name they sign in with"),
    role: Role = typer.Option(..., case_sensitive=False, help="ANNOTATOR, VERIFIER or ADMIN"),
    specialty: str | None = typer.Option(None, help="annotation specialty (annotators)"),
    expertise: str | None = typer.Option(None, help="verification expertise (verifiers)"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Invite a person: their sign-in account (e-mailed a temporary password) and an approved user."""
    body: dict[str, str] = {"email": email, "username": username, "role": role.value}
    if specialty is not None:
        body["annotation_specialty"] = specialty
    if expertise is not None:
        body["verification_expertise"] = expertise
    with api(profile, config_dir) as client:
        invited = client.post("/invitations", body)
    console.print(
        f"invited [bold]{invited['username']}[/] as {invited['role']} (id {invited['id']}); "
        f"a temporary password is on its way to {invited['email']}"
    )
