"""The Lambda entry points of the pipeline steps, scheduled jobs and deploy functions, as Lambda calls them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from botocore.stub import ANY, Stubber
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from cradle_workstation.devstack.apigw import LambdaContext
from cradlepose.adapters import inference
from cradlepose.adapters.storage import S3Storage
from cradlepose.common.system import step_context
from cradlepose.db import migrate as migrations
from cradlepose.db.engine import reset_default_engine
from cradlepose.db.models import BatchAssignment, ImageBatch
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.enums import BatchStatus, Role
from cradlepose.domain.inference import ChunkManifest
from cradlepose.settings import get_settings
from tests.pipeline_support import RecordingWorkflow, execution_id, make_batch, request_run, write_results
from tests.support import Persona, make_user
from triggers import deploy, pipeline, scheduled
from triggers.steps import TransientError, transient_errors

pytestmark = pytest.mark.integration

# What Powertools reads of Lambda's context object (typed loosely: it is a stand-in).
CONTEXT: Any = LambdaContext(function_name="cradle-test-step")


@pytest.fixture
def lambda_env(database_url: str, storage: S3Storage, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment a deployed function has: its database comes from settings."""
    monkeypatch.setenv("CRADLE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    reset_default_engine()
    yield
    reset_default_engine()
    get_settings.cache_clear()


class _WritingRunner:
    """An inference runner that does the container's work at once: results for the manifest."""

    def __init__(self, storage: S3Storage) -> None:
        self.storage = storage
        self.tasks: list[inference.InferenceTask] = []

    def start(self, task: inference.InferenceTask) -> str:
        self.tasks.append(task)
        bucket, key = task.manifest_uri.removeprefix("s3://").split("/", 1)
        write_results(self.storage, ChunkManifest.model_validate_json(self.storage.get(bucket, key)))
        return f"local:{task.batch_id}/{task.chunk_index}"


def test_the_steps_take_a_batch_to_an_annotator_through_their_lambda_entry_points(
    lambda_env: None,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
) -> None:
    # Given a batch of three images with a requested run, and a local runner standing in for the GPU task
    assert admin.user_id is not None
    annotator = make_user(session_factory, Role.ANNOTATOR, name="ready-annotator")
    batch_id, _ = make_batch(session_factory, admin.user_id, 3, upload_metadata={"auto_assign": True})
    _, name = request_run(uow_factory, batch_id)
    runner = _WritingRunner(storage)
    inference.install_local_runner(runner)
    try:
        # When the state machine's tasks call each function with its state's payload
        marked = pipeline.mark_processing({"batch_id": batch_id, "execution_id": execution_id(name)}, CONTEXT)
        plan = pipeline.plan_chunks({"batch_id": batch_id, "execution_id": execution_id(name)}, CONTEXT)
        # what the Distributed Map's ItemReader reads
        chunks = json.loads(storage.get(plan["chunk_list"]["bucket"], plan["chunk_list"]["key"]))
        ingested = []
        for item in chunks:
            pipeline.dispatch_inference(
                {"chunk": item, "task_token": f"token-{item['chunk_index']}"}, CONTEXT
            )
            map_state = {**item, "inference": {"ok": True}}  # RunInference's ResultPath adds `inference`
            ingested.append(pipeline.ingest_chunk({k: map_state[k] for k in
                            ("batch_id", "chunk_index", "results_bucket", "results_key")}, CONTEXT))  # fmt: skip
        summary = pipeline.summarize({"batch_id": batch_id}, CONTEXT)
        assigned = pipeline.auto_assign({"batch_id": batch_id}, CONTEXT)
    finally:
        inference.install_local_runner(None)

    # Then each answered what its ResultSelector reads, and the batch is ready
    assert marked["status"] == "YOLO_PROCESSING"
    assert plan == {
        "chunk_list": {"bucket": "cradle-results", "key": f"manifests/{batch_id}/run-1/chunks.json"},
        "chunk_count": 2,
        "image_count": 3,
        "max_concurrency": 1,
        "map_results": {"bucket": "cradle-results", "prefix": f"map-results/{batch_id}/run-1"},
    }
    assert [
        set(item) >= {"batch_id", "chunk_index", "results_bucket", "results_key", "heartbeat_seconds"}
        for item in chunks
    ] == [True, True]
    assert {item["heartbeat_seconds"] for item in chunks} == {900}
    assert {item["execution_id"] for item in chunks} == {execution_id(name)}
    assert [task.manifest_uri for task in runner.tasks] == [
        f"s3://cradle-results/{i['manifest_key']}" for i in chunks
    ]
    assert ingested == [{"loaded": 2, "failed": 0}, {"loaded": 1, "failed": 0}]
    assert summary == {"auto_assign": True, "status": "READY_FOR_ANNOTATION"}
    # And the workflow's auto-assign policy gave it to the one annotator with capacity
    assert assigned["assignment_id"] is not None
    with session_factory() as session:
        assignment = session.get(BatchAssignment, assigned["assignment_id"])
        assert assignment is not None
        assert assignment.annotator_id == annotator.user_id
        assert session.get(ImageBatch, batch_id).status is BatchStatus.ASSIGNED  # type: ignore[union-attr]


def test_the_plan_the_state_machine_gets_does_not_grow_with_the_batch(
    lambda_env: None,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    storage: S3Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a processing batch of 2,000 images planned one image per chunk (2,000 chunks)
    assert admin.user_id is not None
    monkeypatch.setenv("CRADLE_PIPELINE_CHUNK_SIZE", "1")
    get_settings.cache_clear()
    batch_id, image_ids = make_batch(session_factory, admin.user_id, 2000)
    _, name = request_run(uow_factory, batch_id)
    pipeline.mark_processing({"batch_id": batch_id, "execution_id": execution_id(name)}, CONTEXT)

    # When PlanChunks runs
    plan = pipeline.plan_chunks({"batch_id": batch_id, "execution_id": execution_id(name)}, CONTEXT)

    # Then what it returns into the execution's state is a location and counts, under 1 KiB
    # (the inline Map's state held every chunk: ~49,500 images of 64 passed the 256 KiB limit)
    assert len(json.dumps(plan).encode()) < 1024
    assert (plan["chunk_count"], plan["image_count"]) == (2000, 2000)
    # And the chunk list the Map reads from S3 has every chunk, each image once, in order
    chunks = json.loads(storage.get(plan["chunk_list"]["bucket"], plan["chunk_list"]["key"]))
    assert [item["chunk_index"] for item in chunks] == list(range(2000))
    covered = [
        image.image_id
        for item in chunks[:: 500]
        for image in ChunkManifest.model_validate_json(storage.get(item["manifest_bucket"], item["manifest_key"])).images
    ]  # fmt: skip
    assert covered == image_ids[::500]


def test_a_step_with_no_runner_or_a_lost_database_fails_as_the_state_machine_expects(
    lambda_env: None,
) -> None:
    item = {"batch_id": 1, "run_id": 1, "chunk_index": 0, "image_count": 1, "manifest_bucket": "b",
            "manifest_key": "m", "results_bucket": "b", "results_key": "r", "heartbeat_seconds": 900,
            "execution_id": "arn:aws:states:us-east-1:000000000000:execution:m:e"}  # fmt: skip
    with pytest.raises(inference.InferenceUnavailable, match="no local stack"):
        pipeline.dispatch_inference({"chunk": item, "task_token": "t"}, CONTEXT)

    with pytest.raises(TransientError, match="database unavailable"), transient_errors():
        raise OperationalError("SELECT 1", {}, Exception("connection reset"))


def test_the_ecs_runner_passes_the_manifest_and_token_and_retries_when_no_task_starts() -> None:
    settings = get_settings().model_copy(
        update={
            "inference_cluster_arn": "arn:aws:ecs:us-east-1:000000000000:cluster/cradle-dev-inference",
            "inference_task_definition_arn": "arn:aws:ecs:us-east-1:000000000000:task-definition/cradle-dev-inference:3",
            "inference_capacity_provider": "cradle-dev-gpu",
            "inference_subnet_ids": ["subnet-1"],
            "inference_security_group_ids": ["sg-1"],
        }
    )
    ecs = boto3.client("ecs", region_name="us-east-1")
    task = inference.InferenceTask(
        12, 3, "s3://cradle-results/manifests/12/run-1/chunk-00003.json", "token-abc"
    )
    expected = {
        "cluster": settings.inference_cluster_arn,
        "taskDefinition": settings.inference_task_definition_arn,
        "capacityProviderStrategy": [{"capacityProvider": "cradle-dev-gpu", "weight": 1}],
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"],
                                                         "assignPublicIp": "DISABLED"}},
        "overrides": {"containerOverrides": [{"name": "inference", "environment": [
            {"name": "CRADLE_MANIFEST", "value": task.manifest_uri},
            {"name": "CRADLE_TASK_TOKEN", "value": "token-abc"}]}]},
        "count": 1,
        "startedBy": "cradle-pipeline",
        "clientToken": task.idempotency_token,
    }  # fmt: skip
    # The stubber checks the exact parameters: no tags (the dispatcher's role has no ecs:TagResource).
    with Stubber(ecs) as stub:
        stub.add_response(
            "run_task", {"tasks": [{"taskArn": "arn:aws:ecs:task/1"}], "failures": []}, expected
        )
        stub.add_response(
            "run_task",
            {"tasks": [], "failures": [{"reason": "RESOURCE:GPU"}]},
            {**expected, "clientToken": ANY},
        )
        runner = inference.EcsInferenceRunner(ecs, settings)
        assert runner.start(task) == "arn:aws:ecs:task/1"
        with pytest.raises(TransientError, match="RESOURCE:GPU"), transient_errors():
            runner.start(task)


