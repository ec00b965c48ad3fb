"""What Ultralytics is given to fine-tune: a policy's lr0 must reach the optimizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cradle_inference.training import PINNED_OPTIMIZER, training_options
from cradlepose.domain.jobs import TrainingHyperparameters

pytestmark = pytest.mark.unit


def test_a_given_lr0_pins_the_optimizer_so_ultralytics_uses_it(tmp_path: Path) -> None:
    hyper = TrainingHyperparameters(epochs=3, imgsz=64, batch=4, lr0=0.003, seed=7)

    options = training_options(hyper, tmp_path / "data.yaml", "cpu", tmp_path)

    # optimizer=auto (Ultralytics' default) would replace lr0 with its own choice
    assert options["optimizer"] == PINNED_OPTIMIZER == "SGD"
    assert options["lr0"] == 0.003
    assert (options["epochs"], options["imgsz"], options["batch"], options["seed"]) == (3, 64, 4, 7)
    assert options["data"] == str(tmp_path / "data.yaml")
    assert options["amp"] is False


def test_without_lr0_ultralytics_chooses_the_optimizer_and_its_rate(tmp_path: Path) -> None:
    options = training_options(TrainingHyperparameters(), tmp_path / "data.yaml", "0", tmp_path)

    assert "optimizer" not in options
    assert "lr0" not in options
    assert options["amp"] is True


def test_the_pinned_optimizer_is_the_one_ultralytics_default_lr0_is_meant_for() -> None:
    from ultralytics.cfg import get_cfg  # noqa: PLC0415 - Ultralytics' own defaults, read offline

    # default.yaml: "lr0: 0.01 # initial learning rate (SGD=1e-2, Adam/AdamW=1e-3)"; the policy's
    # default lr0 is the same 0.01, so SGD is what it implies
    assert get_cfg().lr0 == 0.01
