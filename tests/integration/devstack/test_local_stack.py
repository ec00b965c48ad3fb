"""The local stack as a whole: uploads over HTTP to moto, the trigger through EventBridge and SQS,
the batch pipeline in moto's ASL interpreter with in-process Lambdas. The engine is a stand-in
here (tests/e2e runs the real one)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cradlepose import function_table
from cradlepose.adapters.workflow import StepFunctionsWorkflow
from cradlepose.db.engine import default_session_factory
from cradlepose.db.unit_of_work import unit_of_work_factory
from cradlepose.devstack.functions import function_name
from cradlepose.devstack.postgres import EmbeddedPostgres
from cradlepose.devstack.stack import LocalStack, LocalStackConfig
from cradlepose.services import pipeline_waits
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, FakeEngine, stack_database, upload, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def engine_stand_in() -> FakeEngine:
    return FakeEngine()


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres,
    migrated_template: str,
    tmp_path_factory: pytest.TempPathFactory,
    engine_stand_in: FakeEngine,
) -> Iterator[LocalStack]:
    with stack_database(postgres, migrated_template) as url:
        config = LocalStackConfig(
            state_dir=tmp_path_factory.mktemp("stack"), database_url=url, chunk_runner=engine_stand_in,
            pipeline_chunk_size=2, web_root=None,
        )  # fmt: skip
        with LocalStack(config) as running:
            yield running


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> ApiSession:
    return ApiSession.sign_in(stack)


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> sa.Engine:
    return sa.create_engine(stack.database_url, poolclass=sa.NullPool)


def _scalar(db: sa.Engine, sql: str, **params: object) -> object:
    with db.connect() as conn:
        return conn.scalar(sa.text(sql), params)


def test_uploaded_images_are_pre_annotated_and_the_execution_waits_for_people(
    stack: LocalStack, api: ApiSession, db: sa.Engine
) -> None:
    # Given a batch of three created over the API, uploaded through its forms
    created = api.create_batch(["a.jpg", "b.jpg", "c.jpg"])
    batch_id = created["batch"]["id"]
    for seed, form in enumerate(created["uploads"]):
        upload(form, jpeg_with_metadata(seed=seed), form["filename"])

    # Then the trigger registers them, the last one starts the pipeline, and the batch is ready
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION")
    assert ready["images_by_status"] == [{"status": "YOLO_PROCESSED", "count": 3}]
    assert ready["yolo_model_version"] == "yolo11n-pose@8.4"
    assert (
        _scalar(
            db, "SELECT count(*) FROM images WHERE batch_id = :b AND yolo_keypoints IS NOT NULL", b=batch_id
        )
        == 3
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM pipeline_chunks WHERE batch_id = :b AND loaded_at IS NOT NULL",
            b=batch_id,
        )
        == 2
    )

    # And the execution parked its token; each later stage answers it, COMPLETED ends the run
    execution = ready["pipeline_run"]["execution_arn"]
    sfn = stack.aws.client("stepfunctions")
    uow_factory = unit_of_work_factory(default_session_factory())

    def parked_tokens(count: int) -> bool:
        return _scalar(db, "SELECT count(*) FROM pipeline_waits WHERE batch_id = :b", b=batch_id) == count

    wait_for(lambda: parked_tokens(1))
    for status, tokens_after in (("IN_PROGRESS", 2), ("COMPLETED", 2)):
        # What the workflow services do (audited, through the transition table); here only the result counts.
        with db.begin() as conn:
            conn.execute(
                sa.text("UPDATE image_batches SET status = :s WHERE id = :b"), {"s": status, "b": batch_id}
            )
        assert pipeline_waits.release_waits(uow_factory, StepFunctionsWorkflow(sfn), batch_id) == 1
        wait_for(lambda n=tokens_after: parked_tokens(n))  # type: ignore[misc]
    finished = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d
    )
    assert finished["status"] == "SUCCEEDED"
    assert api.batch(batch_id)["pipeline_run"]["status"] == "SUCCEEDED"
    # The last step, pose anomaly analysis, had nothing verified to score: it said so and let the run end.
    analysis = json.loads(finished["output"])["pose_analysis"]["result"]
    assert "no verified poses" in analysis["skipped"]


def test_a_failed_chunk_is_recorded_and_completing_the_batch_again_resumes_it(
    api: ApiSession, engine_stand_in: FakeEngine, db: sa.Engine
) -> None:
    # Given a batch whose first inference attempt fails
    created = api.create_batch(["a.jpg", "b.jpg"])
    batch_id = created["batch"]["id"]
    engine_stand_in.fail_batches.add(batch_id)
    for seed, form in enumerate(created["uploads"]):
        upload(form, jpeg_with_metadata(seed=seed), form["filename"])

    # Then the run fails at the chunk and the batch is back to UPLOADED
    failed = wait_for(
        lambda: (b := api.batch(batch_id))["pipeline_run"] and b["pipeline_run"]["status"] == "FAILED" and b
    )
    assert failed["status"] == "UPLOADED"
    assert failed["pipeline_run"]["failed_step"].startswith("PreAnnotate")
    # (moto 5.2.5 drops SendTaskFailure's cause, so locally the error is the name alone)
    assert failed["pipeline_run"]["error"].startswith("RuntimeError")

    # When the uploader completes it again, a new run pre-annotates it
    assert api.call("POST", f"/batches/{batch_id}/complete").status_code == 200
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION")
    assert ready["pipeline_run"]["attempt"] == 2
    assert ready["images_by_status"] == [{"status": "YOLO_PROCESSED", "count": 2}]
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM audit_logs WHERE action = 'PIPELINE_FAILED' AND resource_id = :b",
            b=batch_id,
        )
        == 1
    )


def test_the_stack_is_made_from_the_function_table(stack: LocalStack) -> None:
    table = function_table.load()
    registered = {f["FunctionName"] for f in stack.aws.client("lambda").list_functions()["Functions"]}
    assert registered == {function_name(spec.name) for spec in table.functions}
    definition = stack.aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.state_machine_arn
    )["definition"]
    assert "${" not in definition
    assert stack.functions.arn("pipeline_dispatch") in definition
    assert stack.scheduler is not None
    assert {job.name: job.every_s for job in stack.scheduler.jobs} == {
        "overdue_sweep": 60,
        "metrics_rollup": 300,
        "anomaly_training": 15,
    }
    assert stack.functions.invoke("overdue_sweep", {})["overdue"] == []
    assert Path(stack.config.state_dir, "s3").is_dir()
