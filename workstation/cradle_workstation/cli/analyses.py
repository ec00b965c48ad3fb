"""`cradle analyse` and `cradle report`: staged analysis reports of one image, over the API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cradle_workstation.cli.common import console, err_console
from cradle_workstation.cli.remote import ConfigDir, ProfileOption, api
from cradlepose.domain.analysis import TERMINAL

# Where a job stops: the domain's terminal statuses, as the API spells them.
SETTLED = frozenset(status.value for status in TERMINAL)


def analyse(
    image_id: int = typer.Argument(..., help="the image to analyse"),
    annotation: int | None = typer.Option(
        None, "--annotation", help="a verified annotation whose keypoints to use (default: the latest)"
    ),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="follow the job until it completes or fails"),
    timeout: float = typer.Option(300.0, help="seconds to wait with --wait"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Ask for an analysis report of one image: segmenting → converting → enhancing."""
    with api(profile, config_dir) as client:
        job = client.post("/analyses", {"image_id": image_id, "annotation_id": annotation})
        console.print(f"analysis [bold]{job['job_id']}[/] requested for image {image_id}")
        deadline = time.monotonic() + timeout
        with console.status("analysing…") as progress:
            while wait and job["status"] not in SETTLED and time.monotonic() < deadline:
                time.sleep(0.5)
                job = client.get(f"/analyses/{job['job_id']}")
                progress.update(f"analysing… {job['status']}")
        console.print(_job_table(job))
        if job["status"] == "failed":
            raise typer.Exit(1)
        if job["status"] == "completed":
            console.print(f"read it with: cradle report {job['job_id']}")


def report(
    job_id: str = typer.Argument(..., help="the analysis job id"),
    format: str = typer.Option("md", "--format", "-f", help="md or html"),
    output: Path | None = typer.Option(None, "--output", "-o", help="write to this file (default: print)"),
    profile: str = ProfileOption,
    config_dir: Path | None = ConfigDir,
) -> None:
    """Download a completed analysis report as Markdown or as one self-contained HTML page."""
    with api(profile, config_dir) as client:
        document = client.text(f"/analyses/{job_id}/report", format=format)
    if output is None:
        console.print(document, markup=False, highlight=False)
        return
    output.write_text(document, encoding="utf-8")
    err_console.print(f"wrote {output} ({len(document.encode())} bytes)")


def _job_table(job: dict[str, Any]) -> Table:
    table = Table(title=f"analysis {job['job_id']}: {job['status']}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    table.add_row("image", str(job["image_id"]))
    if job.get("failed_stage"):
        table.add_row("failed at", str(job["failed_stage"]))
        table.add_row("error", str(job.get("error_message")))
    result = job.get("result") or {}
    for stage, confidence in (result.get("confidence_scores") or {}).items():
        table.add_row(
            f"confidence ({stage})", f"{confidence:.2f}" if isinstance(confidence, float) else str(confidence)
        )
    if result.get("image_description"):
        table.add_row("description", result["image_description"])
    return table
