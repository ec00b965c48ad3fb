"""`cradle anomaly`: pose anomaly screening over HTTP — train, analyse, list, find similar poses.

A research aid for cerebral palsy screening studies, not a diagnosis; every command says so.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cradle_workstation.cli.common import console, err_console
from cradle_workstation.cli.remote import ConfigDir, ProfileOption, api

app = typer.Typer(
    help="Pose anomaly screening: how unusual a verified pose is for the infant's age. "
    "A research aid, not a diagnosis.",
    no_args_is_help=True,
)

NOTICE = "[dim]Research aid for cerebral palsy screening studies, not a diagnosis.[/]"


def _band(text: str) -> dict[str, float]:
    try:
        low, high = (float(part) for part in text.split("-", 1))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a band like 0-3 (months)") from None
    return {"age_min": low, "age_max": high}


@app.command()
def train(
    band: list[str] = typer.Option([], "--band", help="an age band in months, e.g. 0-3 (repeat it)"),
    batch: list[int] = typer.Option([], "--batch", help="learn only from these batches (repeat it)"),
    min_samples: int | None = typer.Option(None, help="fewer typical poses: the band refuses to score"),
    percentile: float | None = typer.Option(None, help="the threshold's percentile of training scores"),
    wait: bool = typer.Option(True, help="follow the job's progress until it ends"),
    interval: float = typer.Option(2.0, help="seconds between progress checks"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Queue a training of the age-group models (admin) and follow its progress."""
    config: dict[str, Any] = {}
    if band:
        config["bands"] = [_band(b) for b in band]
    if batch:
        config["batch_ids"] = batch
    if min_samples is not None:
        config["min_samples"] = min_samples
    if percentile is not None:
        config["percentile"] = percentile
    with api(profile, config_dir) as client:
        job = client.post("/anomaly/training-jobs", {"config": config})
        console.print(f"training job [bold]{job['id']}[/] queued")
        if wait:
            job = _follow(client, job["id"], interval)
    if job["status"] == "FAILED":
        err_console.print(f"[red]failed:[/] {job['error_message']}")
        raise typer.Exit(1)
    if job.get("report"):
        console.print(_report_table(job["report"]))
    console.print(NOTICE)


def _follow(client: Any, job_id: int, interval: float) -> dict[str, Any]:
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"))
    with Progress(*columns, TimeElapsedColumn(), console=console) as bars:
        task = bars.add_task("queued", total=1.0)
        while True:
            job: dict[str, Any] = client.get(f"/anomaly/training-jobs/{job_id}")
            bars.update(
                task, completed=job["progress"], description=job.get("progress_message") or job["status"]
            )
            if job["status"] in ("COMPLETED", "FAILED"):
                return job
            time.sleep(interval)


def _report_table(report: dict[str, Any]) -> Table:
    auc = report.get("roc_auc")
    fpr = report.get("validation_false_positive_rate")
    table = Table(
        title="age-group models",
        caption=f"ROC AUC {auc:.3f}" if auc is not None else "no expert labels: no ROC AUC",
    )
    for column in ("band", "status", "samples", "threshold", "held-out FPR", "ROC AUC", "note"):
        table.add_column(column)
    for b in report["bands"]:
        table.add_row(
            b["label"],
            b["status"],
            str(b["training_samples"]),
            f"{b['threshold']:.2f}" if b.get("threshold") is not None else "-",
            f"{b['validation_false_positive_rate']:.1%}"
            if b.get("validation_false_positive_rate") is not None
            else "-",
            f"{b['roc_auc']:.3f}" if b.get("roc_auc") is not None else "-",
            b.get("refusal") or "",
        )
    if fpr is not None:
        table.caption = f"{table.caption}; held-out false-positive rate {fpr:.1%}"
    return table


