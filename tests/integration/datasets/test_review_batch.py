"""Given an inference job that evaluated a model on a dataset split, when an admin turns it into a
review batch, then a READY_FOR_ANNOTATION batch exists whose images start from that model's
keypoints (rounded where stored), once per job, audited; nothing else may do it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest

from cradlepose.adapters.job_runner import JobLaunch
from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import JobStatus, Visibility
from cradlepose.domain.inference import DetectedPerson, ImageResult, PredictedKeypoint
from cradlepose.domain.jobs import JOB_SPEC, InferenceJobSpec, InferenceOutcome, JobReport
from tests.datasets_support import VerifiedBatch
from tests.integration.datasets.conftest import make_dataset
from tests.support import ApiClient, Persona
from triggers import datasets as workers

pytestmark = pytest.mark.integration
OFFSET = 6.123456  # the model's error, in pixels, to the right


class PredictingRunner:
    """Answers an inference job at once: predictions (written where the job says) = truth + OFFSET."""

    name = "predicting"

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")

    def _put(self, uri: str, body: bytes) -> None:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)

    def start(self, launch: JobLaunch) -> str:
        bucket, key = launch.spec_uri.removeprefix("s3://").split("/", 1)
        spec = JOB_SPEC.validate_json(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert isinstance(spec, InferenceJobSpec)
        assert spec.evaluation is not None
        results = []
        for truth in spec.evaluation.truth:
            keypoints = [
                PredictedKeypoint(
                    id=k.id,
                    x=min(truth.width, k.x + OFFSET),
                    y=k.y,
                    confidence=0.8,
                    visible=Visibility.VISIBLE,
                )
                for k in truth.keypoints.keypoints
                if k.is_labelled
            ]
            person = DetectedPerson(
                box=[0.0, 0.0, float(truth.width), float(truth.height)], score=0.77, keypoints=keypoints
            )
            results.append(ImageResult(image_id=truth.image_id, key="-", ok=True, persons=[person], best_person=0,
                                       yolo_confidence=0.77, processing_time_ms=12))  # fmt: skip
        self._put(spec.predictions_uri, "\n".join(r.model_dump_json() for r in results).encode())
        report = JobReport(
            job_id=spec.job_id, kind="inference", state=JobStatus.COMPLETED, progress=100,
            updated_at=dt.datetime.now(dt.UTC),
            inference=InferenceOutcome(images=len(results), ok=len(results), failed=0, persons=len(results),
                                       predictions_uri=spec.predictions_uri),
        )  # fmt: skip
        self._put(spec.status_uri, report.model_dump_json().encode())
        return f"predicting-{spec.job_id}"

    def stop(self, run_id: str) -> None:
        pass

    def status(self, run_id: str) -> Any:
        return None


def test_an_inference_jobs_predictions_become_a_batch_to_review(
    api: ApiClient,
    admin: Persona,
    verifier: Persona,
    annotator: Persona,
    verified: VerifiedBatch,
    uow_factory: UnitOfWorkFactory,
) -> None:
    model = api.post("/models", admin, body={
        "model_name": "infant-pose", "version": "3.0", "keypoint_schema_id": verified.schema_id,
        "model_path": "s3://models/infant-pose-3.pt",
    })  # fmt: skip
    assert model.status == 201, model.body
    dataset = make_dataset(
        api, verifier, verified.schema_id, fractions={"train": 0, "validation": 0, "test": 1}
    )
    queued = api.post("/inference-jobs", verifier, body={
        "model_id": model.json["id"], "evaluation": {"dataset_id": dataset["id"], "split": "test"},
    })  # fmt: skip
    assert queued.status == 202, queued.body
    job_id = queued.json["id"]
    path = f"/inference-jobs/{job_id}/review-batch"
    assert api.post(path, admin, body={}).status == 409  # not run yet: nothing to review

    workers.run_ml_jobs({}, step_context("schedule:test"), uow_factory, S3Storage(), PredictingRunner())
    assert api.get(f"/inference-jobs/{job_id}", verifier).json["status"] == "COMPLETED"
    assert api.post(path, verifier, body={}).status == 403
    assert api.post(path, annotator, body={}).status == 403

    created = api.post(path, admin, body={"batch_name": "review infant-pose 3.0"})
    assert created.status == 201, created.body
    out = created.json
    assert (out["images"], out["pre_annotated"], out["status"]) == (6, 6, "READY_FOR_ANNOTATION")
    batch = api.get(f"/batches/{out['batch_id']}", admin).json
    assert (batch["batch_name"], batch["status"], batch["yolo_model_version"]) == (
        "review infant-pose 3.0", "READY_FOR_ANNOTATION", "3.0",
    )  # fmt: skip
    by_name = {
        i["original_filename"]: i["id"]
        for i in api.get(f"/batches/{verified.batch_id}/images", admin).json["items"]
    }
    review = api.get(f"/batches/{out['batch_id']}/images", admin).json["items"]
    assert len(review) == 6
    width = verified.size[0]
    for image in review:
        detail = api.get(f"/images/{image['id']}", admin).json
        assert detail["status"] == "YOLO_PROCESSED"
        source_id = by_name[image["original_filename"]]
        assert image["id"] != source_id
        approved = {k["id"]: k for k in verified.keypoints[source_id]["keypoints"] if k["visible"]}
        predicted = detail["yolo_keypoints"]["keypoints"]
        assert {k["id"] for k in predicted} == set(approved)
        for k in predicted:  # the model's keypoints, rounded once where stored
            assert k["x"] == round(min(width, approved[k["id"]]["x"] + OFFSET), 2)
    assert api.post(path, admin, body={}).status == 409  # once per job
    logged = api.get("/audit-logs", admin, query={"action": "REVIEW_BATCH_CREATED"}).json["items"]
    assert [row["resource_id"] for row in logged] == [out["batch_id"]]
