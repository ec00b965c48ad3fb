"""IAM follows the calls: every AWS call a function or the GPU task makes in Cradle's main flow is
allowed by its role in the synthesized template, and every grant is used or explained.

The local stack runs the demo story (people approved, upload, CPU pre-annotation, annotation,
verification with a revision, metrics, a COCO export, an analysis report), then an admin's other
account changes (reject, role, deactivate, reactivate, an invitation) and a re-import of the exported archive,
with every botocore client recorded (cradlepose.adapters.aws_call_log). Each recorded call becomes
the IAM actions it needs (tests/e2e/iam_check.py) and is checked against the dev stage's roles.

    python -m tests.e2e.iam_check <calls.jsonl>   prints the collected table of a run
"""

from __future__ import annotations

import copy
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from cradle_workstation.cli.client import CradleClient
from cradle_workstation.devstack import local_identity
from cradle_workstation.devstack.identity_provider import CLIENT_ID, POOL_ID
from cradle_workstation.devstack.postgres import EmbeddedPostgres
from cradle_workstation.devstack.stack import LocalStack, LocalStackConfig
from cradlepose.adapters import aws_call_log
from cradlepose.adapters.aws_call_log import AwsCall
from tests.e2e import iam_check
from tests.infra.support import synthesize
from tests.stack_support import stack_database, wait_for

pytestmark = pytest.mark.e2e
log = logging.getLogger(__name__)

STAGE = "dev"
# Unattributed calls are accepted only from these: the local stack playing AWS (creating the
# resources, polling the event queues, stopping executions), moto itself (the ASL interpreter
# invoking task Lambdas), and the test and the demo acting as people with their own credentials.
HARNESS = ("cradle_workstation.devstack", "cradle_workstation.demo", "tests.", "moto.")
# Code that runs as a function or the container: a call from it without a principal lost its way.
RUNS_AS_A_PRINCIPAL = ("api.", "triggers.", "cradle_inference")