def test_metrics_rollup_rolls_up_every_period_of_the_day_that_ended(
    lambda_env: None, uow_factory: UnitOfWorkFactory, admin: Persona, engine: sa.Engine
) -> None:
    ctx = step_context("schedule:metrics_rollup", kind="SCHEDULE")
    first = scheduled.run_metrics_rollup({}, ctx, uow_factory, today=dt.date(2026, 11, 23))
    again = scheduled.run_metrics_rollup({}, ctx, uow_factory, today=dt.date(2026, 11, 23))

    assert first["day"] == "2026-11-22"
    assert [r["period_type"] for r in first["rollups"]] == ["DAILY", "WEEKLY", "MONTHLY", "QUARTERLY"]
    assert [r["period_start"][:10] for r in first["rollups"]] == [
        "2026-11-22",
        "2026-11-16",
        "2026-11-01",
        "2026-10-01",
    ]
    assert again == first
    with engine.connect() as conn:
        rows = conn.scalar(
            sa.text("SELECT count(*) FROM performance_metrics WHERE user_id = :u"), {"u": admin.user_id}
        )
    assert rows == 4  # one per period for the admin, rewritten (not added) by the second run


def test_await_stage_and_overdue_handlers(
    lambda_env: None,
    uow_factory: UnitOfWorkFactory,
    session_factory: sessionmaker[Session],
    admin: Persona,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert admin.user_id is not None
    batch_id, _ = make_batch(session_factory, admin.user_id, 1)
    _, name = request_run(uow_factory, batch_id)
    pipeline.mark_processing({"batch_id": batch_id, "execution_id": execution_id(name)}, CONTEXT)
    with session_factory() as session:
        session.execute(
            sa.text("UPDATE image_batches SET status = 'READY_FOR_ANNOTATION' WHERE id = :b"), {"b": batch_id}
        )
        session.commit()
    workflow = RecordingWorkflow()

    parked = pipeline.run_await_stage({"batch_id": batch_id, "task_token": "tok"}, _ctx(), workflow=workflow)
    overdue = pipeline.mark_overdue({"batch_id": batch_id}, CONTEXT)
    swept = scheduled.overdue_sweep({}, CONTEXT)

    assert parked["seen_status"] == "READY_FOR_ANNOTATION"
    assert overdue == {"batch_id": batch_id, "overdue": []}
    assert swept["batches_in_status"][BatchStatus.READY_FOR_ANNOTATION.value] == 1
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in emitted for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"BatchesInStatus", "ImagesAwaitingAnnotation", "ImagesAwaitingVerification"} <= names


