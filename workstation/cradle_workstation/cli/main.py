"""`cradle`: the command line of Cradle."""

from __future__ import annotations

import typer

from cradle_workstation.cli import admin, analyses, anomaly, datasets, db, demo, dev, loop_demo, remote, users

app = typer.Typer(
    name="cradle",
    help="Cradle: medical-grade infant keypoint datasets.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")
app.add_typer(anomaly.app, name="anomaly")
app.add_typer(users.app, name="users")
app.command("demo")(demo.run)
app.command("loop-demo")(loop_demo.run)
app.command("dev")(dev.run)
for command in (
    remote.configure,
    remote.login,
    remote.logout,
    remote.whoami,
    remote.upload,
    remote.batches,
    remote.status,
    remote.assign,
    remote.metrics,
):
    app.command()(command)
app.command("auto-assign")(remote.auto_assign)
app.add_typer(datasets.datasets_app, name="datasets")
app.add_typer(datasets.collections_app, name="collections")
app.add_typer(datasets.models_app, name="models")
app.add_typer(datasets.jobs_app, name="jobs")
app.command("export")(datasets.export)
app.command("import")(datasets.import_coco)
app.command("evaluate")(datasets.evaluate)
app.command()(analyses.analyse)
app.command()(analyses.report)
admin.app.command("approve")(remote.approve)


if __name__ == "__main__":
    app()
