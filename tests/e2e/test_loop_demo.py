"""`cradle loop-demo`'s experiment, small (four pictures a batch, 1 epoch at 64 px), through HTTP
and the local stack: both batches measured, the loop's run started by its trigger, evaluated and
judged, and the next batch pre-annotated by the default the gate left.

With the policy's δ = 0, a candidate trained so little (AP about 0 at 64 px) is refused by the
gate against the shipped model it was fine-tuned from, so batch 2 is pre-annotated by the shipped
model again. (With δ = −1 the candidate is promoted and pre-annotates batch 2, but at 64 px it
finds nobody, and there is no correction distance to measure: tests/e2e/test_learning_loop.py
checks the promotion path.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from cradle_workstation.cli.loop_demo import show
from cradle_workstation.demo import loop_demo
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from tests.stack_support import running_stack

pytestmark = pytest.mark.e2e

TINY = loop_demo.Settings(images=4, epochs=1, imgsz=64)


def test_the_experiment_measures_both_batches_and_reports_the_gate(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path: Path
) -> None:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it

    told: list[str] = []
    with running_stack(postgres, migrated_template, tmp_path / "stack") as stack:
        outcome = loop_demo.run(stack, TINY, told.append)

    first, second = outcome.batches
    assert (first.label, second.label) == ("batch 1", "batch 2")
    assert first.images == second.images == TINY.images
    # The shipped model pre-annotated batch 1, and the annotator moved its limbs to the house style
    assert first.model == "yolo11n-pose 8.4"
    assert first.posed == TINY.images
    assert first.mean_correction_px is not None
    assert first.mean_correction_px > 0
    assert first.untouched_share is not None
    assert 0 < first.untouched_share < 1
    assert second.mean_correction_px is not None
    assert second.untouched_share is not None

    # The trigger started the run by itself; both models were evaluated on the held-out split
    gate = outcome.gate
    assert gate is not None
    assert (gate.trigger, gate.status, gate.error) == ("COUNT", "REFUSED", None), gate
    assert gate.candidate_ap is not None
    assert gate.incumbent_ap is not None
    assert gate.candidate_ap < gate.incumbent_ap
    assert gate.verdict is not None
    assert "below δ" in gate.verdict
    assert gate.test_images
    assert gate.train_images
    # and batch 2 was pre-annotated by the default the gate kept
    assert second.model == "yolo11n-pose 8.4"

    out = Console(record=True, width=160)
    show(outcome, out)
    printed = out.export_text()
    assert f"{first.mean_correction_px:.2f} px" in printed
    assert f"{second.mean_correction_px:.2f} px" in printed
    assert "REFUSED" in printed
    assert f"{gate.candidate_ap:.4f}" in printed
    assert any("batch 2: corrections and verification" in line for line in told)
