"""`cradle`: the command line of Cradle."""

from __future__ import annotations

import typer

from cradlepose.cli import admin, db, demo, dev

app = typer.Typer(
    name="cradle",
    help="Cradle: medical-grade infant keypoint datasets.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.command("demo")(demo.run)
app.command("dev")(dev.run)


if __name__ == "__main__":
    app()