# Grants that no recorded call of the flow needs, each with why the role keeps it: a path this flow
# does not take (and the test that takes it), or what AWS itself does with the role.
NOT_IN_THIS_FLOW: dict[str, str] = {
    "ml_jobs": "training and inference jobs: none is queued here (tests/integration/datasets/test_training.py)",
    "pipeline_dispatch": "locally the stack plays ECS: its runner takes the task the dispatcher starts, "
    "without an ecs:RunTask call (the ECS runner: tests/unit/adapters/test_gpu_tasks.py)",
    "pipeline_task_stopped": "every task of the flow answered its own token and exited 0, so the trigger "
    "had none to fail (a killed task: tests/integration/devstack/test_local_stack.py)",
    "analysis_enhance": "Bedrock: the local stack composes reports with the deterministic composer",
    "analysis_failure": "failure path: removes the overlay a failed analysis left (tests/integration/analysis)",
    "anomaly_training": "no anomaly model training is queued here (tests/integration/anomaly)",
    "pipeline_anomaly": "it reads and draws only with a trained age-group model, which the flow has none of "
    "(tests/integration/anomaly)",
    "collections_expire": "no collection passes its retention during the flow (tests/integration/datasets/test_collections.py)",
    "pipeline_auto_assign": "it releases a parked wait when it assigns; here nobody is parked when it runs",
    "learning_loop_step": "the flow sets no learning-loop policy and starts no run (tests/e2e/test_learning_loop.py)",
    "learning_loop_trigger": "no policy is enabled in the flow, so no run is due to start (tests/e2e/test_learning_loop.py)",
    "pipeline_await": "it answers at once when the batch already reached the stage; here it only parks tokens",
    "migrate": "runs at deploy time (a custom resource): reads the app login's secret to set its password; "
    "locally the stack migrates as the owner itself (tests/integration/db/test_app_role.py)",
}
EXPLAINED: dict[tuple[str, str, str], str] = {
    **iam_check.PRESIGNED,
    ("api", "s3:PutObject", "s3:objects:derived/*"): "anomaly analyses through the API draw their overlay "
    "(needs a trained age-group model: tests/integration/anomaly)",
    ("api", "kms:GenerateDataKey", "kms:key:derived"): "with the anomaly overlay's s3:PutObject",
    ("api", "s3:GetObject", "s3:objects:results/*"): "a review batch reads its inference job's predictions "
    "(tests/integration/datasets/test_review_batch.py); the flow runs no inference job",
    ("api", "kms:Decrypt", "kms:key:results"): "with the review batch's s3:GetObject of the predictions",
    ("api", "cognito-idp:AdminDeleteUser", "*"): "an invitation whose Cradle row cannot be written takes "
    "its account back (tests/integration/api/test_invitations.py)",
    ("bootstrap_admin", "cognito-idp:AdminDeleteUser", "*"): "the first admin's account is taken back if "
    "its Cradle row cannot be written (the invitation's path)",
    ("bootstrap_admin", "cognito-idp:AdminRemoveUserFromGroup", "*"): "the adapter's set_group leaves one "
    "role group, removing any other; a new account has none to remove",
    (
        "analysis_convert",
        "bedrock:InvokeModel",
        "*",
    ): "Bedrock: the local stack uses the deterministic composer",
    ("dataset_imports", "s3:DeleteObject", "s3:objects:derived/*"): "a failed import removes the thumbnails "
    "it wrote (tests/integration/datasets/test_import_round_trip.py)",
    ("inference_task", "s3:GetObject", "s3:objects:exports/*"): "training jobs read the dataset's export",
    ("inference_task", "kms:Decrypt", "kms:key:exports"): "training jobs read the dataset's export",
    ("inference_task", "s3:GetObject", "s3:objects:models/*"): "a registered model's weights in the models "
    "bucket (the flow's default model ships inside the image)",
    ("inference_task", "kms:Decrypt", "kms:key:models"): "a registered model's weights in the models bucket",
    ("inference_task", "s3:PutObject", "s3:objects:models/trained/*"): "training jobs write their weights",
    ("inference_task", "kms:GenerateDataKey", "kms:key:models"): "training jobs write their weights",
    (
        "inference_task",
        "states:SendTaskFailure",
        "states:batch_pipeline",
    ): "a chunk that fails answers its token",
    ("inference_task", "states:SendTaskHeartbeat", "states:batch_pipeline"): "heartbeats every 60 s; "
    "the flow's chunks finish sooner",
    ("upload_registered", "s3:DeleteObject", "s3:objects:derived/*"): "a registration that loses the race "
    "for its pixels (an exact duplicate arriving at once) removes the thumbnail it wrote "
    "(tests/integration/api/test_upload_duplicates.py)",
    ("api", "states:StartExecution", "states:learning_loop"): "an admin's 'Run now' of the learning loop "
    "(tests/e2e/test_learning_loop.py); the flow starts no run",
    ("upload_registered", "states:StartExecution", "states:batch_pipeline"): "the last expected upload of a "
    "batch starts its pipeline; the demo completes its batch through the API instead",
}


def why_kept(principal: str, action: str, resource: str, held: set[tuple[str, str]]) -> str | None:
    """Why a grant no recorded call needs stays, or None."""
    if principal in NOT_IN_THIS_FLOW:
        return NOT_IN_THIS_FLOW[principal]
    if action == "s3:ListBucket":
        return "without it S3 answers a missing key with 403, not 404, and the code reads 404 as 'missing'"
    kind = resource.rsplit(":", 1)[-1].split("/", 1)[0]
    writes = any(a == "s3:PutObject" and r.startswith(f"s3:objects:{kind}/") for a, r in held)
    if writes and action in ("s3:AbortMultipartUpload", "kms:Decrypt"):
        return "part of a write grant: multipart uploads (streamed or large objects) need it"
    if action == "sqs:SendMessage" and "Dlq" in resource:
        return "the function's dead-letter queue: Lambda sends a failed asynchronous event with this role"
    return EXPLAINED.get((principal, action, resource)) or EXPLAINED.get((principal, action, "*"))


