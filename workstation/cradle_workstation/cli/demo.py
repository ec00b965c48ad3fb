"""`cradle demo` (what `make demo` runs): Cradle's main job end to end on this machine.

A fresh local stack (embedded PostgreSQL, moto, the gateway, the state machines with the real
pose model on the CPU), then the story of cradle_workstation.demo.story told over HTTP, and a summary.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import typer
from rich.table import Table

from cradle_workstation.cli.client import ApiError
from cradle_workstation.cli.common import StateDir, console, err_console, state_dir
from cradle_workstation.demo import story
from cradle_workstation.demo.scripting import DemoFailed
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig


def stack_config(demo_dir: Path, *, verbose: bool = False) -> LocalStackConfig:
    """The demo's local stack: fresh, no web UI; with `verbose`, the handlers log at INFO, the
    level they log at in the cloud (infra's LOG_LEVEL)."""
    # Schedules on: the export is packed by the stack's scheduled job, as in the cloud.
    return LocalStackConfig(
        state_dir=demo_dir, fresh=True, web_root=None, log_level="INFO" if verbose else "WARNING"
    )


def run(
    directory: Path | None = StateDir,
    output: Path = typer.Option(
        Path("demo-output"), "--output", "-o", help="where the demo writes its results"
    ),
    verbose: bool = typer.Option(False, "--verbose", help="the handlers' INFO logs too"),
) -> None:
    """Run the whole story on a fresh local stack and print what happened."""
    started = time.perf_counter()
    demo_dir = state_dir(directory) / "demo"
    output.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]Cradle demo")
    config = stack_config(demo_dir, verbose=verbose)
    with ExitStack() as running:
        with console.status("starting the local stack (embedded PostgreSQL, moto, gateway) …"):
            stack = running.enter_context(LocalStack(config))
        console.print(
            f"[green]✓[/] local stack up in {time.perf_counter() - started:.1f} s: API {stack.api_url}"
        )
        try:
            summary = story.run(stack, output.resolve(), console.print)
        except (DemoFailed, ApiError) as error:
            message = error.describe() if isinstance(error, ApiError) else str(error)
            err_console.print(f"[red]demo failed:[/] {message}")
            raise typer.Exit(1) from None
    _print(summary)
    console.print(f"demo finished in {time.perf_counter() - started:.1f} s; results in {output.resolve()}")


def _print(summary: story.Summary) -> None:
    stages = Table(title="time per stage")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for name, seconds in summary.stage_seconds.items():
        stages.add_row(name, f"{seconds:.1f}")
    console.print(stages)

    uploads = Table(title=f"batch {summary.batch_id}: uploads and YOLO's keypoints")
    for column in ("file", "upload", "keypoints found", "confidence"):
        uploads.add_column(column)
    for name, verdict in summary.uploads.items():
        found = summary.keypoints_found.get(name)
        confidence = summary.yolo_confidence.get(name)
        uploads.add_row(
            name,
            verdict,
            f"{found}/17" if found is not None else "—",
            f"{confidence:.2f}" if confidence is not None else "—",
        )
    console.print(uploads)

    decisions = Table(title=f"verification (batch {summary.batch_status})")
    decisions.add_column("image")
    decisions.add_column("decision")
    for image, decision in summary.decisions:
        decisions.add_row(image, decision)
    console.print(decisions)
    console.print(
        f"batch pipeline execution: {summary.execution_status}"
        f" (after the last wait: {' → '.join(summary.execution_states) or '—'})"
    )

    people = Table(title="today's metrics")
    for column in ("person", "figure", "value"):
        people.add_column(column)
    annotator, verifier = summary.annotator_metrics, summary.verifier_metrics
    people.add_row("annotator", "images annotated", str(annotator.get("images_annotated")))
    people.add_row("annotator", "revisions", str(annotator.get("annotations_revised")))
    people.add_row("annotator", "accuracy (running)", f"{summary.annotator_accuracy:.2f}")
    people.add_row("verifier", "annotations verified", str(verifier.get("annotations_verified")))
    people.add_row("verifier", "approved", str(verifier.get("annotations_approved")))
    console.print(people)

    console.print(
        f"COCO keypoints export: {summary.export_path} ({summary.exported_annotations} annotations)"
    )
    console.print(f"analysis report: {summary.report_path}")
    console.print(f"skeletons, YOLO's (left) and verified (right): {len(summary.pictures)} pictures in "
                  f"{summary.pictures[0].parent if summary.pictures else '—'}")  # fmt: skip
