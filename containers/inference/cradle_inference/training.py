"""Fine-tuning a YOLO pose model on a Cradle YOLO pose export, with Ultralytics, offline.

The export's ZIP is unpacked as it is (its data.yaml has no `path`, so its own folder is the
dataset root), the base weights come from the same places inference takes them (package:, s3://,
a path), and Ultralytics trains with plots off. Nothing may reach the network: Ultralytics is
imported after `cradle_inference` made it offline, and the one file it would still fetch (a font
for plot labels, looked for by every dataset check, plots or not) is provided from matplotlib's own
fonts. Progress goes to the reporter once per epoch; a cancel marker stops training between batches.
The best weights (by Ultralytics' fitness on the validation split) are uploaded to the spec's
`output_weights`.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from cradle_inference.job_io import JobCancelled, Reporter, UriStore
from cradle_inference.weights import resolve_weights
from cradlepose.domain.jobs import TrainingHyperparameters, TrainingOutcome, TrainingSpec

FONT_NAME = "Arial.ttf"
PINNED_OPTIMIZER = "SGD"  # when the hyperparameters give lr0: see training_options


def train(spec: TrainingSpec, store: UriStore, reporter: Reporter) -> TrainingOutcome:
    workdir = Path(tempfile.mkdtemp(prefix=f"cradle-training-{spec.job_id}-"))
    try:
        reporter.progress(0, "fetching the dataset export", force=True)
        archive = workdir / "dataset.zip"
        store.download(spec.dataset_archive, archive)
        data_yaml = _unpack(archive, workdir / "data")
        archive.unlink()
        weights = resolve_weights(spec.base_weights)
        reporter.progress(2, f"training from {spec.base_weights}", force=True)
        return _fit(spec, store, reporter, data_yaml, weights, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _unpack(archive: Path, target: Path) -> Path:
    with zipfile.ZipFile(archive) as bundle:
        for name in bundle.namelist():
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts:
                raise ValueError(f"the archive member {name!r} would leave the dataset folder")
        bundle.extractall(target)  # every member name was checked just above
    data_yaml = target / "data.yaml"
    if not data_yaml.is_file():
        raise ValueError("the archive is not a YOLO pose export: it has no data.yaml")
    return data_yaml


class TrainerEpoch(Protocol):
    """What epoch_progress reads of an Ultralytics trainer (0-based epoch, losses of the epoch)."""

    epoch: int
    epochs: int
    tloss: Any

    def label_loss_items(self, loss_items: Any = None, prefix: str = "train") -> dict[str, Any] | None: ...


def epoch_progress(trainer: TrainerEpoch, trained_epoch: int | None) -> tuple[float, str] | None:
    """The progress and log line of an epoch's end, or None for Ultralytics' final validation.

    Ultralytics also runs the on_fit_epoch_end callbacks after training, once it has validated the
    best weights, with its epoch counter raised by one ("log best metrics at step epochs+1"): read
    as an epoch, that pass would say "epoch 2/1". Only the training loop runs batches, so the pass
    whose epoch is not the one whose batches ran last (`trained_epoch`) is that final validation.
    """
    if trained_epoch is None or trainer.epoch != trained_epoch:
        return None
    epoch = trainer.epoch + 1
    losses = ", ".join(
        f"{k} {float(v):.4f}" for k, v in (trainer.label_loss_items(trainer.tloss) or {}).items()
    )
    return 2 + 95 * epoch / trainer.epochs, f"epoch {epoch}/{trainer.epochs}: {losses}"


def provide_font() -> None:
    """Ultralytics' dataset check wants a plot font and downloads it when missing; give it a local one."""
    from matplotlib import font_manager  # noqa: PLC0415 - Ultralytics' own dependency
    from ultralytics.utils import USER_CONFIG_DIR  # noqa: PLC0415

    target = Path(USER_CONFIG_DIR) / FONT_NAME
    if target.exists():
        return
    source = font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans"), fallback_to_default=True
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def training_options(
    hyper: TrainingHyperparameters, data_yaml: Path, device: str, workdir: Path
) -> dict[str, Any]:
    """What `YOLO.train` is given for these hyperparameters."""
    options: dict[str, Any] = {
        "data": str(data_yaml),
        "epochs": hyper.epochs,
        "imgsz": hyper.imgsz,
        "batch": hyper.batch,
        "patience": hyper.patience,
        "seed": hyper.seed,
        "workers": hyper.workers,
        "device": device,
        "project": str(workdir / "runs"),
        "name": "train",
        "exist_ok": True,
        "plots": False,
        "verbose": False,
        "amp": device != "cpu",  # AMP is a GPU matter; its check would fetch a model otherwise
    }
    for name in ("lr0", "freeze", "mosaic"):
        if getattr(hyper, name) is not None:
            options[name] = getattr(hyper, name)
    if hyper.lr0 is not None:
        # Ultralytics' optimizer=auto (its default) picks the optimizer and its learning rate itself
        # and ignores lr0 (its trainer's build_optimizer). A given lr0 pins the optimizer its
        # default lr0 (0.01) is meant for: SGD (Adam/AdamW want about 1e-3).
        options["optimizer"] = PINNED_OPTIMIZER
    return options


def _fit(
    spec: TrainingSpec, store: UriStore, reporter: Reporter, data_yaml: Path, weights: Path, workdir: Path
) -> TrainingOutcome:
    import torch  # noqa: PLC0415 - only jobs load torch
    from ultralytics.models.yolo.model import YOLO  # noqa: PLC0415

    provide_font()
    hyper = spec.hyperparameters
    device = hyper.device or ("0" if torch.cuda.is_available() else "cpu")
    model = YOLO(str(weights), task="pose")
    state: dict[str, Any] = {"cancelled": False}

    def on_batch_end(trainer: Any) -> None:
        state["trained_epoch"] = trainer.epoch  # only the loop trains: see epoch_progress
        if reporter.cancelled():
            state["cancelled"] = True
            trainer.stop = True  # Ultralytics stops between batches and still saves what it has

    def on_epoch_end(trainer: Any) -> None:
        progress = epoch_progress(trainer, state.get("trained_epoch"))
        if progress is not None:
            reporter.progress(*progress, force=True)

    model.add_callback("on_train_batch_end", on_batch_end)
    model.add_callback("on_fit_epoch_end", on_epoch_end)
    model.train(**training_options(hyper, data_yaml, device, workdir))
    if state["cancelled"]:
        raise JobCancelled("training stopped on request")
    trainer: Any = model.trainer
    best = Path(trainer.best) if Path(trainer.best).is_file() else Path(trainer.last)
    reporter.progress(98, f"uploading {best.name} to {spec.output_weights}", force=True)
    store.upload(best, spec.output_weights)
    metrics = {str(k): float(v) for k, v in (trainer.metrics or {}).items()}
    return TrainingOutcome(
        weights_uri=spec.output_weights,
        epochs_completed=int(trainer.epoch) + 1,
        metrics=metrics,
        keypoint_count=int(trainer.data["kpt_shape"][0]),
    )
