"""`cradle loop-demo`: the learning loop's experiment (issue 23) on a fresh local stack.

Pictures made from the photographs that ship with the dependencies, pre-annotated, corrected by a
simulated annotator toward a fixed reference labelling, verified; the loop retrains on the CPU by
itself and gates the candidate; the next batch is pre-annotated by whatever is the default then
and corrected the same way. Prints how far the annotator moved the model's keypoints in each
batch, and the gate's verdict (cradle_workstation.demo.loop_demo says exactly what is done).
Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO, cast

import typer
from rich.console import Console
from rich.table import Table

from cradle_workstation.cli.client import ApiError
from cradle_workstation.cli.common import StateDir, console, err_console, state_dir
from cradle_workstation.demo import loop_demo
from cradle_workstation.demo.scripting import DemoFailed
from cradle_workstation.devstack.local_ecs import CONTAINER_CODE
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig


def stack_config(directory: Path) -> LocalStackConfig:
    """A fresh stack with its schedules (the loop's trigger is one), no web UI."""
    return LocalStackConfig(state_dir=directory, fresh=True, web_root=None)


STACK_THREADS = "cradle-"  # the local stack's threads: jobs, scheduler, gateway, queues (devstack)


class _StackToLog:
    """sys.stdout or sys.stderr, with what the local stack's threads write (the training's and the
    evaluations' logs, Ultralytics' progress, the scheduled functions' metrics) sent to a log file
    instead of the terminal, which keeps the experiment's own account."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self._terminal = terminal
        self._log = log

    def write(self, text: str) -> int:
        in_stack = threading.current_thread().name.startswith(STACK_THREADS)
        return (self._log if in_stack else self._terminal).write(text)

    def flush(self) -> None:
        self._log.flush()
        self._terminal.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, encoding, fileno: the terminal's
        return getattr(self._terminal, name)


@contextmanager
def stack_logged_to(path: Path) -> Iterator[None]:
    """Installed before anything imports Ultralytics, whose log handler keeps the stream it finds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    saved = sys.stdout, sys.stderr
    with path.open("w", encoding="utf-8") as log:
        sys.stdout = cast(TextIO, _StackToLog(saved[0], log))
        sys.stderr = cast(TextIO, _StackToLog(saved[1], log))
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved


def _inference_importable() -> None:
    """The jobs worker trains in this process (devstack.local_jobs) with the inference container's
    code, as the reference labelling does; importing it first keeps Ultralytics offline."""
    if importlib.util.find_spec("cradle_inference") is None:
        sys.path.insert(0, str(CONTAINER_CODE))
    import cradle_inference  # noqa: F401, PLC0415


def run(
    images: int = typer.Option(
        loop_demo.Settings.images, "--images", min=4, max=200, help="pictures per batch"
    ),
    epochs: int = typer.Option(loop_demo.Settings.epochs, "--epochs", min=1, max=300, help="training epochs"),
    imgsz: int = typer.Option(
        loop_demo.Settings.imgsz, "--imgsz", min=32, max=1280, help="training image size (a multiple of 32)"
    ),
    seed: int = typer.Option(
        loop_demo.Settings.seed, "--seed", min=0, help="draws the pictures and the noise"
    ),
    min_ap_gain: float = typer.Option(
        loop_demo.Settings.min_ap_gain, "--min-ap-gain", min=-1, max=1, help="the gate's δ"
    ),
    max_oks_drop: float = typer.Option(
        loop_demo.Settings.max_keypoint_oks_drop, "--max-oks-drop", min=0, max=1, help="the gate's ε"
    ),
    directory: Path | None = StateDir,
) -> None:
    """The learning loop's experiment: correction distance before and after one round, and the gate."""
    if imgsz % 32:
        err_console.print("[red]error:[/] --imgsz must be a multiple of 32")
        raise typer.Exit(2)
    settings = loop_demo.Settings(
        images=images, epochs=epochs, imgsz=imgsz, seed=seed, min_ap_gain=min_ap_gain,
        max_keypoint_oks_drop=max_oks_drop,
    )  # fmt: skip
    started = time.perf_counter()
    directory = state_dir(directory) / "loop-demo"
    stack_log = directory / "stack.log"
    console.rule("[bold]Cradle learning-loop experiment")
    with ExitStack() as running:
        running.enter_context(stack_logged_to(stack_log))
        _inference_importable()
        with console.status("starting the local stack (embedded PostgreSQL, moto, gateway) …"):
            stack = running.enter_context(LocalStack(stack_config(directory)))
        console.print(f"[green]✓[/] local stack up in {time.perf_counter() - started:.1f} s")
        try:
            outcome = loop_demo.run(stack, settings, console.print)
        except (DemoFailed, ApiError) as error:
            message = error.describe() if isinstance(error, ApiError) else str(error)
            err_console.print(f"[red]loop-demo failed:[/] {message} (the stack's log: {stack_log})")
            raise typer.Exit(1) from None
    show(outcome, console)
    console.print(f"the stack's log (training, evaluations, scheduled functions): {stack_log}")
    console.print(f"experiment finished in {time.perf_counter() - started:.1f} s")


def _number(value: float | None, form: str) -> str:
    return "—" if value is None else format(value, form)


def show(outcome: loop_demo.Outcome, out: Console) -> None:
    s = outcome.settings
    table = Table(
        title=f"the annotators' work, before and after one round of the loop ({s.images} pictures a "
        f"batch; training: {s.epochs} epochs at {s.imgsz} px; seed {s.seed})"
    )
    table.add_column("")
    for batch in outcome.batches:
        table.add_column(f"{batch.label} (id {batch.batch_id})", justify="right")
    rows = (
        ("pre-annotated by", lambda b: b.model),
        ("pictures", lambda b: str(b.images)),
        ("pictures it found a person in", lambda b: str(b.posed)),
        ("keypoints the model placed", lambda b: str(b.model_keypoints)),
        ("correction distance (mean)", lambda b: f"{_number(b.mean_correction_px, '.2f')} px"),
        ("left untouched", lambda b: _number(b.untouched_share, ".1%")),
    )
    for name, cell in rows:
        table.add_row(name, *(cell(b) for b in outcome.batches))
    out.print(table)
    gate = outcome.gate
    if gate is None:
        return
    verdict = Table(
        title=f"the gate between the batches (run {gate.run_id}, trigger {gate.trigger}; "
        f"δ {s.min_ap_gain:+g}, ε {s.max_keypoint_oks_drop:g})"
    )
    for column in ("verdict", "AP candidate", "AP default", "held out / trained", "training"):
        verdict.add_column(column, justify="right")
    verdict.add_row(
        gate.status,
        _number(gate.candidate_ap, ".4f"),
        _number(gate.incumbent_ap, ".4f"),
        f"{_count(gate.test_images)} / {_count(gate.train_images)}",
        f"{_number(gate.training_seconds, '.1f')} s",
    )
    out.print(verdict)
    out.print(f"gate: {gate.verdict or gate.error or '—'}")


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)
