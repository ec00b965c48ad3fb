"""Pose anomaly screening end to end on the embedded PostgreSQL (pgvector) and moto's S3.

Training with progress and a validation report, analyses of one annotation and of a batch (twice),
refusals as 409 problem documents, nearest poses through the HNSW index, the pipeline step, and an
image uploaded through the forms scored by the age its uploader gave.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from PIL import Image
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.adapters.storage import S3Storage
from cradlepose.anomaly import training as anomaly_training
from cradlepose.common.system import SYSTEM, step_context
from cradlepose.db.anomaly_repositories import PoseEmbeddingRepository
from cradlepose.db.models import Annotation, AnomalyTrainingJob, BatchAssignment
from cradlepose.db.models import Image as ImageRow
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain import band_training, pose_embedding, synthetic_poses
from cradlepose.domain.enums import AnnotationStatus, AnomalyTrainingStatus, AssignmentStatus, ImageStatus
from cradlepose.domain.synthetic_poses import SyntheticPoses
from tests.anomaly_support import keypoints_payload
from tests.intake_support import upload_batch
from tests.integration.anomaly.conftest import CONFIG, CONTEXT, World, train
from tests.support import ApiClient, Persona
from triggers import anomaly as anomaly_step

pytestmark = pytest.mark.integration

STEP = step_context("states:AnalysePoses")


def _rows(engine: sa.Engine, table: str) -> list[Any]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))]


def _actions(engine: sa.Engine, prefix: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT action, new_values FROM audit_logs WHERE action LIKE :p ORDER BY id"),
            {"p": prefix + "%"},
        )
        return [{"action": a, "new": n} for a, n in rows]


def test_training_reports_progress_validation_auc_and_refuses_the_small_band(
    trained: World, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # Given verified poses in three age bands (6–12 months with only 8) trained on
    assert trained.job_id is not None
    with uow_factory(SYSTEM) as uow:
        job = anomaly_training.get_job(uow, trained.job_id)

    # Then the job completed, with what it saw
    assert job.status is AnomalyTrainingStatus.COMPLETED
    assert job.progress == 1.0
    assert job.dataset is not None
    assert job.dataset["verified_poses"] == job.dataset["embedded"] == len(trained.reference.annotation_ids)
    assert job.dataset["dimension"] == pose_embedding.DIMENSION == 67
    assert "not a diagnosis" in job.notice

    # And it reported its progress as it went, each step committed and audited
    progress = [row["new"]["progress"] for row in _actions(engine, "ANOMALY_TRAINING_PROGRESS")]
    assert len(progress) == 4  # embedded, then one per band
    assert progress == sorted(progress)
    assert [r["action"] for r in _actions(engine, "ANOMALY_")][:2] == [
        "ANOMALY_TRAINING_REQUESTED",
        "ANOMALY_TRAINING_STARTED",
    ]
    assert _actions(engine, "ANOMALY_MODELS_TRAINED")

    # And the report validates on held-out infants, with ROC AUC from the expert labels
    report = job.report
    assert report is not None
    assert report.roc_auc is not None
    assert report.roc_auc >= 0.9
    assert report.labelled_count > 0
    by_band = {b.label: b for b in report.bands}
    assert by_band["0–3 months"].status == by_band["3–6 months"].status == "trained"
    for band in ("0–3 months", "3–6 months"):
        assert by_band[band].validation_samples > 0
        assert by_band[band].threshold is not None
    small = by_band["6–12 months"]
    assert small.status == "refused"
    assert small.refusal is not None
    assert re.search(
        r"6–12 months has only [0-8] verified typical poses .*at least 30 are needed", small.refusal
    )

    # And the report file is in the derived bucket, saying what it is
    body = boto3.client("s3").get_object(Bucket="cradle-derived", Key=report.report_file_path)["Body"].read()
    document = json.loads(body)
    assert "not a diagnosis" in document["notice"]
    assert document["roc_auc"] == report.roc_auc

    # And every reference pose has its embedding, under the recipe's name and version
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "SELECT embedding_model, embedding_version, dimension, count(*) FROM pose_embeddings GROUP BY 1, 2, 3"
            )
        ).all()
    assert [tuple(r) for r in stored] == [("pose-geometry", "1", 67, len(trained.reference.annotation_ids))]


def test_analysing_a_batch_twice_gives_the_same_rows(
    trained: World, uow_factory: UnitOfWorkFactory, engine: sa.Engine
) -> None:
    # When the pipeline's step analyses the freshly verified batch
    first = anomaly_step.run_analyse_batch(
        {"batch_id": trained.fresh.batch_id}, STEP, uow_factory, S3Storage()
    )
    tables = ("anomaly_analyses", "interpretability_results", "pose_embeddings")
    before = {t: _rows(engine, t) for t in tables}

    # Then the 0–3 month poses are analysed and the others refused with their reasons
    assert first == {"batch_id": trained.fresh.batch_id, "analysed": 6, "unchanged": 0,
                     "anomalies": first["anomalies"], "refused": 3}  # fmt: skip

    # When it runs again (Step Functions delivers at least once)
    again = anomaly_step.run_analyse_batch(
        {"batch_id": trained.fresh.batch_id}, STEP, uow_factory, S3Storage()
    )

    # Then nothing new is written: the same rows, one audit row for the one change
    assert again == {**first, "analysed": 0, "unchanged": 6}
    assert {t: _rows(engine, t) for t in tables} == before
    assert len(_actions(engine, "ANOMALY_BATCH_ANALYSED")) == 1


def test_a_band_with_too_few_samples_is_refused_with_409(
    trained: World, api: ApiClient, verifier: Persona
) -> None:
    in_small_band = trained.fresh.annotation_ids[trained.fresh_bands.index("6-12")]
    response = api.post("/anomaly/analyses", verifier, body={"annotation_id": in_small_band})
    assert response.status == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert re.search(r"6–12 months has only [0-8] verified typical poses", response.json["detail"])
    assert "refuses to score rather than guess" in response.json["detail"]

    without_age = trained.fresh.annotation_ids[trained.fresh_bands.index("no age")]
    response = api.post("/anomaly/analyses", verifier, body={"annotation_id": without_age})
    assert response.status == 409
    assert "no usable infant_metadata.age_months" in response.json["detail"]


def test_before_any_training_analyses_are_refused_and_the_step_skips(
    world: World, api: ApiClient, admin: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    response = api.post("/anomaly/analyses", admin, body={"annotation_id": world.fresh.annotation_ids[0]})
    assert response.status == 409
    assert "no trained age-group model covers" in response.json["detail"]
    response = api.post("/anomaly/batch-analyses", admin, body={"batch_id": world.fresh.batch_id})
    assert response.status == 409
    assert f"no verified pose of batch {world.fresh.batch_id} could be analysed" in response.json["detail"]
    # The pipeline's step never fails a batch for it.
    result = anomaly_step.run_analyse_batch(
        {"batch_id": world.fresh.batch_id}, STEP, uow_factory, S3Storage()
    )
    assert "no trained age-group model covers" in result["skipped"]


def test_one_analysis_over_http_explains_itself(trained: World, api: ApiClient, verifier: Persona) -> None:
    annotation_id = trained.fresh.annotation_ids[0]

    # When a researcher analyses a verified annotation, twice
    first = api.post("/anomaly/analyses", verifier, body={"annotation_id": annotation_id})
    again = api.post("/anomaly/analyses", verifier, body={"annotation_id": annotation_id})

    # Then it is scored once, with its explanation and the notice of what it is
    assert first.status == again.status == 200
    analysis = first.json
    assert again.json["id"] == analysis["id"]
    assert analysis["age_band"] == "0–3 months"
    assert 0 <= analysis["normalized_score"] <= 1
    assert 0 < analysis["confidence"] <= 1
    assert analysis["observed_features"] == len(pose_embedding.MODEL_FEATURES)
    assert "not a diagnosis" in analysis["notice"]
    assert analysis["explanation"].startswith("Research aid, not a diagnosis.")
    shares = {j["joint"]: j["share"] for j in analysis["joint_importances"]}
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert analysis["top_joints"][0] == max(shares, key=lambda j: shares[j])
    for joint in analysis["top_joints"]:
        assert joint.replace("_", " ") in analysis["explanation"]
    if trained.fresh_poses.atypical[0] and analysis["is_anomaly"]:
        assert analysis["top_joints"][0] in trained.fresh_poses.perturbed[0]

    # And its overlay is a PNG in the derived bucket, linked for a short while
    png = (
        boto3.client("s3")
        .get_object(Bucket="cradle-derived", Key=analysis["overlay_image_path"])["Body"]
        .read()
    )
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert analysis["overlay_url"].startswith("https://")

    # And it reads back, alone and in filtered lists
    assert (
        api.get(f"/anomaly/analyses/{analysis['id']}", verifier).json["explanation"]
        == analysis["explanation"]
    )
    listed = api.get("/anomaly/analyses", verifier, query={"batch_id": str(trained.fresh.batch_id)}).json
    assert [a["id"] for a in listed["items"]] == [analysis["id"]]
    other_verdict = "false" if analysis["is_anomaly"] else "true"
    filtered = api.get("/anomaly/analyses", verifier, query={"anomalous": other_verdict}).json
    assert filtered["items"] == []
    models = api.get("/anomaly/models", verifier).json
    assert [(m["label"], m["refusal"] is None) for m in models] == [
        ("6–12 months", False), ("3–6 months", True), ("0–3 months", True),
    ]  # fmt: skip


def test_a_verified_pose_is_given_with_its_labelled_keypoints_to_draw_it(
    trained: World, api: ApiClient, verifier: Persona
) -> None:
    stored = trained.fresh
    annotation_id = stored.annotation_ids[3]

    # When a researcher asks for a stored verified pose (the web UI draws it beside its neighbours)
    response = api.get(f"/anomaly/poses/{annotation_id}", verifier)

    # Then it comes with its frame and exactly its labelled keypoints, in pixels
    assert response.status == 200, response.body
    pose = response.json
    assert (pose["annotation_id"], pose["image_id"], pose["batch_id"]) == (
        annotation_id, stored.image_ids[3], stored.batch_id,
    )  # fmt: skip
    assert pose["width"] == pose["height"] == synthetic_poses.IMAGE_SIZE
    expected = {
        k["name"]: (k["x"], k["y"])
        for k in keypoints_payload(trained.fresh_poses, 3)["keypoints"]  # type: ignore[attr-defined]
        if k["visible"]
    }
    assert expected
    given = {k["name"]: (k["x"], k["y"]) for k in pose["keypoints"]}
    assert sorted(given) == sorted(expected)
    for name, (x, y) in expected.items():
        assert given[name] == (pytest.approx(x), pytest.approx(y)), name
    assert pose["notice"]  # the research notice every anomaly answer carries

    # And a pose that is not verified is refused with the reason
    assert api.get("/anomaly/poses/999999", verifier).status == 404


def test_the_nearest_pose_is_the_pose_itself_through_the_hnsw_index(
    trained: World, api: ApiClient, admin: Persona, engine: sa.Engine
) -> None:
    annotation_id = trained.reference.annotation_ids[17]

    # When a researcher asks for the poses most like a stored one
    response = api.get(f"/anomaly/similar-poses/{annotation_id}", admin, query={"limit": "5"})

    # Then the pose itself comes first, at distance 0, then its neighbours, nearest first
    assert response.status == 200, response.body
    neighbours = response.json["neighbours"]
    assert neighbours[0]["annotation_id"] == annotation_id
    assert neighbours[0]["distance"] == pytest.approx(0.0, abs=1e-5)
    assert len(neighbours) == 5
    distances = [n["distance"] for n in neighbours]
    assert distances == sorted(distances)
    assert response.json["dimension"] == 67

    # And the query is one the recipe's HNSW index answers (on a table this small the planner may
    # prefer the btree on the recipe and a sort, by a hair: both are switched off to ask the question)
    statement = PoseEmbeddingRepository.nearest_statement([0.0] * 67, "pose-geometry", "1", 67, 5)
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        conn.execute(sa.text("SET LOCAL enable_sort = off"))
        plan = "\n".join(conn.scalars(sa.text("EXPLAIN " + sql)))
    assert "idx_pose_embedding_hnsw_pose_geometry_v1" in plan


def test_training_is_for_admins_one_waits_at_a_time_and_the_worker_runs_it(
    world: World, api: ApiClient, admin: Persona, verifier: Persona, uow_factory: UnitOfWorkFactory
) -> None:
    body = {"job_name": "cohort A", "config": {**CONFIG, "batch_ids": [world.reference.batch_id]}}
    assert api.post("/anomaly/training-jobs", verifier, body=body).status == 403
    queued = api.post("/anomaly/training-jobs", admin, body=body)
    assert queued.status == 201
    assert queued.json["status"] == "QUEUED"
    assert queued.json["progress"] == 0
    second = api.post("/anomaly/training-jobs", admin, body=body)
    assert second.status == 409
    assert "already queued" in second.json["detail"]
    overlapping = api.post("/anomaly/training-jobs", admin, body={"config": {"bands": [
        {"age_min": 0, "age_max": 4}, {"age_min": 3, "age_max": 6}]}})  # fmt: skip
    assert overlapping.status == 422

    # When the scheduled worker runs
    ran = anomaly_step.run_training_worker({}, CONTEXT, uow_factory, S3Storage())

    # Then the job is done and reads back with its report; a second run finds nothing to do
    assert ran == {"job_id": queued.json["id"], "status": "COMPLETED", "error": None}
    detail = api.get(f"/anomaly/training-jobs/{queued.json['id']}", verifier).json
    assert detail["progress"] == 1.0
    assert detail["report"]["roc_auc"] >= 0.9
    assert api.get("/anomaly/training-jobs", verifier).json["items"][0]["id"] == queued.json["id"]
    assert anomaly_step.run_training_worker({}, CONTEXT, uow_factory, S3Storage()) == {"job_id": None}


def test_a_failed_training_changes_no_model_and_a_silent_job_is_failed(
    trained: World,
    uow_factory: UnitOfWorkFactory,
    admin: Persona,
    engine: sa.Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models_before = _rows(engine, "age_group_models")

    def broken(*args: object, **kwargs: object) -> band_training.BandOutcome:
        raise RuntimeError("the band would not fit")

    monkeypatch.setattr(band_training, "train_band", broken)
    job_id = train(uow_factory, admin)
    with uow_factory(SYSTEM) as uow:
        job = anomaly_training.get_job(uow, job_id)
    assert job.status is AnomalyTrainingStatus.FAILED
    assert job.error_message == "RuntimeError: the band would not fit"
    assert _rows(engine, "age_group_models") == models_before

    # A RUNNING job that stopped reporting (its worker was killed) is failed by the next run.
    with uow_factory(SYSTEM) as uow:
        stuck = uow.anomaly_jobs.add(
            AnomalyTrainingJob(job_name="stuck", config={}, status=AnomalyTrainingStatus.RUNNING)
        )
        stuck.updated_at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        uow.session.commit()
        stuck_id = stuck.id
    assert anomaly_training.run_next(uow_factory, S3Storage(), CONTEXT) is None
    with uow_factory(SYSTEM) as uow:
        failed = anomaly_training.get_job(uow, stuck_id)
    assert failed.status is AnomalyTrainingStatus.FAILED
    assert failed.error_message is not None
    assert "the worker stopped" in failed.error_message


def test_an_uploaded_image_is_scored_by_the_age_its_uploader_gave(
    trained: World,
    api: ApiClient,
    admin: Persona,
    annotator: Persona,
    verifier: Persona,
    session_factory: sessionmaker[Session],
    uow_factory: UnitOfWorkFactory,
) -> None:
    # Given two images uploaded through the forms: one with the infant's age, one without
    size = synthetic_poses.IMAGE_SIZE
    with_age, without_age = upload_batch(
        api,
        admin,
        uow_factory,
        {
            "batch_name": "uploaded",
            "uploads": {
                "files": [
                    {"filename": "aged.jpg", "infant_metadata": {"age_months": 1.5, "subject_id": "CP-40"}},
                    {"filename": "unknown.jpg"},
                ]
            },
        },
        size=(size, size),
    )
    # ... whose verified keypoints are in (the annotation workflow has its own tests)
    annotations = _verify(session_factory, annotator, [with_age, without_age], trained.fresh_poses)

    # Then the one with an age is scored in its band, and the other is refused as before
    scored = api.post("/anomaly/analyses", verifier, body={"annotation_id": annotations[0]})
    assert scored.status == 200, scored.body
    assert scored.json["age_band"] == "0–3 months"
    assert scored.json["age_months"] == 1.5
    refused = api.post("/anomaly/analyses", verifier, body={"annotation_id": annotations[1]})
    assert refused.status == 409
    assert "no usable infant_metadata.age_months" in refused.json["detail"]


def _verify(
    session_factory: sessionmaker[Session], annotator: Persona, image_ids: list[int], poses: SyntheticPoses
) -> list[int]:
    with session_factory() as session:
        batch_id = session.scalar(sa.select(ImageRow.batch_id).where(ImageRow.id == image_ids[0]))
        assignment = BatchAssignment(
            batch_id=batch_id, annotator_id=annotator.user_id, assigned_by=annotator.user_id,
            images_total=len(image_ids),
            status=AssignmentStatus.COMPLETED,
        )  # fmt: skip
        session.add(assignment)
        session.flush()
        ids = []
        for i, image_id in enumerate(image_ids):
            session.execute(
                sa.update(ImageRow).where(ImageRow.id == image_id).values(status=ImageStatus.APPROVED)
            )
            annotation = Annotation(
                image_id=image_id,
                batch_assignment_id=assignment.id,
                refined_keypoints=keypoints_payload(poses, i),
                time_spent_seconds=30,
                status=AnnotationStatus.APPROVED,
            )
            session.add(annotation)
            session.flush()
            ids.append(annotation.id)
        session.commit()
    return ids