@app.command()
def models(
    all_: bool = typer.Option(False, "--all", help="retired models too"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """The age-group models in force (with --all, every one)."""
    with api(profile, config_dir) as client:
        rows = client.get("/anomaly/models", active=str(not all_).lower())
    table = Table()
    for column in ("id", "band", "samples", "threshold", "support", "active", "refusal"):
        table.add_column(column)
    for m in rows:
        table.add_row(
            str(m["id"]),
            m["label"],
            str(m["sample_count"]),
            f"{m['threshold']:.2f}" if m["threshold"] is not None else "-",
            f"{m['sample_confidence']:.2f}",
            "yes" if m["is_active"] else "no",
            m["refusal"] or "",
        )
    console.print(table)
    console.print(NOTICE)


@app.command()
def analyse(
    annotation: int | None = typer.Option(None, "--annotation", help="one verified annotation"),
    batch: int | None = typer.Option(None, "--batch", help="every verified pose of a batch"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Score a verified annotation, or a batch's verified poses (running it again changes nothing)."""
    if (annotation is None) == (batch is None):
        raise typer.BadParameter("give --annotation or --batch")
    with api(profile, config_dir) as client:
        if annotation is not None:
            result = client.post("/anomaly/analyses", {"annotation_id": annotation})
            verdict = "[red]atypical[/]" if result["is_anomaly"] else "[green]typical[/]"
            console.print(
                f"annotation {annotation}: {verdict} for {result['age_band']} — normalised score "
                f"{result['normalized_score']:.2f}, confidence {result['confidence']:.2f}"
            )
            console.print(result["explanation"])
        else:
            result = client.post("/anomaly/batch-analyses", {"batch_id": batch})
            console.print(
                f"batch {batch}: {result['analysed']} analysed, {result['unchanged']} already analysed, "
                f"{result['anomalies']} atypical, {len(result['refused'])} refused"
            )
            for refusal in result["refused"]:
                console.print(f"  [yellow]annotation {refusal['annotation_id']}[/]: {refusal['reason']}")
    console.print(NOTICE)


@app.command("list")
def list_analyses(
    batch: int | None = typer.Option(None, "--batch"),
    anomalous: bool | None = typer.Option(None, "--anomalous/--typical", help="only one verdict"),
    min_score: float | None = typer.Option(None, help="minimum normalised score, 0–1"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Analyses by the models in force, newest first."""
    with api(profile, config_dir) as client:
        page = client.get(
            "/anomaly/analyses",
            batch_id=batch,
            anomalous=None if anomalous is None else str(anomalous).lower(),
            min_normalized_score=min_score,
            limit=100,
        )
    table = Table()
    for column in ("id", "annotation", "band", "verdict", "score", "confidence", "joints"):
        table.add_column(column)
    for a in page["items"]:
        table.add_row(
            str(a["id"]),
            str(a["annotation_id"]),
            a["age_band"],
            "atypical" if a["is_anomaly"] else "typical",
            f"{a['normalized_score']:.2f}",
            f"{a['confidence']:.2f}",
            ", ".join(j.replace("_", " ") for j in a["top_joints"]),
        )
    console.print(table)
    console.print(NOTICE)


@app.command()
def similar(
    annotation: int = typer.Argument(..., help="a verified annotation"),
    limit: int = typer.Option(10, min=1, max=100),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """The stored verified poses most like this one (the pose itself first)."""
    with api(profile, config_dir) as client:
        result = client.get(f"/anomaly/similar-poses/{annotation}", limit=limit)
    table = Table(title=f"poses like annotation {annotation}")
    for column in ("annotation", "image", "batch", "age (months)", "distance"):
        table.add_column(column)
    for n in result["neighbours"]:
        age = n["age_months"]
        table.add_row(
            str(n["annotation_id"]),
            str(n["image_id"]),
            str(n["batch_id"]),
            f"{age:g}" if age is not None else "-",
            f"{n['distance']:.4f}",
        )
    console.print(table)
    console.print(NOTICE)