@dataclass
class Flow:
    calls: list[AwsCall]
    bucket_kinds: dict[str, str]  # local bucket name -> kind (uploads, derived, …)
    machines: dict[str, str]  # local state machine ARN -> machine (batch_pipeline, …)
    calls_file: Path


def _identity(stack: LocalStack) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=stack.identity_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # sign-up and sign-in take no credentials
    )


def _registered(stack: LocalStack, username: str, role: str) -> int:
    """Someone who signed up and registered with Cradle, awaiting an admin's decision."""
    password = f"Iam-{secrets.token_urlsafe(12)}1a"
    identity = _identity(stack)
    identity.sign_up(
        ClientId=CLIENT_ID,
        Username=username,
        Password=password,
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.org"}],
    )
    # The pool confirms no self sign-up on its own (as the cloud's, which has self sign-up off):
    # the harness confirms, as an operator would.
    # (Admin* wants a signature with the stack's admin key, as Cognito wants IAM credentials.)
    local_identity.cognito(stack.identity_url, stack.identity_admin).admin_confirm_sign_up(
        UserPoolId=POOL_ID, Username=username
    )
    signed_in = identity.initiate_auth(
        ClientId=CLIENT_ID,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )
    token = signed_in["AuthenticationResult"]["IdToken"]
    api = CradleClient(stack.api_url, lambda: token)
    try:
        return int(api.post("/me/register", {"role": role, "annotation_specialty": "full_body"})["id"])
    finally:
        api.close()


def _account_changes(stack: LocalStack, admin: CradleClient) -> None:
    """The admin routes that mirror a decision into the identity provider."""
    refused = _registered(stack, "iam-refused", "ANNOTATOR")
    admin.post(f"/users/{refused}/reject", {"reason": "not part of the study"})
    kept = _registered(stack, "iam-kept", "ANNOTATOR")
    admin.post(f"/users/{kept}/approve")
    admin.put(f"/users/{kept}/role", {"role": "VERIFIER"})
    admin.post(f"/users/{kept}/deactivate")
    admin.post(f"/users/{kept}/reactivate")
    admin.post(
        "/invitations", {"email": "iam-invited@example.org", "username": "iam-invited", "role": "VERIFIER"}
    )


def _reimport(admin: CradleClient, archive: Path) -> None:
    """The demo's COCO export, imported back as a pre-annotated batch (the dataset_imports job)."""
    data = archive.read_bytes()
    created = admin.post("/dataset-imports", {"name": "re-imported demo export", "size": len(data)})
    form = created["upload"]
    sent = requests.post(form["url"], data=form["fields"], files={"file": ("a.zip", data)}, timeout=30)
    sent.raise_for_status()
    admin.post(f"/dataset-imports/{created['id']}/start")

    def done() -> dict[str, Any] | None:
        found: dict[str, Any] = admin.get(f"/dataset-imports/{created['id']}")
        return found if found["status"] in ("COMPLETED", "FAILED") else None

    finished = wait_for(done, timeout_s=180, every_s=1.0)
    assert finished["status"] == "COMPLETED", finished