def _ctx() -> Any:
    return step_context("states:WaitForPeople")


def test_migrate_answers_the_custom_resource_protocol(empty_database_url: str) -> None:
    engine = sa.create_engine(empty_database_url, poolclass=sa.NullPool)
    try:
        created = deploy.run_migrate({"RequestType": "Create"}, engine)
        updated = deploy.run_migrate(
            {"RequestType": "Update", "PhysicalResourceId": created["PhysicalResourceId"]}, engine
        )
        deleted = deploy.run_migrate(
            {"RequestType": "Delete", "PhysicalResourceId": "cradle-database-migrations"}, engine
        )
        assert migrations.current_revision(engine) == migrations.head_revision()
        with pytest.raises(deploy.UnknownRequest):
            deploy.run_migrate({"RequestType": "Rollback"}, engine)
    finally:
        engine.dispose()
    assert created == {"PhysicalResourceId": "cradle-database-migrations",
                       "Data": {"Revision": migrations.head_revision(), "Previous": ""}}  # fmt: skip
    assert updated["PhysicalResourceId"] == "cradle-database-migrations"
    assert updated["Data"]["Previous"] == migrations.head_revision()
    assert deleted == {"PhysicalResourceId": "cradle-database-migrations"}  # nothing is dropped


def test_bootstrap_admin_creates_the_cognito_user_and_the_row(
    lambda_env: None, monkeypatch: pytest.MonkeyPatch, engine: sa.Engine
) -> None:
    cognito = boto3.client("cognito-idp", region_name="us-east-1")
    pool = cognito.create_user_pool(PoolName="cradle-test")["UserPool"]["Id"]
    cognito.create_group(GroupName="ADMIN", UserPoolId=pool)
    monkeypatch.setenv("CRADLE_COGNITO_USER_POOL_ID", pool)
    get_settings.cache_clear()

    created = deploy.bootstrap_admin({"username": "alice", "email": "alice@hospital.example"}, CONTEXT)

    assert created["role"] == "ADMIN"
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool, Username="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == ["ADMIN"]
    with engine.connect() as conn:
        subject = conn.scalar(sa.text("SELECT identity_subject FROM users WHERE username = 'alice'"))
    user = cognito.admin_get_user(UserPoolId=pool, Username="alice")
    assert subject == next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


