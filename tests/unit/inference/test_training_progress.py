"""A training job's log says each epoch once, as Ultralytics' trainer runs its callbacks.

Ultralytics runs on_fit_epoch_end once per epoch in its loop, and once more after the loop (its
final_eval: `epoch += 1; run_callbacks("on_fit_epoch_end"); epoch -= 1`), which used to read
"epoch 2/1" in the log.
"""

from __future__ import annotations

from typing import Any

import pytest

from cradle_inference.training import epoch_progress

pytestmark = pytest.mark.unit


class _Trainer:
    """Ultralytics' trainer as the callbacks see it: a 0-based epoch, the epochs, the epoch's losses."""

    def __init__(self, epochs: int) -> None:
        self.epoch = 0
        self.epochs = epochs
        self.tloss: Any = None

    def label_loss_items(self, loss_items: Any = None, prefix: str = "train") -> dict[str, Any] | None:
        if loss_items is None:
            return None
        return {
            f"{prefix}/{name}": value
            for name, value in zip(("box_loss", "pose_loss"), loss_items, strict=True)
        }


def _run(epochs: int, stop_after: int | None = None) -> list[tuple[float, str]]:
    """The reporter's lines of a run, the callbacks called in Ultralytics' order."""
    trainer = _Trainer(epochs)
    lines: list[tuple[float, str]] = []
    trained: int | None = None

    def fit_epoch_end() -> None:
        progress = epoch_progress(trainer, trained)
        if progress is not None:
            lines.append(progress)

    for epoch in range(epochs if stop_after is None else stop_after):
        trainer.epoch = epoch
        trained = trainer.epoch  # on_train_batch_end
        trainer.tloss = (1.0 / (epoch + 1), 2.0 / (epoch + 1))
        fit_epoch_end()
    trainer.epoch += 1  # final_eval
    fit_epoch_end()
    trainer.epoch -= 1
    return lines


def test_a_one_epoch_run_reports_epoch_1_of_1_once() -> None:
    assert _run(1) == [(97.0, "epoch 1/1: train/box_loss 1.0000, train/pose_loss 2.0000")]


def test_each_epoch_is_reported_once_in_order_and_the_final_validation_is_not_an_epoch() -> None:
    lines = _run(3)
    assert [message.split(":")[0] for _, message in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert [round(progress, 4) for progress, _ in lines] == [round(2 + 95 * n / 3, 4) for n in (1, 2, 3)]


def test_an_early_stop_ends_the_log_at_the_last_epoch_trained() -> None:
    # patience ran out after two of five epochs: the final validation's pass would read "epoch 3/5"
    lines = _run(5, stop_after=2)
    assert [message.split(":")[0] for _, message in lines] == ["epoch 1/5", "epoch 2/5"]


def test_no_epoch_is_reported_before_any_batch_ran() -> None:
    assert epoch_progress(_Trainer(2), None) is None


def test_an_epoch_without_losses_still_says_which_it_is() -> None:
    trainer = _Trainer(2)
    assert epoch_progress(trainer, 0) == (2 + 95 / 2, "epoch 1/2: ")