@pytest.fixture(scope="module")
def flow(
    postgres: EmbeddedPostgres, migrated_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Flow:
    import cradle_inference  # noqa: F401, PLC0415 - makes Ultralytics offline before anything imports it
    from cradle_workstation.demo import people, story  # noqa: PLC0415 - the demo's own code

    work = tmp_path_factory.mktemp("iam")
    calls_file = work / "aws-calls.jsonl"
    aws_call_log.install(calls_file)
    try:
        with stack_database(postgres, migrated_template) as url:
            config = LocalStackConfig(
                state_dir=work / "state", database_url=url, pipeline_chunk_size=2, web_root=None
            )
            with LocalStack(config) as stack:
                summary = story.run(stack, work / "demo", log.info)
                assert summary.batch_status == "COMPLETED"
                assert summary.export_path is not None
                admin = people.local_admin(stack)
                _account_changes(stack, admin.api)
                _reimport(admin.api, summary.export_path)
                # What an operator's `cradle` command invokes in a new deployment (the first admin).
                stack.functions.invoke(
                    "bootstrap_admin", {"username": "iam-admin", "email": "iam-admin@example.org"}
                )
                assert stack.resources is not None
                bucket_kinds = {name: kind for kind, name in stack.resources.buckets.items()}
                machines = {arn: machine for machine, arn in stack.resources.state_machines.items()}
    finally:
        aws_call_log.uninstall()
    return Flow(aws_call_log.read_calls(calls_file), bucket_kinds, machines, calls_file)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    synth = synthesize(tmp_path_factory.mktemp("iam-synth"), (STAGE,))
    return synth.template(STAGE)


def _attributed(flow: Flow) -> list[AwsCall]:
    return [call for call in flow.calls if call.principal is not None]


def test_every_call_is_made_by_a_principal_or_by_the_harness(flow: Flow) -> None:
    lost = [
        call
        for call in flow.calls
        if call.principal is None
        and (
            not any(m.startswith(HARNESS) for m in call.origin_chain)
            or any(m.startswith(RUNS_AS_A_PRINCIPAL) for m in call.origin_chain)
        )
    ]

    assert not lost, (
        "calls that no principal made (a thread that lost the function's context?):\n"
        + "\n".join(f"{c.service}:{c.operation} from {' <- '.join(c.origin_chain)}" for c in lost[:20])
    )


def test_the_flow_reaches_every_kind_of_principal(flow: Flow) -> None:
    principals = {call.principal for call in flow.calls}

    # The ones that call AWS in this flow: a gap here means the flow lost coverage.
    assert {"api", "upload_registered", "pipeline_plan", "pipeline_ingest", "analysis_segment",
            "analysis_convert", "collections_pack", "dataset_imports", "bootstrap_admin",
            "inference_task"} <= principals  # fmt: skip


def test_every_recorded_call_is_allowed_by_its_role(flow: Flow, template: dict[str, Any]) -> None:
    calls = _attributed(flow)
    collected = iam_check.table(calls, flow.bucket_kinds, flow.machines)
    (flow.calls_file.parent / "iam-table.txt").write_text(collected + "\n")
    log.info("AWS calls per principal (%s):\n%s", flow.calls_file, collected)

    missing = iam_check.check(calls, iam_check.roles_of(template, STAGE), flow.bucket_kinds, flow.machines)

    assert not missing, (
        "calls their role does not allow (principal, action, resource):\n"
        + iam_check.missing_table(missing)
        + "\n\nAWS calls per principal:\n"
        + collected
    )


def test_every_grant_is_used_by_a_call_or_explained(flow: Flow, template: dict[str, Any]) -> None:
    roles = iam_check.roles_of(template, STAGE)
    unused = iam_check.unused(_attributed(flow), roles, flow.bucket_kinds, flow.machines)

    unexplained = sorted(
        (principal, action, resource)
        for principal, action, resource in unused
        if why_kept(principal, action, resource, iam_check.granted(roles[principal])) is None
    )

    assert not unexplained, (
        "grants no recorded call needs (remove them, or say why they stay):\n"
        + "\n".join(f"{p:<22} {a:<36} {r}" for p, a, r in unexplained)
    )


@pytest.mark.parametrize(
    ("principal", "action"),
    [
        ("api", "cognito-idp:AdminAddUserToGroup"),
        ("api", "states:StartExecution"),
        ("bootstrap_admin", "cognito-idp:AdminCreateUser"),
        ("dataset_imports", "s3:DeleteObject"),
        ("inference_task", "states:SendTaskSuccess"),
        ("upload_registered", "s3:PutObject"),
    ],
)
def test_a_removed_grant_is_caught(flow: Flow, template: dict[str, Any], principal: str, action: str) -> None:
    role = iam_check.principal_roles(template, STAGE)[principal]
    weakened = copy.deepcopy(template)
    for resource in weakened["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]:
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                statement["Action"] = [a for a in actions if a != action] or ["none:Nothing"]

    missing = iam_check.check(
        _attributed(flow), iam_check.roles_of(weakened, STAGE), flow.bucket_kinds, flow.machines
    )

    assert {(m.principal, m.action) for m in missing} == {(principal, action)}
