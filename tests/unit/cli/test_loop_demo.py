"""The loop experiment's pure parts: the correction measure, the simulated annotator, the house
style, and the table `cradle loop-demo` prints."""

from __future__ import annotations

import io
import random
import sys
import threading
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cradle_workstation.cli.loop_demo import show, stack_logged_to
from cradle_workstation.demo.loop_demo import (
    TOLERANCE_PX,
    BatchFigures,
    GateFigures,
    Outcome,
    Settings,
    corrected,
    correction_of,
)
from cradle_workstation.demo.loop_pictures import HOUSE_STYLE_PX, house_style


def _point(id_: int, x: float, y: float, visible: int = 2) -> dict[str, Any]:
    return {"id": id_, "name": f"k{id_}", "x": x, "y": y, "visible": visible}


def test_correction_of_measures_moved_keypoints_and_counts_the_untouched() -> None:
    model = [_point(0, 10, 10), _point(1, 20, 20), _point(2, 30, 30, visible=1), _point(3, 0, 0, visible=0)]
    submitted = [
        _point(0, 10, 10),  # untouched
        _point(1, 23, 24),  # moved 5 px
        _point(2, 30.2, 30, visible=2),  # within the tolerance, but its flag changed: touched
        _point(3, 5, 5),  # added: the model had not labelled it, so no distance
    ]
    measured = correction_of(model, submitted)
    assert measured.model_keypoints == 3
    assert measured.paired == 3
    assert measured.distance_sum == pytest.approx(5.2)
    assert measured.untouched == 1


def test_a_removed_keypoint_has_no_distance() -> None:
    measured = correction_of([_point(0, 10, 10), _point(1, 50, 50)], [_point(0, 10, 10), _point(1, 0, 0, 0)])
    assert (measured.model_keypoints, measured.paired, measured.distance_sum, measured.untouched) == (
        2,
        1,
        0.0,
        1,
    )


def test_the_annotator_leaves_what_is_close_and_moves_the_rest_onto_the_reference() -> None:
    reference = [_point(0, 10, 10), _point(1, 20, 20), _point(2, 30, 30, visible=1), _point(3, 40, 40)]
    model = [
        _point(0, 10 + TOLERANCE_PX / 2, 10),  # close enough: stays
        _point(1, 20, 20 + 2 * TOLERANCE_PX),  # too far: onto the reference
        _point(2, 30, 30, visible=2),  # in place, but the reference says occluded
        _point(3, 40, 40, visible=0),  # the model did not label it: placed at the reference
    ]
    result = {k["id"]: k for k in corrected(model, reference)}
    assert (result[0]["x"], result[0]["y"], result[0]["visible"]) == (10 + TOLERANCE_PX / 2, 10, 2)
    assert (result[1]["x"], result[1]["y"]) == (20, 20)
    assert (result[2]["x"], result[2]["y"], result[2]["visible"]) == (30, 30, 1)
    assert (result[3]["x"], result[3]["y"], result[3]["visible"]) == (40, 40, 2)
    assert correction_of(model, list(result.values())).untouched == 1


def test_the_house_style_offsets_each_joint_labels_every_keypoint_and_stays_in_the_picture() -> None:
    predicted = [_point(i, 100, 100, visible=0 if i == 16 else 2) for i in range(17)]
    predicted[15] = _point(15, 100, 119.5)  # near the bottom edge of a 120 px high picture
    reference = {k["id"]: k for k in house_style(predicted, 200, 120, random.Random(0))}
    for joint in (0, 11):
        dx, dy = HOUSE_STYLE_PX[joint]
        assert reference[joint]["x"] == pytest.approx(100 + dx, abs=5)  # noise of 1 px: 5 σ
        assert reference[joint]["y"] == pytest.approx(100 + dy, abs=5)
    assert HOUSE_STYLE_PX[11][1] > 0  # the hips do sit lower in the house style
    assert reference[15]["y"] <= 119
    assert reference[16]["visible"] == 1  # what the model thought absent is placed, occluded
    assert house_style(predicted, 200, 120, random.Random(0)) == list(reference.values())  # seeded


def test_the_table_shows_both_batches_and_the_gate() -> None:
    outcome = Outcome(
        Settings(images=4, epochs=1, imgsz=64),
        batches=[
            BatchFigures("batch 1", 1, "yolo11n-pose 8.4", 4, 4, 50, 50, 3.456, 0.25),
            BatchFigures("batch 2", 2, "yolo11n-pose-loop loop-1", 4, 0, 0, 0, None, None),
        ],
        gate=GateFigures(
            7, "COUNT", "REFUSED", 2, 1, 0.1234, 0.7, "refused: the gain is below δ", None, 3, 1, 2.5
        ),
    )
    out = Console(record=True, width=160)
    show(outcome, out)
    text = out.export_text()
    for shown in ("batch 1", "batch 2", "3.46 px", "25.0%", "yolo11n-pose-loop loop-1", "REFUSED", "0.1234",
                  "0.7000", "1 / 3", "the gain is below δ"):  # fmt: skip
        assert shown in text, shown


def test_what_the_stacks_threads_print_goes_to_the_log_and_the_rest_to_the_terminal(tmp_path: Path) -> None:
    terminal = io.StringIO()
    with redirect_stdout(terminal), stack_logged_to(tmp_path / "stack.log"):
        sys.stdout.write("the experiment's own account\n")
        job = threading.Thread(target=sys.stdout.write, args=("epoch 1/5\n",), name="cradle-job-training-1")
        job.start()
        job.join()
    assert terminal.getvalue() == "the experiment's own account\n"
    assert (tmp_path / "stack.log").read_text() == "epoch 1/5\n"