def test_the_audit_partitions_job_keeps_the_months_coming_and_audits_what_it_did(
    lambda_env: None, uow_factory: UnitOfWorkFactory, engine: sa.Engine, owner_engine: sa.Engine
) -> None:
    now = dt.datetime.now(dt.UTC)
    ahead = (now.replace(day=1) + dt.timedelta(days=32 * 3)).replace(day=1)
    last = f"audit_logs_y{ahead.year:04d}m{ahead.month:02d}"
    ctx = step_context("schedule:audit_partitions", kind="SCHEDULE")
    with owner_engine.begin() as conn:  # as if the job had not run for a while
        conn.execute(sa.text(f"DROP TABLE {last}"))

    first = scheduled.run_audit_partitions({}, ctx, uow_factory)
    again = scheduled.run_audit_partitions({}, ctx, uow_factory)

    assert first == {"created": [last], "dropped": [], "rows_in_default": 0}
    assert again == {"created": [], "dropped": [], "rows_in_default": 0}
    with engine.connect() as conn:  # the app login ran it: the engine the function uses
        audited = conn.execute(
            sa.text("SELECT new_values, status FROM audit_logs WHERE action = 'AUDIT_PARTITIONS_MAINTAINED'")
        ).all()
    assert [(r.new_values, r.status) for r in audited] == [({"created": [last], "dropped": []}, "SUCCESS")]
